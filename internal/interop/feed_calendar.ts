// A user's events as one iCalendar (RFC 5545) VCALENDAR, written by
// ical-generator (folding, escaping) with VTIMEZONE blocks from
// timezones-ical-library. What goes into each VEVENT is decided in
// feedEntryOf; a series (once events have recurrence) becomes one entry
// with its RRULE/EXDATE lines plus one entry per exception carrying
// RECURRENCE-ID, all under the series' UID.
import ical, { ICalAlarmType, type ICalEventData } from "ical-generator";
import { Temporal } from "temporal-polyfill";
import { tzlib_get_ical_block } from "timezones-ical-library";
import { type CalendarEvent, eventEnd, isSeries } from "../domain/event.js";
import type { FeedRow } from "../store/feed_rows.js";
import { feedUid } from "./event_uid.js";

/** One VEVENT of the feed, independent of where its data came from. */
export interface FeedEntry {
  uid: string;
  start: Date;
  end: Date;
  /** IANA zone DTSTART/DTEND are written in; undefined: UTC. */
  timeZone: string | undefined;
  title: string;
  description: string | undefined;
  /** Grows whenever the event changes (its time included). */
  sequence: number;
  lastModified: Date;
  created: Date;
  notifyBeforeMs: number | undefined;
  /** RRULE/RDATE/EXDATE content lines of a series, as stored. */
  recurrence: readonly string[];
  /** For an exception of a series: the original start of the occurrence it replaces. */
  recurrenceId: Date | undefined;
}

// ical-generator writes it after "PRODID:-".
export const FEED_PRODUCT_ID = "//cal_service//calendar feed//EN";

/** The feed entry of a stored single event, series or exception (its own time zone, if any). */
export function feedEntryOf(userId: string, event: CalendarEvent): FeedEntry {
  return {
    uid: feedUid(userId, event.recurringEventId ?? event.id),
    start: event.start,
    end: eventEnd(event),
    timeZone: event.timeZone,
    title: event.title,
    description: event.description,
    sequence: event.version - 1,
    lastModified: event.updatedAt,
    created: event.createdAt,
    notifyBeforeMs: event.notifyBeforeMs,
    recurrence: event.recurrence ?? [],
    recurrenceId: event.originalStart,
  };
}

/**
 * The feed's entries for stored rows: a series is one entry with its lines,
 * each moved or edited occurrence an entry with RECURRENCE-ID under the
 * series' UID (in the series' zone), and each cancelled occurrence an
 * EXDATE of its series. EXDATE rather than a STATUS:CANCELLED override:
 * Google's own export writes EXDATE, and Apple Calendar shows a cancelled
 * override as an event instead of hiding the occurrence.
 */
export function feedEntriesOf(userId: string, rows: readonly FeedRow[]): FeedEntry[] {
  const seriesById = new Map<string, CalendarEvent>();
  for (const { event } of rows) if (isSeries(event)) seriesById.set(event.id, event);
  const exDates = new Map<string, string[]>();
  const entries: FeedEntry[] = [];
  const seriesEntryAt = new Map<string, number>();
  for (const { event, cancelled } of rows) {
    const series = event.recurringEventId ? seriesById.get(event.recurringEventId) : undefined;
    if (event.recurringEventId !== undefined) {
      if (!series || !event.originalStart) continue; // its series is not in the feed
      const zone = series.timeZone ?? "UTC";
      if (cancelled) {
        const lines = exDates.get(series.id) ?? [];
        lines.push(`EXDATE;TZID=${zone}:${localBasic(event.originalStart, zone)}`);
        exDates.set(series.id, lines);
        continue;
      }
      entries.push({ ...feedEntryOf(userId, event), timeZone: zone });
      continue;
    }
    if (isSeries(event)) seriesEntryAt.set(event.id, entries.length);
    entries.push(feedEntryOf(userId, event));
  }
  for (const [seriesId, lines] of exDates) {
    const at = seriesEntryAt.get(seriesId);
    const entry = at === undefined ? undefined : entries[at];
    if (at !== undefined && entry)
      entries[at] = { ...entry, recurrence: [...entry.recurrence, ...lines] };
  }
  return entries;
}

/** An instant's wall time in `zone`, RFC 5545 basic form (20260608T090000). */
function localBasic(instant: Date, zone: string): string {
  const local = Temporal.Instant.fromEpochMilliseconds(instant.getTime())
    .toZonedDateTimeISO(zone)
    .toPlainDateTime();
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(local.year, 4)}${pad(local.month)}${pad(local.day)}T${pad(local.hour)}${pad(local.minute)}${pad(local.second)}`;
}

/** The VCALENDAR text of `entries`, CRLF line ends, lines folded at 75 octets. */
export function renderFeed(entries: readonly FeedEntry[], calendarName: string): string {
  const calendar = ical({ prodId: FEED_PRODUCT_ID, name: calendarName });
  // The calendar's own lines, before any event is added: ical-generator
  // folds a calendar's whole text with a TextEncoder per character, which
  // takes over a second for 1,000 events; its VEVENTs (unfolded) are folded
  // here instead, in one pass.
  const [head, tail] = calendar.toString().split(/(?=END:VCALENDAR$)/);
  const zones = [...new Set(entries.map((entry) => entry.timeZone))].filter(
    (zone) => zone !== undefined,
  );
  const vtimezones = zones.map(vtimezoneOf).filter((block) => block !== null);
  const vevents = entries.map((entry) => calendar.createEvent(eventDataOf(entry)).toString());
  // Every content line ends with CRLF, the last one too (RFC 5545 3.1);
  // ical-generator leaves the last one open.
  return `${head}${vtimezones.join("")}${foldLines(vevents.join(""))}${tail}\r\n`;
}

/**
 * RFC 5545 3.1: lines longer than 75 octets are split with CRLF and a
 * space, never inside a UTF-8 sequence.
 */
export function foldLines(text: string): string {
  const out: string[] = [];
  for (const line of text.split("\r\n")) {
    let octets = 0;
    let start = 0;
    let folded = "";
    for (let at = 0; at < line.length; ) {
      const codePoint = line.codePointAt(at) ?? 0;
      const width = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
      const units = codePoint >= 0x10000 ? 2 : 1;
      if (octets + width > 75) {
        folded += `${line.slice(start, at)}\r\n `;
        start = at;
        octets = 1; // the leading space
      }
      octets += width;
      at += units;
    }
    out.push(folded + line.slice(start));
  }
  return out.join("\r\n");
}

function eventDataOf(entry: FeedEntry): ICalEventData {
  return {
    id: entry.uid,
    // Without METHOD, DTSTAMP is when the event's data last changed
    // (RFC 5545 3.8.7.2): fetching twice gives the same bytes, so ETags hold.
    stamp: entry.lastModified,
    start: inZone(entry.start, entry.timeZone),
    end: inZone(entry.end, entry.timeZone),
    timezone: entry.timeZone ?? null,
    summary: entry.title,
    description: entry.description ?? null,
    sequence: entry.sequence,
    lastModified: entry.lastModified,
    created: entry.created,
    repeating: entry.recurrence.length > 0 ? entry.recurrence.join("\n") : null,
    recurrenceId:
      entry.recurrenceId === undefined ? null : inZone(entry.recurrenceId, entry.timeZone),
    alarms:
      entry.notifyBeforeMs === undefined
        ? []
        : [
            {
              type: ICalAlarmType.display,
              // Seconds before the start; ical-generator writes -PT…
              trigger: Math.round(entry.notifyBeforeMs / 1000),
              description: entry.title,
            },
          ],
  };
}

/**
 * ical-generator writes a Date's UTC fields even under a TZID; a zoned
 * Temporal value gives it the local wall time instead.
 */
function inZone(instant: Date, timeZone: string | undefined): Date | Temporal.ZonedDateTime {
  if (timeZone === undefined) return instant;
  return Temporal.Instant.fromEpochMilliseconds(instant.getTime()).toZonedDateTimeISO(timeZone);
}

/** The VTIMEZONE block of an IANA zone, CRLF after each line. */
function vtimezoneOf(timeZone: string): string | null {
  const block = tzlib_get_ical_block(timeZone);
  if (!Array.isArray(block) || typeof block[0] !== "string") return null;
  return `${foldLines(block[0].replace(/\r?\n/g, "\r\n").trim())}\r\n`;
}
