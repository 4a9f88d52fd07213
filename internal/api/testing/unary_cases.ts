// What the tests of the direct unary handlers share (grpc_unary.test.ts,
// connect_unary.test.ts, unary_handlers.test.ts): an implementation and an
// interceptor whose behaviour each request chooses, and requests and answers
// at Connect's universal level, answers in a form deepEqual compares.
import { create, toBinary } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextValues,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import type {
  UniversalHandlerOptions,
  UniversalServerRequest,
  UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { CalendarService, GetEventRequestSchema } from "../../../gen/calendar/v1/calendar_pb.js";

export const GET_EVENT = CalendarService.method.getEvent;
/**
 * GetEvent as if declared without side effects: no method of this service
 * is (so none answers GET), but Connect's GET requests are served by the
 * direct path all the same and are tested with this.
 */
export const GET_EVENT_WITHOUT_SIDE_EFFECTS: typeof GET_EVENT = {
  ...GET_EVENT,
  idempotency: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
};
export const PATH = "/calendar.v1.CalendarService/GetEvent";

/** What the implementation does, chosen by the request's id. */
export async function getEvent(req: { id: string }, ctx: HandlerContext) {
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
export const stamp: Interceptor = (next) => async (req) => {
  if (req.header.get("x-refuse") === "yes") {
    throw new ConnectError("refused by interceptor", Code.PermissionDenied);
  }
  const res = await next(req);
  res.header.set("x-intercepted", "yes");
  return res;
};

/**
 * The options both handlers of a differential test get: both compressions,
 * the stamp interceptor, and what the case sets.
 */
export function handlerOptions(
  options: Partial<UniversalHandlerOptions> = {},
): Partial<UniversalHandlerOptions> {
  return {
    acceptCompression: [compressionGzip, compressionBrotli],
    interceptors: [stamp],
    ...options,
  };
}

export const binary = (id: string) =>
  toBinary(GetEventRequestSchema, create(GetEventRequestSchema, { id }));

export interface Sent {
  method?: string;
  /** Appended to the path, "?" included. */
  query?: string;
  /** Default: gRPC's; null: none. */
  contentType?: string | null;
  headers?: Record<string, string>;
  /** The body as it arrives, chunk by chunk; an Error breaks it off there. */
  chunks: (Uint8Array | Error)[];
}

export function request({
  method = "POST",
  query = "",
  contentType = "application/grpc",
  headers = {},
  chunks,
}: Sent): UniversalServerRequest {
  async function* body() {
    for (const chunk of chunks) {
      if (chunk instanceof Error) throw chunk;
      yield chunk;
    }
  }
  return {
    httpVersion: "2.0",
    method,
    url: `http://localhost${PATH}${query}`,
    header: new Headers({
      ...(contentType !== null && { "content-type": contentType }),
      ...headers,
    }),
    body: body(),
    signal: new AbortController().signal,
    contextValues: createContextValues(),
  };
}

export async function answer(res: UniversalServerResponse) {
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

/** A gRPC (and gRPC-Web) length-prefixed message. */
export function envelope(message: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}
