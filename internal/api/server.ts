// The api role: Fastify on one port, serving the Connect routes (gRPC,
// gRPC-Web, Connect JSON/binary), Prometheus metrics and health checks.
// Unary calls are served by the same Connect handlers without passing
// through Fastify (direct_unary.ts, issue 17).

import { setMaxListeners } from "node:events";
import type http from "node:http";
import type { ConnectRouter } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from "fastify";
import fastifyMetricsModule from "fastify-metrics";
import client from "prom-client";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../gen/calendar/v1/sync_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { type ChangeFeed, LocalChangeFeed } from "../changes/feed.js";
import { publishingStore } from "../changes/publishing_store.js";
import { FeedCredentials } from "../interop/feed_credentials.js";
import { registerFeedRoute } from "../interop/feed_route.js";
import { registerImportRoute } from "../interop/import_route.js";
import type { Logger } from "../log/logger.js";
import type { FeedStore } from "../store/feed_store.js";
import { MemoryFeedStore } from "../store/memory/memory_feed_store.js";
import type { EventStore } from "../store/store.js";
import { type Clock, systemClock } from "../store/store.js";
import { calendarService } from "./calendar_service.js";
import { type CallInfo, kCallInfo, protocolOf } from "./context.js";
import {
  type AnsweredCall,
  type DirectUnaryOptions,
  directUnaryListener,
  UnaryRoutes,
} from "./direct_unary.js";
import { healthService, registerHealthRoutes, storeReadiness } from "./health.js";
import { hideUnexpectedErrors } from "./interceptors/hide_unexpected_errors.js";
import { observeCalls } from "./interceptors/observe_calls.js";
import { requireUserId } from "./interceptors/require_user_id.js";
import { interopHandlers, MAX_ICS_BYTES } from "./interop_handlers.js";
import { MAX_REQUEST_BYTES } from "./limits.js";
import { codeName, createRpcMetrics } from "./metrics.js";
import { createOnePortServer } from "./one_port.js";
import { reflectionServices } from "./reflection.js";
import { refuseUndecodableBinary } from "./refuse_undecodable.js";
import { calendarSyncService } from "./sync_service.js";
import { recordImplementations, serveUnaryDirectly } from "./unary_handlers.js";
import { createWatchMetrics, DEFAULT_WATCH_SETTINGS, type WatchSettings } from "./watch.js";

// fastify-metrics is CommonJS with an `exports.default`.
const fastifyMetrics = fastifyMetricsModule.default;

export { MAX_REQUEST_BYTES } from "./limits.js";

/** ImportEvents' body limit: the file, and room for JSON escaping of it. */
const MAX_IMPORT_REQUEST_BYTES = Math.ceil(MAX_ICS_BYTES * 1.25);

const DEFAULT_FEED_PAST_MS = 90 * 86_400_000;

/** The request decoration that carries a call's CallInfo to the onResponse hook. */
const CALL_INFO = "calCallInfo";
type WithCallInfo = FastifyRequest & { [CALL_INFO]?: CallInfo };

export interface ApiServerOptions {
  store: EventStore;
  /**
   * Where watchers learn of changes made by any process (LISTEN on a shared
   * PostgreSQL; `store` then announces its own writes there). Absent: this
   * server is the only writer, and it wakes its watchers itself after each
   * write.
   */
  changes?: ChangeFeed;
  logger: Logger;
  /** In-flight calls get this long to finish once close() is called. */
  shutdownTimeoutMs: number;
  /** WATCH_HEARTBEAT; the default is 15 s. */
  watchHeartbeatMs?: number;
  /** Tests shrink the slow-watcher limits. */
  watch?: Partial<WatchSettings>;
  /**
   * More services to serve next to CalendarService, on the same routes and
   * behind the same body checks and interceptors (access log, metrics,
   * error hiding). The benchmark adds an empty RPC here to measure what the
   * server costs per call; `cal_service` itself adds nothing.
   */
  extraRoutes?: (router: ConnectRouter) => void;
  /** The iCalendar feed's credentials; default: kept in memory. */
  feeds?: FeedStore;
  feed?: {
    /** Base of feed URLs; default: the URL the server listens on. */
    publicUrl?: string;
    /** Default: 90 days. */
    pastMs?: number;
    /** FEED_KEY; default: the key kept by `feeds`. */
    key?: string;
  };
  clock?: Clock;
}

export interface ApiServer {
  app: FastifyInstance;
  /** Listens and resolves with the URL clients use, e.g. http://127.0.0.1:8080. */
  listen(host: string, port: number): Promise<string>;
  /** Stops accepting, lets in-flight calls finish (up to the timeout), then closes. */
  close(): Promise<void>;
}

/** Time for the answers to aborted calls to be written before their connections are cut. */
const CUT_CONNECTIONS_AFTER_ABORT_MS = 200;

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { logger, shutdownTimeoutMs, extraRoutes } = options;
  let changes = options.changes;
  let store = options.store;
  if (!changes) {
    const local = new LocalChangeFeed();
    store = publishingStore(store, local);
    changes = local;
  }
  const feeds = options.feeds ?? new MemoryFeedStore();
  const clock = options.clock ?? systemClock;
  let listenedUrl = "http://localhost";
  const credentials = new FeedCredentials(
    feeds,
    () => options.feed?.publicUrl ?? listenedUrl,
    options.feed?.key,
  );
  let shuttingDown = false;
  // Aborted as soon as close() is called: open watches end with UNAVAILABLE
  // at once (they would otherwise run until the grace period is over).
  const closing = new AbortController();
  setMaxListeners(Number.POSITIVE_INFINITY, closing.signal);
  // Aborted when in-flight calls have had their grace period after close().
  // Every call listens on it, so the listener limit would only produce a
  // bogus "possible leak" warning under load.
  const shutdown = new AbortController();
  setMaxListeners(Number.POSITIVE_INFINITY, shutdown.signal);

  // Unary calls are taken before Fastify sees them (direct_unary.ts), by the
  // handlers Fastify's Connect routes serve (filled in once those exist);
  // every other request goes on to Fastify.
  const unaryRoutes = new UnaryRoutes();
  const takeUnaryCalls = (fastifyHandler: http.RequestListener) =>
    directUnaryListener(unaryRoutes, {
      fallback: fastifyHandler as DirectUnaryOptions["fallback"],
      accepting: () => !shuttingDown,
      contextValues: (req) => createContextValues().set(kCallInfo, callInfo(req)),
      answered: reportIfRejected,
      onError: (error, req) =>
        logger.error({ err: error, method: req.url }, "unary call failed outside its handler"),
    }) as http.RequestListener;
  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per RPC comes from the observeCalls interceptor; Fastify's
    // own request logging would double it.
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (fastifyHandler) =>
      createOnePortServer(takeUnaryCalls(fastifyHandler), { http2SessionTimeoutMs: 120_000 }),
    forceCloseConnections: "idle",
    return503OnClosing: true,
  });

  // Calls that Connect rejects before any interceptor runs (undecodable
  // body, body too large, wrong content type) still get their log line and
  // metric here, from the HTTP response. The CallInfo rides on the request
  // (a Fastify decoration: no per-call map to maintain).
  app.decorateRequest(CALL_INFO, undefined);
  const callInfoFor = (req: FastifyRequest): CallInfo => {
    const info = callInfo(req);
    (req as WithCallInfo)[CALL_INFO] = info;
    return info;
  };
  // The same report for calls taken by direct_unary.ts, from what it answered.
  function reportIfRejected({ contextValues, path, response, startedAt }: AnsweredCall): void {
    const info = contextValues.get(kCallInfo);
    if (!info || info.observed) return;
    const [, service = "unknown", method = "unknown"] = path.split("/");
    const grpcStatus =
      response.trailer?.get("grpc-status") ?? response.header?.get("grpc-status") ?? undefined;
    reportRejected(
      info,
      service,
      method,
      grpcStatus,
      response.status,
      performance.now() - startedAt,
    );
  }
  function reportRejected(
    info: CallInfo,
    service: string,
    method: string,
    grpcStatus: string | number | string[] | undefined,
    httpStatus: number,
    elapsedMs: number,
  ): void {
    const code =
      grpcStatus !== undefined ? codeName(Number(grpcStatus)) : codeFromConnectStatus(httpStatus);
    rpcMetrics.observe(service, method, code, elapsedMs / 1000);
    logger.info(
      {
        method: `${service}/${method}`,
        protocol: info.protocol,
        code,
        httpStatus,
        durationMs: Math.round(elapsedMs * 1e3) / 1e3,
        peer: info.peer,
        userAgent: info.userAgent,
      },
      "rpc rejected before reaching its handler",
    );
  }

  await app.register(fastifyMetrics, {
    endpoint: "/metrics",
    // Tests start several servers in one process; each takes over the registry.
    clearRegisterOnInit: true,
    // The histogram only: a summary's quantiles cannot be aggregated across
    // replicas, and it costs every request a quantile-sketch insert.
    routeMetrics: {
      enabled: { histogram: true, summary: false },
      registeredRoutesOnly: true,
    },
  });
  const rpcMetrics = createRpcMetrics(client.register);
  const watchMetrics = createWatchMetrics(client.register);
  const watch: WatchSettings = {
    ...DEFAULT_WATCH_SETTINGS,
    ...(options.watchHeartbeatMs !== undefined && { heartbeatMs: options.watchHeartbeatMs }),
    ...options.watch,
  };

  const readiness = storeReadiness(
    () => store.ping(),
    () => shuttingDown,
  );
  registerHealthRoutes(app, readiness);
  registerFeedRoute(app, {
    store,
    feeds,
    credentials,
    pastMs: options.feed?.pastMs ?? DEFAULT_FEED_PAST_MS,
    clock,
    logger,
  });
  await registerImportRoute(app, { store, logger });

  // What Connect's router serves every method with; the direct unary gRPC
  // path (grpc_unary.ts) is built from the same options.
  const connectOptions = {
    interceptors: [
      observeCalls(logger, rpcMetrics),
      hideUnexpectedErrors(logger),
      requireUserId(CalendarService.typeName, CalendarSyncService.typeName),
    ],
    readMaxBytes: MAX_REQUEST_BYTES,
    // connect-fastify's default, named here so both paths accept the same.
    acceptCompression: [compressionGzip, compressionBrotli],
    shutdownSignal: shutdown.signal,
  };

  await app.register(async (rpc) => {
    // RPCs are timed by rpc_duration_seconds (by method and code); timing
    // them again per HTTP route cost every call a second timer and label set.
    rpc.addHook("onRoute", (route) => {
      route.config = { ...route.config, disableMetrics: true };
    });
    await rpc.register(fastifyConnectPlugin, {
      ...connectOptions,
      routes: (router: ConnectRouter) => {
        const implementations = recordImplementations(router);
        const calendar = calendarService(store, interopHandlers(store, credentials, clock));
        router.service(CalendarService, calendar);
        // ImportEvents carries a whole .ics file: a larger body limit than
        // every other call, for this method alone.
        const importAt = router.handlers.findIndex(
          (handler) => handler.method === CalendarService.method.importEvents,
        );
        router.handlers.splice(importAt, 1);
        router.rpc(CalendarService.method.importEvents, calendar.importEvents, {
          readMaxBytes: MAX_IMPORT_REQUEST_BYTES,
        });
        router.service(
          CalendarSyncService,
          calendarSyncService({
            store,
            changes,
            watch,
            metrics: watchMetrics,
            closing: closing.signal,
          }),
        );
        router.service(Health, healthService(readiness));
        // Describes every service on the router, itself included.
        const reflection = reflectionServices(() => router.handlers.map((h) => h.service));
        router.service(ReflectionV1, reflection.v1);
        router.service(ReflectionV1alpha, reflection.v1alpha);
        extraRoutes?.(router);
        // Connect answers an undecodable body with INTERNAL on purpose
        // (gRPC's rule that a library never raises INVALID_ARGUMENT; see
        // connectrpc/connect-go#595, and connectrpc/connectrpc.com#169 for
        // the spec leaving it open), and connect-es has no option or hook
        // that runs before it decodes. ConnectRouter.handlers is public and
        // the plugin serves exactly that list, so each handler is wrapped
        // there, in place (refuse_undecodable.ts).
        router.handlers.splice(
          0,
          router.handlers.length,
          ...router.handlers.map((handler) =>
            refuseUndecodableBinary(
              serveUnaryDirectly(handler, implementations.get(handler.method), connectOptions),
              handler.method === CalendarService.method.importEvents
                ? MAX_IMPORT_REQUEST_BYTES
                : MAX_REQUEST_BYTES,
            ),
          ),
        );
        unaryRoutes.serve(router.handlers);
      },
      contextValues: (req) => createContextValues().set(kCallInfo, callInfoFor(req)),
    });
  });

  app.addHook("onResponse", (req, reply, done) => {
    done();
    const info = (req as WithCallInfo)[CALL_INFO];
    if (!info || info.observed) return;
    const [, service = "unknown", method = "unknown"] = req.url.split(/[/?]/);
    const grpcStatus = reply.getHeader("grpc-status") ?? reply.raw.getHeader?.("grpc-status");
    reportRejected(info, service, method, grpcStatus, reply.statusCode, reply.elapsedTime);
  });

  return {
    app,
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address();
      if (address === null || typeof address === "string")
        throw new Error("api is not listening on TCP");
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      listenedUrl = `http://${shownHost}:${address.port}`;
      return listenedUrl;
    },
    async close() {
      shuttingDown = true;
      closing.abort();
      // Once the grace period is over, calls still running have their signal
      // aborted; a moment later, connections still open (a call that did not
      // end, a body that never finishes arriving, a client that never
      // speaks) are cut, so no client can hold the process past its deadline.
      // Unref'd: once everything has closed, nothing should wait for them.
      setTimeout(() => {
        shutdown.abort();
        setTimeout(() => app.server.closeAllConnections(), CUT_CONNECTIONS_AFTER_ABORT_MS).unref();
      }, shutdownTimeoutMs).unref();
      await app.close();
    },
  };
}

/** What the access log needs from the HTTP request (Fastify's, or Node's for direct calls). */
function callInfo(req: {
  headers: http.IncomingHttpHeaders;
  socket: { remoteAddress?: string | undefined };
}): CallInfo {
  return {
    protocol: protocolOf(req.headers["content-type"]),
    peer: req.socket.remoteAddress,
    userAgent: req.headers["user-agent"],
    observed: false,
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
