// The reminder loop: every poll, hand the due reminders to the broker and
// mark sent the ones it confirmed. The store makes claim, publish and mark one
// transaction, so a crash anywhere in between leaves the reminder due.
//
// One pass spends most of its time waiting: for the claim query, for the
// broker's confirms of its last message, for the commit. So while a pass
// finds a full batch (a backlog), up to `parallelPasses` passes run at once,
// each on a batch of its own (the claim skips rows another pass holds), and
// one pass's wait overlaps the others' work. Without a backlog only one pass
// polls, so an idle scheduler costs one index probe per poll interval.
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
  /** Most passes at once while there is a backlog (1: one pass after another). */
  parallelPasses: number;
  /** A pass running longer than this makes the dispatcher unhealthy (default 30 s). */
  stuckPassMs?: number;
}

export interface Loop {
  /** Finishes the pass in progress, then resolves. */
  stop(): Promise<void>;
  /** False while the last pass failed (database or broker down) or a pass is stuck. */
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

  // The passes in progress, with their start times. A pass normally takes well under
  // a second; one that does not end is stuck on a database or broker that
  // stopped answering without closing the connection, which no error reports.
  const passesInProgress = new Set<{ startedAt: number }>();
  const stuckPassMs = options.stuckPassMs ?? 30_000;

  const passOnce = async (): Promise<number> => {
    const endTimer = metrics.scanDuration.startTimer();
    const pass = { startedAt: performance.now() };
    passesInProgress.add(pass);
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
      passesInProgress.delete(pass);
      endTimer();
    }
  };

  // Set while the last pass claimed a full batch: the extra passes run only then.
  let backlog = false;
  const wakeExtraPasses: (() => void)[] = [];
  const setBacklog = (value: boolean) => {
    backlog = value;
    if (value) for (const wake of wakeExtraPasses.splice(0)) wake();
  };
  const untilBacklog = () =>
    backlog || stopping.signal.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => wakeExtraPasses.push(resolve));
  stopping.signal.addEventListener("abort", () => {
    for (const wake of wakeExtraPasses.splice(0)) wake();
  });

  // Runs one pass; true when it claimed a full batch, so more may be waiting.
  const passFoundBacklog = async (): Promise<boolean> => {
    try {
      const claimed = await passOnce();
      healthy = true;
      failures = 0;
      setBacklog(claimed === batchSize);
    } catch (error) {
      healthy = false;
      failures += 1;
      setBacklog(false);
      logger.warn({ err: error, failures }, "reminder pass failed; retrying");
    }
    return backlog;
  };

  // The polling pass: runs every poll interval, at once again while there
  // is a backlog, and backs off while passes fail.
  const pollingPasses = async () => {
    while (!stopping.signal.aborted) {
      if (await passFoundBacklog()) continue;
      const waitMs = healthy
        ? pollIntervalMs
        : Math.min(pollIntervalMs * 2 ** failures, MAX_FAILURE_BACKOFF_MS);
      await sleep(waitMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  };

  // An extra pass: sleeps until the polling pass finds a backlog, then
  // claims batches alongside it until a pass comes back short.
  const extraPasses = async () => {
    while (!stopping.signal.aborted) {
      await untilBacklog();
      if (stopping.signal.aborted) return;
      await passFoundBacklog();
    }
  };

  const done = Promise.all([
    pollingPasses(),
    ...Array.from({ length: Math.max(0, options.parallelPasses - 1) }, extraPasses),
  ]);

  return {
    async stop() {
      stopping.abort();
      await done;
    },
    isHealthy: () => {
      const now = performance.now();
      for (const { startedAt } of passesInProgress) if (now - startedAt > stuckPassMs) return false;
      return healthy;
    },
  };
}

function toNotification(reminder: DueReminder) {
  return {
    eventId: reminder.eventId,
    userId: reminder.userId,
    title: reminder.title,
    startTime: reminder.start,
    notifyAt: reminder.notifyAt,
    ...(reminder.seriesId === undefined ? {} : { recurringEventId: reminder.seriesId }),
    ...(reminder.originalStart === undefined ? {} : { originalStart: reminder.originalStart }),
  };
}
