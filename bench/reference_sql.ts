// The single statements the minimal reference runs for the writes (issue
// 17's target: one round trip, no transaction of several statements), shared
// by bench/reference_server.ts and the bench's "pg" cells.
import type { Sql } from "postgres";
import { type EventRow, eventColumns, instant } from "../internal/store/postgres/rows.js";

export interface WriteFields {
  title: string;
  startMs: number;
  durationMs: number;
  notifyBeforeMs: number | null;
}

function times(sql: Sql, f: WriteFields) {
  const notifyAt = f.notifyBeforeMs === null ? null : new Date(f.startMs - f.notifyBeforeMs);
  return {
    start: instant(sql, new Date(f.startMs)),
    end: instant(sql, new Date(f.startMs + f.durationMs)),
    notifyAt: notifyAt === null ? null : instant(sql, notifyAt),
    now: instant(sql, new Date()),
  };
}

/** CreateEvent: one INSERT ... RETURNING. */
export async function insertEvent(
  sql: Sql,
  userId: string,
  id: string,
  f: WriteFields,
): Promise<EventRow> {
  const t = times(sql, f);
  const [row] = await sql<EventRow[]>`
    insert into events (
      user_id, id, title, description, start_time, end_time,
      notify_before_ms, notify_at, created_at, updated_at, version)
    values (
      ${userId}, ${id}, ${f.title}, ${null}, ${t.start}, ${t.end},
      ${f.notifyBeforeMs}::int8, ${t.notifyAt}, ${t.now}, ${t.now}, 1)
    returning ${eventColumns(sql)}`;
  return row as EventRow;
}

/** UpdateEvent: one UPDATE ... RETURNING; undefined when there is no such event. */
export async function updateEvent(
  sql: Sql,
  userId: string,
  id: string,
  f: WriteFields,
): Promise<EventRow | undefined> {
  const t = times(sql, f);
  const [row] = await sql<EventRow[]>`
    update events set
      title = ${f.title}, description = ${null}, start_time = ${t.start}, end_time = ${t.end},
      notify_before_ms = ${f.notifyBeforeMs}::int8, notify_at = ${t.notifyAt},
      updated_at = ${t.now}, version = version + 1
    where user_id = ${userId} and id = ${id}
    returning ${eventColumns(sql)}`;
  return row;
}

/** DeleteEvent: one DELETE; false when there was no such event. */
export async function deleteEvent(sql: Sql, userId: string, id: string): Promise<boolean> {
  const rows = await sql`delete from events where user_id = ${userId} and id = ${id} returning id`;
  return rows.length > 0;
}
