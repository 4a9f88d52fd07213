// `cal_service scheduler`: the dispatcher and the cleanup loop, with their
// own /metrics and /healthz port.
import client, { type Registry } from "prom-client";
import type { Logger } from "../log/logger.js";
import { countedPublisher } from "../observability/counted_publisher.js";
import { createReminderMetrics, createRoleRegistry } from "../observability/metrics.js";
import { startObservabilityServer } from "../observability/server.js";
import type { Broker, Publisher } from "../queue/queue.js";
import type { Clock, ReminderStore } from "../store/store.js";
import type { TombstoneStore } from "../store/sync.js";
import { startCleanup } from "./cleanup.js";
import { type Loop, startDispatcher } from "./dispatcher.js";

export interface SchedulerSettings {
  port: number;
  pollIntervalMs: number;
  batchSize: number;
  parallelPasses: number;
  retentionMs: number;
  /** How long deletions are remembered for SyncEvents. */
  tombstoneRetentionMs: number;
  cleanupIntervalMs: number;
  cleanupBatchSize: number;
}

export interface SchedulerRoleOptions {
  settings: SchedulerSettings;
  host: string;
  reminders: ReminderStore;
  /** The sync tombstones the cleanup purges; absent: none. */
  tombstones?: TombstoneStore;
  broker: Broker;
  logger: Logger;
  clock: Clock;
  registry?: Registry;
}

export interface SchedulerRole {
  url: string;
  stop(): Promise<void>;
}

export async function startSchedulerRole(options: SchedulerRoleOptions): Promise<SchedulerRole> {
  const { settings, reminders, broker, logger, clock } = options;
  const registry = options.registry ?? createRoleRegistry();
  const metrics = createReminderMetrics(registry);
  const deleted =
    (registry.getSingleMetric("events_deleted_total") as client.Counter | undefined) ??
    new client.Counter({
      name: "events_deleted_total",
      help: "Events deleted by the retention cleanup",
      registers: [registry],
    });

  const purged =
    (registry.getSingleMetric("sync_tombstones_purged_total") as client.Counter | undefined) ??
    new client.Counter({
      name: "sync_tombstones_purged_total",
      help: "Deletions forgotten by the cleanup after TOMBSTONE_RETENTION",
      registers: [registry],
    });

  // The port first: if it is taken, fail before any reminder is claimed.
  let dispatcher: Loop | undefined;
  const server = await startObservabilityServer({
    host: options.host,
    port: settings.port,
    registry,
    logger,
    health: () => {
      if (!broker.isHealthy()) return { healthy: false, reason: "message broker unavailable" };
      if (dispatcher && !dispatcher.isHealthy())
        return { healthy: false, reason: "reminder dispatch failing" };
      return true;
    },
  });
  let publisher: Publisher;
  try {
    publisher = countedPublisher(await broker.notificationPublisher(), metrics);
  } catch (error) {
    await server.close();
    throw error;
  }
  dispatcher = startDispatcher({
    reminders,
    publisher,
    logger,
    clock,
    metrics,
    pollIntervalMs: settings.pollIntervalMs,
    batchSize: settings.batchSize,
    parallelPasses: settings.parallelPasses,
  });
  const cleanup = startCleanup({
    reminders,
    logger,
    clock,
    deleted,
    retentionMs: settings.retentionMs,
    intervalMs: settings.cleanupIntervalMs,
    batchSize: settings.cleanupBatchSize,
    tombstones: options.tombstones && {
      store: options.tombstones,
      retentionMs: settings.tombstoneRetentionMs,
      purged,
    },
  });
  logger.info({ url: server.url }, "scheduler metrics and health listening");
  return {
    url: server.url,
    async stop() {
      await Promise.all([dispatcher?.stop(), cleanup.stop()]);
      await server.close();
    },
  };
}
