// The agenda: events grouped by day in the reader's time zone, one line
// each with start-end, title, marks for reminders (and series), and the id
// that show, edit and rm take.
import { type Duration, durationMs, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { Temporal } from "temporal-polyfill";
import type { Event } from "../../gen/calendar/v1/calendar_pb.js";
import { formatClock, formatDay, formatDuration } from "./time.js";

export interface Style {
  day(text: string): string;
  time(text: string): string;
  mark(text: string): string;
  id(text: string): string;
}

const ansi = (open: number, close: number) => (text: string) =>
  `\u001b[${open}m${text}\u001b[${close}m`;
const PLAIN: Style = { day: String, time: String, mark: String, id: String };
const COLOURED: Style = {
  day: ansi(1, 22), // bold
  time: ansi(36, 39), // cyan
  mark: ansi(33, 39), // yellow
  id: ansi(2, 22), // dim
};

export function styleFor(colour: boolean): Style {
  return colour ? COLOURED : PLAIN;
}

export function instantOf(timestamp: Timestamp | undefined): Temporal.Instant {
  return Temporal.Instant.fromEpochMilliseconds(timestamp ? timestampMs(timestamp) : 0);
}

export function secondsOf(duration: Duration | undefined): number {
  return duration ? durationMs(duration) / 1000 : 0;
}

export function startAndEnd(
  event: Event,
  timeZone: string,
): { start: Temporal.ZonedDateTime; end: Temporal.ZonedDateTime } {
  const start = instantOf(event.startTime).toZonedDateTimeISO(timeZone);
  const end = start.add({ milliseconds: Math.round(secondsOf(event.duration) * 1000) });
  return { start, end };
}

/** "↻" for a series or one of its occurrences, "🔔 5m" for a reminder. */
export function marksOf(event: Event): string[] {
  const marks: string[] = [];
  if (event.recurringEventId !== "" || event.recurrence.length > 0) marks.push("↻");
  if (event.notifyBefore !== undefined) {
    marks.push(`🔔 ${formatDuration(secondsOf(event.notifyBefore))}`);
  }
  return marks;
}

/** "09:00-09:15", "23:00-01:00+1d" when it ends on a later day. */
export function timeRange(event: Event, timeZone: string): string {
  const { start, end } = startAndEnd(event, timeZone);
  const days = start.toPlainDate().until(end.toPlainDate()).days;
  return `${formatClock(start)}-${formatClock(end)}${days > 0 ? `+${days}d` : ""}`;
}

/**
 * Events under the local day they start on; one that began before the
 * window (the API lists what overlaps it) goes under the window's first day.
 */
export function renderAgenda(
  events: readonly Event[],
  options: { timeZone: string; firstDay: Temporal.PlainDate; style: Style },
): string {
  const { timeZone, firstDay, style } = options;
  const byDay = new Map<string, { day: Temporal.PlainDate; lines: string[] }>();
  const rangeWidth = Math.max(0, ...events.map((e) => timeRange(e, timeZone).length));
  for (const event of events) {
    const startDay = startAndEnd(event, timeZone).start.toPlainDate();
    const day = Temporal.PlainDate.compare(startDay, firstDay) < 0 ? firstDay : startDay;
    const group = byDay.get(day.toString()) ?? { day, lines: [] };
    byDay.set(day.toString(), group);
    const marks = marksOf(event).map(style.mark);
    group.lines.push(
      [
        `  ${style.time(timeRange(event, timeZone).padEnd(rangeWidth))}`,
        event.title,
        ...marks,
        style.id(event.id),
      ].join("  "),
    );
  }
  const groups = [...byDay.values()].sort((a, b) => Temporal.PlainDate.compare(a.day, b.day));
  return groups.map((g) => `${style.day(formatDay(g.day))}\n${g.lines.join("\n")}\n`).join("\n");
}

/** The detail view of `calctl show`. */
export function renderEvent(event: Event, timeZone: string, style: Style): string {
  const { start } = startAndEnd(event, timeZone);
  const rows: [string, string][] = [
    ["when", `${formatDay(start.toPlainDate())} ${timeRange(event, timeZone)} (${timeZone})`],
    ["duration", formatDuration(secondsOf(event.duration))],
    [
      "reminder",
      event.notifyBefore === undefined
        ? "none"
        : `${formatDuration(secondsOf(event.notifyBefore))} before`,
    ],
  ];
  if (event.recurrence.length > 0) {
    rows.push(["repeats", `${event.recurrence.join(" ")} (${event.timeZone})`]);
  }
  if (event.recurringEventId !== "") rows.push(["series", event.recurringEventId]);
  if (event.description !== undefined) rows.push(["description", event.description]);
  rows.push(["id", event.id], ["version", String(event.version)]);
  const width = Math.max(...rows.map(([label]) => label.length));
  const body = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
  return `${style.day(event.title)}\n${body}\n`;
}
