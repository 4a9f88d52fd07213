// /healthz and /metrics for the roles that serve no API (scheduler, sender),
// each on its own port. Plain node:http: two read-only routes need no framework.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Registry } from "prom-client";
import type { Logger } from "../log/logger.js";

export type HealthResult = boolean | { healthy: boolean; reason?: string };

export interface ObservabilityServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  registry: Registry;
  /** Healthy while the role's broker and database connections are. */
  health: () => HealthResult | Promise<HealthResult>;
  logger: Logger;
  /** A check that has not answered by then counts as unhealthy. */
  healthTimeoutMs?: number;
}

export interface ObservabilityServer {
  /** e.g. http://127.0.0.1:8082 */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const { registry, logger } = options;
  const healthTimeoutMs = options.healthTimeoutMs ?? 2000;

  const checkHealth = async (): Promise<{ healthy: boolean; reason?: string }> => {
    const timeout = sleep(healthTimeoutMs, "timeout" as const, { ref: false });
    try {
      const result = await Promise.race([Promise.resolve(options.health()), timeout]);
      if (result === "timeout") return { healthy: false, reason: "health check timed out" };
      return typeof result === "boolean" ? { healthy: result } : result;
    } catch (error) {
      return { healthy: false, reason: (error as Error).message };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      return send(res, 405, "application/json", JSON.stringify({ error: "method not allowed" }));
    }
    if (path === "/healthz") {
      const { healthy, reason } = await checkHealth();
      const body = healthy ? { status: "ok" } : { status: "unhealthy", reason };
      return send(res, healthy ? 200 : 503, "application/json", JSON.stringify(body));
    }
    if (path === "/metrics") {
      return send(res, 200, registry.contentType, await registry.metrics());
    }
    return send(res, 404, "application/json", JSON.stringify({ error: "not found" }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, url: req.url }, "observability request failed");
      if (!res.headersSent) send(res, 500, "application/json", '{"error":"internal"}');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === "IPv6" ? `[${address}]` : address;

  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Scrapers keep connections alive; they must not hold up shutdown.
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
