// An occurrence of a series that has no exception: generated from the
// series, never stored. Both stores build it the same way.
import type { CalendarEvent } from "./event.js";
import { occurrenceId } from "./recurrence.js";

export function occurrenceOf<T extends CalendarEvent>(
  series: T,
  originalStart: Date,
): CalendarEvent {
  return {
    id: occurrenceId(series.id, originalStart),
    userId: series.userId,
    title: series.title,
    start: new Date(originalStart),
    durationMs: series.durationMs,
    description: series.description,
    notifyBeforeMs: series.notifyBeforeMs,
    ...(series.timeZone === undefined ? {} : { timeZone: series.timeZone }),
    recurringEventId: series.id,
    originalStart: new Date(originalStart),
    createdAt: series.createdAt,
    updatedAt: series.updatedAt,
    version: series.version,
  };
}
