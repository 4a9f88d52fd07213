// Series on Postgres: finding an id (event, series or occurrence), loading
// a user's busy time around a candidate, and writing an events row of any
// kind. Used by PostgresEventStore inside its per-user-locked transactions.
import { createHash } from "node:crypto";
import {
  type BusyCandidate,
  type BusyInterval,
  type BusySeries,
  findBusyConflict,
} from "../../domain/busy.js";
import type { BusyConflict } from "../../domain/errors.js";
import {
  type CalendarEvent,
  type EventFields,
  eventEnd,
  isSeries,
  type TimeWindow,
} from "../../domain/event.js";
import { occurrenceOf } from "../../domain/occurrence.js";
import {
  occurrenceId,
  parseOccurrenceId,
  type Recurrence,
  Schedule,
} from "../../domain/recurrence.js";
import type { Db } from "./db.js";
import { type EventRow, eventColumns, instant, toEvent } from "./rows.js";

// Fixed namespace: exception rows' ids must stay the same across releases.
const EXCEPTION_NAMESPACE = Buffer.from("b3e7c1d2a4f64e0b9c8d7e6f5a4b3c2d", "hex");

/** The row id of an occurrence's exception: a UUIDv5 of series id and original start. */
export function exceptionRowId(seriesId: string, originalStart: Date): string {
  const hash = createHash("sha1")
    .update(EXCEPTION_NAMESPACE)
    .update(occurrenceId(seriesId, originalStart), "utf8")
    .digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function recurrenceOf(event: Pick<EventFields, "recurrence" | "timeZone">): Recurrence {
  return { lines: [...(event.recurrence ?? [])], timeZone: event.timeZone ?? "UTC" };
}

/** When a series' last occurrence ends; undefined when it never does. */
export function seriesEnd(fields: EventFields): Date | undefined {
  const last = Schedule.of(fields.start, recurrenceOf(fields)).last();
  return last ? new Date(last.getTime() + fields.durationMs) : undefined;
}

/** Where an id leads. */
export interface Located {
  /** What GetEvent answers. */
  event: CalendarEvent;
  /** The row's id when the event is stored (an event, a series, an exception). */
  rowId?: string;
  series?: CalendarEvent;
  originalStart?: Date;
  exception?: CalendarEvent;
  /** Set when the row is a cancelled exception. */
  cancelled?: boolean;
}

type LocateRow = EventRow & { cancelled: boolean };

/**
 * The query behind locate: the row of an event or series, or for an
 * occurrence id the series' row and the occurrence's exception row.
 * `forUpdate` locks the rows found until the transaction ends, so a delete
 * that does not take the user lock cannot remove them between this read and
 * the write that follows (the write, an upsert, would bring them back).
 */
export function locateQuery(db: Db, userId: string, id: string, forUpdate = false) {
  const lock = forUpdate ? db`for update` : db``;
  const occurrence = parseOccurrenceId(id);
  if (!occurrence) {
    return db<LocateRow[]>`
      select ${eventColumns(db)}, cancelled from events
      where user_id = ${userId} and id = ${id} and recurring_event_id is null
      ${lock}`;
  }
  return db<LocateRow[]>`
    select ${eventColumns(db)}, cancelled from events
    where user_id = ${userId}
      and ((id = ${occurrence.seriesId} and recurrence is not null)
        or (recurring_event_id = ${occurrence.seriesId}
            and original_start = ${instant(db, occurrence.originalStart)}))
    ${lock}`;
}

/** What the rows of locateQuery(id) say `id` is. */
export function locateFrom(rows: readonly LocateRow[], id: string): Located | undefined {
  const occurrence = parseOccurrenceId(id);
  if (!occurrence) {
    const [row] = rows;
    return row ? { event: toEvent(row), rowId: row.id } : undefined;
  }
  const seriesRow = rows.find((row) => row.recurrence !== null);
  if (!seriesRow) return undefined;
  const series = toEvent(seriesRow);
  const exceptionRow = rows.find((row) => row.recurring_event_id !== null);
  if (exceptionRow) {
    const exception = toEvent(exceptionRow);
    return {
      event: exception,
      rowId: exceptionRow.id,
      series,
      originalStart: occurrence.originalStart,
      exception,
      cancelled: exceptionRow.cancelled,
    };
  }
  if (!Schedule.of(series.start, recurrenceOf(series)).hasOccurrenceAt(occurrence.originalStart)) {
    return undefined;
  }
  return {
    event: occurrenceOf(series, occurrence.originalStart),
    series,
    originalStart: occurrence.originalStart,
  };
}

/** Finds an event, a series, or an occurrence (stored as an exception or not); see locateQuery. */
export async function locate(
  db: Db,
  userId: string,
  id: string,
  forUpdate = false,
  limit: () => void = () => {},
): Promise<Located | undefined> {
  limit();
  return locateFrom(await locateQuery(db, userId, id, forUpdate), id);
}

export interface SeriesRow extends EventRow {
  overridden_ms: number[];
}

/**
 * The query behind seriesOverlapping: the user's series whose span overlaps
 * `window`, each with the original starts of all its exceptions.
 */
export function seriesQuery(
  db: Db,
  userId: string,
  window: TimeWindow | { start: Date; end: undefined },
  skipIds: readonly string[],
) {
  return db<SeriesRow[]>`
    select ${eventColumns(db)},
      array(select round(extract(epoch from x.original_start) * 1000)::float8 from events x
            where x.user_id = s.user_id and x.recurring_event_id = s.id
              and not (x.id = any(${skipIds}::uuid[]))) as overridden_ms
    from events s
    where user_id = ${userId} and recurrence is not null
      and end_time > ${instant(db, window.start)}
      ${window.end ? db`and start_time < ${instant(db, window.end)}` : db``}
      and not (id = any(${skipIds}::uuid[]))`;
}

/** The series of seriesQuery, ready for the busy check and the lists. */
export function toSeriesList(
  rows: readonly SeriesRow[],
): { series: CalendarEvent; busy: BusySeries }[] {
  return rows.map((row) => {
    const series = toEvent(row);
    return {
      series,
      busy: {
        id: series.id,
        start: series.start,
        durationMs: series.durationMs,
        recurrence: recurrenceOf(series),
        overridden: new Set(row.overridden_ms.map(Number)),
        occurrenceId: (start: Date) => occurrenceId(series.id, start),
      },
    };
  });
}

/** The user's series whose span overlaps `window` (see seriesQuery). */
export async function seriesOverlapping(
  db: Db,
  userId: string,
  window: TimeWindow | { start: Date; end: undefined },
  skipIds: readonly string[],
  limit: () => void = () => {},
): Promise<{ series: CalendarEvent; busy: BusySeries }[]> {
  limit();
  return toSeriesList(await seriesQuery(db, userId, window, skipIds));
}

/** Single events and moved occurrences that share time with `window`. */
async function singlesOverlapping(
  db: Db,
  userId: string,
  window: TimeWindow | { start: Date; end: undefined },
  skipIds: readonly string[],
  limit: () => void,
): Promise<BusyInterval[]> {
  limit();
  const end = window.end ? instant(db, window.end) : db`'infinity'::timestamptz`;
  const rows = await db<EventRow[]>`
    select ${eventColumns(db)} from events
    where user_id = ${userId} and recurrence is null and not cancelled
      and tstzrange(start_time, end_time, '[)') && tstzrange(${instant(db, window.start)}, ${end}, '[)')
      and not (id = any(${skipIds}::uuid[]))`;
  return rows
    .map(toEvent)
    .map((event) => ({ id: event.id, start: event.start, end: eventEnd(event) }));
}

/**
 * The first event or occurrence `fields` would share time with, leaving out
 * the rows in `skipIds`. `self`: the occurrence being edited, whose
 * generated slot does not count. `extraSeries` joins the loaded series (a
 * series about to be cut, as it will be).
 */
export async function busyConflict(
  db: Db,
  userId: string,
  fields: EventFields,
  options: {
    skipIds?: readonly string[];
    self?: { seriesId: string; originalStart: Date };
    overridden?: ReadonlySet<number>;
    extraSeries?: BusySeries[];
    extraSingles?: BusyInterval[];
    /** Called before each statement (the call deadline's limit). */
    limit?: () => void;
  } = {},
): Promise<BusyConflict | undefined> {
  const limit = options.limit ?? (() => {});
  const skipIds = options.skipIds ?? [];
  const candidate: BusyCandidate = isSeries(fields)
    ? {
        kind: "series",
        start: fields.start,
        durationMs: fields.durationMs,
        recurrence: recurrenceOf(fields),
        overridden: options.overridden ?? new Set(),
      }
    : { kind: "single", start: fields.start, end: eventEnd(fields) };
  const window = isSeries(fields)
    ? { start: fields.start, end: seriesEnd(fields) }
    : { start: fields.start, end: eventEnd(fields) };
  const [singles, series] = [
    await singlesOverlapping(db, userId, window, skipIds, limit),
    await seriesOverlapping(db, userId, window, skipIds, limit),
  ];
  const busySeries = series.map(({ busy }) =>
    options.self?.seriesId === busy.id
      ? { ...busy, overridden: new Set([...busy.overridden, options.self.originalStart.getTime()]) }
      : busy,
  );
  return findBusyConflict(
    candidate,
    [...singles, ...(options.extraSingles ?? [])],
    [...busySeries, ...(options.extraSeries ?? [])],
  );
}

/** The series' generated occurrences that share time with `window`. */
export function occurrencesIn(
  series: CalendarEvent,
  overridden: ReadonlySet<number>,
  window: TimeWindow,
): CalendarEvent[] {
  return Schedule.of(series.start, recurrenceOf(series))
    .startsBetween(new Date(window.start.getTime() - series.durationMs + 1), window.end)
    .filter((start) => !overridden.has(start.getTime()))
    .map((start) => occurrenceOf(series, start));
}

/**
 * The reminder cursor of a series: when the reminder of its first
 * occurrence starting at or after `from` is due ('infinity' when none is
 * left), or null when the series has no reminder. The dispatcher sends
 * occurrences' reminders from it and moves it on.
 */
export function seriesNotifyCursor(
  series: Pick<EventFields, "start" | "recurrence" | "timeZone" | "notifyBeforeMs">,
  from: Date,
): Date | null | "infinity" {
  if (series.notifyBeforeMs === undefined) return null;
  const schedule = Schedule.of(series.start, recurrenceOf(series));
  const next = schedule.nextFrom(from);
  return next ? new Date(next.getTime() - series.notifyBeforeMs) : "infinity";
}

/** What an events row holds besides its fields: see writeRow. */
export interface RowMeta {
  version: number;
  createdAt: Date;
  updatedAt: Date;
  notifyAt: Date | null | "infinity";
  recurringEventId?: string;
  originalStart?: Date;
  cancelled?: boolean;
  /** Marks the reminder sent already (an exception of an occurrence whose reminder went). */
  reminderSentAt?: Date;
}

/** The columns every write of a whole row sets, in the order of rowValues. */
export function rowColumns(db: Db) {
  return db`
    user_id, id, title, description, start_time, end_time,
    notify_before_ms, notify_at, reminder_sent_at, created_at, updated_at, version,
    recurrence, time_zone, duration_ms, recurring_event_id, original_start, cancelled`;
}

/**
 * The values of one events row, in the order of rowColumns. Every value is
 * typed, so the list serves `values (...)` and `select ...` (whose untyped
 * parameters Postgres would take for text) alike.
 */
export function rowValues(
  db: Db,
  userId: string,
  rowId: string,
  fields: EventFields,
  meta: RowMeta,
) {
  const series = isSeries(fields);
  const end = series ? seriesEnd(fields) : eventEnd(fields);
  const orInfinity = (date: Date | "infinity" | undefined) =>
    date === undefined || date === "infinity" ? db`'infinity'::timestamptz` : instant(db, date);
  const orNull = (date: Date | undefined) =>
    date === undefined ? db`${null}::timestamptz` : instant(db, date);
  return db`
    ${userId}::text, ${rowId}::uuid, ${fields.title}::text, ${fields.description ?? null}::text,
    ${instant(db, fields.start)}, ${orInfinity(end)},
    ${fields.notifyBeforeMs ?? null}::int8,
    ${meta.notifyAt === null ? db`${null}::timestamptz` : orInfinity(meta.notifyAt)},
    ${orNull(meta.reminderSentAt)},
    ${instant(db, meta.createdAt)}, ${instant(db, meta.updatedAt)}, ${meta.version}::int4,
    ${series ? (fields.recurrence as string[]) : null}::text[], ${fields.timeZone ?? null}::text,
    ${series ? fields.durationMs : null}::int8, ${meta.recurringEventId ?? null}::uuid,
    ${orNull(meta.originalStart)}, ${meta.cancelled ?? false}::bool`;
}

/**
 * The assignments that replace the stored row `e` by the row `excluded`
 * (rowColumns), keeping created_at. The one place that says what a rewrite
 * does to a reminder: one already sent or skipped stays so unless the
 * rewrite moves it. `version` replaces excluded.version (the fast update
 * takes the stored version + 1).
 */
export function rewriteColumns(db: Db, version = db`excluded.version`) {
  return db`
    title = excluded.title, description = excluded.description,
    start_time = excluded.start_time, end_time = excluded.end_time,
    notify_before_ms = excluded.notify_before_ms, notify_at = excluded.notify_at,
    reminder_sent_at = case
      when e.recurrence is null and excluded.recurrence is null
        and e.start_time = excluded.start_time
        and e.notify_before_ms is not distinct from excluded.notify_before_ms
      then coalesce(e.reminder_sent_at, excluded.reminder_sent_at)
      else excluded.reminder_sent_at end,
    reminder_skipped_at = case
      when e.recurrence is null and excluded.recurrence is null
        and e.start_time = excluded.start_time
        and e.notify_before_ms is not distinct from excluded.notify_before_ms
      then e.reminder_skipped_at end,
    updated_at = excluded.updated_at, version = ${version},
    recurrence = excluded.recurrence, time_zone = excluded.time_zone,
    duration_ms = excluded.duration_ms, cancelled = excluded.cancelled`;
}

/** Writes one events row of any kind: an insert, or a full replacement of the row `rowId`. */
export async function writeRow(
  db: Db,
  userId: string,
  rowId: string,
  fields: EventFields,
  meta: RowMeta,
  limit: () => void = () => {},
): Promise<EventRow> {
  limit();
  const [row] = await db<EventRow[]>`
    insert into events as e (${rowColumns(db)})
    values (${rowValues(db, userId, rowId, fields, meta)})
    on conflict (user_id, id) do update set ${rewriteColumns(db)}
    returning ${eventColumns(db)}`;
  if (!row) throw new Error("insert ... returning produced no row");
  return row;
}
