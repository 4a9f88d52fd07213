// An EventStore in process memory: for tests and for `STORAGE=memory`.
// Every method does its check and its write in one synchronous stretch (no
// await in between), which makes each one atomic on Node's single thread.
import type { AlreadyExists, NotFound, Overlap, VersionMismatch } from "../../domain/errors.js";
import {
  type CalendarEvent,
  type EventFields,
  overlaps,
  sameFields,
  type TimeWindow,
} from "../../domain/event.js";
import { err, ok, type Result } from "../../domain/result.js";
import { type Clock, type EventStore, systemClock } from "../store.js";

export class MemoryEventStore implements EventStore {
  // userId -> eventId -> event. Events are copied in and out so callers can
  // never mutate what is stored.
  readonly #eventsByUser = new Map<string, Map<string, CalendarEvent>>();
  readonly #clock: Clock;

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
    return ok(copy(updated));
  }

  async deleteEvent(userId: string, id: string): Promise<Result<void, NotFound>> {
    const deleted = this.#eventsByUser.get(userId)?.delete(id) ?? false;
    return deleted ? ok(undefined) : err({ kind: "not_found", id });
  }

  async listEvents(userId: string, window: TimeWindow, limit: number): Promise<CalendarEvent[]> {
    const events = this.#eventsByUser.get(userId);
    if (!events) return [];
    return [...events.values()]
      .filter((event) => overlaps(event, window))
      .sort(byStartThenId)
      .slice(0, limit)
      .map(copy);
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

function byStartThenId(a: CalendarEvent, b: CalendarEvent): number {
  return a.start.getTime() - b.start.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
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
