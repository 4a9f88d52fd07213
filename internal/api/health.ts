// Liveness and readiness, over plain HTTP (/healthz, /readyz: for
// Kubernetes, compose and curl) and over gRPC (grpc.health.v1: for gRPC
// load balancers and grpc_health_probe).
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { FastifyInstance } from "fastify";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import {
  type Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";

/** Whether the api can serve calls right now. */
export interface Readiness {
  check(): Promise<{ ready: boolean; reason?: string }>;
}

/** Ready when not shutting down and the store answers within `timeoutMs`. */
export function storeReadiness(
  ping: () => Promise<void>,
  isShuttingDown: () => boolean,
  timeoutMs = 2000,
): Readiness {
  return {
    async check() {
      if (isShuttingDown()) return { ready: false, reason: "shutting down" };
      const timeout = sleep(timeoutMs, "timeout" as const, { ref: false });
      try {
        const outcome = await Promise.race([ping().then(() => "ok" as const), timeout]);
        return outcome === "ok"
          ? { ready: true }
          : { ready: false, reason: "database did not answer in time" };
      } catch {
        return { ready: false, reason: "database unavailable" };
      }
    },
  };
}

export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const { ready, reason } = await readiness.check();
    return reply
      .code(ready ? 200 : 503)
      .send(ready ? { status: "ready" } : { status: "not ready", reason });
  });
}

// "" asks about the server as a whole.
const KNOWN_SERVICES = new Set(["", CalendarService.typeName]);
const WATCH_POLL_MS = 1000;

export function healthService(readiness: Readiness): ServiceImpl<typeof Health> {
  const status = async () =>
    (await readiness.check()).ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;

  return {
    async check(req) {
      if (!KNOWN_SERVICES.has(req.service)) {
        throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, { status: await status() });
    },

    async *watch(req, ctx) {
      if (!KNOWN_SERVICES.has(req.service)) {
        yield create(HealthCheckResponseSchema, { status: ServingStatus.SERVICE_UNKNOWN });
        return;
      }
      let last: ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const now = await status();
        if (now !== last) yield create(HealthCheckResponseSchema, { status: now });
        last = now;
        await sleep(WATCH_POLL_MS, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    },
  };
}
