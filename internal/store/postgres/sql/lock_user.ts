// The per-user write lock: a transaction-scoped advisory lock on the user.
// Writes of one user then run one after another, so a write can check for
// a conflict and insert without racing (and name the conflicting event),
// and two writers of one user never wait on each other's index entries,
// which is how concurrent inserts under an exclusion constraint deadlock.
// Writes of different users do not contend.
//
// A statement of its own, never a CTE of the write it guards: a statement's
// snapshot is taken before it runs, so a check in the statement that waited
// for the lock would not see what the lock's previous holder committed
// meanwhile (a series it created, say). The next statement's snapshot does.
import type { PendingQuery, Row } from "postgres";
import type { Db } from "../db.js";

// First key of the two-key advisory lock space, reserved for per-user write
// locks (the migration runner uses the one-key space, which is disjoint).
const USER_WRITE_LOCK = 0x63616c; // "cal"

export function lockUser(db: Db, userId: string) {
  return db`select pg_advisory_xact_lock(${USER_WRITE_LOCK}::int4, hashtext(${userId}))`;
}

/**
 * `write` sent right after the user's lock, both without waiting (see
 * inPipelinedTransaction): the first failure is the one reported, as the
 * answers arrive in order.
 */
export function afterUserLock<R extends readonly Row[]>(
  tx: Db,
  userId: string,
  write: PendingQuery<R>,
): Promise<R> {
  // execute() starts each now, in this order (then() would start them later).
  const locked = lockUser(tx, userId).execute();
  const written = write.execute();
  return Promise.all([locked, written]).then(([, rows]) => rows);
}
