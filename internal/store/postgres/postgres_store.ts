// The EventStore on Postgres (a real server, or embedded PGlite behind a
// socket: the same SQL either way). Queries are tagged templates only, so
// every value travels as a bind parameter.
//
// Busy time is guarded by the events_no_overlap exclusion constraint, which
// holds whatever the application does. On top of it, every write first takes
// a transaction-scoped advisory lock on its user: writes of one user then run
// one after another, so a create can check for a conflict and insert without
// racing (and name the conflicting event), and two writers of one user never
// wait on each other's index entries, which is how concurrent inserts under
// an exclusion constraint deadlock. Writes of different users do not contend.
import type { Sql } from "postgres";
import type { AlreadyExists, NotFound, Overlap, VersionMismatch } from "../../domain/errors.js";
import {
  type CalendarEvent,
  type EventFields,
  eventEnd,
  notifyAt,
  sameFields,
  type TimeWindow,
} from "../../domain/event.js";
import { err, ok, type Result } from "../../domain/result.js";
import {
  type Clock,
  type DueReminder,
  type EventStore,
  type ReminderStore,
  StoreUnavailableError,
  systemClock,
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
  withinDeadline,
} from "./call_deadline.js";
import type { Db } from "./db.js";
import { errorMessage, hasSqlState, SqlState, unlessUnavailable } from "./errors.js";
import { PostgresReminderStore } from "./reminder_store.js";
import { type EventRow, eventColumns, instant, toEvent } from "./rows.js";
import * as sync from "./sync_store.js";

// First key of the two-key advisory lock space, reserved for per-user write
// locks (the migration runner uses the one-key space, which is disjoint).
const USER_WRITE_LOCK = 0x63616c; // "cal"

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
  readonly #sql: Sql;
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
    } = {},
  ) {
    this.#sql = sql;
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

  createEvent(
    userId: string,
    id: string,
    fields: EventFields,
  ): Promise<Result<CalendarEvent, AlreadyExists | Overlap>> {
    type Created = Result<CalendarEvent, AlreadyExists | Overlap>;
    return this.#call("create event", (deadline) =>
      retryOnLostRace(() =>
        inTransaction(this.#sql, deadline, async (tx): Promise<Created> => {
          await lockUser(tx, deadline, userId);
          deadline.limit(tx);
          const [existing] = await tx<EventRow[]>`
            select ${eventColumns(tx)} from events where user_id = ${userId} and id = ${id}`;
          if (existing) {
            const stored = toEvent(existing);
            return sameFields(stored, fields) ? ok(stored) : err({ kind: "already_exists", id });
          }
          deadline.limit(tx);
          const conflictingId = await findConflict(tx, userId, fields, undefined);
          if (conflictingId) return err({ kind: "overlap", conflictingId });

          const now = this.#clock();
          const reminder = notifyAt(fields);
          deadline.limit(tx);
          const [row] = await tx<EventRow[]>`
            insert into events (
              user_id, id, title, description, start_time, end_time,
              notify_before_ms, notify_at, created_at, updated_at, version)
            values (
              ${userId}, ${id}, ${fields.title}, ${fields.description ?? null},
              ${instant(tx, fields.start)}, ${instant(tx, eventEnd(fields))},
              ${fields.notifyBeforeMs ?? null}::int8,
              ${reminder ? instant(tx, reminder) : null},
              ${instant(tx, now)}, ${instant(tx, now)}, 1)
            returning ${eventColumns(tx)}`;
          return ok(toEvent(returned(row)));
        }),
      ),
    );
  }

  getEvent(userId: string, id: string): Promise<Result<CalendarEvent, NotFound>> {
    return this.#call("get event", async (deadline) => {
      const [row] = await inReadTransaction(
        this.#sql,
        deadline,
        (db) => db<EventRow[]>`
          select ${eventColumns(db)} from events where user_id = ${userId} and id = ${id}`,
      );
      return row ? ok(toEvent(row)) : err({ kind: "not_found", id });
    });
  }

  updateEvent(
    userId: string,
    id: string,
    fields: EventFields,
    expectedVersion: number | undefined,
  ): Promise<Result<CalendarEvent, NotFound | Overlap | VersionMismatch>> {
    type Outcome = Result<CalendarEvent, NotFound | Overlap | VersionMismatch>;
    return this.#call("update event", async (deadline) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await inTransaction(this.#sql, deadline, async (tx): Promise<Outcome> => {
            await lockUser(tx, deadline, userId);
            const reminder = notifyAt(fields);
            const start = instant(tx, fields.start);
            const notifyBefore = fields.notifyBeforeMs ?? null;
            const expected = expectedVersion ?? null;
            // One conditional statement: the version check, the write and the
            // exclusion check happen together. A reminder already sent (or
            // skipped, its event having started) stays so unless the update
            // moves it (new start or new offset): then it is due again. A
            // dispatch holding the row makes this wait for its commit, so
            // its mark cannot land after (and undo) the re-arm.
            deadline.limit(tx);
            const [row] = await tx<EventRow[]>`
              update events set
                title = ${fields.title},
                description = ${fields.description ?? null},
                start_time = ${start},
                end_time = ${instant(tx, eventEnd(fields))},
                notify_before_ms = ${notifyBefore}::int8,
                notify_at = ${reminder ? instant(tx, reminder) : null},
                reminder_sent_at = case
                  when start_time = ${start}
                    and notify_before_ms is not distinct from ${notifyBefore}::int8
                  then reminder_sent_at
                end,
                reminder_skipped_at = case
                  when start_time = ${start}
                    and notify_before_ms is not distinct from ${notifyBefore}::int8
                  then reminder_skipped_at
                end,
                updated_at = ${instant(tx, this.#clock())},
                version = version + 1
              where user_id = ${userId} and id = ${id}
                and (${expected}::int4 is null or version = ${expected}::int4)
              returning ${eventColumns(tx)}`;
            if (row) return ok(toEvent(row));
            // Nothing matched: tell a missing event from a stale version.
            deadline.limit(tx);
            const [current] = await tx<{ version: number }[]>`
              select version from events where user_id = ${userId} and id = ${id}`;
            if (!current || expectedVersion === undefined) return err({ kind: "not_found", id });
            return err({
              kind: "version_mismatch",
              expected: expectedVersion,
              actual: current.version,
            });
          });
        } catch (error) {
          if (hasSqlState(error, SqlState.exclusionViolation)) {
            // The update would overlap another event. The transaction is
            // aborted, so look the conflict up afresh on the pool.
            const [conflicting] = await inReadTransaction(this.#sql, deadline, (db) =>
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

  deleteEvent(userId: string, id: string): Promise<Result<void, NotFound>> {
    // A single statement, but in a transaction all the same: one that the
    // deadline can keep from committing. It needs no user lock, as removing
    // an event cannot create an overlap.
    return this.#call("delete event", (deadline) =>
      inTransaction(this.#sql, deadline, async (tx): Promise<Result<void, NotFound>> => {
        deadline.limit(tx);
        const deleted = await tx`
          delete from events where user_id = ${userId} and id = ${id} returning id`;
        return deleted.length > 0 ? ok(undefined) : err({ kind: "not_found", id });
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
      const rows = await inReadTransaction(this.#sql, deadline, (db) =>
        eventsInWindow(db, userId, window, limit, after),
      );
      return rows.map(toEvent);
    });
  }

  readChanges(
    userId: string,
    after: number,
    limit: number,
    mode: "full" | "incremental",
  ): Promise<Result<ChangePage, SyncPositionExpired>> {
    return this.#call("read changes", async (deadline) => {
      const rows = await inReadTransaction(this.#sql, deadline, (db) =>
        sync.changesAfter(db, userId, after, limit + 1, mode === "incremental"),
      );
      return sync.changePage(rows, after, limit, mode);
    });
  }

  syncPosition(userId: string): Promise<number> {
    return this.#call("read sync position", async (deadline) => {
      const rows = await inReadTransaction(this.#sql, deadline, (db) =>
        sync.syncPositionQuery(db, userId),
      );
      return Number(rows[0]?.last_change ?? 0);
    });
  }

  purgeTombstones(cutoff: Date, limit: number): Promise<number> {
    // The scheduler's side: no deadline, like deleteEventsEndedBefore.
    return unlessUnavailable("purge tombstones", () =>
      sync.purgeTombstones(this.#sql, cutoff, limit),
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
          await this.#sql`select 1`;
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
    await this.#sql.end({ timeout: 5 });
  }
}

/** The query behind listEvents; exported so tests can EXPLAIN exactly it. */
export function eventsInWindow(
  db: Db,
  userId: string,
  window: TimeWindow,
  limit: number,
  after?: ListCursor,
) {
  const afterCursor = after
    ? db`and (start_time, id) > (${instant(db, after.start)}, ${after.id}::uuid)`
    : db``;
  return db<EventRow[]>`
    select ${eventColumns(db)} from events
    where ${overlapping(db, userId, window)} ${afterCursor}
    order by start_time, id
    limit ${limit}`;
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

/** The earliest event (by start, then id) of the user that `fields` would overlap. */
async function findConflict(
  db: Db,
  userId: string,
  fields: EventFields,
  exceptId: string | undefined,
): Promise<string | undefined> {
  const [row] = await conflictsWith(db, userId, fields, exceptId);
  return row?.id;
}

/** The query behind findConflict: at most one row. */
function conflictsWith(db: Db, userId: string, fields: EventFields, exceptId: string | undefined) {
  const window = { start: fields.start, end: eventEnd(fields) };
  return db<{ id: string }[]>`
    select id from events
    where ${overlapping(db, userId, window)}
      and (${exceptId ?? null}::uuid is null or id <> ${exceptId ?? null}::uuid)
    order by start_time, id
    limit 1`;
}

async function lockUser(tx: Db, deadline: CallDeadline, userId: string): Promise<void> {
  deadline.limit(tx);
  await tx`select pg_advisory_xact_lock(${USER_WRITE_LOCK}::int4, hashtext(${userId}))`;
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

function returned(row: EventRow | undefined): EventRow {
  if (!row) throw new Error("insert ... returning produced no row");
  return row;
}
