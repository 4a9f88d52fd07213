// The calendar event as the service thinks of it, independent of protobuf
// and of storage. Instants are Dates (millisecond precision, UTC inside);
// durations are whole milliseconds.

/** The fields a user chooses; everything else is assigned by the service. */
export interface EventFields {
  title: string;
  start: Date;
  durationMs: number;
  description: string | undefined;
  /** How long before `start` the reminder goes out; undefined: no reminder. */
  notifyBeforeMs: number | undefined;
  /**
   * RFC 5545 RRULE/EXDATE/RDATE lines (see recurrence.ts); undefined or
   * empty: a single event. For a series, `start` is its DTSTART and
   * `durationMs` every occurrence's length.
   */
  recurrence?: readonly string[];
  /** IANA zone the event is anchored in; required with `recurrence`. */
  timeZone?: string;
}

export interface CalendarEvent extends EventFields {
  id: string;
  userId: string;
  createdAt: Date;
  updatedAt: Date;
  /** 1 on create, +1 on each update. */
  version: number;
  /** Set on an occurrence of a series: the series' id. */
  recurringEventId?: string;
  /** Set on an occurrence: its start as the series' rule computes it, moved or not. */
  originalStart?: Date;
}

/** True for a series (an event with recurrence lines). */
export function isSeries(fields: Pick<EventFields, "recurrence">): boolean {
  return (fields.recurrence?.length ?? 0) > 0;
}

/** The end of the half-open interval [start, end) the event occupies. */
export function eventEnd(event: Pick<EventFields, "start" | "durationMs">): Date {
  return new Date(event.start.getTime() + event.durationMs);
}

/** When the reminder is due, or undefined when the event has none. */
export function notifyAt(event: Pick<EventFields, "start" | "notifyBeforeMs">): Date | undefined {
  if (event.notifyBeforeMs === undefined) return undefined;
  return new Date(event.start.getTime() - event.notifyBeforeMs);
}

/** True when two events carry the same user-chosen content (idempotent create). */
export function sameFields(a: EventFields, b: EventFields): boolean {
  return (
    a.title === b.title &&
    a.start.getTime() === b.start.getTime() &&
    a.durationMs === b.durationMs &&
    a.description === b.description &&
    a.notifyBeforeMs === b.notifyBeforeMs &&
    (a.timeZone ?? "") === (b.timeZone ?? "") &&
    (a.recurrence ?? []).join("\n") === (b.recurrence ?? []).join("\n")
  );
}

/** A half-open interval of time [start, end). */
export interface TimeWindow {
  start: Date;
  end: Date;
}

/** True when the event shares at least one instant with the window. */
export function overlaps(
  event: Pick<EventFields, "start" | "durationMs">,
  window: TimeWindow,
): boolean {
  return event.start < window.end && eventEnd(event) > window.start;
}

/**
 * How long a reminder may still go out after its notify_at even when the
 * event has started meanwhile. Without it a reminder set 0 (or a few
 * seconds) before the start would always find its event started and never
 * be sent.
 */
export const REMINDER_GRACE_MS = 60_000;

/**
 * True when a due reminder is too late to send: its event has started and
 * its grace after notify_at has passed. Such reminders are skipped, never
 * sent late (an hour-early reminder that arrives after the meeting began
 * helps nobody).
 */
export function reminderMissed(start: Date, notifyAtTime: Date, now: Date): boolean {
  return now.getTime() >= Math.max(start.getTime(), notifyAtTime.getTime() + REMINDER_GRACE_MS);
}
