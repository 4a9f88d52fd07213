// Everything `cal_service sender` runs beside the broker: the sender itself
// and its /metrics and /healthz port. The broker is the caller's: in `all`
// mode the scheduler shares it, and it is closed after both have stopped.
import type { Registry } from "prom-client";
import type { Logger } from "../log/logger.js";
import { createReminderMetrics, createRoleRegistry } from "../observability/metrics.js";
import { startObservabilityServer } from "../observability/server.js";
import type { Broker } from "../queue/queue.js";
import { runSender } from "./sender.js";

export interface SenderRoleOptions {
  broker: Broker;
  prefetch: number;
  host: string;
  port: number;
  logger: Logger;
  /** Default: a registry of its own, with Node's process metrics. */
  registry?: Registry;
}

export interface SenderRole {
  /** URL of the /metrics and /healthz server. */
  url: string;
  /** Stops consuming, lets in-hand reminders settle, closes the port. */
  stop(): Promise<void>;
}

export async function startSenderRole(options: SenderRoleOptions): Promise<SenderRole> {
  const { broker, logger } = options;
  const registry = options.registry ?? createRoleRegistry();
  // Serving /healthz before the broker is up lets an orchestrator see
  // "starting, not healthy" rather than a closed port.
  const server = await startObservabilityServer({
    host: options.host,
    port: options.port,
    registry,
    logger,
    health: () =>
      broker.isHealthy() ? true : { healthy: false, reason: "message broker unavailable" },
  });
  try {
    const sender = await runSender({
      consumer: broker.notificationConsumer({ prefetch: options.prefetch }),
      receipts: await broker.receiptPublisher(),
      logger,
      metrics: createReminderMetrics(registry),
    });
    logger.info({ url: server.url }, "sender metrics and health listening");
    return {
      url: server.url,
      stop: async () => {
        await sender.stop();
        await server.close();
      },
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}
