// HTTP/1.1 connection reuse on the api's port: idle connections outlive
// common clients' idle timeouts, and a request answered before its body was
// read (while the client is still sending it) cannot leave the connection
// stuck for the next request.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startTestServer, type TestServer } from "./testing/test_server.js";

const LIST_DAY = "/calendar.v1.CalendarService/ListDayEvents";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
}

/**
 * One POST through `agent`. Fails rather than hangs: a request with no
 * answer within `hangMs` is what this file is about.
 */
function post(
  agent: http.Agent,
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  hangMs = 10_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: "POST",
      agent,
      headers: { ...headers, "content-length": String(body.byteLength) },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${hangMs} ms`)), hangMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // A socket closed under an upload that outlived its answer errors after
    // the request is settled; that is the server's right, not a test failure.
    req.on("socket", (socket) => socket.on("error", () => {}));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("latin1"),
          reusedSocket: req.reusedSocket,
        });
      });
    });
    req.end(body);
  });
}

const listDay = (agent: http.Agent, base: string) =>
  post(
    agent,
    base + LIST_DAY,
    { "content-type": "application/json", "x-user-id": "alice" },
    Buffer.from(JSON.stringify({ date: "2026-07-01" })),
  );

describe("HTTP/1.1 keep-alive on the api port", () => {
  let server: TestServer;
  let agent: http.Agent;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    agent?.destroy();
    await server.close();
  });

  it("keeps an idle connection longer than clients and proxies keep theirs, and says so", async () => {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await listDay(agent, server.url);
    assert.equal(first.status, 200, first.body);
    assert.equal(first.headers.connection, "keep-alive");
    // What clients are told: longer than load balancers (60 s) and Go
    // clients (90 s) keep idle connections, so the client closes first.
    const advertised = /^timeout=(\d+)$/.exec(String(first.headers["keep-alive"]))?.[1];
    assert.ok(Number(advertised) > 90, `keep-alive: ${first.headers["keep-alive"]}`);
    // And what the server does: a connection idle past Node's default
    // keep-alive timeout (5 s), which closed it under clients, is still open.
    await sleep(5_500);
    const second = await listDay(agent, server.url);
    assert.equal(second.status, 200, second.body);
    assert.equal(second.reusedSocket, true, "the idle connection was closed");
  });

  // Each body is answered before the server has read all of it.
  const earlyAnswers: [string, Record<string, string>, Buffer][] = [
    [
      "gRPC-Web: a second message for a unary method",
      { "content-type": "application/grpc-web+proto", "x-user-id": "alice" },
      // 600,000 empty envelopes (5 bytes each): the second one is refused.
      Buffer.alloc(3_000_000),
    ],
    [
      "Connect JSON: a body over the 1 MiB limit",
      { "content-type": "application/json", "x-user-id": "alice" },
      Buffer.alloc(3_000_000, " "),
    ],
  ];
  for (const [name, headers, body] of earlyAnswers) {
    it(`answers the next request on a connection answered early (${name})`, async () => {
      agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const warm = await listDay(agent, server.url);
      assert.equal(warm.status, 200, warm.body);
      const early = await post(agent, server.url + LIST_DAY, headers, body);
      assert.equal(early.reusedSocket, true, "the early answer was not on a kept-alive connection");
      // Before the fix, the unread rest of the body stayed in front of this
      // request, which then waited for the keep-alive timeout.
      const next = await listDay(agent, server.url);
      assert.equal(next.status, 200, next.body);
      agent.destroy();
    });
  }

  it("keeps serving after an unread body that goes on past the drain limit", async () => {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const headers = { "content-type": "application/grpc-web+proto", "x-user-id": "alice" };
    // 40 MB of empty envelopes: answered after the second, then drained up
    // to the cap and the connection closed; the client sees the answer or,
    // if the close came first, its upload cut off. Never no answer at all.
    const outcome = await post(
      agent,
      server.url + LIST_DAY,
      headers,
      Buffer.alloc(40_000_000),
    ).then(
      (answer) => ({ answer }),
      (error: NodeJS.ErrnoException) => ({ error }),
    );
    if ("answer" in outcome) {
      assert.equal(outcome.answer.status, 200);
      assert.match(outcome.answer.body, /grpc-status: 12\r\n/, "the second message refused");
    } else {
      assert.ok(
        ["ECONNRESET", "EPIPE"].includes(outcome.error.code ?? ""),
        `the upload failed otherwise: ${outcome.error}`,
      );
    }
    const next = await listDay(agent, server.url);
    assert.equal(next.status, 200, next.body);
    agent.destroy();
  });
});
