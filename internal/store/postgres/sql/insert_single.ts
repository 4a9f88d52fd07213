// CreateEvent's fast path for a single event: one INSERT that lets the
// database decide what the store used to read first.
//
//   insert ... select <row>
//   where <the user's lock was free and is taken, and no series of the
//          user spans the event>
//   on conflict do nothing returning <the row>
//
// ON CONFLICT DO NOTHING without a target covers the primary key (the id is
// taken) and the events_no_overlap exclusion constraint (busy) alike; the
// series check covers the occurrences a rule generates, which no constraint
// sees (issue 13). A row back means created; no row means one of those three,
// and the store then takes the full path (postgres_store.ts), which tells
// them apart: the same event again, AlreadyExists, or Overlap naming the
// event. The lock is taken inside the statement, and the series check reads
// after it (lock_user.ts), so the INSERT is the whole write: one statement
// in no transaction of its own (writeOnce in call_deadline.ts). Measured in
// docs/BENCHMARKS.md (issue 17): the full path's seven round trips bounded
// CreateEvent at concurrency 64; one round trip of five statements (begin,
// timeout, lock, insert, commit) came next; this one statement costs
// PostgreSQL a fifth to a quarter less CPU than the same statement in a
// transaction, and this process 0.55-0.65 (bench/store_path_probe.ts).
import type { EventFields } from "../../../domain/event.js";
import { eventEnd } from "../../../domain/event.js";
import type { Db } from "../db.js";
import { type EventRow, eventColumns } from "../rows.js";
import { type RowMeta, rowColumns, rowValues } from "../series.js";
import { lockedWithNoSeriesAcross } from "./lock_user.js";

export function insertSingle(
  db: Db,
  userId: string,
  id: string,
  fields: EventFields,
  meta: RowMeta,
) {
  const window = { start: fields.start, end: eventEnd(fields) };
  return db<EventRow[]>`
    insert into events as e (${rowColumns(db)})
    select ${rowValues(db, userId, id, fields, meta)}
    where ${lockedWithNoSeriesAcross(db, userId, window)}
    on conflict do nothing
    returning ${eventColumns(db)}`;
}
