// Retention: events that ended more than RETENTION ago are deleted, a bounded
// batch per statement so no lock is held for long and the api keeps serving.
// Then the sync tombstones (deletions remembered for SyncEvents) older than
// TOMBSTONE_RETENTION are forgotten the same way; tokens from before them
// then expire (SYNC_TOKEN_EXPIRED).
import { setTimeout as sleep } from "node:timers/promises";
import type { Counter } from "prom-client";
import type { Logger } from "../log/logger.js";
import type { Clock, ReminderStore } from "../store/store.js";
import type { TombstoneStore } from "../store/sync.js";
import type { Loop } from "./dispatcher.js";

export interface CleanupOptions {
  reminders: Pick<ReminderStore, "deleteEventsEndedBefore">;
  logger: Logger;
  clock: Clock;
  deleted: Counter;
  retentionMs: number;
  intervalMs: number;
  batchSize: number;
  /** Absent: no tombstones to purge (a store without sync). */
  tombstones?: {
    store: TombstoneStore;
    retentionMs: number;
    purged: Counter;
  };
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
  if (options.tombstones) await purgeTombstonesOnce(options, options.tombstones, stopping);
  return total;
}

async function purgeTombstonesOnce(
  options: Omit<CleanupOptions, "intervalMs">,
  tombstones: NonNullable<CleanupOptions["tombstones"]>,
  stopping: AbortSignal | undefined,
): Promise<void> {
  const cutoff = new Date(options.clock().getTime() - tombstones.retentionMs);
  let total = 0;
  while (!stopping?.aborted) {
    const purged = await tombstones.store.purgeTombstones(cutoff, options.batchSize);
    total += purged;
    tombstones.purged.inc(purged);
    if (purged < options.batchSize) break;
  }
  if (total > 0)
    options.logger.info(
      { purged: total, deletedBefore: cutoff.toISOString() },
      "old sync tombstones purged",
    );
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
