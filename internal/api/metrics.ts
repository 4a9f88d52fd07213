// RPC metrics for Prometheus, registered next to fastify-metrics' HTTP and
// process metrics in the same registry.
import { Code } from "@connectrpc/connect";
import type { Counter, Histogram, Registry } from "prom-client";
import client from "prom-client";

export interface RpcMetrics {
  observe(service: string, method: string, code: string, seconds: number): void;
}

/** "invalid_argument", as Connect spells codes on the wire. */
export function codeName(code: Code): string {
  return Code[code]?.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase() ?? "unknown";
}

export function createRpcMetrics(registry: Registry): RpcMetrics {
  const labelNames = ["service", "method", "code"] as const;
  // Reuse on a second server in the same process (tests start several).
  const calls =
    (registry.getSingleMetric("rpc_requests_total") as
      | Counter<(typeof labelNames)[number]>
      | undefined) ??
    new client.Counter({
      name: "rpc_requests_total",
      help: "RPCs handled, by service, method and result code",
      labelNames,
      registers: [registry],
    });
  const latency =
    (registry.getSingleMetric("rpc_duration_seconds") as
      | Histogram<(typeof labelNames)[number]>
      | undefined) ??
    new client.Histogram({
      name: "rpc_duration_seconds",
      help: "RPC handling time in seconds, by service, method and result code",
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  return {
    observe(service, method, code, seconds) {
      const labels = { service, method, code };
      calls.inc(labels);
      latency.observe(labels, seconds);
    },
  };
}
