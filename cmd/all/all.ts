// `cal_service all`: every role in one process, sharing one store and one
// broker (the in-process queue unless AMQP_URL is set). For a laptop with
// no infrastructure, so it loads everything the other roles load.
import { inFlightGraceMs } from "../../internal/app/shutdown.js";
import { noop, type Stop, stopInOrder, stopTogether } from "../../internal/app/stop.js";
import type { Config } from "../../internal/config/config.js";
import type { Logger } from "../../internal/log/logger.js";
import { MemoryBroker } from "../../internal/queue/memory/memory_broker.js";
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
  // the pipeline the scheduler stops first, then the sender takes what is
  // still queued (see drainInProcessQueue), then it stops.
  const stop = () =>
    stopInOrder([
      stopTogether([
        started.api ?? noop,
        stopInOrder([
          started.scheduler ?? noop,
          started.sender ? drainInProcessQueue(config, logger, broker) : noop,
          started.sender ?? noop,
        ]),
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

/**
 * The scheduler marks a reminder sent once the queue took it. RabbitMQ keeps
 * what the sender has not taken for the next sender; the in-process queue
 * dies with the process. So before the sender stops it delivers everything
 * still queued, within the grace in-flight work gets of SHUTDOWN_TIMEOUT.
 */
function drainInProcessQueue(config: Config, logger: Logger, broker: Broker): Stop {
  if (!(broker instanceof MemoryBroker)) return noop;
  return async () => {
    const left = await broker.drain(inFlightGraceMs(config.api.shutdownTimeoutMs));
    if (left > 0) {
      logger.error(
        { undelivered: left },
        "shutdown grace ran out: reminders still in the in-process queue are lost",
      );
    }
  };
}
