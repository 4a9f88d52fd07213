// Protobuf <-> domain. The generated types stop here: nothing past the API
// layer sees a Timestamp or a Duration.
import { create } from "@bufbuild/protobuf";
import {
  type Duration,
  durationFromMs,
  type Timestamp,
  timestampFromDate,
} from "@bufbuild/protobuf/wkt";
import { type Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { type InvalidArgument, invalidArgument } from "../domain/errors.js";
import type { CalendarEvent } from "../domain/event.js";
import { err, ok, type Result } from "../domain/result.js";
import type { EventDraft } from "../domain/validation.js";

const NANOS_PER_MS = 1_000_000;

/** The user-chosen fields of an Event message, as the domain's draft. */
export function draftFromProto(event: Event): Result<EventDraft, InvalidArgument> {
  const start = event.startTime && instantFromTimestamp("event.start_time", event.startTime);
  if (start && !start.ok) return start;
  const duration = event.duration && millisFromDuration("event.duration", event.duration);
  if (duration && !duration.ok) return duration;
  const notifyBefore =
    event.notifyBefore && millisFromDuration("event.notify_before", event.notifyBefore);
  if (notifyBefore && !notifyBefore.ok) return notifyBefore;
  return ok({
    title: event.title,
    start: start?.value,
    durationMs: duration?.value,
    description: event.description,
    notifyBeforeMs: notifyBefore?.value,
    recurrence: event.recurrence,
    timeZone: event.timeZone,
  });
}

export function eventToProto(event: CalendarEvent): Event {
  return create(EventSchema, {
    id: event.id,
    title: event.title,
    startTime: timestampFromDate(event.start),
    duration: durationFromMs(event.durationMs),
    description: event.description,
    userId: event.userId,
    notifyBefore:
      event.notifyBeforeMs === undefined ? undefined : durationFromMs(event.notifyBeforeMs),
    createdAt: timestampFromDate(event.createdAt),
    updatedAt: timestampFromDate(event.updatedAt),
    version: event.version,
    recurrence: event.recurrence ? [...event.recurrence] : [],
    timeZone: event.timeZone ?? "",
    recurringEventId: event.recurringEventId ?? "",
    originalStartTime: event.originalStart ? timestampFromDate(event.originalStart) : undefined,
  });
}

// The binary format carries any int64/int32 pair, so range and precision
// are checked here; the domain then checks the calendar rules.

export function instantFromTimestamp(field: string, ts: Timestamp): Result<Date, InvalidArgument> {
  if (ts.nanos < 0 || ts.nanos >= 1_000_000_000) {
    return err(invalidArgument(field, "nanos must be from 0 to 999999999"));
  }
  if (ts.nanos % NANOS_PER_MS !== 0) {
    return err(invalidArgument(field, "must have at most millisecond precision"));
  }
  // Out-of-range seconds turn into an Invalid Date, which the domain rejects
  // with the range it allows.
  return ok(new Date(Number(ts.seconds) * 1000 + ts.nanos / NANOS_PER_MS));
}

function millisFromDuration(field: string, duration: Duration): Result<number, InvalidArgument> {
  const seconds = Number(duration.seconds);
  if (
    Math.abs(duration.nanos) >= 1_000_000_000 ||
    (seconds > 0 && duration.nanos < 0) ||
    (seconds < 0 && duration.nanos > 0)
  ) {
    return err(
      invalidArgument(field, "is not a valid duration (nanos out of range or of the wrong sign)"),
    );
  }
  if (duration.nanos % NANOS_PER_MS !== 0) {
    return err(invalidArgument(field, "must have at most millisecond precision"));
  }
  return ok(seconds * 1000 + duration.nanos / NANOS_PER_MS);
}
