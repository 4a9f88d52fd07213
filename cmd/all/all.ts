// `cal_service all`: every role in one process, sharing one store and one
// broker (the in-process queue unless AMQP_URL is set). For a laptop with
// no infrastructure, so it loads everything the other roles load.
import { noop, type Stop, stopInOrder, stopTogether } from "../../internal/app/stop.js";
import type { Config } from "../../internal/config/config.js";
import type { Logger } from "../../internal/log/logger.js";
import { openBroker } from "../../internal/queue/open.js";
import type { Broker } from "../../internal/queue/queue.js";
import { openEventStore } from "../../internal/store/open.js";
import { startApi } from "../api/api.js";
import { startScheduler } from "../scheduler/scheduler.js";
import { startSender } from "../sender/sender.js";

/** Tests pass their own broker to watch receipts. */
export async function runAll(
  config: Config,
  logger: Logger,
  given: { broker?: Broker } = {},
): Promise<Stop> {
  const opened = await openEventStore(config.storage, logger);
  const broker =
    given.broker ?? openBroker(config.queue, logger, { connectionName: "cal_service all" });
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
