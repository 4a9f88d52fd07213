// UpdateEvent's fast path for a single event: one UPDATE that rewrites the
// row when it is a single event (not a series, not an exception), its
// version is the expected one (when the caller gave one), and no series of
// the user spans the new time. The events_no_overlap constraint decides the
// rest: an overlap fails the statement (23P01). No row back, or that
// failure, and the store takes the full path (postgres_store.ts), which
// answers NotFound, VersionMismatch or Overlap naming the event, or updates
// a series or an occurrence. The user's lock is taken inside the statement,
// like insert_single.ts, once the row is found: one statement in no
// transaction of its own (measured in docs/BENCHMARKS.md, issue 17: the
// full path made six round trips). A row the lock's previous holder changed
// meanwhile is read again before it is rewritten (READ COMMITTED re-checks
// the conditions on the newest version of a row it waited for).
//
// The new row is built by the same rowValues/rewriteColumns as every other
// write (series.ts), so what a rewrite does to the reminder is said once.
import type { EventFields } from "../../../domain/event.js";
import { eventEnd } from "../../../domain/event.js";
import type { Db } from "../db.js";
import { type EventRow, eventColumns } from "../rows.js";
import { type RowMeta, rewriteColumns, rowColumns, rowValues } from "../series.js";
import { lockedWithNoSeriesAcross } from "./lock_user.js";

export function updateSingle(
  db: Db,
  userId: string,
  id: string,
  fields: EventFields,
  expectedVersion: number | undefined,
  meta: Omit<RowMeta, "version" | "createdAt">,
) {
  const window = { start: fields.start, end: eventEnd(fields) };
  // version and created_at of the new row are not written: the stored
  // version + 1, and the stored created_at.
  const row = rowValues(db, userId, id, fields, { ...meta, version: 1, createdAt: meta.updatedAt });
  return db<EventRow[]>`
    with updated as (
      update events as e set ${rewriteColumns(db, db`e.version + 1`)}
      from (select ${row}) as excluded (${rowColumns(db)})
      where e.user_id = ${userId} and e.id = ${id}
        and e.recurrence is null and e.recurring_event_id is null
        and (${expectedVersion ?? null}::int4 is null or e.version = ${expectedVersion ?? null}::int4)
        and ${lockedWithNoSeriesAcross(db, userId, window)}
      returning e.*)
    select ${eventColumns(db)} from updated`;
}
