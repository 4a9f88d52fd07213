// What each `cal_service <role>` runs. Every role returns a stop function
// that the shutdown handler calls; cmd/cal_service.ts only picks the role.
import { type ApiServerOptions, createApiServer } from "../api/server.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import { openBroker } from "../queue/open.js";
import type { Broker } from "../queue/queue.js";
import { startSchedulerRole } from "../scheduler/role.js";
import { startSenderRole } from "../sender/role.js";
import { migrateDatabase, type OpenedStore, openEventStore } from "../store/open.js";
import { systemClock } from "../store/store.js";
import { assertRequirements } from "./requirements.js";
import { inFlightGraceMs } from "./shutdown.js";

export type Stop = () => Promise<void>;

/** `extras.extraRoutes`: more services on the api (the benchmark's empty RPC). */
export async function runApi(
  config: Config,
  logger: Logger,
  extras: Pick<ApiServerOptions, "extraRoutes"> = {},
): Promise<Stop> {
  const opened = await openEventStore(config.storage, logger);
  return stopInOrder([await startApi(config, logger, opened, extras), () => opened.close()]);
}

export async function runScheduler(config: Config, logger: Logger): Promise<Stop> {
  assertRequirements("scheduler", config);
  const opened = await openEventStore(config.storage, logger);
  const broker = connectBroker(config, logger, "cal_service scheduler");
  return stopInOrder([
    await startScheduler(config, logger, opened, broker),
    () => broker.close(),
    () => opened.close(),
  ]);
}

export async function runSender(config: Config, logger: Logger): Promise<Stop> {
  assertRequirements("sender", config);
  const broker = connectBroker(config, logger, "cal_service sender");
  return stopInOrder([await startSender(config, logger, broker), () => broker.close()]);
}

/**
 * Every role in one process, sharing one store and one broker. Tests pass
 * their own broker to watch receipts.
 */
export async function runAll(
  config: Config,
  logger: Logger,
  given: { broker?: Broker } = {},
): Promise<Stop> {
  const opened = await openEventStore(config.storage, logger);
  const broker = given.broker ?? connectBroker(config, logger, "cal_service all");
  const started: { api?: Stop; scheduler?: Stop; sender?: Stop } = {};
  // The api and the reminder pipeline stop at the same time, so that the
  // api's grace for in-flight calls is not added to the others' stops. In
  // the pipeline the scheduler stops first: the sender then still takes what
  // its last pass published (over the in-process queue, nothing else would).
  const stop = () =>
    stopInOrder([
      stopTogether([
        started.api ?? noop,
        stopInOrder([started.scheduler ?? noop, started.sender ?? noop]),
      ]),
      () => broker.close(),
      () => opened.close(),
    ])();
  try {
    started.api = await startApi(config, logger.child({ component: "api" }), opened);
    started.scheduler = await startScheduler(
      config,
      logger.child({ component: "scheduler" }),
      opened,
      broker,
    );
    started.sender = await startSender(config, logger.child({ component: "sender" }), broker);
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}

export async function runMigrate(config: Config, logger: Logger): Promise<void> {
  assertRequirements("migrate", config);
  if (config.storage.kind !== "postgres") return;
  await migrateDatabase(config.storage, logger);
}

async function startApi(
  config: Config,
  logger: Logger,
  opened: OpenedStore,
  extras: Pick<ApiServerOptions, "extraRoutes"> = {},
): Promise<Stop> {
  const server = await createApiServer({
    ...extras,
    store: opened.store,
    logger,
    shutdownTimeoutMs: inFlightGraceMs(config.api.shutdownTimeoutMs),
  });
  const url = await server.listen(config.api.host, config.api.port);
  logger.info({ url, storage: config.storage.kind }, "api listening");
  return () => server.close();
}

async function startScheduler(
  config: Config,
  logger: Logger,
  opened: OpenedStore,
  broker: Broker,
): Promise<Stop> {
  const scheduler = await startSchedulerRole({
    settings: config.scheduler,
    host: config.api.host,
    reminders: opened.reminders,
    broker,
    logger,
    clock: systemClock,
  });
  return () => scheduler.stop();
}

async function startSender(config: Config, logger: Logger, broker: Broker): Promise<Stop> {
  const sender = await startSenderRole({
    broker,
    prefetch: config.queue.senderPrefetch,
    host: config.api.host,
    port: config.queue.senderPort,
    logger,
  });
  return () => sender.stop();
}

/**
 * RabbitMQ when AMQP_URL is set, else the in-process queue (only `all` gets
 * that far without AMQP_URL: see requirements.ts); connects on first use.
 */
function connectBroker(config: Config, logger: Logger, connectionName: string): Broker {
  return openBroker(config.queue, logger, { connectionName });
}

const noop: Stop = async () => {};

/** One stop that runs the given stops at once; fails with the first failure, after all ended. */
function stopTogether(stops: Stop[]): Stop {
  return async () => {
    const outcomes = await Promise.allSettled(stops.map((stop) => stop()));
    const failed = outcomes.find((o) => o.status === "rejected");
    if (failed) throw failed.reason;
  };
}

/** One stop that runs each given stop in turn, even when an earlier one fails. */
function stopInOrder(stops: Stop[]): Stop {
  return async () => {
    let firstError: unknown;
    for (const stop of stops) {
      try {
        await stop();
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
  };
}
