// A unary call's handler context and its run through the interceptors, as
// connect-es 2.1.2 makes them (implementation.ts createHandlerContext and
// protocol/invoke-implementation.ts invokeUnaryImplementation), with one
// difference: the context's AbortSignal is made when somebody first reads
// it, not for every call.
//
// Connect links a new AbortController to the request's signal and the
// server's shutdown signal for every call and aborts it when the call ends:
// on this machine 24 µs per call (a microbenchmark of createHandlerContext,
// against 1 µs for the rest of the context), a tenth of the empty RPC's
// whole cost. No unary method of this service reads its signal (the store
// keeps its own deadline), so most calls never need one. Read it, and it is
// what Connect's would be: linked to the same signals, and already aborted,
// with the same reason, if the client left or the call ended before.
import { create } from "@bufbuild/protobuf";
import {
  createContextValues,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  createDeadlineSignal,
  createLinkedAbortController,
  type UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { LazyAbortSignal } from "./lazy_abort.js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

export type UnaryImplSpec = Extract<MethodImplSpec, { kind: "unary" }>;

export interface UnaryContext extends HandlerContext {
  /** Ends the call: its signal is (or, once read, will be) aborted with `reason`. */
  abort(reason?: unknown): void;
}

/** What differs between the protocols' contexts; the rest comes from the request. */
export interface UnaryContextInit {
  protocolName: string;
  timeoutMs: number | undefined;
  shutdownSignal: AbortSignal | undefined;
  responseHeader: HeadersInit;
  responseTrailer?: HeadersInit;
}

/** Why a call that ended normally has its signal aborted (the reason Connect's patch shares). */
const callEnded = new DOMException("This operation was aborted", "AbortError");

export function createUnaryContext(
  spec: UnaryImplSpec,
  req: UniversalServerRequest,
  init: UnaryContextInit,
): UnaryContext {
  let timeoutMs: () => number | undefined = () => undefined;
  // With a timeout, the deadline's timer runs from the start, as Connect's.
  const deadline = init.timeoutMs === undefined ? undefined : createDeadlineSignal(init.timeoutMs);
  if (init.timeoutMs !== undefined) {
    const endsAt = Date.now() + init.timeoutMs;
    timeoutMs = () => endsAt - Date.now();
  }
  // The request's signal is read only when this one is made.
  const signal = new LazyAbortSignal(() =>
    createLinkedAbortController(deadline?.signal, req.signal, init.shutdownSignal),
  );
  // A deadline must abort the signal when it passes: linked now.
  if (deadline !== undefined) void signal.signal;
  return {
    method: spec.method,
    service: spec.method.parent,
    requestMethod: req.method,
    protocolName: init.protocolName,
    url: req.url,
    timeoutMs,
    requestHeader: req.header,
    responseHeader: new Headers(init.responseHeader),
    responseTrailer: new Headers(init.responseTrailer),
    values: req.contextValues ?? createContextValues(),
    get signal(): AbortSignal {
      return signal.signal;
    },
    abort(reason?: unknown): void {
      deadline?.cleanup();
      signal.abort(reason === undefined ? callEnded : reason);
    },
  };
}

/**
 * Runs the interceptors and the implementation on one message (Connect's
 * invokeUnaryImplementation); the request and the implementation's context
 * pass the signal on by reference, so reading it is what makes it.
 */
export async function invokeUnary(
  spec: UnaryImplSpec,
  context: UnaryContext,
  input: UnaryRequest["message"],
  interceptors: Interceptor[],
): Promise<UnaryResponse["message"]> {
  const implementation = async (req: UnaryRequest): Promise<UnaryResponse> => {
    const handlerContext: HandlerContext = {
      method: context.method,
      service: req.service,
      requestMethod: context.requestMethod,
      protocolName: context.protocolName,
      url: context.url,
      timeoutMs: context.timeoutMs,
      requestHeader: req.header,
      responseHeader: context.responseHeader,
      responseTrailer: context.responseTrailer,
      values: req.contextValues,
      get signal() {
        return req.signal;
      },
    };
    return {
      stream: false,
      method: spec.method,
      service: spec.method.parent,
      message: create(spec.method.output, await spec.impl(req.message, handlerContext)),
      header: context.responseHeader,
      trailer: context.responseTrailer,
    };
  };
  // applyInterceptors: the first interceptor listed is the outermost.
  let next = implementation as (req: UnaryRequest) => Promise<UnaryResponse>;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    next = (interceptors[i] as Interceptor)(next as never) as typeof next;
  }
  const { message, header, trailer } = await next({
    stream: false,
    message: input,
    method: spec.method,
    requestMethod: context.requestMethod,
    url: context.url,
    header: context.requestHeader,
    service: spec.method.parent,
    contextValues: context.values,
    get signal() {
      return context.signal;
    },
  });
  copyHeaders(header, context.responseHeader);
  copyHeaders(trailer, context.responseTrailer);
  return message;
}

/** An interceptor may answer with headers of its own: they replace the context's. */
function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  for (const key of [...to.keys()]) to.delete(key);
  from.forEach((value, key) => {
    to.set(key, value);
  });
}

/**
 * A unary answer's whole body, as the direct handlers return it: an async
 * iterable of its one chunk (what Connect's createAsyncIterable([body])
 * gives), whose bytes the HTTP layer (direct_unary.ts) takes without
 * iterating, which costs an async generator and two promises per call.
 */
export class WholeBody implements AsyncIterable<Uint8Array> {
  constructor(readonly bytes: Uint8Array) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    yield this.bytes;
  }
}
