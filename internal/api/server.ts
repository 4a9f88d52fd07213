// The api role: Fastify on one port, serving the Connect routes (gRPC,
// gRPC-Web, Connect JSON/binary), Prometheus metrics and health checks.

import { setMaxListeners } from "node:events";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from "fastify";
import fastifyMetricsModule from "fastify-metrics";
import client from "prom-client";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import type { Logger } from "../log/logger.js";
import type { EventStore } from "../store/store.js";
import { calendarService } from "./calendar_service.js";
import { type CallInfo, kCallInfo, protocolOf } from "./context.js";
import { healthService, registerHealthRoutes, storeReadiness } from "./health.js";
import { hideUnexpectedErrors } from "./interceptors/hide_unexpected_errors.js";
import { observeCalls } from "./interceptors/observe_calls.js";
import { requireUserId } from "./interceptors/require_user_id.js";
import { codeName, createRpcMetrics } from "./metrics.js";
import { createOnePortServer } from "./one_port.js";

// fastify-metrics is CommonJS with an `exports.default`.
const fastifyMetrics = fastifyMetricsModule.default;

/** Largest request body accepted; larger ones get RESOURCE_EXHAUSTED. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export interface ApiServerOptions {
  store: EventStore;
  logger: Logger;
  /** In-flight calls get this long to finish once close() is called. */
  shutdownTimeoutMs: number;
}

export interface ApiServer {
  app: FastifyInstance;
  /** Listens and resolves with the URL clients use, e.g. http://127.0.0.1:8080. */
  listen(host: string, port: number): Promise<string>;
  /** Stops accepting, lets in-flight calls finish (up to the timeout), then closes. */
  close(): Promise<void>;
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { store, logger, shutdownTimeoutMs } = options;
  let shuttingDown = false;
  // Aborted when in-flight calls have had their grace period after close().
  // Every call listens on it, so the listener limit would only produce a
  // bogus "possible leak" warning under load.
  const shutdown = new AbortController();
  setMaxListeners(Number.POSITIVE_INFINITY, shutdown.signal);

  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per RPC comes from the observeCalls interceptor; Fastify's
    // own request logging would double it.
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (handler) => createOnePortServer(handler, { http2SessionTimeoutMs: 120_000 }),
    forceCloseConnections: "idle",
    return503OnClosing: true,
  });

  // Calls that Connect rejects before any interceptor runs (undecodable
  // body, body too large, wrong content type) still get their log line and
  // metric here, from the HTTP response.
  const callInfos = new WeakMap<FastifyRequest, CallInfo>();
  const callInfoFor = (req: FastifyRequest): CallInfo => {
    const info: CallInfo = {
      protocol: protocolOf(req.headers["content-type"]),
      peer: req.socket.remoteAddress,
      userAgent: req.headers["user-agent"],
      observed: false,
    };
    callInfos.set(req, info);
    return info;
  };

  await app.register(fastifyMetrics, {
    endpoint: "/metrics",
    // Tests start several servers in one process; each takes over the registry.
    clearRegisterOnInit: true,
    routeMetrics: { enabled: true, registeredRoutesOnly: true },
  });
  const rpcMetrics = createRpcMetrics(client.register);

  const readiness = storeReadiness(
    () => store.ping(),
    () => shuttingDown,
  );
  registerHealthRoutes(app, readiness);

  await app.register(fastifyConnectPlugin, {
    routes: (router: ConnectRouter) => {
      router.service(CalendarService, calendarService(store));
      router.service(Health, healthService(readiness));
      router.handlers.splice(
        0,
        router.handlers.length,
        ...router.handlers.map(refuseUndecodableBinary),
      );
    },
    interceptors: [
      observeCalls(logger, rpcMetrics),
      hideUnexpectedErrors(logger),
      requireUserId(CalendarService.typeName),
    ],
    readMaxBytes: MAX_REQUEST_BYTES,
    contextValues: (req) => createContextValues().set(kCallInfo, callInfoFor(req)),
    shutdownSignal: shutdown.signal,
  });

  app.addHook("onResponse", async (req, reply) => {
    const info = callInfos.get(req);
    if (!info || info.observed) return;
    const [, service = "unknown", method = "unknown"] = req.url.split(/[/?]/);
    const grpcStatus = reply.getHeader("grpc-status") ?? reply.raw.getHeader?.("grpc-status");
    const code =
      grpcStatus !== undefined
        ? codeName(Number(grpcStatus))
        : codeFromConnectStatus(reply.statusCode);
    rpcMetrics.observe(service, method, code, reply.elapsedTime / 1000);
    logger.info(
      {
        method: `${service}/${method}`,
        protocol: info.protocol,
        code,
        httpStatus: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 1e3) / 1e3,
        peer: info.peer,
        userAgent: info.userAgent,
      },
      "rpc rejected before reaching its handler",
    );
  });

  return {
    app,
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address();
      if (address === null || typeof address === "string")
        throw new Error("api is not listening on TCP");
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return `http://${shownHost}:${address.port}`;
    },
    async close() {
      shuttingDown = true;
      // Unref'd: once everything has closed, nothing should wait for it.
      setTimeout(() => shutdown.abort(), shutdownTimeoutMs).unref();
      await app.close();
    },
  };
}

/**
 * The Connect protocol's HTTP status for each code, read backwards. Only a
 * few codes can happen before a handler runs: a body that does not decode
 * (400), one that is too large (429), an unknown route or content type.
 */
const CONNECT_STATUS_CODES: Record<number, string> = {
  200: "ok",
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "unimplemented",
  409: "aborted",
  413: "resource_exhausted",
  415: "unimplemented",
  429: "resource_exhausted",
  499: "canceled",
  501: "unimplemented",
  503: "unavailable",
  504: "deadline_exceeded",
};

function codeFromConnectStatus(status: number): string {
  return CONNECT_STATUS_CODES[status] ?? (status >= 500 ? "internal" : "unknown");
}

/**
 * Connect answers a binary body that does not decode (truncated, a bad tag,
 * invalid UTF-8 in a string) and a compressed gRPC message it cannot
 * decompress with INTERNAL, as if the server had failed. Both are the
 * caller's fault, so each binary request body is decoded here first (within
 * the size limit; larger ones are left to Connect's RESOURCE_EXHAUSTED) and
 * refused with INVALID_ARGUMENT.
 */
function refuseUndecodableBinary(handler: UniversalHandler): UniversalHandler {
  const checked = (req: UniversalServerRequest) => {
    const framing = binaryFraming(req.header.get("content-type"));
    const body = req.body;
    if (framing === undefined || !isAsyncIterable(body)) return handler(req);
    return handler({ ...req, body: checkedBody(body, framing, handler.method.input, req.header) });
  };
  return Object.assign(checked, handler);
}

type BinaryFraming = "message" | "envelopes";

function binaryFraming(contentType: string | null): BinaryFraming | undefined {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (type === "application/proto") return "message";
  if (type && /^application\/grpc(-web)?(\+proto)?$/.test(type)) return "envelopes";
  return undefined;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

async function* checkedBody(
  body: AsyncIterable<Uint8Array>,
  framing: BinaryFraming,
  schema: DescMessage,
  header: Headers,
): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const it = body[Symbol.asyncIterator]();
  for (let next = await it.next(); !next.done; next = await it.next()) {
    chunks.push(next.value);
    size += next.value.byteLength;
    if (size > MAX_REQUEST_BYTES + 5) {
      // Too large anyway: Connect refuses it without decoding it.
      yield* chunks;
      yield* { [Symbol.asyncIterator]: () => it };
      return;
    }
  }
  const bytes = Buffer.concat(chunks);
  if (framing === "message") {
    // A compressed Connect body is Connect's to decompress and check.
    const encoding = header.get("content-encoding");
    if (encoding === null || encoding === "identity") decodeOrRefuse(schema, bytes);
  } else {
    checkEnvelopes(bytes, schema, header.get("grpc-encoding"));
  }
  yield bytes;
}

function checkEnvelopes(bytes: Buffer, schema: DescMessage, encoding: string | null): void {
  // Incomplete envelopes are left to Connect, which refuses them itself.
  for (let at = 0; at + 5 <= bytes.length; ) {
    const flags = bytes.readUInt8(at);
    const end = at + 5 + bytes.readUInt32BE(at + 1);
    if (end > bytes.length) return;
    let data: Uint8Array = bytes.subarray(at + 5, end);
    if (flags & 0b1) {
      const decompressed = decompress(data, encoding);
      if (decompressed === undefined) return; // too large: Connect says so
      data = decompressed;
    }
    decodeOrRefuse(schema, data);
    at = end;
  }
}

function decompress(data: Uint8Array, encoding: string | null): Uint8Array | undefined {
  const options = { maxOutputLength: MAX_REQUEST_BYTES };
  try {
    if (encoding === "gzip") return gunzipSync(data, options);
    if (encoding === "br") return brotliDecompressSync(data, options);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") return undefined;
    throw new ConnectError(
      `decompress ${encoding}: the message is not valid`,
      Code.InvalidArgument,
    );
  }
  // Connect refuses encodings it does not support before reading the body.
  if (encoding === null || encoding === "" || encoding === "identity") {
    throw new ConnectError(
      "the message is flagged compressed but the request names no grpc-encoding",
      Code.InvalidArgument,
    );
  }
  return undefined;
}

function decodeOrRefuse(schema: DescMessage, data: Uint8Array): void {
  try {
    fromBinary(schema, data);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConnectError(
      `the request is not a valid ${schema.typeName}: ${reason}`,
      Code.InvalidArgument,
    );
  }
}
