// An EventStore in process memory: for tests and for `STORAGE=memory`.
// Every method does its check and its write in one synchronous stretch (no
// await in between), which makes each one atomic on Node's single thread.
import { randomUUID } from "node:crypto";
import {
  type BusyCandidate,
  type BusyInterval,
  type BusySeries,
  findBusyConflict,
} from "../../domain/busy.js";
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
  overlaps,
  REMINDER_GRACE_MS,
  reminderMissed,
  sameFields,
  type TimeWindow,
} from "../../domain/event.js";
import { occurrenceOf } from "../../domain/occurrence.js";
import {
  occurrenceId,
  parseOccurrenceId,
  type Recurrence,
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
  systemClock,
  type UpdateScope,
} from "../store.js";
import type {
  ChangePage,
  EventChange,
  ListCursor,
  SyncPositionExpired,
  SyncStore,
  TombstoneStore,
} from "../sync.js";

// Series and their exceptions are kept as events too, as the Postgres store
// keeps them as rows: a series under its id, an exception (a moved, edited
// or cancelled occurrence) under its occurrence id.
interface StoredEvent extends CalendarEvent {
  /** A cancelled occurrence: kept so the series does not generate it. */
  cancelled?: boolean;
}

/** A user's change log: the memory twin of sync_users and event_changes. */
interface UserChanges {
  last: number;
  purgedThrough: number;
  byEvent: Map<string, { change: number; deleted: boolean; at: Date }>;
}

export class MemoryEventStore implements EventStore, ReminderStore, SyncStore, TombstoneStore {
  // userId -> eventId -> event. Events are copied in and out so callers can
  // never mutate what is stored.
  readonly #eventsByUser = new Map<string, Map<string, StoredEvent>>();
  readonly #clock: Clock;
  // Reminder bookkeeping, keyed by reminderKey(): the reminder "version" (start
  // and offset) that was sent or skipped. Moving the event changes the
  // version, which re-arms the reminder without any extra step.
  readonly #settledReminders = new Map<string, string>();
  // Reminders a dispatch is publishing right now: a concurrent dispatch must
  // not take them too (the memory twin of FOR UPDATE SKIP LOCKED).
  readonly #claimedReminders = new Set<string>();
  // Change numbers are taken in the same synchronous stretch as the write,
  // so they are in commit order by construction.
  readonly #changesByUser = new Map<string, UserChanges>();

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async createEvent(
    userId: string,
    id: string,
    fields: EventFields,
  ): Promise<Result<CalendarEvent, AlreadyExists | BusyConflict>> {
    const events = this.#userEvents(userId);
    const existing = events.get(id);
    if (existing) {
      return sameFields(existing, fields)
        ? ok(copy(existing))
        : err({ kind: "already_exists", id });
    }
    const conflict = findConflict(events, fields, new Set());
    if (conflict) return err(conflict);

    const now = this.#clock();
    const event: StoredEvent = {
      ...copyFields(fields),
      id,
      userId,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    events.set(id, event);
    this.#recordChange(userId, id, false);
    return ok(copy(event));
  }

  async getEvent(userId: string, id: string): Promise<Result<CalendarEvent, NotFound>> {
    const events = this.#eventsByUser.get(userId);
    const found = events && findEvent(events, id);
    return found ? ok(copy(found.event)) : err({ kind: "not_found", id });
  }

  async updateEvent(
    userId: string,
    id: string,
    fields: EventFields,
    expectedVersion: number | undefined,
    scope: UpdateScope = "this",
  ): Promise<Result<CalendarEvent, NotFound | BusyConflict | VersionMismatch>> {
    const events = this.#userEvents(userId);
    const found = findEvent(events, id);
    if (!found) return err({ kind: "not_found", id });
    const stored = found.event;
    if (expectedVersion !== undefined && expectedVersion !== stored.version) {
      return err({ kind: "version_mismatch", expected: expectedVersion, actual: stored.version });
    }
    const now = this.#clock();

    if (found.series && found.originalStart) {
      const series = found.series;
      const originalStart = found.originalStart;
      const schedule = Schedule.of(series.start, recurrenceOf(series));
      const isFirst = schedule.first()?.getTime() === originalStart.getTime();
      if (scope === "this_and_following" && !isFirst) {
        // Split: the series ends before this occurrence, a new one starts with it.
        const kept = recurrenceEndingBefore(recurrenceOf(series), originalStart);
        const newFields: EventFields = isSeries(fields)
          ? fields
          : {
              ...fields,
              recurrence: recurrenceFrom(recurrenceOf(series), schedule, originalStart).lines,
              timeZone: fields.timeZone ?? series.timeZone,
            };
        const truncated: StoredEvent = {
          ...series,
          recurrence: kept.lines,
          updatedAt: now,
          version: series.version + 1,
        };
        const dropped = exceptionsOf(events, series.id).filter(
          (e) => (e.originalStart as Date) >= originalStart,
        );
        const skip = new Set([series.id, ...dropped.map((e) => e.id)]);
        const others = busyOf(events, skip);
        const truncatedBusy = toBusySeries(truncated, events, skip);
        const conflict = findBusyConflict(candidateOf(newFields, new Set()), others.singles, [
          ...others.series,
          truncatedBusy,
        ]);
        if (conflict) return err(conflict);
        for (const e of dropped) {
          events.delete(e.id);
          this.#recordChange(userId, e.id, true);
        }
        events.set(series.id, truncated);
        this.#recordChange(userId, series.id, false);
        const created: StoredEvent = {
          ...copyFields(newFields),
          id: randomUUID(),
          userId,
          createdAt: now,
          updatedAt: now,
          version: 1,
        };
        events.set(created.id, created);
        this.#recordChange(userId, created.id, false);
        return ok(copy(created));
      }
      if (scope === "this_and_following") {
        // "This and following" from the first occurrence is the whole series.
        return this.#updateSeries(events, series, fields, now);
      }
      // One occurrence: store (or replace) its exception.
      const exceptionFields: EventFields = {
        ...fields,
        recurrence: undefined,
        timeZone: fields.timeZone ?? series.timeZone,
      };
      const conflict = findConflict(events, exceptionFields, new Set([found.event.id]), {
        seriesId: series.id,
        originalStart,
      });
      if (conflict) return err(conflict);
      const exception: StoredEvent = {
        ...copyFields(exceptionFields),
        id: found.event.id,
        userId,
        recurringEventId: series.id,
        originalStart: new Date(originalStart),
        createdAt: found.exception?.createdAt ?? now,
        updatedAt: now,
        version: stored.version + 1,
      };
      events.set(exception.id, exception);
      this.#recordChange(userId, exception.id, false);
      return ok(copy(exception));
    }
    if (isSeries(stored)) return this.#updateSeries(events, stored, fields, now);

    const conflict = findConflict(events, fields, new Set([id]));
    if (conflict) return err(conflict);
    const updated: StoredEvent = {
      ...stored,
      ...copyFields(fields),
      updatedAt: now,
      version: stored.version + 1,
    };
    events.set(id, updated);
    this.#recordChange(userId, id, false);
    return ok(copy(updated));
  }

  #updateSeries(
    events: Map<string, StoredEvent>,
    series: StoredEvent,
    fields: EventFields,
    now: Date,
  ): Result<CalendarEvent, BusyConflict> {
    // Exceptions survive only where the new rule still has their occurrence.
    const exceptions = exceptionsOf(events, series.id);
    const schedule = isSeries(fields) ? Schedule.of(fields.start, recurrenceOf(fields)) : undefined;
    const dropped = exceptions.filter((e) => !schedule?.hasOccurrenceAt(e.originalStart as Date));
    const kept = exceptions.filter((e) => !dropped.includes(e));
    const skip = new Set([series.id, ...exceptions.map((e) => e.id)]);
    const others = busyOf(events, skip);
    const overridden = new Set(kept.map((e) => (e.originalStart as Date).getTime()));
    const keptBusy = kept
      .filter((e) => !e.cancelled)
      .map((e) => ({ id: e.id, start: e.start, end: eventEnd(e) }));
    // The new occurrences must clear everything else, the kept exceptions included.
    const conflict = findBusyConflict(
      candidateOf(fields, overridden),
      [...others.singles, ...keptBusy],
      others.series,
    );
    if (conflict) return err(conflict);
    for (const e of dropped) {
      events.delete(e.id);
      this.#recordChange(series.userId, e.id, true);
    }
    const updated: StoredEvent = {
      ...series,
      ...copyFields(fields),
      updatedAt: now,
      version: series.version + 1,
    };
    if (!isSeries(fields)) {
      delete updated.recurrence;
    }
    events.set(series.id, updated);
    this.#recordChange(series.userId, series.id, false);
    return ok(copy(updated));
  }

  async deleteEvent(userId: string, id: string): Promise<Result<void, NotFound>> {
    const events = this.#eventsByUser.get(userId);
    const found = events && findEvent(events, id);
    if (!events || !found) return err({ kind: "not_found", id });
    this.#settledReminders.delete(reminderKey(userId, id));
    if (found.series && found.originalStart) {
      // Cancel the occurrence: an exception that blocks the rule from generating it.
      const now = this.#clock();
      events.set(id, {
        ...found.event,
        recurrence: undefined,
        recurringEventId: found.series.id,
        originalStart: new Date(found.originalStart),
        cancelled: true,
        createdAt: found.exception?.createdAt ?? now,
        updatedAt: now,
        version: found.event.version + 1,
      });
      // The exception row lives on (as in Postgres): a full sync reports it too.
      this.#recordChange(userId, id, false);
      return ok(undefined);
    }
    events.delete(id);
    this.#recordChange(userId, id, true);
    for (const e of exceptionsOf(events, id)) {
      events.delete(e.id);
      this.#recordChange(userId, e.id, true);
    }
    return ok(undefined);
  }

  async listEvents(
    userId: string,
    window: TimeWindow,
    limit: number,
    after?: ListCursor,
  ): Promise<CalendarEvent[]> {
    const events = this.#eventsByUser.get(userId);
    if (!events) return [];
    const listed: CalendarEvent[] = [];
    for (const event of events.values()) {
      if (event.cancelled) continue;
      if (isSeries(event)) {
        listed.push(...occurrencesIn(events, event, window));
      } else if (overlaps(event, window)) {
        listed.push(event);
      }
    }
    return listed
      .filter((event) => after === undefined || byStartThenId(event, after) > 0)
      .sort(byStartThenId)
      .slice(0, limit)
      .map(copy);
  }

  async listFeedRows(userId: string, window: TimeWindow, limit: number): Promise<FeedRow[]> {
    const events = this.#eventsByUser.get(userId);
    if (!events) return [];
    const listed = [...events.values()].filter((event) => {
      if (event.recurringEventId) return false;
      if (!isSeries(event)) return overlaps(event, window);
      // As Postgres keeps it: from DTSTART to the end of the last occurrence.
      const last = Schedule.of(event.start, recurrenceOf(event)).last();
      const end = last === undefined ? Number.POSITIVE_INFINITY : last.getTime() + event.durationMs;
      return event.start < window.end && end > window.start.getTime();
    });
    const seriesIds = new Set(listed.filter(isSeries).map((event) => event.id));
    const exceptions = [...events.values()].filter(
      (event) => event.recurringEventId !== undefined && seriesIds.has(event.recurringEventId),
    );
    return [...listed, ...exceptions]
      .sort(byStartThenId)
      .slice(0, limit)
      .map((event) => ({ event: copy(event), cancelled: event.cancelled === true }));
  }

  async dispatchDueReminders(
    now: Date,
    limit: number,
    publish: (due: DueReminder[]) => Promise<DueReminder[]>,
  ): Promise<{ claimed: number; sent: number; skipped: number }> {
    const candidates: { key: string; version: string; event: CalendarEvent; notifyAt: Date }[] = [];
    for (const events of this.#eventsByUser.values()) {
      for (const event of [...events.values()].flatMap((e) => remindable(events, e, now))) {
        const at = notifyAt(event);
        const key = reminderKey(event.userId, event.id);
        const version = reminderVersion(event);
        if (!at || at > now || this.#claimedReminders.has(key)) continue;
        if (this.#settledReminders.get(key) === version) continue;
        candidates.push({ key, version, event: copy(event), notifyAt: at });
      }
    }
    candidates.sort(
      (a, b) =>
        a.notifyAt.getTime() - b.notifyAt.getTime() ||
        compare(a.event.userId, b.event.userId) ||
        compare(a.event.id, b.event.id),
    );
    const claimed = candidates.slice(0, limit);
    const started = claimed.filter((c) => reminderMissed(c.event.start, c.notifyAt, now));
    const due = claimed.filter((c) => !reminderMissed(c.event.start, c.notifyAt, now));
    for (const skipped of started) this.#settledReminders.set(skipped.key, skipped.version);
    for (const c of due) this.#claimedReminders.add(c.key);
    try {
      const published = await publish(
        due.map((c) => ({
          userId: c.event.userId,
          eventId: c.event.id,
          ...(c.event.recurringEventId && c.event.originalStart
            ? { seriesId: c.event.recurringEventId, originalStart: c.event.originalStart }
            : {}),
          title: c.event.title,
          start: c.event.start,
          notifyAt: c.notifyAt,
        })),
      );
      const sentKeys = new Set(published.map((r) => reminderKey(r.userId, r.eventId)));
      const sent = due.filter((c) => sentKeys.has(c.key));
      for (const c of sent) this.#settledReminders.set(c.key, c.version);
      return { claimed: claimed.length, sent: sent.length, skipped: started.length };
    } finally {
      for (const c of due) this.#claimedReminders.delete(c.key);
    }
  }

  async deleteEventsEndedBefore(cutoff: Date, limit: number): Promise<number> {
    const ended = [...this.#eventsByUser.values()]
      .flatMap((events) => [...events.values()])
      .filter((event) => lastEnd(event) < cutoff)
      .sort((a, b) => lastEnd(a).getTime() - lastEnd(b).getTime())
      .slice(0, limit);
    for (const event of ended) {
      const events = this.#eventsByUser.get(event.userId);
      events?.delete(event.id);
      if (events && isSeries(event))
        for (const e of exceptionsOf(events, event.id)) {
          events.delete(e.id);
          this.#recordChange(event.userId, e.id, true);
        }
      this.#settledReminders.delete(reminderKey(event.userId, event.id));
      this.#recordChange(event.userId, event.id, true);
    }
    return ended.length;
  }

  async readChanges(
    userId: string,
    after: number,
    limit: number,
    mode: "full" | "incremental",
  ): Promise<Result<ChangePage, SyncPositionExpired>> {
    const log = this.#changesByUser.get(userId);
    const last = log?.last ?? 0;
    if (mode === "incremental" && (after < (log?.purgedThrough ?? 0) || after > last)) {
      return err({ kind: "sync_position_expired" });
    }
    const pending = [...(log?.byEvent ?? [])]
      .filter(([, entry]) => entry.change > after && (mode === "incremental" || !entry.deleted))
      .filter(([id, entry]) => !(log && supersededDeletion(log, id, entry)))
      .sort(([, a], [, b]) => a.change - b.change);
    const page = pending.slice(0, limit);
    const changes = page.map(([id, entry]): EventChange => {
      const event = this.#eventsByUser.get(userId)?.get(id);
      // A cancelled occurrence is reported as a deletion of its id (sync.ts).
      if (entry.deleted || !event || event.cancelled) {
        return { kind: "delete", change: entry.change, id };
      }
      return { kind: "upsert", change: entry.change, event: copy(event) };
    });
    const complete = pending.length <= limit;
    const position = complete ? Math.max(after, last) : (changes.at(-1)?.change ?? after);
    return ok({ changes, position, complete });
  }

  async syncPosition(userId: string): Promise<number> {
    return this.#changesByUser.get(userId)?.last ?? 0;
  }

  async purgeTombstones(cutoff: Date, limit: number): Promise<number> {
    const old = [...this.#changesByUser]
      .flatMap(([userId, log]) =>
        [...log.byEvent]
          .filter(([, entry]) => entry.deleted && entry.at < cutoff)
          .map(([id, entry]) => ({ userId, log, id, entry })),
      )
      .sort((a, b) => a.entry.at.getTime() - b.entry.at.getTime())
      .slice(0, limit);
    for (const { log, id, entry } of old) {
      log.byEvent.delete(id);
      log.purgedThrough = Math.max(log.purgedThrough, entry.change);
    }
    return old.length;
  }

  #recordChange(userId: string, id: string, deleted: boolean): void {
    let log = this.#changesByUser.get(userId);
    if (!log) {
      log = { last: 0, purgedThrough: 0, byEvent: new Map() };
      this.#changesByUser.set(userId, log);
    }
    log.last += 1;
    log.byEvent.set(id, { change: log.last, deleted, at: this.#clock() });
    const events = this.#eventsByUser.get(userId);
    const event = events?.get(id);
    if (deleted || !events || !event || !isSeries(event)) return;
    // A series write: its exceptions (cancellations included) get numbers
    // after it, in their old order, as migration 0008's trigger does (see
    // there why).
    const exceptions = exceptionsOf(events, id)
      .map((e) => ({ id: e.id, change: log.byEvent.get(e.id)?.change ?? 0 }))
      .sort((a, b) => a.change - b.change);
    for (const e of exceptions) {
      log.last += 1;
      log.byEvent.set(e.id, { change: log.last, deleted: false, at: this.#clock() });
    }
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  #userEvents(userId: string): Map<string, StoredEvent> {
    let events = this.#eventsByUser.get(userId);
    if (!events) {
      events = new Map();
      this.#eventsByUser.set(userId, events);
    }
    return events;
  }
}

/**
 * A deletion of an occurrence id (a dropped exception's tombstone) that a
 * later change of its series makes moot: the series replaces what a client
 * knows of its occurrences (see sync.ts). Left out, as Postgres leaves it out.
 */
function supersededDeletion(
  log: UserChanges,
  id: string,
  entry: { change: number; deleted: boolean },
): boolean {
  const occurrence = entry.deleted ? parseOccurrenceId(id) : undefined;
  const series = occurrence && log.byEvent.get(occurrence.seriesId);
  return series !== undefined && series.change > entry.change;
}

/**
 * What can carry a reminder due around `now`: a single event or exception
 * as it is, a series as its occurrences whose reminder may be due (notify_at
 * <= now and not yet too late to send).
 */
function remindable(
  events: Map<string, StoredEvent>,
  event: StoredEvent,
  now: Date,
): StoredEvent[] {
  if (event.cancelled) return [];
  if (!isSeries(event)) return [event];
  if (event.notifyBeforeMs === undefined) return [];
  const window = {
    start: new Date(now.getTime() - event.notifyBeforeMs - REMINDER_GRACE_MS + event.durationMs),
    end: new Date(now.getTime() + event.notifyBeforeMs + 1),
  };
  return occurrencesIn(events, event, window).filter(
    (o) => !reminderMissed(o.start, notifyAt(o) as Date, now),
  );
}

/** When the event, or a series' last occurrence, ends; never for an endless series. */
function lastEnd(event: StoredEvent): Date {
  if (!isSeries(event)) return eventEnd(event);
  const last = Schedule.of(event.start, recurrenceOf(event)).last();
  return last ? new Date(last.getTime() + event.durationMs) : new Date(8.64e15);
}

/** Where an id leads: a stored event, or an occurrence of a series (stored as an exception or not). */
interface Found {
  event: StoredEvent;
  series?: StoredEvent;
  originalStart?: Date;
  exception?: StoredEvent;
}

function findEvent(events: Map<string, StoredEvent>, id: string): Found | undefined {
  const occurrence = parseOccurrenceId(id);
  if (!occurrence) {
    const event = events.get(id);
    return event && !event.recurringEventId ? { event } : undefined;
  }
  const series = events.get(occurrence.seriesId);
  if (!series || !isSeries(series)) return undefined;
  const exception = events.get(id);
  if (exception) {
    return exception.cancelled
      ? undefined
      : { event: exception, series, originalStart: occurrence.originalStart, exception };
  }
  const schedule = Schedule.of(series.start, recurrenceOf(series));
  if (!schedule.hasOccurrenceAt(occurrence.originalStart)) return undefined;
  return {
    event: occurrenceOf(series, occurrence.originalStart),
    series,
    originalStart: occurrence.originalStart,
  };
}

/** The series' generated occurrences in the window (exceptions are listed as events). */
function occurrencesIn(
  events: Map<string, StoredEvent>,
  series: StoredEvent,
  window: TimeWindow,
): StoredEvent[] {
  const overridden = new Set(
    exceptionsOf(events, series.id).map((e) => (e.originalStart as Date).getTime()),
  );
  return Schedule.of(series.start, recurrenceOf(series))
    .startsBetween(new Date(window.start.getTime() - series.durationMs + 1), window.end)
    .filter((start) => !overridden.has(start.getTime()))
    .map((start) => occurrenceOf(series, start));
}

function exceptionsOf(events: Map<string, StoredEvent>, seriesId: string): StoredEvent[] {
  return [...events.values()].filter((e) => e.recurringEventId === seriesId);
}

function recurrenceOf(event: Pick<EventFields, "recurrence" | "timeZone">): Recurrence {
  return { lines: [...(event.recurrence ?? [])], timeZone: event.timeZone ?? "UTC" };
}

function toBusySeries(
  series: StoredEvent,
  events: Map<string, StoredEvent>,
  skip: ReadonlySet<string> = new Set(),
): BusySeries {
  return {
    id: series.id,
    start: series.start,
    durationMs: series.durationMs,
    recurrence: recurrenceOf(series),
    overridden: new Set(
      exceptionsOf(events, series.id)
        .filter((e) => !skip.has(e.id))
        .map((e) => (e.originalStart as Date).getTime()),
    ),
    occurrenceId: (start) => occurrenceId(series.id, start),
  };
}

/** The user's busy time, leaving out the events in `skip`. */
function busyOf(
  events: Map<string, StoredEvent>,
  skip: ReadonlySet<string>,
  extraOverride?: { seriesId: string; originalStart: Date },
): { singles: BusyInterval[]; series: BusySeries[] } {
  const singles: BusyInterval[] = [];
  const series: BusySeries[] = [];
  for (const event of events.values()) {
    if (skip.has(event.id) || event.cancelled) continue;
    if (isSeries(event)) {
      const busy = toBusySeries(event, events, skip);
      if (extraOverride?.seriesId === event.id) {
        busy.overridden = new Set([...busy.overridden, extraOverride.originalStart.getTime()]);
      }
      series.push(busy);
    } else singles.push({ id: event.id, start: event.start, end: eventEnd(event) });
  }
  return { singles, series };
}

function candidateOf(fields: EventFields, overridden: ReadonlySet<number>): BusyCandidate {
  return isSeries(fields)
    ? {
        kind: "series",
        start: fields.start,
        durationMs: fields.durationMs,
        recurrence: recurrenceOf(fields),
        overridden,
      }
    : { kind: "single", start: fields.start, end: eventEnd(fields) };
}

/**
 * The first event or occurrence that `fields` would share time with, leaving
 * out the events in `skip` (and, for an occurrence being edited, its own
 * generated self).
 */
function findConflict(
  events: Map<string, StoredEvent>,
  fields: EventFields,
  skip: ReadonlySet<string>,
  self?: { seriesId: string; originalStart: Date },
): BusyConflict | undefined {
  const busy = busyOf(events, skip, self);
  return findBusyConflict(candidateOf(fields, new Set()), busy.singles, busy.series);
}

function byStartThenId(
  a: Pick<CalendarEvent, "start" | "id">,
  b: Pick<CalendarEvent, "start" | "id">,
): number {
  return a.start.getTime() - b.start.getTime() || compare(a.id, b.id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function reminderKey(userId: string, eventId: string): string {
  return JSON.stringify([userId, eventId]);
}

/** What a sent reminder was sent for: changing either re-arms it. */
function reminderVersion(event: CalendarEvent): string {
  return `${event.start.getTime()}/${event.notifyBeforeMs}`;
}

function copyFields(fields: EventFields): EventFields {
  return {
    title: fields.title,
    start: new Date(fields.start),
    durationMs: fields.durationMs,
    description: fields.description,
    notifyBeforeMs: fields.notifyBeforeMs,
    ...(isSeries(fields) ? { recurrence: [...(fields.recurrence ?? [])] } : {}),
    ...(fields.timeZone === undefined ? {} : { timeZone: fields.timeZone }),
  };
}

function copy(event: StoredEvent): CalendarEvent {
  const { cancelled: _, ...rest } = event;
  const copied: CalendarEvent = {
    ...rest,
    start: new Date(event.start),
    createdAt: new Date(event.createdAt),
    updatedAt: new Date(event.updatedAt),
  };
  if (event.recurrence !== undefined) copied.recurrence = [...event.recurrence];
  if (event.originalStart !== undefined) copied.originalStart = new Date(event.originalStart);
  return copied;
}
