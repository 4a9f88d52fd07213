// The EventStore on Postgres (a real server, or embedded PGlite behind a
// socket: the same SQL either way). Queries are tagged templates only, so
// every value travels as a bind parameter.
//
// Busy time is guarded by the events_no_overlap exclusion constraint, which
// holds whatever the application does. On top of it, every write first takes
// a transaction-scoped advisory lock on its user (sql/lock_user.ts).
//
// Creating, updating and deleting a single event take a fast path first:
// one statement that takes the lock and writes (sql/insert_single.ts,
// sql/update_single.ts, sql/delete_single.ts), letting the constraints
// decide. When the fast path cannot answer (the id is taken, the time is
// busy, a series is near, the event is a series), the full path below reads,
// checks and names the conflict, as it always did.
import { randomUUID } from "node:crypto";
import type { Sql } from "postgres";
import type {
  AlreadyExists,
  BusyConflict,
  NotFound,
  VersionMismatch,
} from "../../domain/errors.js";
import {
  type CalendarEvent,
  type EventFields,
  eventEnd,
  isSeries,
  notifyAt,
  sameFields,
  type TimeWindow,
} from "../../domain/event.js";
import {
  parseOccurrenceId,
  recurrenceEndingBefore,
  recurrenceFrom,
  Schedule,
} from "../../domain/recurrence.js";
import { err, ok, type Result } from "../../domain/result.js";
import type { FeedRow } from "../feed_rows.js";
import {
  type Clock,
  type DueReminder,
  type EventStore,
  type ReminderStore,
  StoreUnavailableError,
  systemClock,
  type UpdateScope,
} from "../store.js";
import type {
  ChangePage,
  ListCursor,
  SyncPositionExpired,
  SyncStore,
  TombstoneStore,
} from "../sync.js";
import {
  type CallDeadline,
  inReadTransaction,
  inTransaction,
  readOnce,
  type StorePools,
  withinDeadline,
  writeOnce,
} from "./call_deadline.js";
import type { Db } from "./db.js";
import { errorMessage, hasSqlState, SqlState, unlessUnavailable } from "./errors.js";
import { PostgresReminderStore, seriesReminderCursor } from "./reminder_store.js";
import { type EventRow, eventColumns, instant, toEvent } from "./rows.js";
import {
  busyConflict,
  exceptionRowId,
  type Located,
  locate,
  locateFrom,
  locateQuery,
  occurrencesIn,
  type RowMeta,
  recurrenceOf,
  type SeriesRow,
  seriesNotifyCursor,
  seriesOverlapping,
  seriesQuery,
  toSeriesList,
  writeRow,
} from "./series.js";
import { deleteSingle } from "./sql/delete_single.js";
import { insertSingle } from "./sql/insert_single.js";
import { lockUser } from "./sql/lock_user.js";
import { updateSingle } from "./sql/update_single.js";
import * as sync from "./sync_store.js";

/**
 * The longest an EventStore call may take before it answers
 * StoreUnavailableError (UNAVAILABLE at the API). Calls are short OLTP work;
 * one that has not finished by then is stuck behind a database or network
 * that stopped answering, and the caller is better told so than kept waiting.
 */
export const DEFAULT_CALL_TIMEOUT_MS = 3000;

// A write that lost a race to a writer that skipped our lock (or to a delete
// right after our failed insert) is tried again; this many times in all.
const MAX_ATTEMPTS = 4;

/**
 * Both ports on one pool, like the memory store. The reminder side lives in
 * reminder_store.ts (PostgresReminderStore) and is delegated to.
 */
export class PostgresEventStore implements EventStore, ReminderStore, SyncStore, TombstoneStore {
  readonly #pools: StorePools;
  readonly #clock: Clock;
  readonly #reminders: PostgresReminderStore;
  readonly #callTimeoutMs: number;
  readonly #endIdleTransactions: boolean;

  constructor(
    sql: Sql,
    options: {
      clock?: Clock;
      callTimeoutMs?: number;
      /** False on the embedded database: see DeadlineOptions. */
      endIdleTransactions?: boolean;
      /**
       * A pool made with statementPoolOptions(…, callTimeoutMs): reads and
       * single-event writes then run as one statement each (readOnce,
       * writeOnce). Without it, in a transaction on `sql`.
       */
      statements?: Sql;
    } = {},
  ) {
    this.#pools = { sql, statements: options.statements };
    this.#clock = options.clock ?? systemClock;
    this.#callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.#endIdleTransactions = options.endIdleTransactions ?? true;
    this.#reminders = new PostgresReminderStore(sql);
  }

  /**
   * Every EventStore call: connection failures and calls that get no answer
   * in time both become StoreUnavailableError, and the database ends the
   * work of a call at its deadline (call_deadline.ts). (The reminder side has
   * no deadline: a dispatch holds its transaction while the broker confirms.)
   */
  #call<T>(what: string, operation: (deadline: CallDeadline) => Promise<T>): Promise<T> {
    return withinDeadline(
      what,
      this.#callTimeoutMs,
      { endIdleTransactions: this.#endIdleTransactions },
      (deadline) => unlessUnavailable(what, () => operation(deadline)),
    );
  }

  /** One read of a call: see readOnce. */
  #read<R>(
    deadline: CallDeadline,
    read: (db: Db) => PromiseLike<R> & { cancel(): unknown },
  ): Promise<R> {
    return readOnce(this.#pools, deadline, read);
  }

  /** One single-statement write of a call: see writeOnce. */
  #writeOnce<R>(
    deadline: CallDeadline,
    write: (db: Db) => PromiseLike<R> & { cancel(): unknown },
  ): Promise<R> {
    return writeOnce(this.#pools, deadline, write);
  }

  createEvent(
    userId: string,
    id: string,
    fields: EventFields,
  ): Promise<Result<CalendarEvent, AlreadyExists | BusyConflict>> {
    type Created = Result<CalendarEvent, AlreadyExists | BusyConflict>;
    return this.#call("create event", async (deadline) => {
      if (!isSeries(fields)) {
        const created = await this.#createSingleFast(deadline, userId, id, fields);
        if (created) return ok(created);
      }
      return retryOnLostRace(() =>
        inTransaction(this.#pools.sql, deadline, async (tx): Promise<Created> => {
          const limit = () => deadline.limit(tx);
          await lockedUser(tx, deadline, userId);
          limit();
          const [existing] = await tx<EventRow[]>`
            select ${eventColumns(tx)} from events where user_id = ${userId} and id = ${id}`;
          if (existing) {
            const stored = toEvent(existing);
            return sameFields(stored, fields) ? ok(stored) : err({ kind: "already_exists", id });
          }
          const conflict = await busyConflict(tx, userId, fields, { limit });
          if (conflict) return err(conflict);

          const now = this.#clock();
          const row = await writeRow(
            tx,
            userId,
            id,
            fields,
            {
              version: 1,
              createdAt: now,
              updatedAt: now,
              notifyAt: notifyAtOf(fields, fields.start),
            },
            limit,
          );
          return ok(toEvent(row));
        }),
      );
    });
  }

  /**
   * The single event created in one statement (sql/insert_single.ts), or
   * undefined when the full path must answer: the id is taken, the time is
   * busy, or a series is near.
   */
  async #createSingleFast(
    deadline: CallDeadline,
    userId: string,
    id: string,
    fields: EventFields,
  ): Promise<CalendarEvent | undefined> {
    const now = this.#clock();
    const meta = { version: 1, createdAt: now, updatedAt: now, notifyAt: notifyAtOf(fields, now) };
    const rows = await fastOrFullPath(
      this.#writeOnce(deadline, (db) => insertSingle(db, userId, id, fields, meta)),
    );
    return rows?.[0] && toEvent(rows[0]);
  }

  /**
   * The single event updated in one statement (sql/update_single.ts), or
   * undefined when the full path must answer (see there).
   */
  async #updateSingleFast(
    deadline: CallDeadline,
    userId: string,
    id: string,
    fields: EventFields,
    expectedVersion: number | undefined,
  ): Promise<CalendarEvent | undefined> {
    const now = this.#clock();
    const meta = { updatedAt: now, notifyAt: notifyAtOf(fields, now) };
    const rows = await fastOrFullPath(
      this.#writeOnce(deadline, (db) =>
        updateSingle(db, userId, id, fields, expectedVersion, meta),
      ),
    );
    return rows?.[0] && toEvent(rows[0]);
  }

  getEvent(userId: string, id: string): Promise<Result<CalendarEvent, NotFound>> {
    return this.#call("get event", async (deadline) => {
      const rows = await this.#read(deadline, (db) => locateQuery(db, userId, id));
      const found = locateFrom(rows, id);
      return found && !found.cancelled ? ok(found.event) : err({ kind: "not_found", id });
    });
  }

  updateEvent(
    userId: string,
    id: string,
    fields: EventFields,
    expectedVersion: number | undefined,
    scope: UpdateScope = "this",
  ): Promise<Result<CalendarEvent, NotFound | BusyConflict | VersionMismatch>> {
    type Outcome = Result<CalendarEvent, NotFound | BusyConflict | VersionMismatch>;
    return this.#call("update event", async (deadline) => {
      if (!isSeries(fields) && !parseOccurrenceId(id)) {
        const updated = await this.#updateSingleFast(deadline, userId, id, fields, expectedVersion);
        if (updated) return ok(updated);
      }
      for (let attempt = 1; ; attempt++) {
        try {
          return await inTransaction(this.#pools.sql, deadline, async (tx): Promise<Outcome> => {
            const limit = () => deadline.limit(tx);
            await lockedUser(tx, deadline, userId);
            const found = await locate(tx, userId, id, true, limit);
            if (!found || found.cancelled) return err({ kind: "not_found", id });
            const stored = found.event;
            if (expectedVersion !== undefined && expectedVersion !== stored.version) {
              return err({
                kind: "version_mismatch",
                expected: expectedVersion,
                actual: stored.version,
              });
            }
            const now = this.#clock();
            if (found.series && found.originalStart) {
              return this.#updateOccurrence(tx, limit, userId, found, fields, scope, now);
            }
            if (isSeries(stored)) {
              return this.#updateSeries(tx, limit, userId, stored, fields, now);
            }
            const conflict = await busyConflict(tx, userId, fields, {
              skipIds: [stored.id],
              limit,
            });
            if (conflict) return err(conflict);
            const row = await writeRow(
              tx,
              userId,
              stored.id,
              fields,
              rewriteMeta(stored, fields, now),
              limit,
            );
            return ok(toEvent(row));
          });
        } catch (error) {
          if (hasSqlState(error, SqlState.exclusionViolation)) {
            // The update would overlap an event written by a writer that
            // skipped our lock. The transaction is aborted, so look the
            // conflict up afresh on the pool.
            const [conflicting] = await inReadTransaction(this.#pools.sql, deadline, (db) =>
              conflictsWith(db, userId, fields, id),
            );
            const conflictingId = conflicting?.id;
            if (conflictingId) return err({ kind: "overlap", conflictingId });
            // Deleted in the meantime: the update may fit now.
          } else if (!hasSqlState(error, SqlState.deadlockDetected)) {
            throw error;
          }
          if (attempt >= MAX_ATTEMPTS) throw error;
        }
      }
    });
  }

  /** An occurrence: this one alone (an exception), or this and following (a split). */
  async #updateOccurrence(
    tx: Db,
    limit: () => void,
    userId: string,
    found: Located,
    fields: EventFields,
    scope: UpdateScope,
    now: Date,
  ): Promise<Result<CalendarEvent, BusyConflict>> {
    const series = found.series as CalendarEvent;
    const originalStart = found.originalStart as Date;
    const schedule = Schedule.of(series.start, recurrenceOf(series));
    const isFirst = schedule.first()?.getTime() === originalStart.getTime();
    if (scope === "this_and_following" && isFirst) {
      return this.#updateSeries(tx, limit, userId, series, fields, now);
    }
    if (scope === "this_and_following") {
      const kept = recurrenceEndingBefore(recurrenceOf(series), originalStart);
      const newFields: EventFields = isSeries(fields)
        ? fields
        : {
            ...fields,
            recurrence: recurrenceFrom(recurrenceOf(series), schedule, originalStart).lines,
            timeZone: fields.timeZone ?? series.timeZone,
          };
      const truncated: EventFields = { ...series, recurrence: kept.lines };
      // Exceptions from the split on go with the old series' tail.
      limit();
      const dropped = await tx<{ id: string }[]>`
        select id from events
        where user_id = ${userId} and recurring_event_id = ${series.id}
          and original_start >= ${instant(tx, originalStart)}`;
      const droppedIds = dropped.map((row) => row.id);
      const [remaining] = await seriesOverlapping(
        tx,
        userId,
        { start: series.start, end: undefined },
        droppedIds,
        limit,
      ).then((all) => all.filter((s) => s.series.id === series.id));
      const truncatedBusy = {
        ...(remaining?.busy as NonNullable<typeof remaining>["busy"]),
        recurrence: kept,
      };
      const conflict = await busyConflict(tx, userId, newFields, {
        limit,
        skipIds: [series.id, ...droppedIds],
        extraSeries: remaining ? [truncatedBusy] : [],
      });
      if (conflict) return err(conflict);
      limit();
      await tx`delete from events where user_id = ${userId} and id = any(${droppedIds}::uuid[])`;
      await writeRow(tx, userId, series.id, truncated, rewriteMeta(series, truncated, now), limit);
      const row = await writeRow(
        tx,
        userId,
        randomUUID(),
        newFields,
        {
          version: 1,
          createdAt: now,
          updatedAt: now,
          notifyAt: notifyAtOf(newFields, minDate(now, newFields.start)),
        },
        limit,
      );
      return ok(toEvent(row));
    }
    const exceptionFields: EventFields = {
      ...fields,
      recurrence: undefined,
      timeZone: fields.timeZone ?? series.timeZone,
    };
    const rowId = found.rowId ?? exceptionRowId(series.id, originalStart);
    const conflict = await busyConflict(tx, userId, exceptionFields, {
      limit,
      skipIds: [rowId],
      self: { seriesId: series.id, originalStart },
    });
    if (conflict) return err(conflict);
    // The series' cursor has passed this occurrence: its reminder went (or
    // was skipped). Unless the edit moves the reminder, it stays sent.
    limit();
    const cursor = await seriesReminderCursor(tx, userId, series.id);
    const occurrenceNotify =
      series.notifyBeforeMs === undefined
        ? undefined
        : originalStart.getTime() - series.notifyBeforeMs;
    const alreadyReminded =
      !found.exception &&
      occurrenceNotify !== undefined &&
      cursor > occurrenceNotify &&
      exceptionFields.start.getTime() === originalStart.getTime() &&
      exceptionFields.notifyBeforeMs === series.notifyBeforeMs;
    const row = await writeRow(
      tx,
      userId,
      rowId,
      exceptionFields,
      {
        version: found.event.version + 1,
        createdAt: found.exception?.createdAt ?? now,
        updatedAt: now,
        notifyAt: notifyAtOf(exceptionFields, exceptionFields.start),
        recurringEventId: series.id,
        originalStart,
        ...(alreadyReminded ? { reminderSentAt: now } : {}),
      },
      limit,
    );
    return ok(toEvent(row));
  }

  /** The whole series: exceptions whose occurrence the new rule lacks are dropped. */
  async #updateSeries(
    tx: Db,
    limit: () => void,
    userId: string,
    series: CalendarEvent,
    fields: EventFields,
    now: Date,
  ): Promise<Result<CalendarEvent, BusyConflict>> {
    limit();
    const exceptions = (
      await tx<(EventRow & { cancelled: boolean })[]>`
        select ${eventColumns(tx)}, cancelled from events
        where user_id = ${userId} and recurring_event_id = ${series.id}`
    ).map((row) => ({ row, event: toEvent(row) }));
    const schedule = isSeries(fields) ? Schedule.of(fields.start, recurrenceOf(fields)) : undefined;
    const kept = exceptions.filter((e) => schedule?.hasOccurrenceAt(e.event.originalStart as Date));
    const droppedIds = exceptions.filter((e) => !kept.includes(e)).map((e) => e.row.id);
    const conflict = await busyConflict(tx, userId, fields, {
      limit,
      skipIds: [series.id, ...exceptions.map((e) => e.row.id)],
      overridden: new Set(kept.map((e) => (e.event.originalStart as Date).getTime())),
      extraSingles: kept
        .filter((e) => !e.row.cancelled)
        .map((e) => ({ id: e.event.id, start: e.event.start, end: eventEnd(e.event) })),
    });
    if (conflict) return err(conflict);
    limit();
    await tx`delete from events where user_id = ${userId} and id = any(${droppedIds}::uuid[])`;
    const row = await writeRow(
      tx,
      userId,
      series.id,
      fields,
      rewriteMeta(series, fields, now),
      limit,
    );
    return ok(toEvent(row));
  }

  deleteEvent(userId: string, id: string): Promise<Result<void, NotFound>> {
    if (!parseOccurrenceId(id)) {
      // One statement (sql/delete_single.ts).
      return this.#call("delete event", async (deadline) => {
        const deleted = await this.#writeOnce(deadline, (db) => deleteSingle(db, userId, id));
        return deleted.length > 0 ? ok(undefined) : err({ kind: "not_found", id });
      });
    }
    // An occurrence: cancelled by an exception row that keeps the rule from generating it.
    return this.#call("cancel occurrence", (deadline) =>
      inTransaction(this.#pools.sql, deadline, async (tx): Promise<Result<void, NotFound>> => {
        const limit = () => deadline.limit(tx);
        await lockedUser(tx, deadline, userId);
        const found = await locate(tx, userId, id, true, limit);
        if (!found || found.cancelled || !found.series || !found.originalStart) {
          return err({ kind: "not_found", id });
        }
        const now = this.#clock();
        const { recurrence: _, ...occurrence } = found.event;
        await writeRow(
          tx,
          userId,
          found.rowId ?? exceptionRowId(found.series.id, found.originalStart),
          { ...occurrence, notifyBeforeMs: undefined },
          {
            version: found.event.version + 1,
            createdAt: found.exception?.createdAt ?? now,
            updatedAt: now,
            notifyAt: null,
            recurringEventId: found.series.id,
            originalStart: found.originalStart,
            cancelled: true,
          },
          limit,
        );
        return ok(undefined);
      }),
    );
  }

  listEvents(
    userId: string,
    window: TimeWindow,
    limit: number,
    after?: ListCursor,
  ): Promise<CalendarEvent[]> {
    // An empty (or inverted) window shares no instant with any event; and
    // Postgres refuses to build a range whose end precedes its start.
    if (!(window.start < window.end)) return Promise.resolve([]);
    return this.#call("list events", async (deadline) => {
      // Single events and the user's series, in one statement.
      const both = await this.#read(deadline, (db) =>
        eventsAndSeriesInWindow(db, userId, window, limit, after),
      );
      const rows = both.filter((row) => row.overridden_ms === null);
      const seriesRows = both.filter((row): row is SeriesRow => row.overridden_ms !== null);
      const events = rows
        .map(toEvent)
        .filter((e) => after === undefined || byStartThenId(e, after) > 0);
      if (seriesRows.length === 0) return events.sort(byStartThenId).slice(0, limit);
      for (const { series: s, busy } of toSeriesList(seriesRows)) {
        events.push(
          ...occurrencesIn(s, busy.overridden, window).filter(
            (o) => after === undefined || byStartThenId(o, after) > 0,
          ),
        );
      }
      return events.sort(byStartThenId).slice(0, limit);
    });
  }

  listFeedRows(userId: string, window: TimeWindow, limit: number): Promise<FeedRow[]> {
    if (!(window.start < window.end)) return Promise.resolve([]);
    return this.#call("list feed rows", async (deadline) => {
      const rows = await this.#read(deadline, (db) => feedRowsQuery(db, userId, window, limit));
      return rows
        .map((row) => ({ event: toEvent(row), cancelled: row.cancelled }))
        .sort((a, b) => byStartThenId(a.event, b.event));
    });
  }

  readChanges(
    userId: string,
    after: number,
    limit: number,
    mode: "full" | "incremental",
  ): Promise<Result<ChangePage, SyncPositionExpired>> {
    return this.#call("read changes", async (deadline) => {
      const rows = await this.#read(deadline, (db) =>
        sync.changesAfter(db, userId, after, limit + 1, mode === "incremental"),
      );
      return sync.changePage(rows, after, limit, mode);
    });
  }

  syncPosition(userId: string): Promise<number> {
    return this.#call("read sync position", async (deadline) => {
      const rows = await this.#read(deadline, (db) => sync.syncPositionQuery(db, userId));
      return Number(rows[0]?.last_change ?? 0);
    });
  }

  purgeTombstones(cutoff: Date, limit: number): Promise<number> {
    // The scheduler's side: no deadline, like deleteEventsEndedBefore.
    return unlessUnavailable("purge tombstones", () =>
      sync.purgeTombstones(this.#pools.sql, cutoff, limit),
    );
  }

  dispatchDueReminders(
    now: Date,
    limit: number,
    publish: (due: DueReminder[]) => Promise<DueReminder[]>,
  ): Promise<{ claimed: number; sent: number; skipped: number }> {
    return this.#reminders.dispatchDueReminders(now, limit, publish);
  }

  deleteEventsEndedBefore(cutoff: Date, limit: number): Promise<number> {
    return this.#reminders.deleteEventsEndedBefore(cutoff, limit);
  }

  ping(): Promise<void> {
    return withinDeadline(
      "ping",
      this.#callTimeoutMs,
      { endIdleTransactions: this.#endIdleTransactions },
      async () => {
        try {
          await this.#pools.sql`select 1`;
        } catch (error) {
          throw new StoreUnavailableError(`database ping failed: ${errorMessage(error)}`, {
            cause: error,
          });
        }
      },
    );
  }

  async close(): Promise<void> {
    // Queries already sent may finish; after 5 s the connections are cut.
    await Promise.all([
      this.#pools.sql.end({ timeout: 5 }),
      this.#pools.statements?.end({ timeout: 5 }),
    ]);
  }
}

/** Events and series in the window, with every exception of those series. */
function feedRowsQuery(db: Db, userId: string, window: TimeWindow, limit: number) {
  return db<(EventRow & { cancelled: boolean })[]>`
    select ${eventColumns(db)}, cancelled from events
    where (${overlapping(db, userId, window)} and recurring_event_id is null)
      or (user_id = ${userId} and recurring_event_id in (
        select id from events
        where ${overlapping(db, userId, window)} and recurrence is not null))
    order by start_time, id
    limit ${limit}`;
}

/**
 * The query behind listEvents: eventsInWindow's rows (overridden_ms null) and
 * seriesQuery's, in one statement: one round trip, and both read in one
 * snapshot.
 */
function eventsAndSeriesInWindow(
  db: Db,
  userId: string,
  window: TimeWindow,
  limit: number,
  after?: ListCursor,
) {
  return db<(EventRow & { overridden_ms: SeriesRow["overridden_ms"] | null })[]>`
    select single.*, null::float8[] as overridden_ms
      from (${eventsInWindow(db, userId, window, limit, after)}) single
    union all
    (${seriesQuery(db, userId, window, [])})`;
}

/** The single events of listEvents; exported so tests can EXPLAIN exactly it. */
export function eventsInWindow(
  db: Db,
  userId: string,
  window: TimeWindow,
  limit: number,
  after?: ListCursor,
) {
  if (after) return eventsAfterCursor(db, userId, window, limit, after);
  return db<EventRow[]>`
    select ${eventColumns(db)} from events
    where ${overlapping(db, userId, window)}
      and recurrence is null and not cancelled
    order by start_time, id
    limit ${limit}`;
}

/**
 * The rows of a page after `after`. A cursor's id is the id clients see: an
 * event's row id, or an occurrence id (a generated occurrence or an
 * exception, whose row id is a UUIDv5 of it), so the tie on the cursor's
 * start cannot be broken in SQL by row id. The rows starting exactly at the
 * cursor's start (a handful at most: busy time keeps a user's events apart)
 * come back whole and the caller drops those at or before the cursor by
 * (start, client id); the rows after it are limited as usual.
 */
function eventsAfterCursor(
  db: Db,
  userId: string,
  window: TimeWindow,
  limit: number,
  after: ListCursor,
) {
  const start = instant(db, after.start);
  return db<EventRow[]>`
    (select ${eventColumns(db)} from events
     where ${overlapping(db, userId, window)} and start_time = ${start}
       and recurrence is null and not cancelled)
    union all
    (select ${eventColumns(db)} from events
     where ${overlapping(db, userId, window)} and start_time > ${start}
       and recurrence is null and not cancelled
     order by start_time, id
     limit ${limit})`;
}

/**
 * The filter "this user's events that share an instant with `window`", that
 * is start_time < window.end and end_time > window.start, written as a range
 * overlap so that the events_no_overlap GiST index answers it exactly (see
 * the migration for the measurements). `window` must not be empty.
 */
function overlapping(db: Db, userId: string, window: TimeWindow) {
  return db`
    user_id = ${userId}
    and tstzrange(start_time, end_time, '[)')
      && tstzrange(${instant(db, window.start)}, ${instant(db, window.end)}, '[)')`;
}

/** The earliest event (by start, then id) of the user that `fields` would overlap: at most one row. */
function conflictsWith(db: Db, userId: string, fields: EventFields, exceptId: string | undefined) {
  const window = { start: fields.start, end: eventEnd(fields) };
  return db<{ id: string }[]>`
    select id from events
    where ${overlapping(db, userId, window)}
      and recurrence is null and not cancelled
      and (${exceptId ?? null}::uuid is null or id <> ${exceptId ?? null}::uuid)
    order by start_time, id
    limit 1`;
}

async function lockedUser(tx: Db, deadline: CallDeadline, userId: string): Promise<void> {
  deadline.limit(tx);
  await lockUser(tx, userId);
}

/**
 * What a fast path answered, or undefined when the full path must take
 * over: it wrote nothing, or the constraints refused it (an overlap the
 * update ran into; a deadlock with a writer that skipped the user lock).
 */
async function fastOrFullPath<R extends readonly unknown[]>(
  fast: Promise<R>,
): Promise<R | undefined> {
  try {
    const rows = await fast;
    return rows.length > 0 ? rows : undefined;
  } catch (error) {
    if (
      hasSqlState(error, SqlState.exclusionViolation) ||
      hasSqlState(error, SqlState.uniqueViolation) ||
      hasSqlState(error, SqlState.deadlockDetected)
    ) {
      return undefined;
    }
    throw error;
  }
}

/**
 * Runs a create again when it lost a race the user lock did not prevent: a
 * writer that does not take it (a manual fix-up, an older release) inserted
 * the same id (unique violation) or an overlapping event (exclusion
 * violation), or the deadlock detector picked us. The retry's own checks
 * then see the committed winner and answer AlreadyExists/Overlap or the
 * stored event.
 */
async function retryOnLostRace<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const lostRace =
        hasSqlState(error, SqlState.uniqueViolation) ||
        hasSqlState(error, SqlState.exclusionViolation) ||
        hasSqlState(error, SqlState.deadlockDetected);
      if (!lostRace || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

/** The reminder column of a row: a single event's notify_at, or a series' cursor from `from`. */
function notifyAtOf(fields: EventFields, from: Date): Date | null | "infinity" {
  if (isSeries(fields)) return seriesNotifyCursor(fields, from);
  return notifyAt(fields) ?? null;
}

function minDate(a: Date, b: Date): Date {
  return a < b ? a : b;
}

function byStartThenId(
  a: Pick<CalendarEvent, "start" | "id">,
  b: Pick<CalendarEvent, "start" | "id">,
): number {
  return a.start.getTime() - b.start.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The row facts of a rewrite of a stored event or series: its next version,
 * its creation time kept, its reminder re-armed for the new fields.
 */
function rewriteMeta(
  stored: { version: number; createdAt: Date },
  fields: EventFields,
  now: Date,
): RowMeta {
  return {
    version: stored.version + 1,
    createdAt: stored.createdAt,
    updatedAt: now,
    notifyAt: notifyAtOf(fields, minDate(now, fields.start)),
  };
}
