// The reminder loop: every poll, hand the due reminders to the broker and
// mark sent the ones it confirmed. The store makes claim, publish and mark one
// transaction, so a crash anywhere in between leaves the reminder due.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/logger.js";
import { notificationMessage } from "../notification/message.js";
import type { ReminderMetrics } from "../observability/metrics.js";
import type { Publisher } from "../queue/queue.js";
import type { Clock, DueReminder, ReminderStore } from "../store/store.js";

export interface DispatcherOptions {
  reminders: ReminderStore;
  publisher: Publisher;
  logger: Logger;
  clock: Clock;
  metrics: Pick<ReminderMetrics, "scanDuration">;
  /** How often to look for due reminders when there is nothing to do. */
  pollIntervalMs: number;
  /** Most reminders claimed (and held locked) per pass. */
  batchSize: number;
}

export interface Loop {
  /** Finishes the pass in progress, then resolves. */
  stop(): Promise<void>;
  /** False while the last pass failed (database or broker down). */
  isHealthy(): boolean;
}

// After a failed pass, wait longer each time (up to this), so an outage is
// not met with a tight loop of errors.
const MAX_FAILURE_BACKOFF_MS = 5000;

export function startDispatcher(options: DispatcherOptions): Loop {
  const { reminders, publisher, logger, clock, metrics, pollIntervalMs, batchSize } = options;
  const stopping = new AbortController();
  let healthy = true;
  let failures = 0;

  // Publishes in parallel and returns those the broker confirmed; the rest
  // stay unsent and are claimed again on a later pass.
  const publishAll = async (due: DueReminder[]): Promise<DueReminder[]> => {
    const outcomes = await Promise.allSettled(
      // async, so that an encoding error fails one reminder, not the batch.
      due.map(async (reminder) => publisher.publish(notificationMessage(toNotification(reminder)))),
    );
    const confirmed = due.filter((_, i) => outcomes[i]?.status === "fulfilled");
    const firstFailure = outcomes.find((o) => o.status === "rejected");
    if (firstFailure) {
      logger.warn(
        { failed: due.length - confirmed.length, err: firstFailure.reason },
        "broker did not confirm some reminders; they will be retried",
      );
    }
    return confirmed;
  };

  const passOnce = async (): Promise<number> => {
    const endTimer = metrics.scanDuration.startTimer();
    try {
      const result = await reminders.dispatchDueReminders(clock(), batchSize, publishAll);
      if (result.sent > 0 || result.skipped > 0) {
        logger.info(result, "reminders dispatched");
      }
      if (result.sent < result.claimed - result.skipped) {
        throw new Error("some reminders were not confirmed by the broker");
      }
      return result.claimed;
    } finally {
      endTimer();
    }
  };

  const done = (async () => {
    while (!stopping.signal.aborted) {
      let claimed = 0;
      try {
        claimed = await passOnce();
        healthy = true;
        failures = 0;
      } catch (error) {
        healthy = false;
        failures += 1;
        logger.warn({ err: error, failures }, "reminder pass failed; retrying");
      }
      // A full batch means more may be waiting: go again at once.
      if (claimed === batchSize && healthy) continue;
      const waitMs = healthy
        ? pollIntervalMs
        : Math.min(pollIntervalMs * 2 ** failures, MAX_FAILURE_BACKOFF_MS);
      await sleep(waitMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();

  return {
    async stop() {
      stopping.abort();
      await done;
    },
    isHealthy: () => healthy,
  };
}

function toNotification(reminder: DueReminder) {
  return {
    eventId: reminder.eventId,
    userId: reminder.userId,
    title: reminder.title,
    startTime: reminder.start,
    notifyAt: reminder.notifyAt,
  };
}
