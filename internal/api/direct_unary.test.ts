// Unary calls taken before Fastify (direct_unary.ts) are answered as
// Fastify's Connect routes answer them: the same api server is reached
// through its own port (direct path) and through a second one-port server
// that hands every request to Fastify (app.routing), and the two answers to
// each request must match in status, headers, trailers and body. Transport
// headers that legitimately differ (date, keep-alive, and Content-Length in
// place of chunked encoding) are left out of the comparison.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetEventRequestSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { capturingLogger } from "../log/testing/capturing_logger.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import { createOnePortServer } from "./one_port.js";
import { type ApiServer, createApiServer } from "./server.js";
import { envelope } from "./testing/unary_cases.js";

const SERVICE = "/calendar.v1.CalendarService";
const TRANSPORT_HEADERS = new Set([
  "date",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
]);

interface Sent {
  method?: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  trailers: Record<string, unknown>;
  body: string;
}

function kept(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => !name.startsWith(":") && !TRANSPORT_HEADERS.has(name))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

interface Http1Options {
  agent?: http.Agent;
  /** Sends the body; default: all of it at once. */
  writeBody?: (req: http.ClientRequest, body: Uint8Array | string | undefined) => void;
}

function sendHttp1(
  port: number,
  sent: Sent,
  { agent, writeBody = (req, body) => req.end(body) }: Http1Options = {},
): Promise<Answer & { socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        port,
        host: "127.0.0.1",
        method: sent.method ?? "POST",
        path: sent.path,
        headers: sent.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: kept(res.headers),
            trailers: kept(res.trailers),
            body: Buffer.concat(chunks).toString("base64"),
            socket: req.socket,
          }),
        );
      },
    );
    req.on("error", reject);
    writeBody(req, sent.body);
  });
}

const text = (answer: Answer) => Buffer.from(answer.body, "base64").toString();

function sendHttp2(port: number, sent: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": sent.method ?? "POST",
      ":path": sent.path,
      ...sent.headers,
    });
    let status = 0;
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = kept(h);
    });
    stream.on("trailers", (t) => {
      trailers = kept(t);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      resolve({ status, headers, trailers, body: Buffer.concat(chunks).toString("base64") });
    });
    stream.on("error", reject);
    stream.end(sent.body);
  });
}

const getEventBinary = (id: string) =>
  toBinary(GetEventRequestSchema, create(GetEventRequestSchema, { id }));
const user = { "x-user-id": "u1" };
// Event ids are UUIDs: one the tests create, one that never exists.
const E1 = "0b6d2a52-8f0e-4c57-9f3e-1d2c3b4a5e61";
const NOPE = "6f1e0c7d-2a3b-4c5d-8e9f-0a1b2c3d4e5f";

/** A POST of `body` to a CalendarService method, as user u1 unless `headers` say otherwise. */
const post = (
  method: string,
  contentType: string,
  body: Uint8Array | string,
  headers: Record<string, string> = user,
): Sent => ({
  path: `${SERVICE}/${method}`,
  headers: { "content-type": contentType, ...headers },
  body,
});

const newEvent = JSON.stringify({
  event: { id: E1, title: "Standup", startTime: "2027-01-04T09:00:00Z", duration: "900s" },
});
const badEvent = JSON.stringify({
  event: { title: "", startTime: "2027-01-04T09:00:00Z", duration: "-5s" },
});
const json = "application/json";
const grpc = "application/grpc";

const cases: [string, "h1" | "h2", Sent][] = [
  ["Connect JSON, not found", "h1", post("GetEvent", json, `{"id":"${NOPE}"}`)],
  ["Connect JSON, created", "h1", post("CreateEvent", json, newEvent)],
  ["Connect JSON, a field out of range", "h1", post("CreateEvent", json, badEvent)],
  ["Connect JSON, no user id", "h1", post("GetEvent", json, `{"id":"${E1}"}`, {})],
  ["Connect JSON, bad JSON", "h1", post("GetEvent", json, "{nope")],
  [
    "Connect JSON, gzip both ways",
    "h1",
    post("GetEvent", json, gzipSync(`{"id":"${E1}"}`), {
      ...user,
      "content-encoding": "gzip",
      "accept-encoding": "gzip",
    }),
  ],
  ["Connect binary over HTTP/2", "h2", post("GetEvent", "application/proto", getEventBinary(E1))],
  [
    "Connect binary that does not decode",
    "h1",
    post("GetEvent", "application/proto", Buffer.from([0x0a, 0x0a, 0x61])),
  ],
  [
    "a body over the limit",
    "h1",
    post("GetEvent", json, JSON.stringify({ id: "x".repeat(2 * 1024 * 1024) })),
  ],
  ["gRPC", "h2", post("GetEvent", grpc, envelope(getEventBinary(E1)))],
  ["gRPC, not found", "h2", post("GetEvent", grpc, envelope(getEventBinary(NOPE)))],
  [
    "gRPC, an incomplete envelope",
    "h2",
    post("GetEvent", grpc, envelope(getEventBinary(E1)).subarray(0, 7)),
  ],
  [
    "gRPC-Web over HTTP/1.1",
    "h1",
    post("GetEvent", "application/grpc-web+proto", envelope(getEventBinary(E1))),
  ],
  [
    "GET of a method with side effects",
    "h1",
    { method: "GET", path: `${SERVICE}/GetEvent?encoding=json&message=%7B%7D`, headers: user },
  ],
  [
    "an unknown content type (Fastify's answer on both)",
    "h1",
    post("GetEvent", "text/plain", "hello"),
  ],
  ["an unknown method", "h1", post("NoSuchMethod", json, "{}")],
];

describe("unary calls taken before Fastify", () => {
  let api: ApiServer;
  let viaFastify: http.Server;
  let directPort: number;
  let fastifyPort: number;
  const { logger, lines } = capturingLogger();

  before(async () => {
    api = await createApiServer({ store: new MemoryEventStore(), logger, shutdownTimeoutMs: 1000 });
    directPort = Number(new URL(await api.listen("127.0.0.1", 0)).port);
    viaFastify = createOnePortServer(api.app.routing, { http2SessionTimeoutMs: 5000 });
    await new Promise<void>((resolve) => viaFastify.listen(0, "127.0.0.1", resolve));
    fastifyPort = (viaFastify.address() as AddressInfo).port;
  });
  after(async () => {
    viaFastify.closeAllConnections();
    await new Promise((resolve) => viaFastify.close(resolve));
    await api.close();
  });

  for (const [name, version, sent] of cases) {
    it(`${name}: the same answer`, async () => {
      const send = async (port: number, sent: Sent): Promise<Answer> => {
        if (version === "h2") return sendHttp2(port, sent);
        const { socket: _, ...answer } = await sendHttp1(port, sent);
        return answer;
      };
      // CreateEvent is idempotent by id, so the second create answers alike.
      const fromFastify = await send(fastifyPort, sent);
      const direct = await send(directPort, sent);
      assert.deepEqual(direct, fromFastify);
    });
  }

  it("the answers above differ from one another (the comparison sees differences)", async () => {
    const ok = await sendHttp1(directPort, cases[1]?.[2] as Sent);
    const missing = await sendHttp1(directPort, cases[0]?.[2] as Sent);
    assert.equal(ok.status, 200);
    assert.equal(missing.status, 404);
    assert.equal(ok.headers["content-type"], "application/json");
  });

  it("answers with Content-Length where Fastify's route sends chunks (so the direct path served it)", async () => {
    const grpcWeb = cases.find(([name]) => name === "gRPC-Web over HTTP/1.1")?.[2] as Sent;
    const framing = (port: number) =>
      new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
        http
          .request(
            {
              port,
              host: "127.0.0.1",
              method: "POST",
              path: grpcWeb.path,
              headers: grpcWeb.headers,
            },
            (res) => {
              res.resume();
              res.on("end", () => resolve(res.headers));
            },
          )
          .on("error", reject)
          .end(grpcWeb.body);
      });
    const direct = await framing(directPort);
    const fromFastify = await framing(fastifyPort);
    assert.equal(fromFastify["transfer-encoding"], "chunked");
    assert.equal(direct["transfer-encoding"], undefined);
    assert.ok(Number(direct["content-length"]) > 5, JSON.stringify(direct));
  });

  it("reads a body that arrives in pieces, with pauses between them", async () => {
    const inPieces = (req: http.ClientRequest, body: Uint8Array | string | undefined) => {
      const pieces = [String(body).slice(0, 3), String(body).slice(3, 20), String(body).slice(20)];
      req.flushHeaders();
      const sendNext = () => {
        const piece = pieces.shift();
        if (piece === undefined) return req.end();
        req.write(piece);
        setTimeout(sendNext, 20);
      };
      sendNext();
    };
    const sent = post("GetEvent", json, `{"id":"${E1}"}`);
    const { socket: _direct, ...direct } = await sendHttp1(directPort, sent, {
      writeBody: inPieces,
    });
    const { socket: _fastify, ...fromFastify } = await sendHttp1(fastifyPort, sent, {
      writeBody: inPieces,
    });
    assert.deepEqual(direct, fromFastify);
    assert.equal(direct.status, 200);
    assert.match(text(direct), /"title":"Standup"/);
  });

  it("survives a client that leaves half-way through its body, and serves the next", async () => {
    await new Promise<void>((resolve) => {
      const req = http.request({
        port: directPort,
        host: "127.0.0.1",
        method: "POST",
        path: `${SERVICE}/GetEvent`,
        headers: { "content-type": "application/json", "content-length": "100", ...user },
      });
      req.on("error", () => resolve());
      req.write('{"id":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    const after = await sendHttp1(directPort, cases[0]?.[2] as Sent);
    assert.equal(after.status, 404);
  });

  it("answers a chunked body over the limit, and serves the next call on that connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    // No Content-Length: the limit is found while reading.
    const inChunks = (req: http.ClientRequest, body: Uint8Array | string | undefined) => {
      const whole = String(body);
      for (let at = 0; at < whole.length; at += 64 * 1024)
        req.write(whole.slice(at, at + 64 * 1024));
      req.end();
    };
    try {
      const tooLarge = await sendHttp1(
        directPort,
        post("GetEvent", json, JSON.stringify({ id: "x".repeat(2 * 1024 * 1024) })),
        { agent, writeBody: inChunks },
      );
      assert.equal(tooLarge.status, 429);
      assert.match(text(tooLarge), /"code":"resource_exhausted"/);
      const next = await sendHttp1(directPort, post("GetEvent", json, `{"id":"${NOPE}"}`), {
        agent,
      });
      assert.equal(next.status, 404);
      assert.equal(next.socket, tooLarge.socket, "the same connection");
    } finally {
      agent.destroy();
    }
  });

  it("logs and counts a call rejected before its handler, as Fastify's hook does", async () => {
    lines.length = 0;
    const tooLarge = cases.find(([name]) => name === "a body over the limit")?.[2] as Sent;
    await sendHttp1(directPort, tooLarge);
    await sendHttp1(fastifyPort, tooLarge);
    const rejected = lines.filter(
      (line) => line.msg === "rpc rejected before reaching its handler",
    );
    assert.equal(rejected.length, 2, JSON.stringify(lines));
    for (const line of rejected) {
      assert.equal(line.method, "calendar.v1.CalendarService/GetEvent");
      assert.equal(line.code, "resource_exhausted");
      assert.equal(line.protocol, "connect");
    }
  });

  it("serves a call that is logged once, by the interceptor", async () => {
    lines.length = 0;
    await sendHttp1(directPort, cases[0]?.[2] as Sent);
    const calls = lines.filter((line) => line.method === "calendar.v1.CalendarService/GetEvent");
    assert.equal(calls.length, 1, JSON.stringify(lines));
    assert.equal(calls[0]?.code, "not_found");
  });
});
