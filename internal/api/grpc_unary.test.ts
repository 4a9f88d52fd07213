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
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextValues,
  createMethodImplSpec,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import {
  createUniversalMethodHandler,
  type UniversalHandler,
  type UniversalHandlerOptions,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { createHandlerFactory as connectHandlerFactory } from "@connectrpc/connect/protocol-connect";
import { createHandlerFactory as grpcHandlerFactory } from "@connectrpc/connect/protocol-grpc";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import {
  CalendarService,
  GetEventRequestSchema,
  GetEventResponseSchema,
} from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../gen/calendar/v1/sync_pb.js";
import { createGrpcUnaryHandler, serveUnaryGrpcDirectly } from "./grpc_unary.js";

const GET_EVENT = CalendarService.method.getEvent;
const PATH = "/calendar.v1.CalendarService/GetEvent";

/** What the implementation does, chosen by the request's id. */
async function getEvent(req: { id: string }, ctx: HandlerContext) {
  switch (req.id) {
    case "not-found":
      throw new ConnectError("no event not-found", Code.NotFound, { "x-why": "gone" }, [
        { desc: GetEventRequestSchema, value: { id: "not-found" } },
      ]);
    case "crash":
      throw new Error("a bug");
    case "headers":
      ctx.responseHeader.set("x-answer", "42");
      ctx.responseTrailer.set("x-trailer", "t");
      break;
    case "big":
      // Over compressMinBytes (1 KiB by default): compressed when asked.
      return { event: { id: "b".repeat(4096), title: "big" } };
    case "timeout":
      return { event: { id: String(ctx.timeoutMs() !== undefined), title: "timeout" } };
  }
  return {
    event: {
      id: req.id,
      title: "Standup",
      startTime: timestampFromMs(Date.UTC(2027, 0, 4, 9)),
    },
  };
}

/** An interceptor that adds a header, and refuses one request of its own. */
const stamp: Interceptor = (next) => async (req) => {
  if (req.header.get("x-refuse") === "yes") {
    throw new ConnectError("refused by interceptor", Code.PermissionDenied);
  }
  const res = await next(req);
  res.header.set("x-intercepted", "yes");
  return res;
};

function handlers(options: Partial<UniversalHandlerOptions> = {}) {
  const spec = createMethodImplSpec(GET_EVENT, getEvent) as MethodImplSpec;
  const opt = {
    acceptCompression: [compressionGzip, compressionBrotli],
    interceptors: [stamp],
    ...options,
  };
  assert.equal(spec.kind, "unary");
  return {
    connect: createUniversalMethodHandler(spec, [grpcHandlerFactory(opt)]),
    direct: createGrpcUnaryHandler(spec as Extract<MethodImplSpec, { kind: "unary" }>, opt),
  };
}

function envelope(message: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}

const binary = (id: string) =>
  toBinary(GetEventRequestSchema, create(GetEventRequestSchema, { id }));

interface Sent {
  headers?: Record<string, string>;
  /** The body as it arrives, chunk by chunk; an Error breaks it off there. */
  chunks: (Uint8Array | Error)[];
}

function request({ headers = {}, chunks }: Sent): UniversalServerRequest {
  async function* body() {
    for (const chunk of chunks) {
      if (chunk instanceof Error) throw chunk;
      yield chunk;
    }
  }
  return {
    httpVersion: "2.0",
    method: "POST",
    url: `http://localhost${PATH}`,
    header: new Headers({ "content-type": "application/grpc", ...headers }),
    body: body(),
    signal: new AbortController().signal,
    contextValues: createContextValues(),
  };
}

async function answer(res: UniversalServerResponse) {
  const chunks: Uint8Array[] = [];
  if (res.body !== undefined && Symbol.asyncIterator in (res.body as object)) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
  }
  return {
    status: res.status,
    header: [...(res.header ?? new Headers()).entries()],
    trailer: [...(res.trailer ?? new Headers()).entries()],
    body: Buffer.concat(chunks).toString("base64"),
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

describe("serveUnaryGrpcDirectly", () => {
  const spec = createMethodImplSpec(GET_EVENT, getEvent) as MethodImplSpec;
  const viaConnect: UniversalHandler = createUniversalMethodHandler(spec, [
    grpcHandlerFactory({}),
    connectHandlerFactory({}),
  ]);
  const reached: string[] = [];
  const spy = Object.assign(async (req: UniversalServerRequest) => {
    reached.push(`${req.method} ${req.header.get("content-type")}`);
    return viaConnect(req);
  }, viaConnect);
  const routed = serveUnaryGrpcDirectly(spy, { spec }, {});

  it("keeps the handler's description (path, method, protocols)", () => {
    assert.equal(routed.requestPath, PATH);
    assert.equal(routed.method, GET_EVENT);
    assert.deepEqual(routed.protocolNames, viaConnect.protocolNames);
  });

  it("serves gRPC POSTs itself and hands every other request to Connect", async () => {
    reached.length = 0;
    for (const type of ["application/grpc", "application/grpc+proto", "application/GRPC+json"]) {
      const res = await answer(
        await routed(request({ headers: { "content-type": type }, chunks: one("x") })),
      );
      assert.equal(res.status, 200);
    }
    const json = request({
      headers: { "content-type": "application/json" },
      chunks: [Buffer.from('{"id":"j"}')],
    });
    assert.equal((await answer(await routed(json))).status, 200);
    const web = request({
      headers: { "content-type": "application/grpc-web+proto" },
      chunks: one("w"),
    });
    await answer(await routed(web));
    assert.deepEqual(reached, ["POST application/json", "POST application/grpc-web+proto"]);
  });

  it("leaves streaming methods, and methods it has no implementation of, to Connect", () => {
    const watch = createMethodImplSpec(CalendarSyncService.method.watchEvents, async function* () {
      yield {};
    }) as MethodImplSpec;
    assert.equal(watch.kind, "server_streaming");
    assert.equal(serveUnaryGrpcDirectly(spy, { spec: watch }, {}), spy);
    assert.equal(serveUnaryGrpcDirectly(spy, undefined, {}), spy);
  });
});
