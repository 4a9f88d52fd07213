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
}

export interface CalendarEvent extends EventFields {
  id: string;
  userId: string;
  createdAt: Date;
  updatedAt: Date;
  /** 1 on create, +1 on each update. */
  version: number;
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
    a.notifyBeforeMs === b.notifyBeforeMs
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
