// The per-user write lock: a transaction-scoped advisory lock on the user.
// Writes of one user then run one after another, so a write can check for
// a conflict and insert without racing (and name the conflicting event),
// and two writers of one user never wait on each other's index entries,
// which is how concurrent inserts under an exclusion constraint deadlock.
// Writes of different users do not contend.
//
// A check that must see what the lock's previous holder committed runs
// after the lock is granted, with a snapshot taken then: in a statement of
// its own after lockUser (the full path), or inside
// try_lock_user_then_no_series_across (the fast writes), never in a CTE or
// subquery of the statement that took the lock, whose snapshot is older.
import type { TimeWindow } from "../../../domain/event.js";
import type { Db } from "../db.js";
import { instant } from "../rows.js";

// First key of the two-key advisory lock space, reserved for per-user write
// locks (the migration runner uses the one-key space, which is disjoint).
const USER_WRITE_LOCK = 0x63616c; // "cal"

/** Takes the user's write lock, until the transaction ends. */
export function lockUser(db: Db, userId: string) {
  return db`select pg_advisory_xact_lock(${USER_WRITE_LOCK}::int4, hashtext(${userId}))`;
}

/**
 * A condition for a fast write's WHERE (migrations/0009_fast_write_lock.ts):
 * holds when the user's write lock was free, and is now held until the
 * statement's transaction ends, and no series of the user spans `window`.
 * Then a single event there can only meet other single events and moved
 * occurrences, which events_no_overlap guards, and the write may let the
 * constraint decide. It never waits for the lock: a write that finds it
 * taken writes nothing and takes the full path, which waits.
 */
export function lockedWithNoSeriesAcross(db: Db, userId: string, window: TimeWindow) {
  return db`try_lock_user_then_no_series_across(
    ${USER_WRITE_LOCK}::int4, ${userId}::text, ${instant(db, window.start)}, ${instant(db, window.end)})`;
}
