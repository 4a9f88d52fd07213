// Bodies that do not decode are the caller's fault: INVALID_ARGUMENT with a
// message naming the request type, over every binary framing, compressed or
// not; never INTERNAL.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { startTestServer, type TestServer } from "./testing/test_server.js";

const PATH = "/calendar.v1.CalendarService/GetEvent";
/** Field 1 (id, a string) announced 10 bytes long, followed by 2: truncated. */
const TRUNCATED = Buffer.from([0x0a, 0x0a, 0x61, 0x62]);

function envelope(message: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}

interface Outcome {
  /** The Connect code, or the gRPC status as a number in a string. */
  code: string;
  message: string;
}

function h1(base: string, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + PATH, { method: "POST", headers });
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        if (headers["content-type"]?.startsWith("application/grpc-web")) {
          // The trailer frame: flag 0x80, then "name: value\r\n" lines.
          const text = bytes.subarray(bytes.lastIndexOf(0x80) + 5).toString("utf8");
          const field = (name: string) => new RegExp(`^${name}: ?(.*)$`, "mi").exec(text)?.[1];
          resolve({
            code: field("grpc-status")?.trim() ?? "",
            message: decodeURIComponent(field("grpc-message")?.trim() ?? ""),
          });
        } else {
          const json = JSON.parse(bytes.toString("utf8"));
          resolve({ code: `${res.statusCode} ${json.code}`, message: json.message });
        }
      });
    });
    req.end(body);
  });
}

function grpc(base: string, headers: Record<string, string>, body: Buffer): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": PATH,
      te: "trailers",
      ...headers,
    });
    stream.on("trailers", (trailers) => {
      resolve({
        code: String(trailers["grpc-status"]),
        message: decodeURIComponent(String(trailers["grpc-message"] ?? "")),
      });
    });
    stream.on("error", reject);
    stream.on("close", () => session.close());
    stream.resume();
    stream.end(body);
  });
}

describe("request bodies that do not decode", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });
  const user = { "x-user-id": "alice" };

  const cases: [string, () => Promise<Outcome>, string][] = [
    [
      "gRPC",
      () => grpc(server.url, { ...user, "content-type": "application/grpc" }, envelope(TRUNCATED)),
      "3",
    ],
    [
      "gRPC, gzip-compressed",
      () =>
        grpc(
          server.url,
          { ...user, "content-type": "application/grpc+proto", "grpc-encoding": "gzip" },
          envelope(gzipSync(TRUNCATED), 1),
        ),
      "3",
    ],
    [
      "gRPC, flagged compressed without grpc-encoding",
      () =>
        grpc(server.url, { ...user, "content-type": "application/grpc" }, envelope(TRUNCATED, 1)),
      "3",
    ],
    [
      "Connect binary",
      () => h1(server.url, { ...user, "content-type": "application/proto" }, TRUNCATED),
      "400 invalid_argument",
    ],
    [
      "Connect binary, gzip-compressed",
      () =>
        h1(
          server.url,
          { ...user, "content-type": "application/proto", "content-encoding": "gzip" },
          gzipSync(TRUNCATED),
        ),
      "400 invalid_argument",
    ],
    [
      // Left to Connect uncompressed (no second pass): it must still say 400.
      "Connect JSON",
      () =>
        h1(server.url, { ...user, "content-type": "application/json" }, Buffer.from('{"id": 5')),
      "400 invalid_argument",
    ],
    [
      "Connect JSON, gzip-compressed",
      () =>
        h1(
          server.url,
          { ...user, "content-type": "application/json", "content-encoding": "gzip" },
          gzipSync('{"id": 5'),
        ),
      "400 invalid_argument",
    ],
    [
      "gRPC-Web",
      () =>
        h1(
          server.url,
          { ...user, "content-type": "application/grpc-web+proto" },
          envelope(TRUNCATED),
        ),
      "3",
    ],
  ];
  for (const [name, send, expected] of cases) {
    it(`answers INVALID_ARGUMENT over ${name}, naming the request type`, async () => {
      const outcome = await send();
      assert.equal(outcome.code, expected, outcome.message);
      assert.match(outcome.message, /calendar\.v1\.GetEventRequest|no grpc-encoding/);
    });
  }

  it("still answers a well-formed binary request", async () => {
    // id "x": not a UUID, so the handler itself answers INVALID_ARGUMENT, naming the field.
    const outcome = await grpc(
      server.url,
      { ...user, "content-type": "application/grpc" },
      envelope(Buffer.from([0x0a, 0x01, 0x78])),
    );
    assert.equal(outcome.code, "3");
    assert.match(outcome.message, /^id:/);
  });
});
