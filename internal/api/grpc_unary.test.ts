// The direct unary gRPC path answers exactly as Connect's gRPC handler does:
// every request below goes to both, and status, headers, trailers and body
// bytes must be equal. The requests cover what a client can get wrong
// (framing, sizes, compression, timeouts, JSON, bytes that do not decode, a
// body that breaks off) and what an implementation or interceptor can do
// (answer, set headers and trailers, throw a ConnectError with metadata and
// details, throw anything else).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toJsonString } from "@bufbuild/protobuf";
import { Code, createMethodImplSpec, type MethodImplSpec } from "@connectrpc/connect";
import {
  createUniversalMethodHandler,
  type UniversalHandlerOptions,
} from "@connectrpc/connect/protocol";
import { createHandlerFactory as grpcHandlerFactory } from "@connectrpc/connect/protocol-grpc";
import {
  GetEventRequestSchema,
  GetEventResponseSchema,
} from "../../gen/calendar/v1/calendar_pb.js";
import { createGrpcUnaryHandler } from "./grpc_unary.js";
import {
  answer,
  binary,
  envelope,
  GET_EVENT,
  getEvent,
  handlerOptions,
  request,
  type Sent,
} from "./testing/unary_cases.js";

function handlers(options: Partial<UniversalHandlerOptions> = {}) {
  const spec = createMethodImplSpec(GET_EVENT, getEvent) as MethodImplSpec;
  const opt = handlerOptions(options);
  assert.equal(spec.kind, "unary");
  return {
    connect: createUniversalMethodHandler(spec, [grpcHandlerFactory(opt)]),
    direct: createGrpcUnaryHandler(spec as Extract<MethodImplSpec, { kind: "unary" }>, opt),
  };
}

const one = (id: string) => [envelope(binary(id))];
const cases: [string, Sent, Partial<UniversalHandlerOptions>?][] = [
  ["a message in one chunk", { chunks: one("e1") }],
  [
    "a message split into single bytes",
    { chunks: [...envelope(binary("e2"))].map((b) => Uint8Array.of(b)) },
  ],
  [
    "two messages in one chunk",
    { chunks: [Buffer.concat([envelope(binary("a")), envelope(binary("b"))])] },
  ],
  [
    "a second message that does not decode",
    { chunks: [envelope(binary("a")), envelope(Buffer.from([0x0a, 0x0a, 0x61]))] },
  ],
  ["no message", { chunks: [] }],
  ["an envelope header alone", { chunks: [envelope(binary("e3")).subarray(0, 5)] }],
  ["a message and a partial envelope", { chunks: [envelope(binary("a")), Buffer.from([0, 0, 0])] }],
  ["four bytes", { chunks: [Buffer.from([0, 0, 0, 0])] }],
  [
    "a message over readMaxBytes",
    { chunks: [envelope(Buffer.alloc(200, 1))] },
    { readMaxBytes: 100 },
  ],
  ["an envelope announcing 4 GiB", { chunks: [Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1, 2])] }],
  ["bytes that do not decode", { chunks: [envelope(Buffer.from([0x0a, 0x0a, 0x61, 0x62]))] }],
  [
    "a gzip message",
    { headers: { "grpc-encoding": "gzip" }, chunks: [envelope(gzipSync(binary("gz")), 1)] },
  ],
  ["a compressed flag without grpc-encoding", { chunks: [envelope(gzipSync(binary("gz")), 1)] }],
  [
    "gzip that does not decompress",
    { headers: { "grpc-encoding": "gzip" }, chunks: [envelope(Buffer.from("nope"), 1)] },
  ],
  [
    "gzip inflating past readMaxBytes",
    { headers: { "grpc-encoding": "gzip" }, chunks: [envelope(gzipSync(Buffer.alloc(5000)), 1)] },
    { readMaxBytes: 1000 },
  ],
  ["an unknown grpc-encoding", { headers: { "grpc-encoding": "snappy" }, chunks: one("e4") }],
  [
    "a large answer, gzip accepted",
    { headers: { "grpc-accept-encoding": "gzip" }, chunks: one("big") },
  ],
  [
    "a large answer, br accepted",
    { headers: { "grpc-accept-encoding": "br" }, chunks: one("big") },
  ],
  [
    "a small answer, gzip accepted",
    { headers: { "grpc-accept-encoding": "gzip" }, chunks: one("small") },
  ],
  ["a valid grpc-timeout", { headers: { "grpc-timeout": "5S" }, chunks: one("timeout") }],
  ["no grpc-timeout", { chunks: one("timeout") }],
  ["a malformed grpc-timeout", { headers: { "grpc-timeout": "soon" }, chunks: one("e5") }],
  [
    "a timeout over maxTimeoutMs",
    { headers: { "grpc-timeout": "10S" }, chunks: one("e6") },
    { maxTimeoutMs: 1000 },
  ],
  [
    "JSON in gRPC envelopes",
    {
      headers: { "content-type": "application/grpc+json" },
      chunks: [
        envelope(
          Buffer.from(
            toJsonString(GetEventRequestSchema, create(GetEventRequestSchema, { id: "j1" })),
          ),
        ),
      ],
    },
  ],
  [
    "JSON that does not parse",
    {
      headers: { "content-type": "application/grpc+json" },
      chunks: [envelope(Buffer.from("{nope"))],
    },
  ],
  [
    "+proto content type",
    { headers: { "content-type": "application/grpc+proto" }, chunks: one("p1") },
  ],
  ["an implementation's ConnectError with metadata and details", { chunks: one("not-found") }],
  ["an implementation's plain Error", { chunks: one("crash") }],
  ["headers and trailers set by the implementation", { chunks: one("headers") }],
  ["an interceptor that refuses", { headers: { "x-refuse": "yes" }, chunks: one("e7") }],
  [
    "a body that breaks off",
    { chunks: [envelope(binary("e8")).subarray(0, 4), new Error("ECONNRESET")] },
  ],
  [
    "a body that breaks off after the message",
    { chunks: [envelope(binary("e9")), new Error("ECONNRESET")] },
  ],
  ["an oversized answer", { chunks: one("big") }, { writeMaxBytes: 100 }],
];

describe("the direct unary gRPC path answers as Connect's gRPC handler", () => {
  for (const [name, sent, options] of cases) {
    it(name, async () => {
      const { connect, direct } = handlers(options);
      const expected = await answer(await connect(request(sent)));
      const actual = await answer(await direct(request(sent)));
      assert.deepEqual(actual, expected);
    });
  }

  it("the answers above are not all alike (the comparison sees differences)", async () => {
    const { direct } = handlers();
    const ok = await answer(await direct(request({ chunks: one("e1") })));
    const failed = await answer(await direct(request({ chunks: one("not-found") })));
    assert.deepEqual(ok.trailer, [["grpc-status", "0"]]);
    assert.equal(
      failed.trailer.find(([name]) => name === "grpc-status")?.[1],
      String(Code.NotFound),
    );
    const decoded = Buffer.from(ok.body, "base64");
    assert.equal(decoded.readUInt32BE(1), decoded.byteLength - 5);
    assert.ok(GetEventResponseSchema.typeName.endsWith("GetEventResponse"));
  });
});
