// Unary RPCs taken straight from Node's request listener (issue 17).
//
// Fastify, connect-fastify and connect-node's adapters sit between a request
// and Connect's handler for every call. On the api's profile (empty RPC and
// GetEvent at c=64, both protocols) the adaptation cost more than the work:
// Fastify's routing, hooks and request/reply objects; an AbortController per
// request, aborted with an Event dispatch when every response closes,
// finished or not; one promise and two listeners per body chunk written; a
// promise per response end.
//
// So the server's request listener looks at each request first. A request
// that Connect's router would hand to a unary method's handler (its path, an
// allowed HTTP method, a content type that method's protocols accept) is
// served here, by that same handler: the same router.handlers that
// connect-fastify serves (with refuse_undecodable.ts and unary_handlers.ts
// in front), so protocols, errors, compression, timeouts and GET requests are
// Connect's. Everything else, streaming methods, unknown content types,
// health, metrics, the feed, requests during shutdown, goes to Fastify as
// before.
//
// What is mirrored: connect-fastify 2.1.2's handleFastifyRequest (route by
// requestPath, contextValues per request) and connect-node 2.1.2's
// node-universal-handler.ts and node-universal-header.ts (the universal
// request's url, headers, body and signal; the response's status, headers,
// body and trailers). What differs: the request signal is made only when
// read, and aborted only when the response closes before it was finished or
// the request errs (a unary handler's own context is aborted when it
// returns, so nobody listens after that); and a response's body, one
// message for a unary method, is written with a single end() and its
// Content-Length when it has no trailers. direct_unary.test.ts sends the
// same requests here and through Fastify and compares the answers.
import type http from "node:http";
import type http2 from "node:http2";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { LazyAbortSignal } from "./lazy_abort.js";
import { WholeBody } from "./unary_call.js";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
type Listener = (req: NodeRequest, res: NodeResponse) => void;

export interface DirectUnaryOptions {
  /** Serves every request this path does not take (Fastify's handler). */
  fallback: Listener;
  /** Whether new calls are taken here; false once the server is closing (Fastify answers 503). */
  accepting(): boolean;
  /** The context values of a call, as connect-fastify's contextValues option. */
  contextValues(req: NodeRequest): ContextValues;
  /** Called once a call's answer is written, with what was answered. */
  answered(call: AnsweredCall): void;
  /** Where a call that failed outside Connect's handler is reported. */
  onError(error: unknown, req: NodeRequest): void;
}

export interface AnsweredCall {
  req: NodeRequest;
  contextValues: ContextValues;
  /** "/package.Service/Method" */
  path: string;
  response: UniversalServerResponse;
  /** When the request reached the listener (performance.now()). */
  startedAt: number;
}

/** The unary methods' handlers, by request path; filled once the router is built. */
export class UnaryRoutes {
  readonly #byPath = new Map<string, UniversalHandler>();

  /** Takes the router's handlers (connect-fastify serves the same list); keeps the unary ones. */
  serve(handlers: readonly UniversalHandler[]): void {
    for (const handler of handlers) {
      if (handler.method.methodKind === "unary") this.#byPath.set(handler.requestPath, handler);
    }
  }

  /** The handler Connect's negotiation would run the request with, or undefined. */
  take(method: string | undefined, path: string, contentType: string | undefined) {
    const handler = this.#byPath.get(path);
    if (handler === undefined || method === undefined) return undefined;
    if (!handler.allowedMethods.includes(method)) return undefined;
    // A GET is the Connect protocol's; its encoding is in the query.
    if (method === "POST" && !handler.supportedContentType(contentType ?? "")) return undefined;
    return handler;
  }
}

export function directUnaryListener(routes: UnaryRoutes, options: DirectUnaryOptions): Listener {
  return (req, res) => {
    const url = req.url ?? "";
    const queryAt = url.indexOf("?");
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const handler = options.accepting()
      ? routes.take(req.method, path, req.headers["content-type"])
      : undefined;
    const authority = "authority" in req ? req.authority : req.headers.host;
    if (handler === undefined || authority === undefined) {
      options.fallback(req, res);
      return;
    }
    serve(handler, req, res, path, authority, options).catch((error: unknown) => {
      options.onError(error, req);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

async function serve(
  handler: UniversalHandler,
  req: NodeRequest,
  res: NodeResponse,
  path: string,
  authority: string,
  options: DirectUnaryOptions,
): Promise<void> {
  const startedAt = performance.now();
  const contextValues = options.contextValues(req);
  const requestSignal = new RequestSignal(req, res);
  const response = await handler({
    httpVersion: req.httpVersion,
    method: req.method ?? "",
    url: requestUrl(req, path, authority),
    header: webHeaders(req.headers),
    body: { [Symbol.asyncIterator]: () => new BodyReader(req) },
    get signal() {
      return requestSignal.signal;
    },
    contextValues,
  });
  await writeResponse(response, res);
  options.answered({ req, contextValues, path, response, startedAt });
}

/**
 * Aborted when the call's client is gone before its answer was finished:
 * the HTTP/2 stream was reset or closed, or the HTTP/1.1 request erred or
 * its response closed unfinished (connect-node listens on the response, as
 * Node closes the request once its body is read: nodejs/node#40775).
 *
 * Made when first read (lazy_abort.ts): unary_call.ts reads it only when a
 * handler or interceptor reads the call's signal.
 */
class RequestSignal extends LazyAbortSignal {
  constructor(req: NodeRequest, res: NodeResponse) {
    super();
    if ("stream" in req) {
      req.once("close", () => {
        if (res.writableFinished) return;
        this.abort(errorFromH2ResetCode(req.stream.rstCode) ?? requestClosed);
      });
      return;
    }
    const onError = (error: Error) => {
      res.off("close", onClose);
      this.abort(ConnectError.from(error, Code.Canceled));
    };
    const onClose = () => {
      req.off("error", onError);
      if (res.writableFinished) return;
      this.abort(req.errored ? ConnectError.from(req.errored, Code.Canceled) : requestClosed);
    };
    req.once("error", onError);
    res.once("close", onClose);
  }
}

/**
 * The request's absolute URL, as connect-node makes it (new URL(url,
 * origin).toString()). A request without a query is its route's path, which
 * URL parsing leaves as it is, behind the authority's origin; origins are
 * kept per authority, so only requests with a query are parsed.
 */
function requestUrl(req: NodeRequest, path: string, authority: string): string {
  const encrypted = "encrypted" in req.socket && req.socket.encrypted === true;
  const scheme = encrypted ? "https" : "http";
  const url = req.url ?? "";
  if (url !== path) return new URL(url, `${scheme}://${authority}`).toString();
  const key = `${scheme} ${authority}`;
  let origin = origins.get(key);
  if (origin === undefined) {
    origin = new URL(`${scheme}://${authority}`).origin;
    // Clients choose the authority: a bounded cache, emptied when full.
    if (origins.size >= MAX_ORIGINS) origins.clear();
    origins.set(key, origin);
  }
  return origin + path;
}

const origins = new Map<string, string>();
const MAX_ORIGINS = 64;

/**
 * The request body, chunk by chunk (what Readable's async iterator gives,
 * without its end-of-stream machinery and generator: a unary body is
 * usually buffered whole by the time it is read, and read() hands it over
 * at once). A body that stops before its end is an error, as it is there.
 */
class BodyReader implements AsyncIterator<Uint8Array> {
  constructor(private readonly req: NodeRequest) {}

  next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.req.read() as Buffer | null;
    if (chunk !== null) return Promise.resolve({ done: false, value: chunk });
    if (this.req.readableEnded) return Promise.resolve({ done: true, value: undefined });
    if (this.req.errored) return Promise.reject(this.req.errored);
    if (this.req.destroyed) return Promise.reject(prematureClose());
    return new Promise((resolve, reject) => {
      const req = this.req;
      // Whatever happened (data, the end, an error, a close), next() reads it.
      const settle = () => {
        req.off("readable", settle);
        req.off("end", settle);
        req.off("error", settle);
        req.off("close", settle);
        this.next().then(resolve, reject);
      };
      req.on("readable", settle);
      req.on("end", settle);
      req.on("error", settle);
      req.on("close", settle);
    });
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    // An HTTP/2 stream is reset, as Node's iterator destroys the request.
    // Node's iterator leaves an HTTP/1.1 connection open (it detaches the
    // socket before destroying the request) but stops reading it; here the
    // rest of the body is read and dropped once the answer is sent
    // (one_port.ts DrainingUnreadBody), so the connection stays usable.
    if ("stream" in this.req) this.req.destroy();
    return Promise.resolve({ done: true, value: undefined });
  }
}

function prematureClose(): Error {
  return Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

/** connect-node's reason for a request closed without an error (one instance, as its patch has it). */
const requestClosed = new DOMException("This operation was aborted", "AbortError");

/** HTTP/2 reset codes as Connect errors (connect-node's connectErrorFromH2ResetCode). */
const H2_RESET_CODES: Record<number, [name: string, code: Code]> = {
  1: ["PROTOCOL_ERROR", Code.Internal],
  2: ["INTERNAL_ERROR", Code.Internal],
  3: ["FLOW_CONTROL_ERROR", Code.Internal],
  4: ["SETTINGS_TIMEOUT", Code.Internal],
  6: ["FRAME_SIZE_ERROR", Code.Internal],
  7: ["REFUSED_STREAM", Code.Unavailable],
  8: ["CANCEL", Code.Canceled],
  9: ["COMPRESSION_ERROR", Code.Internal],
  10: ["CONNECT_ERROR", Code.Internal],
  11: ["ENHANCE_YOUR_CALM", Code.ResourceExhausted],
  12: ["INADEQUATE_SECURITY", Code.PermissionDenied],
  13: ["HTTP_1_1_REQUIRED", Code.PermissionDenied],
};

function errorFromH2ResetCode(rstCode: number): ConnectError | undefined {
  const known = H2_RESET_CODES[rstCode];
  if (known === undefined) return undefined;
  return new ConnectError(
    `http/2 stream closed with error code ${known[0]} (0x${rstCode.toString(16)})`,
    known[1],
  );
}

/** Node's request headers as fetch Headers, HTTP/2 pseudo-headers left out (nodeHeaderToWebHeader). */
function webHeaders(nodeHeaders: http.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const key in nodeHeaders) {
    if (key.startsWith(":")) continue;
    const value = nodeHeaders[key];
    if (value === undefined) continue;
    if (typeof value === "string") header.append(key, value);
    else for (const each of value) header.append(key, each);
  }
  return header;
}

/** Headers as Node's outgoing headers: set-cookie stays a list (webHeaderToNodeHeaders). */
function nodeHeaders(headers: Headers | undefined): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = Object.create(null);
  headers?.forEach((value, key) => {
    const had = out[key];
    if (had === undefined) out[key] = value;
    else out[key] = Array.isArray(had) ? [...had, value] : [String(had), value];
  });
  return out;
}

/**
 * Writes the answer: the whole body (a unary call's one message, or for
 * gRPC-Web the message and the trailers frame) with one end(). Without
 * trailers the length is known, so HTTP/1.1 sends Content-Length instead of
 * chunks. The body is read before the status line is written, as
 * connect-node waits for the first chunk: a handler may still set headers.
 */
async function writeResponse(response: UniversalServerResponse, res: NodeResponse): Promise<void> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  if (response.body instanceof WholeBody) {
    chunks.push(response.body.bytes);
    length = response.body.bytes.byteLength;
  } else if (response.body !== undefined) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      length += chunk.byteLength;
    }
  }
  const headers = nodeHeaders(response.header);
  const trailers = response.trailer === undefined ? undefined : nodeHeaders(response.trailer);
  if (trailers === undefined && headers["content-length"] === undefined) {
    headers["content-length"] = length;
  }
  (res as http.ServerResponse).writeHead(response.status, headers);
  if (trailers !== undefined) res.addTrailers(trailers);
  if (length === 0) res.end();
  else res.end(chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, length));
}
