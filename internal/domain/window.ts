// Calendar windows ("the day / week / month starting on this date, in this
// time zone") turned into half-open instant intervals. Lengths come from
// calendar arithmetic in the zone, so DST days are 23 or 25 hours long.

import { Temporal } from "temporal-polyfill";
import { type InvalidArgument, invalidArgument } from "./errors.js";
import type { TimeWindow } from "./event.js";
import { err, ok, type Result } from "./result.js";

export type WindowKind = "day" | "week" | "month";

// Months add with Temporal's default "constrain": Jan 31 + 1 month = Feb 28/29.
const LENGTH: Record<WindowKind, Temporal.DurationLike> = {
  day: { days: 1 },
  week: { weeks: 1 },
  month: { months: 1 },
};

// Temporal.PlainDate.from is lenient (it takes "+002026-01-01", date-times,
// ...), so the exact shape is checked first; the calendar check comes after.
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

// Temporal would also take offsets ("+05:00") and whole ISO strings with a
// bracketed zone as a time zone; the API promises IANA names, so only
// name-shaped strings reach it.
const ZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;
const MAX_ZONE_LENGTH = 64;

/**
 * The window of `kind` that begins at the start of `date` in `timeZone`
 * ("" means UTC). A day starts at local midnight, or at the first instant of
 * the day that exists when midnight falls in a DST gap.
 */
export function calendarWindow(
  kind: WindowKind,
  date: string,
  timeZone: string,
): Result<TimeWindow, InvalidArgument> {
  const key = `${kind} ${date} ${timeZone}`;
  const known = recent.get(key);
  if (known) return ok({ start: new Date(known.startMs), end: new Date(known.endMs) });
  const result = computeWindow(kind, date, timeZone);
  if (result.ok) {
    if (recent.size >= RECENT_WINDOWS) recent.clear();
    recent.set(key, { startMs: result.value.start.getTime(), endMs: result.value.end.getTime() });
  }
  return result;
}

// Most calls ask for the same few windows (today, this week, in a handful of
// zones), and Temporal's zone arithmetic took about 15 µs of a ListDayEvents
// call's CPU (1.9% of the api's busy time at c=64, docs/BENCHMARKS.md): the
// last windows computed are kept, as instants (each caller gets Dates of its
// own). A window depends only on its inputs and the zone rules this process
// loaded, so a kept one never goes stale.
const RECENT_WINDOWS = 1024;
const recent = new Map<string, { startMs: number; endMs: number }>();

function computeWindow(
  kind: WindowKind,
  date: string,
  timeZone: string,
): Result<TimeWindow, InvalidArgument> {
  if (!Object.hasOwn(LENGTH, kind)) {
    return err(invalidArgument("kind", 'must be "day", "week" or "month"'));
  }
  const first = parseDate(date);
  if (first === undefined) {
    return err(invalidArgument("date", "must be a calendar date as YYYY-MM-DD, e.g. 2026-03-08"));
  }
  const zone = timeZone === "" ? "UTC" : timeZone;
  if (!isTimeZone(zone)) {
    return err(
      invalidArgument(
        "time_zone",
        'must be an IANA time zone name such as "UTC" or "Europe/Berlin"',
      ),
    );
  }
  // Even from 9999-12-31 the end (early year 10000) is far inside both
  // Temporal's and Date's range, so no clamping is needed.
  const last = first.add(LENGTH[kind]);
  return ok({
    start: new Date(first.toZonedDateTime(zone).epochMilliseconds),
    end: new Date(last.toZonedDateTime(zone).epochMilliseconds),
  });
}

function parseDate(date: string): Temporal.PlainDate | undefined {
  const match = DATE_PATTERN.exec(date);
  if (match === null) return undefined;
  const [, year, month, day] = match.map(Number) as [number, number, number, number];
  if (year < 1) return undefined;
  try {
    // The constructor rejects days that the month does not have.
    return new Temporal.PlainDate(year, month, day);
  } catch {
    return undefined;
  }
}

export function isTimeZone(zone: string): boolean {
  if (zone.length > MAX_ZONE_LENGTH || !ZONE_PATTERN.test(zone)) return false;
  try {
    Temporal.PlainDate.from({ year: 2000, month: 1, day: 1 }).toZonedDateTime(zone);
    return true;
  } catch {
    return false;
  }
}
