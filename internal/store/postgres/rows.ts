// How an event crosses the wire: the columns we select and the one way
// instants are written and read.
//
// Instants travel as integer epoch milliseconds, never as text or Date
// parameters. postgres.js turns a timestamptz into `new Date(text)`, which
// reads year 0001 as 2001 and cannot read BC dates at all, and it serializes
// a Date with toISOString(), whose "+010000-..." Postgres refuses. Whole
// milliseconds both ways are exact: extract(epoch ...) is numeric (Postgres
// 14+; round() keeps older servers exact too), the result stays below 2^53,
// and the write side multiplies whole seconds into an interval, which float8
// holds exactly for roughly ±18,000 years.
import type { CalendarEvent } from "../../domain/event.js";
import { occurrenceId } from "../../domain/recurrence.js";
import type { Db } from "./db.js";

/** What every query that returns events selects, under these names. */
export interface EventRow {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  start_ms: number;
  end_ms: number;
  notify_before_ms: number | null;
  created_ms: number;
  updated_ms: number;
  version: number;
  recurrence: string[] | null;
  time_zone: string | null;
  duration_ms: number | null;
  recurring_event_id: string | null;
  original_start_ms: number | null;
}

export function eventColumns(db: Db) {
  return db`
    id, user_id, title, description, version,
    round(extract(epoch from start_time) * 1000)::float8 as start_ms,
    round(extract(epoch from end_time) * 1000)::float8 as end_ms,
    notify_before_ms::float8 as notify_before_ms,
    round(extract(epoch from created_at) * 1000)::float8 as created_ms,
    round(extract(epoch from updated_at) * 1000)::float8 as updated_ms,
    recurrence, time_zone, duration_ms::float8 as duration_ms, recurring_event_id,
    round(extract(epoch from original_start) * 1000)::float8 as original_start_ms`;
}

/** A timestamptz expression for `date`, exact to the millisecond. */
export function instant(db: Db, date: Date) {
  const ms = date.getTime();
  if (!Number.isSafeInteger(ms)) throw new RangeError(`not a valid instant: ${date}`);
  const seconds = Math.trunc(ms / 1000);
  const millis = ms - seconds * 1000; // same sign as ms, so the sum is exact
  return db`(timestamptz 'epoch' + ${seconds}::int8 * interval '1 second' + ${millis}::int4 * interval '1 millisecond')`;
}

export function toEvent(row: EventRow): CalendarEvent {
  const event: CalendarEvent = {
    id: row.id,
    userId: row.user_id,
    title: row.title,
    start: new Date(row.start_ms),
    // A series row's end_time is its last occurrence's end.
    durationMs: row.duration_ms ?? row.end_ms - row.start_ms,
    description: row.description ?? undefined,
    notifyBeforeMs: row.notify_before_ms ?? undefined,
    createdAt: new Date(row.created_ms),
    updatedAt: new Date(row.updated_ms),
    version: row.version,
  };
  if (row.recurrence !== null) event.recurrence = row.recurrence;
  if (row.time_zone !== null) event.timeZone = row.time_zone;
  if (row.recurring_event_id !== null && row.original_start_ms !== null) {
    // An exception row is known to clients by its occurrence's id.
    const originalStart = new Date(row.original_start_ms);
    event.id = occurrenceId(row.recurring_event_id, originalStart);
    event.recurringEventId = row.recurring_event_id;
    event.originalStart = originalStart;
  }
  return event;
}
