// An .ics file read into what the importer stores: one item per VEVENT,
// each either an event or the reason it cannot be one. Parsing is ical.js's
// (RFC 5545, with unfolding and unescaping); this module only maps its
// components onto the calendar's rules. A file that is not iCalendar at all
// is one error for the whole file, so that nothing of it gets written.
import ICAL from "ical.js";
import { Temporal } from "temporal-polyfill";
import { type InvalidArgument, invalidArgument } from "../domain/errors.js";
import type { EventFields } from "../domain/event.js";
import { err, ok, type Result } from "../domain/result.js";
import { limits, validateEventDraft } from "../domain/validation.js";
import { eventIdFromUid } from "./event_uid.js";
import { ianaZoneOf } from "./time_zones.js";

/** An event read from a VEVENT, ready to store. */
export interface ImportedEvent {
  id: string;
  fields: EventFields;
  /** The IANA zone of DTSTART, when it had one (kept once events carry a zone). */
  timeZone: string | undefined;
}

export interface ImportItem {
  uid: string;
  recurrenceId: string;
  outcome: Result<ImportedEvent, string>;
}

const NO_TITLE = "(no title)";

/** Reads every VEVENT of `text`; an error when `text` is not an iCalendar file. */
export function readIcs(text: string): Result<ImportItem[], InvalidArgument> {
  // ical.js parses any run of "NAME:value" lines; an iCalendar file starts
  // with its VCALENDAR (RFC 5545 3.4), after an optional byte order mark.
  if (!/^\uFEFF?\s*BEGIN:VCALENDAR\r?\n/i.test(text)) {
    return err(
      invalidArgument("ics", "is not an iCalendar file: it must start with BEGIN:VCALENDAR"),
    );
  }
  let calendars: ICAL.Component[];
  try {
    const parsed: unknown = ICAL.parse(text);
    const roots = isComponentList(parsed) ? parsed : [parsed];
    calendars = roots.map((root) => new ICAL.Component(root as never));
  } catch (error) {
    return err(invalidArgument("ics", `is not a valid iCalendar file: ${messageOf(error)}`));
  }
  if (calendars.length === 0 || calendars.some((calendar) => calendar.name !== "vcalendar")) {
    return err(invalidArgument("ics", "is not an iCalendar file: its top level must be VCALENDAR"));
  }
  const items: ImportItem[] = [];
  for (const calendar of calendars) {
    const zones = new FileZones(calendar);
    for (const vevent of calendar.getAllSubcomponents("vevent"))
      items.push(readVevent(vevent, zones));
  }
  return ok(markDuplicateUids(items));
}

function readVevent(vevent: ICAL.Component, zones: FileZones): ImportItem {
  const uid = safely(() => textOf(vevent, "uid"), "");
  const recurrenceIdProperty = vevent.getFirstProperty("recurrence-id");
  // As written: ical.js parses the value on reading it, and throws on a bad one.
  const recurrenceId = recurrenceIdProperty ? rawValueOf(recurrenceIdProperty) : "";
  const item = (outcome: Result<ImportedEvent, string>) => ({ uid, recurrenceId, outcome });
  try {
    if (textOf(vevent, "status").toUpperCase() === "CANCELLED") {
      return item(err("the event is cancelled (STATUS:CANCELLED)"));
    }
    if (
      recurrenceIdProperty ||
      ["rrule", "rdate", "exdate"].some((name) => vevent.hasProperty(name))
    ) {
      return item(
        err("recurring events (RRULE, RDATE, EXDATE, RECURRENCE-ID) are not supported yet"),
      );
    }
    const startProperty = vevent.getFirstProperty("dtstart");
    if (!startProperty) return item(err("DTSTART is missing"));
    const startTime = startProperty.getFirstValue() as ICAL.Time;
    const start = zones.instantOf(startTime, startProperty);
    if (!start.ok) return item(start);

    const end = endOf(vevent, startTime, startProperty, zones);
    if (!end.ok) return item(end);
    const durationMs = end.value.getTime() - start.value.getTime();
    if (durationMs <= 0) return item(err("ends at or before its start (DTEND/DURATION)"));

    const title = textOf(vevent, "summary").trim();
    const description = textOf(vevent, "description");
    const fields = validateEventDraft({
      title: title === "" ? NO_TITLE : title,
      start: start.value,
      durationMs,
      description: description === "" ? undefined : description,
      notifyBeforeMs: notifyBeforeOf(vevent, start.value),
    });
    if (!fields.ok) return item(err(invalidContent(fields.error)));
    return item(
      ok({
        id: eventIdFromUid(uid === "" ? contentKey(fields.value) : uid),
        fields: fields.value,
        timeZone: zones.ianaZoneOf(startProperty),
      }),
    );
  } catch (error) {
    // ical.js reads values lazily and throws on one it cannot parse.
    return item(err(`invalid content: ${messageOf(error)}`));
  }
}

function endOf(
  vevent: ICAL.Component,
  startTime: ICAL.Time,
  startProperty: ICAL.Property,
  zones: FileZones,
): Result<Date, string> {
  const endProperty = vevent.getFirstProperty("dtend");
  if (endProperty) return zones.instantOf(endProperty.getFirstValue() as ICAL.Time, endProperty);
  const duration = vevent.getFirstPropertyValue("duration");
  if (duration instanceof ICAL.Duration) {
    // Nominal days and weeks (RFC 5545 3.3.6): added to the local time.
    const end = startTime.clone();
    end.addDuration(duration);
    return zones.instantOf(end, startProperty);
  }
  if (startTime.isDate) {
    // An all-day event without DTEND lasts its one day (RFC 5545 3.6.1).
    const end = startTime.clone();
    end.adjust(1, 0, 0, 0);
    return zones.instantOf(end, startProperty);
  }
  return err(
    "has neither DTEND nor DURATION, so it takes no time; only events with a length can be stored",
  );
}

/**
 * The first reminder before the start that the service can keep: a VALARM
 * triggered a duration before DTSTART, or at an instant before it, at most
 * 366 days early. Others are left out rather than failing the event (Apple
 * writes "no alarm" as one triggered in 1976).
 */
function notifyBeforeOf(vevent: ICAL.Component, start: Date): number | undefined {
  for (const alarm of vevent.getAllSubcomponents("valarm")) {
    const trigger = alarm.getFirstProperty("trigger");
    const value = trigger?.getFirstValue();
    let before: number | undefined;
    if (value instanceof ICAL.Duration) {
      const related = String(trigger?.getParameter("related") ?? "START").toUpperCase();
      if (related === "START") before = -value.toSeconds() * 1000;
    } else if (value instanceof ICAL.Time) {
      before = start.getTime() - value.toJSDate().getTime();
    }
    if (before !== undefined && before >= 0 && before <= limits.notifyBeforeMaxMs) return before;
  }
  return undefined;
}

/**
 * The time zones of one VCALENDAR: TZIDs mapped to IANA names, with the
 * file's own VTIMEZONE as the fallback for a zone no table knows (Outlook's
 * "Customized Time Zone"); floating times and dates in the calendar's
 * X-WR-TIMEZONE, or UTC.
 */
class FileZones {
  readonly #vtimezones = new Map<string, ICAL.Timezone>();
  readonly #floatingZone: string;

  constructor(calendar: ICAL.Component) {
    for (const component of calendar.getAllSubcomponents("vtimezone")) {
      // A VTIMEZONE ical.js cannot read is as good as none: the events that
      // use it are rejected for their unknown zone, the others go ahead.
      const zone = safely(() => new ICAL.Timezone(component), undefined);
      const tzid = safely(() => textOf(component, "tzid"), "");
      if (zone && tzid !== "") this.#vtimezones.set(tzid, zone);
    }
    this.#floatingZone = ianaZoneOf(safely(() => textOf(calendar, "x-wr-timezone"), "")) ?? "UTC";
  }

  ianaZoneOf(property: ICAL.Property): string | undefined {
    const tzid = property.getParameter("tzid");
    return typeof tzid === "string" ? ianaZoneOf(tzid) : undefined;
  }

  instantOf(time: ICAL.Time, property: ICAL.Property): Result<Date, string> {
    if (!(time instanceof ICAL.Time))
      return err(`${property.name.toUpperCase()} is not a date or date-time`);
    const tzid = property.getParameter("tzid");
    const fields = {
      year: time.year,
      month: time.month,
      day: time.day,
      hour: time.isDate ? 0 : time.hour,
      minute: time.isDate ? 0 : time.minute,
      // A leap second (":60") is the next second's start.
      second: time.isDate ? 0 : Math.min(time.second, 59),
    };
    if (!time.isDate && time.zone === ICAL.Timezone.utcTimezone) {
      return ok(
        new Date(
          Date.UTC(
            fields.year,
            fields.month - 1,
            fields.day,
            fields.hour,
            fields.minute,
            fields.second,
          ),
        ),
      );
    }
    if (typeof tzid === "string" && !time.isDate) {
      const zone = ianaZoneOf(tzid);
      if (zone !== undefined) return ok(localInstant(fields, zone));
      const vtimezone = this.#vtimezones.get(tzid);
      if (vtimezone === undefined)
        return err(`unknown time zone "${tzid}" (not IANA, not Windows, no VTIMEZONE in the file)`);
      const offsetSeconds = vtimezone.utcOffset(time);
      return ok(
        new Date(
          Date.UTC(
            fields.year,
            fields.month - 1,
            fields.day,
            fields.hour,
            fields.minute,
            fields.second,
          ) -
            offsetSeconds * 1000,
        ),
      );
    }
    return ok(localInstant(fields, this.#floatingZone));
  }
}

function localInstant(
  fields: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
  },
  zone: string,
): Date {
  // "compatible": a time in a DST gap moves forward, one in an overlap takes
  // the earlier instant, as calendar apps do (RFC 5545 3.3.5).
  const local = Temporal.PlainDateTime.from(fields, { overflow: "reject" });
  return new Date(local.toZonedDateTime(zone, { disambiguation: "compatible" }).epochMilliseconds);
}

/** Later VEVENTs repeating an earlier one's UID (and RECURRENCE-ID) would overwrite it: rejected instead. */
function markDuplicateUids(items: ImportItem[]): ImportItem[] {
  const seen = new Set<string>();
  return items.map((item) => {
    if (item.uid === "" || !item.outcome.ok) return item;
    const key = JSON.stringify([item.uid, item.recurrenceId]);
    if (!seen.has(key)) {
      seen.add(key);
      return item;
    }
    return { ...item, outcome: err("another VEVENT earlier in the file has the same UID") };
  });
}

/** For a VEVENT without UID (RFC 5545 requires one): its content, so a re-import still finds it. */
function contentKey(fields: EventFields): string {
  return `no-uid:${fields.start.toISOString()}/${fields.durationMs}/${fields.title}`;
}

function invalidContent(error: InvalidArgument): string {
  const property: Record<string, string> = {
    title: "SUMMARY",
    description: "DESCRIPTION",
    start_time: "DTSTART",
    duration: "DTEND/DURATION",
    notify_before: "VALARM TRIGGER",
  };
  return `invalid content: ${property[error.field] ?? error.field} ${error.message}`;
}

function textOf(component: ICAL.Component, name: string): string {
  const value = component.getFirstPropertyValue(name);
  return typeof value === "string"
    ? value
    : value === null || value === undefined
      ? ""
      : String(value);
}

/** A property's value as the file wrote it (jCal keeps it unparsed until read). */
function rawValueOf(property: ICAL.Property): string {
  const value: unknown = (property.toJSON() as unknown[])[3];
  return typeof value === "string" ? value : "";
}

function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

function isComponentList(parsed: unknown): parsed is unknown[] {
  return Array.isArray(parsed) && parsed.every(Array.isArray);
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
