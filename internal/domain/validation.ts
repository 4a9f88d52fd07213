// The rules a user's event must follow, checked before anything is stored.
// Field names in messages are the ones clients see in the API.
import { type InvalidArgument, invalidArgument } from "./errors.js";
import type { EventFields } from "./event.js";
import { isTimeZone, occurrenceId, parseOccurrenceId, validateRecurrence } from "./recurrence.js";
import { err, ok, type Result } from "./result.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export const limits = {
  titleMaxChars: 255,
  descriptionMaxBytes: 16 * 1024,
  durationMaxMs: 366 * DAY_MS,
  notifyBeforeMaxMs: 366 * DAY_MS,
  // google.protobuf.Timestamp's valid range.
  startMin: new Date("0001-01-01T00:00:00.000Z"),
  startMax: new Date("9999-12-31T23:59:59.999Z"),
  userIdMaxChars: 128,
} as const;

/** An event as a client proposed it, before any rule was checked. */
export interface EventDraft {
  title: string;
  start: Date | undefined;
  durationMs: number | undefined;
  description: string | undefined;
  notifyBeforeMs: number | undefined;
  /** Empty: a single event. */
  recurrence?: readonly string[];
  /** "" or undefined: none. */
  timeZone?: string | undefined;
}

// C0 controls and DEL: invisible, and a NUL cannot be stored in Postgres text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export function validateEventDraft(draft: EventDraft): Result<EventFields, InvalidArgument> {
  const title = draft.title.trim();
  if (!draft.title.isWellFormed()) {
    return err(invalidArgument("title", "must be valid UTF-8 text"));
  }
  const titleChars = [...title].length;
  if (titleChars < 1 || titleChars > limits.titleMaxChars) {
    return err(
      invalidArgument(
        "title",
        `must be 1 to ${limits.titleMaxChars} characters after trimming (got ${titleChars})`,
      ),
    );
  }
  if (CONTROL_CHARS.test(title)) {
    return err(invalidArgument("title", "must not contain control characters"));
  }

  const start = draft.start;
  if (start === undefined) {
    return err(invalidArgument("start_time", "is required"));
  }
  if (!(start >= limits.startMin && start <= limits.startMax)) {
    return err(invalidArgument("start_time", "must be between 0001-01-01 and 9999-12-31 (UTC)"));
  }

  const durationMs = draft.durationMs;
  if (durationMs === undefined) {
    return err(invalidArgument("duration", "is required"));
  }
  if (!(durationMs > 0 && durationMs <= limits.durationMaxMs)) {
    return err(invalidArgument("duration", "must be greater than 0s and at most 366 days"));
  }

  const description = draft.description;
  if (description !== undefined) {
    if (!description.isWellFormed()) {
      return err(invalidArgument("description", "must be valid UTF-8 text"));
    }
    if (Buffer.byteLength(description, "utf8") > limits.descriptionMaxBytes) {
      return err(invalidArgument("description", "must be at most 16 KiB (16384 bytes of UTF-8)"));
    }
    if (description.includes("\u0000")) {
      return err(invalidArgument("description", "must not contain NUL characters"));
    }
  }

  const notifyBeforeMs = draft.notifyBeforeMs;
  if (
    notifyBeforeMs !== undefined &&
    !(notifyBeforeMs >= 0 && notifyBeforeMs <= limits.notifyBeforeMaxMs)
  ) {
    return err(invalidArgument("notify_before", "must be from 0s to 366 days"));
  }

  const recurrence = draft.recurrence ?? [];
  const timeZone = draft.timeZone === "" ? undefined : draft.timeZone;
  if (recurrence.length > 0) {
    const checked = validateRecurrence(recurrence, timeZone, start);
    if (!checked.ok) return checked;
    return ok({
      title,
      start,
      durationMs,
      description,
      notifyBeforeMs,
      recurrence: checked.value.lines,
      timeZone: checked.value.timeZone,
    });
  }
  if (timeZone !== undefined && !isTimeZone(timeZone)) {
    return err(
      invalidArgument("time_zone", 'must be an IANA time zone name such as "Europe/Berlin"'),
    );
  }
  return ok({
    title,
    start,
    durationMs,
    description,
    notifyBeforeMs,
    ...(timeZone === undefined ? {} : { timeZone }),
  });
}

/**
 * The caller's identity as sent in x-user-id. `undefined` means it was not
 * sent at all, which the API answers differently (UNAUTHENTICATED).
 */
export function validateUserId(userId: string): Result<string, InvalidArgument> {
  if ([...userId].length > limits.userIdMaxChars) {
    return err(invalidArgument("x-user-id", `must be at most ${limits.userIdMaxChars} characters`));
  }
  if (CONTROL_CHARS.test(userId) || !userId.isWellFormed()) {
    return err(invalidArgument("x-user-id", "must not contain control characters"));
  }
  return ok(userId);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ids a client may name in Get/Update/Delete: an event's or series' UUID, or
 * an occurrence's "<series UUID>_<original start as 20260601T090000Z>".
 */
export function validateEventOrOccurrenceId(
  field: string,
  id: string,
): Result<string, InvalidArgument> {
  const occurrence = parseOccurrenceId(id);
  if (occurrence) return ok(occurrenceId(occurrence.seriesId, occurrence.originalStart));
  if (!UUID.test(id)) {
    return err(
      invalidArgument(
        field,
        "must be a UUID such as 3f1c2a9e-8b7d-4c61-9e0f-2a4b6c8d0e1f (an event or a series), or an occurrence's id such as 3f1c2a9e-8b7d-4c61-9e0f-2a4b6c8d0e1f_20260601T090000Z",
      ),
    );
  }
  return ok(id.toLowerCase());
}

/** Event ids are UUIDs; stored and compared in lower case. */
export function validateEventId(field: string, id: string): Result<string, InvalidArgument> {
  if (!UUID.test(id)) {
    return err(
      invalidArgument(field, "must be a UUID such as 3f1c2a9e-8b7d-4c61-9e0f-2a4b6c8d0e1f"),
    );
  }
  return ok(id.toLowerCase());
}
