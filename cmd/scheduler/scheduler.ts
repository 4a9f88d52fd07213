// `cal_service scheduler`: publishes due reminders to RabbitMQ and deletes
// old events, on the api's database. Loads postgres.js and amqplib; not
// Fastify, and not PGlite (a scheduler on its own needs DATABASE_URL).
import { assertRequirements } from "../../internal/app/requirements.js";
import { type Stop, stopInOrder } from "../../internal/app/stop.js";
import type { Config } from "../../internal/config/config.js";
import type { Logger } from "../../internal/log/logger.js";
import { openBroker } from "../../internal/queue/open.js";
import type { Broker } from "../../internal/queue/queue.js";
import { startSchedulerRole } from "../../internal/scheduler/role.js";
import { type OpenedStore, openEventStore } from "../../internal/store/open.js";
import { systemClock } from "../../internal/store/store.js";

export async function runScheduler(config: Config, logger: Logger): Promise<Stop> {
  assertRequirements("scheduler", config);
  const opened = await openEventStore(config.storage, logger);
  const broker = openBroker(config.queue, logger, { connectionName: "cal_service scheduler" });
  const release = stopInOrder([() => broker.close(), () => opened.close()]);
  try {
    return stopInOrder([await startScheduler(config, logger, opened, broker), release]);
  } catch (error) {
    await release();
    throw error;
  }
}

/** The scheduler on a store and broker opened by the caller (`all` shares them). */
export async function startScheduler(
  config: Config,
  logger: Logger,
  opened: OpenedStore,
  broker: Broker,
): Promise<Stop> {
  const scheduler = await startSchedulerRole({
    settings: config.scheduler,
    host: config.api.host,
    reminders: opened.reminders,
    tombstones: opened.tombstones,
    broker,
    logger,
    clock: systemClock,
  });
  return () => scheduler.stop();
}
