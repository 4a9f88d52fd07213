// An EventStore in process memory: for tests and for `STORAGE=memory`.
// Every method does its check and its write in one synchronous stretch (no
// await in between), which makes each one atomic on Node's single thread.
import type { AlreadyExists, NotFound, Overlap, VersionMismatch } from "../../domain/errors.js";
import {
  type CalendarEvent,
  type EventFields,
  eventEnd,
  notifyAt,
  overlaps,
  reminderMissed,
  sameFields,
  type TimeWindow,
} from "../../domain/event.js";
import { err, ok, type Result } from "../../domain/result.js";
import {
  type Clock,
  type DueReminder,
  type EventStore,
  type ReminderStore,
  systemClock,
} from "../store.js";
import type {
  ChangePage,
  EventChange,
  ListCursor,
  SyncPositionExpired,
  SyncStore,
  TombstoneStore,
} from "../sync.js";

/** A user's change log: the memory twin of sync_users and event_changes. */
interface UserChanges {
  last: number;
  purgedThrough: number;
  byEvent: Map<string, { change: number; deleted: boolean; at: Date }>;
}

export class MemoryEventStore implements EventStore, ReminderStore, SyncStore, TombstoneStore {
  // userId -> eventId -> event. Events are copied in and out so callers can
  // never mutate what is stored.
  readonly #eventsByUser = new Map<string, Map<string, CalendarEvent>>();
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
  ): Promise<Result<CalendarEvent, AlreadyExists | Overlap>> {
    const events = this.#userEvents(userId);
    const existing = events.get(id);
    if (existing) {
      return sameFields(existing, fields)
        ? ok(copy(existing))
        : err({ kind: "already_exists", id });
    }
    const conflict = findConflict(events, fields, undefined);
    if (conflict) return err({ kind: "overlap", conflictingId: conflict.id });

    const now = this.#clock();
    const event: CalendarEvent = {
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
    const event = this.#eventsByUser.get(userId)?.get(id);
    return event ? ok(copy(event)) : err({ kind: "not_found", id });
  }

  async updateEvent(
    userId: string,
    id: string,
    fields: EventFields,
    expectedVersion: number | undefined,
  ): Promise<Result<CalendarEvent, NotFound | Overlap | VersionMismatch>> {
    const events = this.#userEvents(userId);
    const stored = events.get(id);
    if (!stored) return err({ kind: "not_found", id });
    if (expectedVersion !== undefined && expectedVersion !== stored.version) {
      return err({ kind: "version_mismatch", expected: expectedVersion, actual: stored.version });
    }
    const conflict = findConflict(events, fields, id);
    if (conflict) return err({ kind: "overlap", conflictingId: conflict.id });

    const updated: CalendarEvent = {
      ...stored,
      ...copyFields(fields),
      updatedAt: this.#clock(),
      version: stored.version + 1,
    };
    events.set(id, updated);
    this.#recordChange(userId, id, false);
    return ok(copy(updated));
  }

  async deleteEvent(userId: string, id: string): Promise<Result<void, NotFound>> {
    const deleted = this.#eventsByUser.get(userId)?.delete(id) ?? false;
    this.#settledReminders.delete(reminderKey(userId, id));
    if (deleted) this.#recordChange(userId, id, true);
    return deleted ? ok(undefined) : err({ kind: "not_found", id });
  }

  async listEvents(
    userId: string,
    window: TimeWindow,
    limit: number,
    after?: ListCursor,
  ): Promise<CalendarEvent[]> {
    const events = this.#eventsByUser.get(userId);
    if (!events) return [];
    return [...events.values()]
      .filter((event) => overlaps(event, window))
      .filter((event) => after === undefined || byStartThenId(event, after) > 0)
      .sort(byStartThenId)
      .slice(0, limit)
      .map(copy);
  }

  async dispatchDueReminders(
    now: Date,
    limit: number,
    publish: (due: DueReminder[]) => Promise<DueReminder[]>,
  ): Promise<{ claimed: number; sent: number; skipped: number }> {
    const candidates: { key: string; version: string; event: CalendarEvent; notifyAt: Date }[] = [];
    for (const events of this.#eventsByUser.values()) {
      for (const event of events.values()) {
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
      .filter((event) => eventEnd(event) < cutoff)
      .sort((a, b) => eventEnd(a).getTime() - eventEnd(b).getTime())
      .slice(0, limit);
    for (const event of ended) {
      this.#eventsByUser.get(event.userId)?.delete(event.id);
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
      .sort(([, a], [, b]) => a.change - b.change);
    const page = pending.slice(0, limit);
    const changes = page.map(([id, entry]): EventChange => {
      const event = this.#eventsByUser.get(userId)?.get(id);
      if (entry.deleted || !event) return { kind: "delete", change: entry.change, id };
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
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  #userEvents(userId: string): Map<string, CalendarEvent> {
    let events = this.#eventsByUser.get(userId);
    if (!events) {
      events = new Map();
      this.#eventsByUser.set(userId, events);
    }
    return events;
  }
}

/** The earliest-starting event that shares time with `fields`, skipping `exceptId`. */
function findConflict(
  events: Map<string, CalendarEvent>,
  fields: EventFields,
  exceptId: string | undefined,
): CalendarEvent | undefined {
  const interval = {
    start: fields.start,
    end: new Date(fields.start.getTime() + fields.durationMs),
  };
  return [...events.values()]
    .filter((event) => event.id !== exceptId && overlaps(event, interval))
    .sort(byStartThenId)[0];
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
  };
}

function copy(event: CalendarEvent): CalendarEvent {
  return {
    ...event,
    start: new Date(event.start),
    createdAt: new Date(event.createdAt),
    updatedAt: new Date(event.updatedAt),
  };
}
