// Retention: events that ended more than RETENTION ago are deleted, a bounded
// batch per statement so no lock is held for long and the api keeps serving.
import { setTimeout as sleep } from "node:timers/promises";
import type { Counter } from "prom-client";
import type { Logger } from "../log/logger.js";
import type { Clock, ReminderStore } from "../store/store.js";
import type { Loop } from "./dispatcher.js";

export interface CleanupOptions {
  reminders: Pick<ReminderStore, "deleteEventsEndedBefore">;
  logger: Logger;
  clock: Clock;
  deleted: Counter;
  retentionMs: number;
  intervalMs: number;
  batchSize: number;
}

/**
 * Deletes every event that ended before now - retention; returns how many.
 * Once `stopping` is aborted it ends after the batch in hand: the rest waits
 * for the next start, and a shutdown does not wait for a long backlog.
 */
export async function cleanUpOnce(
  options: Omit<CleanupOptions, "intervalMs">,
  stopping?: AbortSignal,
): Promise<number> {
  const cutoff = new Date(options.clock().getTime() - options.retentionMs);
  let total = 0;
  while (!stopping?.aborted) {
    const deleted = await options.reminders.deleteEventsEndedBefore(cutoff, options.batchSize);
    total += deleted;
    options.deleted.inc(deleted);
    if (deleted < options.batchSize) break;
  }
  if (total > 0)
    options.logger.info(
      { deleted: total, endedBefore: cutoff.toISOString() },
      "old events deleted",
    );
  return total;
}

/** Runs cleanUpOnce at start and then every intervalMs. */
export function startCleanup(options: CleanupOptions): Loop {
  const stopping = new AbortController();
  let healthy = true;
  const done = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await cleanUpOnce(options, stopping.signal);
        healthy = true;
      } catch (error) {
        healthy = false;
        options.logger.warn({ err: error }, "cleanup of old events failed; will retry");
      }
      await sleep(options.intervalMs, undefined, { signal: stopping.signal }).catch(
        () => undefined,
      );
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
