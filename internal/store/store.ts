// The storage port of the calendar. Every implementation (memory, Postgres)
// passes the one contract suite in ./testing/contract.ts.
import type { AlreadyExists, BusyConflict, NotFound, VersionMismatch } from "../domain/errors.js";
import type { CalendarEvent, EventFields, TimeWindow } from "../domain/event.js";
import type { Result } from "../domain/result.js";
import type { FeedRowStore } from "./feed_rows.js";
import type { ListCursor, SyncStore } from "./sync.js";

export interface EventStore extends SyncStore, FeedRowStore {
  /**
   * Stores a new event with version 1. If `id` is already taken by this user,
   * the call is idempotent: identical fields return the stored event,
   * different fields are AlreadyExists. Overlap names the first conflicting
   * event of the same user; the check and the insert are one atomic step.
   */
  createEvent(
    userId: string,
    id: string,
    fields: EventFields,
  ): Promise<Result<CalendarEvent, AlreadyExists | BusyConflict>>;

  getEvent(userId: string, id: string): Promise<Result<CalendarEvent, NotFound>>;

  /**
   * Replaces the fields and bumps the version, atomically with the overlap
   * check (the event never conflicts with itself). With `expectedVersion`,
   * the update applies only if it equals the stored version.
   *
   * Series (see docs/RECURRENCE.md): `id` may be an occurrence's id
   * (recurrence.ts occurrenceId). With scope "this" that occurrence alone
   * changes (an exception is stored; `fields.recurrence` is ignored); with
   * "this_and_following" the series ends before it and a new series with
   * `fields` starts, which is returned. On a series' id the whole series
   * changes; exceptions whose occurrence the new rule no longer has are
   * dropped.
   */
  updateEvent(
    userId: string,
    id: string,
    fields: EventFields,
    expectedVersion: number | undefined,
    scope?: UpdateScope,
  ): Promise<Result<CalendarEvent, NotFound | BusyConflict | VersionMismatch>>;

  /** On an occurrence's id, cancels that occurrence; on a series' id, deletes the series. */
  deleteEvent(userId: string, id: string): Promise<Result<void, NotFound>>;

  /**
   * The user's events and series occurrences that overlap the window,
   * ordered by start then id.
   * Returns at most `limit` events; callers ask for one more than they may
   * answer with, to tell "exactly full" from "truncated". With `after`, only
   * the events that come after it in that order (keyset paging).
   */
  listEvents(
    userId: string,
    window: TimeWindow,
    limit: number,
    after?: ListCursor,
  ): Promise<CalendarEvent[]>;

  /** Resolves when the store can serve requests right now (for /readyz). */
  ping(): Promise<void>;

  close(): Promise<void>;
}

export type UpdateScope = "this" | "this_and_following";

/** The service's notion of "now", injectable so tests control time. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/**
 * Thrown (not returned: it is not a business outcome) when the backing
 * database cannot be reached. The API answers it with UNAVAILABLE so clients
 * know to retry.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** A reminder whose time has come: what the scheduler publishes. */
export interface DueReminder {
  userId: string;
  /** The event's id, or for an occurrence of a series the occurrence's id. */
  eventId: string;
  /** For an occurrence: the series' id and the occurrence's original start. */
  seriesId?: string;
  originalStart?: Date;
  title: string;
  start: Date;
  notifyAt: Date;
}

/** The scheduler's side of the store. Implemented by the same stores as EventStore. */
export interface ReminderStore {
  /**
   * Claims up to `limit` due reminders (notify_at <= now, not sent yet, event
   * not started), oldest first, so that no other scheduler takes them; hands
   * them to `publish`, and marks sent exactly the ones `publish` returns
   * (those the broker confirmed). Claim, publish and mark are one
   * transaction: if the process dies in between, nothing is marked and the
   * reminders are claimed again later (at-least-once).
   *
   * Reminders that fell due but whose event has already started are never
   * sent; they are marked skipped so they stop being scanned.
   */
  dispatchDueReminders(
    now: Date,
    limit: number,
    publish: (due: DueReminder[]) => Promise<DueReminder[]>,
  ): Promise<{ claimed: number; sent: number; skipped: number }>;

  /** Deletes up to `limit` events that ended before `cutoff`; returns how many it deleted. */
  deleteEventsEndedBefore(cutoff: Date, limit: number): Promise<number>;
}
