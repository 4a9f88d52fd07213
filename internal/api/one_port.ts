// One TCP port for HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge).
//
// Node's HTTP/2 server only falls back to HTTP/1.1 over TLS (via ALPN), and
// gRPC clients speak h2c while curl, browsers and Prometheus speak HTTP/1.1
// (nodejs/node#44887 and #26795 asked for `allowHTTP1` without TLS; both
// closed without it). So we accept every connection on an ordinary
// http.Server, look at its first bytes, and hand it to an internal HTTP/2
// server when they are the HTTP/2 connection preface. Both servers call the
// same request handler. one_port_sniffing.test.ts covers a preface split
// across TCP segments, a client that never speaks, and both protocols on
// one port.
//
// @httptoolkit/httpolyglot (3.1, Node >= 20) does the same sniffing, and was
// evaluated in its place: it keeps every protocol (it hands over whole
// sockets), but it is a net.Server, not the http.Server that Fastify's
// serverFactory expects (Fastify refuses forceCloseConnections: "idle"
// without closeIdleConnections(), and shutting down would mean reaching its
// private inner servers to close idle HTTP/1.1 connections and HTTP/2
// sessions); it has no timeout for a client that connects and never speaks;
// and it marks every h2c socket as not StreamBase, so Node runs HTTP/2 over
// a JavaScript stream wrapper instead of reading the socket natively (on a
// bare node:http2 server that took 35-40% more server CPU per request, 2
// rounds of 20,000, 2026-12-01). The few lines below cost none of that.
import http from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** How long a new connection may stay silent before it is closed. */
const SNIFF_TIMEOUT_MS = 10_000;
/**
 * How long an idle HTTP/1.1 connection is kept for its next request. Node's
 * default, 5 s, is shorter than most clients and proxies keep idle
 * connections (load balancers 60 s, nginx 75 s, Go's http.Transport 90 s):
 * a client reusing one just as the server closes it sees "socket hang up".
 * The server must be the side that waits longer. Sent to clients as
 * `Keep-Alive: timeout=120`, which Node's and undici's agents honour.
 */
export const HTTP1_KEEP_ALIVE_TIMEOUT_MS = 120_000;

/**
 * A response sent before the request body was read to its end (a body too
 * large, a broken envelope) reads and drops the rest of the body once sent.
 * Otherwise the unread rest stays in front of the next request on the
 * connection, and a client that reuses it waits for an answer that never
 * comes: Node only drains bodies that nobody started to read. Closing the
 * connection at once instead would reset it under a client still sending,
 * which then never reads the answer (EPIPE). Past MAX_DRAINED_BYTES the
 * connection is closed anyway: nobody is owed a free upload of any size.
 */
class DrainingUnreadBody extends http.ServerResponse {
  // Every response passes here: an implicit header calls writeHead too.
  override writeHead(statusCode: number, ...rest: unknown[]): this {
    if (!this.req.complete) this.once("finish", () => drain(this.req));
    return super.writeHead(statusCode, ...(rest as [string, http.OutgoingHttpHeaders]));
  }
}

const MAX_DRAINED_BYTES = 16 * 1024 * 1024;

function drain(req: http.IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let drained = 0;
  // A reader that stopped half-way may still listen for "readable", which
  // makes resume() a no-op: read explicitly.
  const readAll = () => {
    for (let chunk: Buffer | null = req.read(); chunk !== null; chunk = req.read()) {
      drained += chunk.byteLength;
      if (drained > MAX_DRAINED_BYTES) {
        req.socket.destroy();
        return;
      }
    }
  };
  req.on("readable", readAll);
  readAll();
}

/**
 * The handler Fastify passes to its serverFactory. It is typed for HTTP/1.1
 * but works on HTTP/2's compatibility request/response just the same (that
 * is what Fastify's own `http2: true` mode feeds it).
 */
type Handler = http.RequestListener;

export interface OnePortServer extends http.Server {
  /** Fastify calls this on close: ask every HTTP/2 client to go away gracefully. */
  closeHttp2Sessions(): void;
}

export function createOnePortServer(
  handler: Handler,
  options: { http2SessionTimeoutMs: number; sniffTimeoutMs?: number },
): OnePortServer {
  const sniffTimeoutMs = options.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS;
  const h1 = http.createServer(
    { ServerResponse: DrainingUnreadBody, keepAliveTimeout: HTTP1_KEEP_ALIVE_TIMEOUT_MS },
    handler,
  ) as OnePortServer;
  const h2 = http2.createServer(
    {},
    handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );

  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // An idle client must not keep the process from shutting down forever.
    session.setTimeout(options.http2SessionTimeoutMs, () => session.close());
  });
  h1.closeHttp2Sessions = () => {
    for (const session of sessions) session.close();
  };
  // http.Server's closeAllConnections knows only HTTP/1.1 connections; at a
  // shutdown deadline the HTTP/2 sessions and the sockets still being
  // sniffed must go too.
  const sniffing = new Set<Socket>();
  const closeHttp1Connections = h1.closeAllConnections.bind(h1);
  h1.closeAllConnections = () => {
    closeHttp1Connections();
    for (const session of sessions) session.destroy();
    for (const socket of sniffing) socket.destroy();
  };

  // Replace http.Server's own connection listener with one that sniffs
  // first. Node documents emitting "connection" to inject a socket, not
  // taking its listener; the check below fails loudly at start if a Node
  // release ever changes that.
  const [h1ConnectionListener] = h1.listeners("connection") as ((socket: Socket) => void)[];
  if (!h1ConnectionListener) throw new Error("http.Server has no connection listener to wrap");
  h1.removeAllListeners("connection");
  h1.on("connection", (socket: Socket) => {
    sniffing.add(socket);
    socket.once("close", () => sniffing.delete(socket));
    sniffProtocol(socket, sniffTimeoutMs, (isHttp2, firstBytes) => {
      sniffing.delete(socket);
      if (isHttp2) {
        // The HTTP/2 session reads what is buffered on the socket first.
        socket.pause();
        socket.unshift(firstBytes);
        h2.emit("connection", socket);
      } else {
        // The HTTP/1.1 parser reads straight from the socket's handle and
        // would never see bytes put back into the stream; hand them to its
        // data listener instead.
        h1ConnectionListener.call(h1, socket);
        socket.emit("data", firstBytes);
      }
    });
  });
  return h1;
}

/**
 * Reads until the bytes either match the whole HTTP/2 preface or stop
 * matching it, and reports which protocol it is along with the bytes read.
 */
function sniffProtocol(
  socket: Socket,
  timeoutMs: number,
  decided: (isHttp2: boolean, firstBytes: Buffer) => void,
): void {
  let seen = Buffer.alloc(0);
  const stopSniffing = () => {
    clearTimeout(silenceTimer);
    socket.removeListener("data", onData);
    socket.removeListener("end", onGone);
    socket.removeListener("error", onGone);
  };
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const compared = Math.min(seen.length, HTTP2_PREFACE.length);
    const matchesSoFar = seen.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (matchesSoFar && compared < HTTP2_PREFACE.length) return; // need more bytes
    stopSniffing();
    decided(matchesSoFar, seen);
  };
  // Until a server owns the socket, nobody else would handle its errors, and
  // an unhandled socket error takes the whole process down.
  const onGone = () => {
    stopSniffing();
    socket.destroy();
  };
  // A client that connects and never speaks must not hold a socket forever.
  const silenceTimer = setTimeout(onGone, timeoutMs);
  socket.on("data", onData);
  socket.once("end", onGone);
  socket.once("error", onGone);
}
