// Free/busy as a person reads it: the span cut into local days, each day
// listing its busy intervals and the free gaps between them, in order.
import { Temporal } from "temporal-polyfill";
import type { Style } from "./agenda.js";
import { formatClock, formatDay } from "./time.js";

export interface Interval {
  start: Temporal.Instant;
  end: Temporal.Instant;
}

interface Piece extends Interval {
  busy: boolean;
}

/** Busy and free pieces of [dayStart, dayEnd), given busy intervals in order. */
function piecesOf(window: Interval, busy: readonly Interval[]): Piece[] {
  const pieces: Piece[] = [];
  let cursor = window.start;
  const later = (a: Temporal.Instant, b: Temporal.Instant) =>
    Temporal.Instant.compare(a, b) >= 0 ? a : b;
  const earlier = (a: Temporal.Instant, b: Temporal.Instant) =>
    Temporal.Instant.compare(a, b) <= 0 ? a : b;
  for (const interval of busy) {
    const start = later(interval.start, window.start);
    const end = earlier(interval.end, window.end);
    if (Temporal.Instant.compare(start, end) >= 0) continue;
    if (Temporal.Instant.compare(cursor, start) < 0)
      pieces.push({ start: cursor, end: start, busy: false });
    pieces.push({ start: later(start, cursor), end, busy: true });
    cursor = later(cursor, end);
  }
  if (Temporal.Instant.compare(cursor, window.end) < 0) {
    pieces.push({ start: cursor, end: window.end, busy: false });
  }
  return pieces;
}

/** "09:00", or "24:00" for the midnight that ends `day`. */
function clock(instant: Temporal.Instant, day: Temporal.PlainDate, timeZone: string): string {
  const local = instant.toZonedDateTimeISO(timeZone);
  return Temporal.PlainDate.compare(local.toPlainDate(), day) > 0 ? "24:00" : formatClock(local);
}

/**
 * The span [from, to) day by day in `timeZone`:
 *   Mon 7 Jan 2030
 *     free  00:00-09:00
 *     busy  09:00-10:30
 */
export function renderFreeBusy(
  span: Interval,
  busy: readonly Interval[],
  options: { timeZone: string; style: Style },
): string {
  const { timeZone, style } = options;
  const days: string[] = [];
  let day = span.start.toZonedDateTimeISO(timeZone).toPlainDate();
  while (true) {
    const dayStart = day.toZonedDateTime({ timeZone }).toInstant();
    if (Temporal.Instant.compare(dayStart, span.end) >= 0 && days.length > 0) break;
    const next = day.add({ days: 1 });
    const nextStart = next.toZonedDateTime({ timeZone }).toInstant();
    const window: Interval = {
      start: Temporal.Instant.compare(dayStart, span.start) < 0 ? span.start : dayStart,
      end: Temporal.Instant.compare(nextStart, span.end) > 0 ? span.end : nextStart,
    };
    const lines = piecesOf(window, busy).map((piece) => {
      const range = `${clock(piece.start, day, timeZone)}-${clock(piece.end, day, timeZone)}`;
      return `  ${piece.busy ? style.mark("busy") : "free"}  ${style.time(range)}`;
    });
    if (lines.length > 0) days.push(`${style.day(formatDay(day))}\n${lines.join("\n")}\n`);
    day = next;
  }
  return days.join("\n");
}
