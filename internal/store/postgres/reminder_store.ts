// The scheduler's side of the Postgres store: dispatching due reminders and
// deleting old events. It shares the pool (the `Sql`) with PostgresEventStore,
// which also exposes these two methods by delegating here.
//
// Pending reminders live in the `reminders` table (migration 0007), kept in
// step with events by triggers: one narrow row per pending reminder of a
// single event or exception, and one per series, its cursor. A dispatch
// claims, deletes and moves those rows only; it reads events (title, start)
// but never writes or locks an events row, so marking produces no events
// row version, no GiST entry and no sync change.
//
// Why dispatch is safe with several schedulers and concurrent writes: the
// claim locks the reminders rows it returns (FOR UPDATE OF r SKIP LOCKED) and
// keeps them locked while `publish` runs, until the transaction commits the
// marks. Another scheduler's claim skips locked rows, so each reminder goes
// to one publisher. An UpdateEvent that moves a claimed reminder has its
// trigger's upsert of the row wait for the commit, then inserts it again
// (re-armed); a DeleteEvent's cascade waits, then finds it gone. Neither the
// claim nor the marks take the per-user advisory lock or any events row lock,
// and SKIP LOCKED never waits, so dispatch cannot deadlock with the writers.
//
// On the embedded PGlite the pool has one connection: while a dispatch
// transaction is open (including during `publish`), every other query of the
// process waits for it. That is correct, but `publish` must never call the
// store itself, or it waits forever for its own transaction.
import type { Sql } from "postgres";
import { REMINDER_GRACE_MS, reminderMissed } from "../../domain/event.js";
import { occurrenceId, Schedule } from "../../domain/recurrence.js";
import type { DueReminder, ReminderStore } from "../store.js";
import type { Db } from "./db.js";
import { unlessUnavailable } from "./errors.js";
import { instant } from "./rows.js";
import { seriesNotifyCursor } from "./series.js";

/** What the dispatch claim returns for each claimed reminder. */
interface DueRow {
  /** Where the locked reminders row version lies; the marks address it by this. */
  ctid: string;
  user_id: string;
  id: string;
  title: string;
  start_ms: number;
  notify_ms: number;
  notify_before_ms: number | null;
  /** Set on a series row, whose reminder is the cursor of its occurrences' reminders. */
  recurrence: string[] | null;
  time_zone: string | null;
  /** Set on an exception row: the reminder is an occurrence's. */
  recurring_event_id: string | null;
  original_start_ms: number | null;
}

/**
 * The dispatch claim, exported so tests can EXPLAIN exactly it: pending
 * reminders due by `now`, oldest first, locked, skipping rows that another
 * transaction holds; each with its event's fields, read through the events
 * primary key (a read: the events row is neither locked nor written).
 *
 * The event is read in a LATERAL subquery with LIMIT 1 (it is the primary
 * key: one row at most) so that Postgres cannot flatten it into a join and
 * pick a hash join over a scan of the whole events table, which it does for
 * a plain join once a claim may take a good part of the pending reminders
 * (seen on PGlite with 120 pending among 15,000 events). Kept a nested loop,
 * the claim reads `limit` reminders in index order and looks each event up
 * by its primary key, whatever the size of either table.
 *
 * Ordered by notify_at alone, the order of the reminders_due index, so the
 * scan stops after `limit` rows. Reminders due at the same instant come in
 * index order. A tie-break on (user_id, id) would make Postgres sort the
 * whole backlog on every pass: with 100,000 reminders due at once, 87 ms a
 * pass instead of 0.3 ms (EXPLAIN ANALYZE, PostgreSQL 15 here).
 */
export function dueRemindersQuery(db: Db, now: Date, limit: number) {
  // Instants are read as exact epoch milliseconds, the same way rows.ts does.
  return db<DueRow[]>`
    select r.ctid::text as ctid, r.user_id, r.event_id as id, e.title,
           round(extract(epoch from e.start_time) * 1000)::float8 as start_ms,
           round(extract(epoch from r.notify_at) * 1000)::float8 as notify_ms,
           e.notify_before_ms::float8 as notify_before_ms, e.recurrence, e.time_zone,
           e.recurring_event_id,
           round(extract(epoch from e.original_start) * 1000)::float8 as original_start_ms
    from reminders r
    cross join lateral (
      select title, start_time, notify_before_ms, recurrence, time_zone,
             recurring_event_id, original_start
      from events
      where user_id = r.user_id and id = r.event_id
      limit 1) e
    where r.notify_at <= ${instant(db, now)}
    order by r.notify_at
    limit ${limit}
    for update of r skip locked`;
}

/**
 * The retention delete, exported so tests can EXPLAIN exactly it: at most
 * `limit` events that ended strictly before `cutoff`, oldest first. Rows
 * another transaction holds (an update) are skipped and deleted by a later
 * batch, so cleanup never waits on them. Events that still have a pending
 * reminder are left for a later batch too: that reminder is long due, so the
 * dispatcher is claiming it or about to (and will skip it, its event having
 * started), and deleting the event now would make this delete wait, through
 * ON DELETE CASCADE, for a dispatch holding the reminder while it publishes.
 *
 * The rows are addressed by ctid, which makes the delete a TID scan of just
 * the rows found: written as "(user_id, id) in (...)", the planner may join
 * the batch against a sequential scan of the whole table instead (it does on
 * a table of a few ten thousand rows). The subquery has locked the rows it
 * returns, so their ctids stay valid until the delete. (A row updated by
 * another transaction between this statement's snapshot and the lock is
 * found at its new ctid, which the snapshot does not see: it is left for a
 * later batch.)
 */
export function endedBeforeDelete(db: Db, cutoff: Date, limit: number) {
  return db`
    delete from events
    where ctid = any(array(
      select ctid from events e
      where end_time < ${instant(db, cutoff)}
        and not exists (
          select from reminders r where r.user_id = e.user_id and r.event_id = e.id)
      order by end_time
      limit ${limit}
      for update skip locked))`;
}

export class PostgresReminderStore implements ReminderStore {
  readonly #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async dispatchDueReminders(
    now: Date,
    limit: number,
    publish: (due: DueReminder[]) => Promise<DueReminder[]>,
  ): Promise<{ claimed: number; sent: number; skipped: number }> {
    if (limit <= 0) return { claimed: 0, sent: 0, skipped: 0 };
    // A failure of `publish` is the broker's, not the database's: it must
    // reach the caller as it was thrown, never as StoreUnavailableError
    // (a broker's ECONNREFUSED looks just like a database's).
    let publishFailure: { error: unknown } | undefined;
    try {
      return await unlessUnavailable("dispatch reminders", () =>
        this.#sql.begin(async (tx) => {
          const rows = await dueRemindersQuery(tx, now, limit);
          const seriesRows = rows.filter((row) => row.recurrence !== null);
          const singleRows = rows.filter((row) => row.recurrence === null);
          // The rule for "too late" lives in the domain, shared with the memory store.
          const missed = (row: DueRow) =>
            reminderMissed(new Date(row.start_ms), new Date(row.notify_ms), now);
          const started = singleRows.filter(missed);
          const due = singleRows.filter((row) => !missed(row));
          // A series row stands for its occurrences whose reminder fell due
          // since its cursor; a series with none left to send is "skipped".
          const occurrences = await dueOccurrences(tx, seriesRows, now);
          const seriesSkipped = seriesRows.filter((row) => !occurrences.has(row));

          if (started.length > 0) await markStatement(tx, started);

          let sent = 0;
          const toPublish = [
            ...due.map((row) => ({ row, reminder: toDueReminder(row) })),
            ...[...occurrences].flatMap(([row, reminders]) =>
              reminders.map((reminder) => ({ row, reminder })),
            ),
          ];
          if (toPublish.length > 0) {
            let confirmed: DueReminder[];
            try {
              confirmed = await publish(toPublish.map((p) => p.reminder));
            } catch (error) {
              // Rethrown so that sql.begin rolls back: nothing is marked,
              // not even the skips, and everything is claimed again later.
              publishFailure = { error };
              throw error;
            }
            // Only reminders this dispatch claimed can be marked (we hold
            // their locks); anything else `publish` returns is ignored.
            const confirmedKeys = new Set(confirmed.map((r) => key(r.userId, r.eventId)));
            const confirmedRows = due.filter((row) =>
              confirmedKeys.has(key(row.user_id, toDueReminder(row).eventId)),
            );
            if (confirmedRows.length > 0) {
              sent = (await markStatement(tx, confirmedRows)).count;
            }
            // A series' cursor moves on only when all its due occurrences went.
            for (const [row, reminders] of occurrences) {
              if (reminders.every((r) => confirmedKeys.has(key(r.userId, r.eventId)))) {
                await advanceCursor(tx, row, now);
                sent += 1;
              }
            }
          }
          for (const row of seriesSkipped) await advanceCursor(tx, row, now);
          return {
            claimed: rows.length,
            sent,
            skipped: started.length + seriesSkipped.length,
          };
        }),
      );
    } catch (error) {
      if (publishFailure) throw publishFailure.error;
      throw error;
    }
  }

  deleteEventsEndedBefore(cutoff: Date, limit: number): Promise<number> {
    return unlessUnavailable("delete old events", async () => {
      if (limit <= 0) return 0;
      const result = await endedBeforeDelete(this.#sql, cutoff, limit);
      return result.count;
    });
  }
}

/**
 * Marks reminders the transaction has claimed (and so locked) as done, sent
 * or skipped alike: their rows are deleted. Exported so tests can EXPLAIN
 * exactly it.
 *
 * The rows are addressed by the ctids the claim returned: a TID scan that
 * touches just those rows. (Named by key, the planner joined the batch
 * against a sequential scan of the whole table once the table was a few ten
 * thousand rows, on every pass.) The ctids stay valid: the claim locked
 * these row versions, so nobody else can update or delete them before we
 * commit, and this statement's fresh snapshot sees them. Passed as one array,
 * the statement text is the same whatever the batch size, so it is prepared
 * once.
 */
export function markStatement(db: Db, rows: readonly { ctid: string }[]) {
  return db`delete from reminders where ctid = any(${rows.map((row) => row.ctid)}::tid[])`;
}

/**
 * When a series' cursor is due, in epoch ms: Infinity once no occurrence's
 * reminder is left to send (or the series has none). For the write that
 * turns an occurrence into an exception, inside its transaction: it waits
 * for a dispatch holding the cursor (FOR SHARE), so it sees where the
 * dispatch left it, as it did when the cursor was on the series' events row.
 */
export async function seriesReminderCursor(
  db: Db,
  userId: string,
  seriesId: string,
): Promise<number> {
  const [row] = await db<{ notify_ms: number }[]>`
    select round(extract(epoch from notify_at) * 1000)::float8 as notify_ms
    from reminders where user_id = ${userId} and event_id = ${seriesId}
    for share`;
  return row ? Number(row.notify_ms) : Number.POSITIVE_INFINITY;
}

function toDueReminder(row: DueRow): DueReminder {
  if (row.recurring_event_id !== null && row.original_start_ms !== null) {
    const originalStart = new Date(row.original_start_ms);
    return {
      userId: row.user_id,
      eventId: occurrenceId(row.recurring_event_id, originalStart),
      seriesId: row.recurring_event_id,
      originalStart,
      title: row.title,
      start: new Date(row.start_ms),
      notifyAt: new Date(row.notify_ms),
    };
  }
  return {
    userId: row.user_id,
    eventId: row.id,
    title: row.title,
    start: new Date(row.start_ms),
    notifyAt: new Date(row.notify_ms),
  };
}

function seriesFields(row: DueRow) {
  return {
    start: new Date(row.start_ms),
    recurrence: row.recurrence ?? [],
    timeZone: row.time_zone ?? "UTC",
    notifyBeforeMs: row.notify_before_ms ?? 0,
  };
}

/**
 * For each claimed series row, the reminders of its occurrences due from
 * its cursor up to `now` and not too late to send, leaving out occurrences
 * that have an exception (those carry their own reminder).
 */
async function dueOccurrences(
  db: Db,
  seriesRows: readonly DueRow[],
  now: Date,
): Promise<Map<DueRow, DueReminder[]>> {
  const result = new Map<DueRow, DueReminder[]>();
  for (const row of seriesRows) {
    const fields = seriesFields(row);
    const notifyBefore = fields.notifyBeforeMs;
    const cursorStart = row.notify_ms + notifyBefore;
    const from = Math.max(cursorStart, now.getTime() - notifyBefore - REMINDER_GRACE_MS);
    const starts = Schedule.of(fields.start, {
      lines: fields.recurrence,
      timeZone: fields.timeZone,
    })
      .startsBetween(new Date(from), new Date(now.getTime() + notifyBefore + 1))
      .filter((start) => !reminderMissed(start, new Date(start.getTime() - notifyBefore), now));
    if (starts.length === 0) continue;
    const overridden = await db<{ ms: number }[]>`
      select round(extract(epoch from original_start) * 1000)::float8 as ms from events
      where user_id = ${row.user_id} and recurring_event_id = ${row.id}
        and original_start >= ${instant(db, new Date(from))}`;
    const skip = new Set(overridden.map((o) => Number(o.ms)));
    const reminders = starts
      .filter((start) => !skip.has(start.getTime()))
      .map((start) => ({
        userId: row.user_id,
        eventId: occurrenceId(row.id, start),
        seriesId: row.id,
        originalStart: start,
        title: row.title,
        start,
        notifyAt: new Date(start.getTime() - notifyBefore),
      }));
    if (reminders.length > 0) result.set(row, reminders);
  }
  return result;
}

/**
 * Moves a claimed series' cursor past `now`: to its next occurrence's
 * reminder, or deletes the row when no occurrence is left.
 */
async function advanceCursor(db: Db, row: DueRow, now: Date): Promise<void> {
  const fields = seriesFields(row);
  const next = seriesNotifyCursor(fields, new Date(now.getTime() + fields.notifyBeforeMs + 1));
  if (next === "infinity" || next === null) {
    await db`delete from reminders where ctid = ${row.ctid}::tid`;
  } else {
    await db`update reminders set notify_at = ${instant(db, next)} where ctid = ${row.ctid}::tid`;
  }
}

function key(userId: string, eventId: string): string {
  return JSON.stringify([userId, eventId]);
}
