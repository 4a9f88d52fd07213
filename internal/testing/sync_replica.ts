// A client's copy of one user's calendar, built from SyncEvents/WatchEvents
// changes alone, by the rules the README ("Sync and live changes") gives
// clients. Store contract tests feed it domain events, API tests protobuf
// events: it only needs ids, and the expansion below needs domain events.
import type { CalendarEvent, TimeWindow } from "../domain/event.js";
import { isSeries, overlaps } from "../domain/event.js";
import { occurrenceOf } from "../domain/occurrence.js";
import { parseOccurrenceId, Schedule } from "../domain/recurrence.js";

export class SyncReplica<E extends { id: string }> {
  /** Single events and series by id, exceptions by occurrence id. */
  readonly events = new Map<string, E>();
  /** Occurrence ids of cancelled occurrences of series in `events`. */
  readonly hidden = new Set<string>();

  /**
   * One SyncEvents page: its events in order, then its deleted ids (the
   * response keeps no order between the two lists; the server leaves out
   * deletions that a later event of the page makes moot).
   */
  applyPage(events: readonly E[], deletedIds: readonly string[]): void {
    for (const event of events) this.upsert(event);
    for (const id of deletedIds) this.delete(id);
  }

  upsert(event: E): void {
    if (parseOccurrenceId(event.id)) {
      this.hidden.delete(event.id);
    } else {
      // A single event or a series replaces everything known of its
      // occurrences: the server sends the series' current exceptions and
      // cancellations after it.
      this.#forgetOccurrencesOf(event.id);
    }
    this.events.set(event.id, event);
  }

  delete(id: string): void {
    this.events.delete(id);
    const occurrence = parseOccurrenceId(id);
    if (!occurrence) {
      this.#forgetOccurrencesOf(id);
    } else if (this.events.has(occurrence.seriesId)) {
      this.hidden.add(id);
    }
  }

  #forgetOccurrencesOf(seriesId: string): void {
    for (const id of [...this.events.keys(), ...this.hidden]) {
      if (parseOccurrenceId(id)?.seriesId === seriesId) {
        this.events.delete(id);
        this.hidden.delete(id);
      }
    }
  }
}

/**
 * What a replica of domain events shows in `window`, as ListEvents lists it:
 * single events and exceptions as they are, a series as the occurrences its
 * rule generates that are neither exceptions nor hidden; in start order.
 */
export function expandReplica(
  replica: SyncReplica<CalendarEvent>,
  window: TimeWindow,
): CalendarEvent[] {
  const shown: CalendarEvent[] = [];
  for (const event of replica.events.values()) {
    if (!isSeries(event)) {
      if (overlaps(event, window)) shown.push(event);
      continue;
    }
    const schedule = Schedule.of(event.start, {
      lines: [...(event.recurrence ?? [])],
      timeZone: event.timeZone ?? "UTC",
    });
    for (const start of schedule.startsBetween(
      new Date(window.start.getTime() - event.durationMs + 1),
      window.end,
    )) {
      const occurrence = occurrenceOf(event, start);
      if (!replica.events.has(occurrence.id) && !replica.hidden.has(occurrence.id)) {
        shown.push(occurrence);
      }
    }
  }
  return shown.sort(
    (a, b) => a.start.getTime() - b.start.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}
