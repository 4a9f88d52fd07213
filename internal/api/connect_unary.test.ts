// The direct unary Connect path answers exactly as Connect's own handler:
// every request below goes to both, and status, headers and body bytes must
// be equal. The requests cover what a client can get wrong (content types,
// sizes, compression, timeouts, JSON and bytes that do not decode, GET
// queries, a body that breaks off) and what an implementation or
// interceptor can do (answer, set headers and trailers, throw a
// ConnectError with metadata and details, throw anything else).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { createMethodImplSpec, type MethodImplSpec } from "@connectrpc/connect";
import {
  createUniversalMethodHandler,
  type UniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import { createHandlerFactory as connectHandlerFactory } from "@connectrpc/connect/protocol-connect";
import { createConnectUnaryHandler } from "./connect_unary.js";
import {
  answer,
  binary,
  GET_EVENT_WITHOUT_SIDE_EFFECTS,
  getEvent,
  handlerOptions,
  request,
  type Sent,
} from "./testing/unary_cases.js";
import type { UnaryImplSpec } from "./unary_call.js";

function handlers(options: Partial<UniversalHandlerOptions> = {}) {
  const spec = createMethodImplSpec(GET_EVENT_WITHOUT_SIDE_EFFECTS, getEvent) as MethodImplSpec;
  const opt = handlerOptions(options);
  const direct = createConnectUnaryHandler(spec as UnaryImplSpec, opt);
  assert.ok(direct);
  return { connect: createUniversalMethodHandler(spec, [connectHandlerFactory(opt)]), direct };
}

const json = (text: string): Partial<Sent> => ({
  contentType: "application/json",
  chunks: [Buffer.from(text)],
});
const proto = (id: string): Partial<Sent> => ({
  contentType: "application/proto",
  chunks: [binary(id)],
});
const get = (query: string): Partial<Sent> => ({
  method: "GET",
  contentType: null,
  query,
  chunks: [],
});
const message = (text: string) => encodeURIComponent(text);

const cases: [string, Partial<Sent>, Partial<UniversalHandlerOptions>?][] = [
  ["JSON", json('{"id":"e1"}')],
  ["JSON with charset", { ...json('{"id":"e1"}'), contentType: "application/json; charset=utf-8" }],
  [
    "JSON split into single bytes",
    { ...json(""), chunks: [...Buffer.from('{"id":"e2"}')].map((b) => Uint8Array.of(b)) },
  ],
  ["binary", proto("e3")],
  ["an empty body", json("")],
  ["JSON that does not parse", json("{nope")],
  ["JSON with an unknown field", json('{"id":"e4","colour":"red"}')],
  ["JSON of the wrong type", json('{"id":7}')],
  [
    "bytes that do not decode",
    { contentType: "application/proto", chunks: [Buffer.from([0x0a, 0x0a, 0x61])] },
  ],
  ["a body over readMaxBytes", json(`{"id":"${"x".repeat(200)}"}`), { readMaxBytes: 100 }],
  [
    "a Content-Length over readMaxBytes",
    { ...json('{"id":"e5"}'), headers: { "content-length": "5000" } },
    { readMaxBytes: 1000 },
  ],
  [
    "fewer bytes than Content-Length",
    { ...json('{"id":"e6"}'), headers: { "content-length": "40" } },
  ],
  [
    "more bytes than Content-Length",
    { ...json('{"id":"e7"}'), headers: { "content-length": "3" } },
  ],
  [
    "a gzip body",
    {
      contentType: "application/json",
      headers: { "content-encoding": "gzip" },
      chunks: [gzipSync('{"id":"gz"}')],
    },
  ],
  [
    "gzip that does not decompress",
    { ...json('{"id":"e8"}'), headers: { "content-encoding": "gzip" } },
  ],
  [
    "gzip inflating past readMaxBytes",
    {
      contentType: "application/proto",
      headers: { "content-encoding": "gzip" },
      chunks: [gzipSync(Buffer.alloc(5000))],
    },
    { readMaxBytes: 1000 },
  ],
  [
    "an unknown content-encoding",
    { ...json('{"id":"e9"}'), headers: { "content-encoding": "snappy" } },
  ],
  [
    "a large answer, gzip accepted",
    { ...json('{"id":"big"}'), headers: { "accept-encoding": "gzip" } },
  ],
  ["a large answer, br accepted", { ...proto("big"), headers: { "accept-encoding": "br" } }],
  [
    "a small answer, gzip accepted",
    { ...json('{"id":"small"}'), headers: { "accept-encoding": "gzip" } },
  ],
  ["a valid timeout", { ...json('{"id":"timeout"}'), headers: { "connect-timeout-ms": "5000" } }],
  ["no timeout", json('{"id":"timeout"}')],
  ["a malformed timeout", { ...json('{"id":"e10"}'), headers: { "connect-timeout-ms": "soon" } }],
  [
    "a timeout over maxTimeoutMs",
    { ...json('{"id":"e11"}'), headers: { "connect-timeout-ms": "10000" } },
    { maxTimeoutMs: 1000 },
  ],
  [
    "a streaming content type",
    { ...json('{"id":"e12"}'), contentType: "application/connect+json" },
  ],
  ["an implementation's ConnectError with metadata and details", json('{"id":"not-found"}')],
  ["an implementation's plain Error", proto("crash")],
  ["headers and trailers set by the implementation", json('{"id":"headers"}')],
  ["an interceptor that refuses", { ...json('{"id":"e13"}'), headers: { "x-refuse": "yes" } }],
  [
    "a body that breaks off",
    { contentType: "application/json", chunks: [Buffer.from('{"id"'), new Error("ECONNRESET")] },
  ],
  ["an oversized answer", json('{"id":"big"}'), { writeMaxBytes: 100 }],
  ["GET, JSON", get(`?encoding=json&message=${message('{"id":"g1"}')}`)],
  [
    "GET, binary in base64",
    get(`?encoding=proto&base64=1&message=${message(base64Encode(binary("g2"), "url"))}`),
  ],
  [
    "GET, binary in URL-safe base64 without padding",
    get(`?encoding=proto&base64=1&message=${base64Encode(binary("g3"), "url")}`),
  ],
  ["GET, no message", get("?encoding=json")],
  ["GET, no encoding", get(`?message=${message('{"id":"g4"}')}`)],
  ["GET, an unknown encoding", get("?encoding=yaml&message=x")],
  [
    "GET, gzip compressed",
    get(
      `?encoding=json&base64=1&compression=gzip&message=${message(base64Encode(gzipSync('{"id":"g5"}')))}`,
    ),
  ],
  [
    "GET, an unknown compression",
    get(`?encoding=json&compression=snappy&message=${message('{"id":"g6"}')}`),
  ],
  ["GET, JSON that does not parse", get(`?encoding=json&message=${message("{nope")}`)],
];

describe("the direct unary Connect path answers as Connect's handler", () => {
  for (const [name, sent, options] of cases) {
    it(name, async () => {
      const { connect, direct } = handlers(options);
      const full: Sent = { chunks: [], ...sent };
      const expected = await answer(await connect(request(full)));
      const actual = await answer(await direct(request(full)));
      assert.deepEqual(actual, expected);
    });
  }

  it("the answers above are not all alike (the comparison sees differences)", async () => {
    const { direct } = handlers();
    const ok = await answer(await direct(request({ chunks: [], ...json('{"id":"e1"}') })));
    const missing = await answer(
      await direct(request({ chunks: [], ...json('{"id":"not-found"}') })),
    );
    assert.equal(ok.status, 200);
    assert.equal(missing.status, 404);
    assert.match(Buffer.from(missing.body, "base64").toString(), /"code":"not_found"/);
    assert.match(Buffer.from(ok.body, "base64").toString(), /"title":"Standup"/);
  });

  it("leaves servers that require Connect-Protocol-Version to Connect", () => {
    const spec = createMethodImplSpec(GET_EVENT_WITHOUT_SIDE_EFFECTS, getEvent) as UnaryImplSpec;
    assert.equal(
      createConnectUnaryHandler(spec, { requireConnectProtocolHeader: true }),
      undefined,
    );
  });
});
