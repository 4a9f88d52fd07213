// The store's side of SyncEvents and WatchEvents: every user has a change
// counter, and each write of an event takes the next number (see
// postgres/migrations/0004_sync.ts for why no change can be missed). A
// position is such a number: "I have seen every change up to here".
import type { CalendarEvent } from "../domain/event.js";
import type { Result } from "../domain/result.js";

/**
 * One event's latest state after a change: itself, or its deletion. Events
 * are single events, series and their exceptions (moved or edited
 * occurrences), an exception under its occurrence id. A cancelled occurrence
 * is a "delete" of its occurrence id: the client removes that occurrence
 * from its expansion of the series. So is an exception dropped with its
 * series. A series' change replaces everything a client knows of its
 * occurrences, so every store numbers a series' exceptions after each write
 * of the series, and leaves out deletions of its occurrence ids numbered
 * before the series' latest change (see
 * postgres/migrations/0008_sync_series_resets.ts for why).
 */
export type EventChange =
  | { kind: "upsert"; change: number; event: CalendarEvent }
  | { kind: "delete"; change: number; id: string };

export interface ChangePage {
  /** In change order; each event at most once (its latest change). */
  changes: EventChange[];
  /**
   * Where the next read continues. When `complete`, the user's position at
   * the time of the read (the next sync token); otherwise the number of the
   * last change on this page (the next page token).
   */
  position: number;
  /** True when no change after this page existed when it was read. */
  complete: boolean;
}

/** The position is older than the oldest tombstone still kept, or unknown. */
export interface SyncPositionExpired {
  kind: "sync_position_expired";
}

export interface SyncStore {
  /**
   * The user's changes after `after`, at most `limit`. "full" leaves out
   * deletions (a client syncing from nothing has nothing to delete) and
   * never expires; "incremental" includes them, and answers
   * SyncPositionExpired when tombstones after `after` were purged or
   * `after` is beyond anything this store handed out.
   */
  readChanges(
    userId: string,
    after: number,
    limit: number,
    mode: "full" | "incremental",
  ): Promise<Result<ChangePage, SyncPositionExpired>>;

  /** The user's current position: what a watch without a token starts from. */
  syncPosition(userId: string): Promise<number>;
}

export interface TombstoneStore {
  /**
   * Forgets up to `limit` deletions recorded before `cutoff`, oldest first;
   * tokens from before them expire. Returns how many it forgot.
   */
  purgeTombstones(cutoff: Date, limit: number): Promise<number>;
}

/** A keyset position in start order: list what comes after this event. */
export interface ListCursor {
  start: Date;
  id: string;
}
