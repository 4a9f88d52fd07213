// An .ics file read into what the importer stores: one item per VEVENT,
// each either an event (single or series), an override of one occurrence of
// a series (RECURRENCE-ID), or the reason it cannot be one. Parsing is
// ical.js's (RFC 5545, with unfolding and unescaping); this module only maps
// its components onto the calendar's rules. A file that is not iCalendar at
// all is one error for the whole file, so that nothing of it gets written.
import ICAL from "ical.js";
import { Temporal } from "temporal-polyfill";
import { type InvalidArgument, invalidArgument } from "../domain/errors.js";
import type { EventFields } from "../domain/event.js";
import { basicUtc } from "../domain/recurrence.js";
import { err, ok, type Result } from "../domain/result.js";
import { type EventDraft, limits, validateEventDraft } from "../domain/validation.js";
import { eventIdFromUid } from "./event_uid.js";
import { ianaZoneOf } from "./time_zones.js";

/** A single event or a series read from a VEVENT, ready to store. */
export interface ImportedEvent {
  kind: "event";
  id: string;
  /** For a series, with its recurrence lines (as the API takes them) and time zone. */
  fields: EventFields;
  /** The IANA zone of DTSTART, when it had one. */
  timeZone: string | undefined;
}

/**
 * A VEVENT with RECURRENCE-ID: new content for one occurrence of the series
 * with the same UID, or its cancellation (STATUS:CANCELLED).
 */
export interface ImportedOverride {
  kind: "override";
  /** The series' event id (from the shared UID). */
  seriesId: string;
  /** The occurrence's start as the series' rule generates it (RECURRENCE-ID). */
  originalStart: Date;
  /** The occurrence's content; undefined when the override cancels it. */
  fields: EventFields | undefined;
  /** The IANA zone of the override's DTSTART, when it had one. */
  timeZone: string | undefined;
}

export interface ImportItem {
  uid: string;
  /** RECURRENCE-ID as written ("" for a VEVENT without one). */
  recurrenceId: string;
  isOverride: boolean;
  outcome: Result<ImportedEvent | ImportedOverride, string>;
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
    const parsed = parseKeepingBadRules(text);
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

/**
 * An RRULE value ical.js could not parse, kept in the jCal tree in place of
 * its parsed form. Never hand one to ical.js to read: check for it first.
 */
class UnparsedRule {
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {}
}

/**
 * ICAL.parse, except that an RRULE value it cannot parse (FREQ=FOO,
 * INTERVAL=abc) is kept as an UnparsedRule instead of failing the whole
 * file: ical.js parses rule values while it reads the file, so one VEVENT's
 * bad rule would otherwise refuse every other VEVENT. The lenient design set
 * is in place only for this synchronous call.
 */
export function parseKeepingBadRules(text: string): unknown {
  const design = ICAL.design as unknown as { defaultSet: DesignSet };
  const strict = design.defaultSet;
  const recur = strict.value.recur;
  if (recur?.fromICAL === undefined) return ICAL.parse(text);
  const fromICAL = recur.fromICAL;
  design.defaultSet = {
    ...strict,
    value: {
      ...strict.value,
      recur: {
        ...recur,
        fromICAL: (value: string, structured?: unknown) => {
          try {
            return fromICAL(value, structured);
          } catch (error) {
            return new UnparsedRule(value, messageOf(error));
          }
        },
      },
    },
  };
  try {
    return ICAL.parse(text);
  } finally {
    design.defaultSet = strict;
  }
}

interface DesignSet {
  value: Record<string, { fromICAL?: (value: string, structured?: unknown) => unknown }>;
}

/** True when a property holds an RRULE value ical.js could not parse. */
function isUnparsedRule(property: ICAL.Property): boolean {
  return (property.toJSON() as unknown[]).slice(3).some((value) => value instanceof UnparsedRule);
}

function readVevent(vevent: ICAL.Component, zones: FileZones): ImportItem {
  const uid = safely(() => textOf(vevent, "uid"), "");
  const recurrenceIdProperty = vevent.getFirstProperty("recurrence-id");
  // As written: ical.js parses the value on reading it, and throws on a bad one.
  const recurrenceId = recurrenceIdProperty ? rawValueOf(recurrenceIdProperty) : "";
  const isOverride = recurrenceIdProperty !== null;
  const item = (outcome: Result<ImportedEvent | ImportedOverride, string>) => ({
    uid,
    recurrenceId,
    isOverride,
    outcome,
  });
  try {
    if (recurrenceIdProperty) return item(readOverride(vevent, recurrenceIdProperty, uid, zones));
    if (textOf(vevent, "status").toUpperCase() === "CANCELLED")
      return item(err("the event is cancelled (STATUS:CANCELLED)"));
    const content = readContent(vevent, zones);
    if (!content.ok) return item(content);
    const { draft, startProperty, startTime } = content.value;
    const series = seriesOf(vevent, startProperty, startTime, zones);
    if (!series.ok) return item(series);
    const fields = validateEventDraft({ ...draft, ...series.value });
    if (!fields.ok) return item(err(invalidContent(fields.error, series.value?.recurrence)));
    return item(
      ok({
        kind: "event",
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

/** What a VEVENT holds for any event: its time, length, title, description and reminder. */
function readContent(
  vevent: ICAL.Component,
  zones: FileZones,
): Result<
  {
    draft: EventDraft;
    startProperty: ICAL.Property;
    startTime: ICAL.Time;
  },
  string
> {
  const startProperty = vevent.getFirstProperty("dtstart");
  if (!startProperty) return err("DTSTART is missing");
  const startTime = startProperty.getFirstValue() as ICAL.Time;
  const start = zones.instantOf(startTime, startProperty);
  if (!start.ok) return start;

  const end = endOf(vevent, startTime, startProperty, zones);
  if (!end.ok) return end;
  const durationMs = end.value.getTime() - start.value.getTime();
  if (durationMs <= 0) return err("ends at or before its start (DTEND/DURATION)");

  const title = textOf(vevent, "summary").trim();
  const description = textOf(vevent, "description");
  return ok({
    draft: {
      title: title === "" ? NO_TITLE : title,
      start: start.value,
      durationMs,
      description: description === "" ? undefined : description,
      notifyBeforeMs: notifyBeforeOf(vevent, start.value),
    },
    startProperty,
    startTime,
  });
}

/**
 * A VEVENT with RECURRENCE-ID: which occurrence of which series it replaces,
 * and with what (nothing, when STATUS:CANCELLED cancels the occurrence).
 * Whether the series has that occurrence is for the importer to check, once
 * it knows the series.
 */
function readOverride(
  vevent: ICAL.Component,
  property: ICAL.Property,
  uid: string,
  zones: FileZones,
): Result<ImportedOverride, string> {
  if (uid === "") return err("an override (RECURRENCE-ID) needs the UID of its series");
  if (String(property.getParameter("range") ?? "").toUpperCase() === "THISANDFUTURE") {
    return err(
      "RECURRENCE-ID;RANGE=THISANDFUTURE is not supported: export the changed part as a series of its own",
    );
  }
  if (["rrule", "rdate", "exdate"].some((name) => vevent.hasProperty(name))) {
    return err(
      "an override (RECURRENCE-ID) must not repeat: RRULE, RDATE and EXDATE belong to its series",
    );
  }
  const originalStart = zones.instantOf(property.getFirstValue() as ICAL.Time, property);
  if (!originalStart.ok) return originalStart;
  const base = {
    kind: "override" as const,
    seriesId: eventIdFromUid(uid),
    originalStart: originalStart.value,
  };
  if (textOf(vevent, "status").toUpperCase() === "CANCELLED") {
    return ok({ ...base, fields: undefined, timeZone: undefined });
  }
  const content = readContent(vevent, zones);
  if (!content.ok) return content;
  const fields = validateEventDraft(content.value.draft);
  if (!fields.ok) return err(invalidContent(fields.error));
  return ok({
    ...base,
    fields: fields.value,
    timeZone: zones.ianaZoneOf(content.value.startProperty),
  });
}

/**
 * A series' recurrence lines in the form the API takes (RRULE as ical.js
 * reads it; EXDATE/RDATE with an IANA TZID as written, any other form as
 * UTC instants) and its time zone: DTSTART's TZID, UTC for a UTC DTSTART,
 * the calendar's zone for dates and floating times (as for single events).
 * Nothing for a VEVENT that does not repeat.
 */
function seriesOf(
  vevent: ICAL.Component,
  startProperty: ICAL.Property,
  startTime: ICAL.Time,
  zones: FileZones,
): Result<{ recurrence: string[]; timeZone: string } | undefined, string> {
  const rrules = vevent.getAllProperties("rrule");
  const dateLists = [...vevent.getAllProperties("exdate"), ...vevent.getAllProperties("rdate")];
  if (rrules.length === 0 && dateLists.length === 0) return ok(undefined);
  if (rrules.length === 0) {
    return err("has RDATE or EXDATE but no RRULE; a recurring event needs one RRULE");
  }
  for (const rule of rrules) {
    const value = (rule.toJSON() as unknown[])[3];
    if (value instanceof UnparsedRule) {
      return err(`invalid content: RRULE ${value.text} is not a rule: ${value.reason}`);
    }
  }
  const timeZone = zones.seriesZoneOf(startTime, startProperty);
  if (!timeZone.ok) return timeZone;
  const lines = rrules.map((rule) => `RRULE:${String(rule.getFirstValue())}`);
  for (const property of dateLists) {
    const line = dateListLine(property, zones);
    if (!line.ok) return line;
    lines.push(line.value);
  }
  return ok({ recurrence: lines, timeZone: timeZone.value });
}

/** One EXDATE or RDATE property as a recurrence line the API takes. */
function dateListLine(property: ICAL.Property, zones: FileZones): Result<string, string> {
  const name = property.name.toUpperCase();
  const values = property.getValues() as unknown[];
  if (values.some((value) => !(value instanceof ICAL.Time))) {
    return err(`${name} must list dates or date-times (periods are not supported)`);
  }
  const times = values as ICAL.Time[];
  const tzid = property.getParameter("tzid");
  const zone = typeof tzid === "string" ? ianaZoneOf(tzid) : undefined;
  if (zone !== undefined && times.every((time) => !time.isDate)) {
    return ok(`${name};TZID=${zone}:${times.map(localBasic).join(",")}`);
  }
  const instants: string[] = [];
  for (const time of times) {
    const instant = zones.instantOf(time, property);
    if (!instant.ok) return instant;
    instants.push(basicUtc(instant.value));
  }
  return ok(`${name}:${instants.join(",")}`);
}

/** An ICAL.Time's wall time, RFC 5545 basic form (20270112T100000). */
function localBasic(time: ICAL.Time): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(time.year, 4)}${pad(time.month)}${pad(time.day)}T${pad(time.hour)}${pad(time.minute)}${pad(Math.min(time.second, 59))}`;
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
      const badRule = component
        .getAllSubcomponents()
        .some((part) => part.getAllProperties("rrule").some(isUnparsedRule));
      if (badRule) continue;
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

  /**
   * The IANA zone a series starting at `time` repeats in. A zone known only
   * from the file's VTIMEZONE has no IANA name, and a series needs one to
   * follow daylight saving time beyond the rules the file spells out.
   */
  seriesZoneOf(time: ICAL.Time, property: ICAL.Property): Result<string, string> {
    const tzid = property.getParameter("tzid");
    if (typeof tzid === "string" && !time.isDate) {
      const zone = ianaZoneOf(tzid);
      return zone === undefined
        ? err(
            `a recurring event needs a time zone with an IANA or Windows name; DTSTART's TZID "${tzid}" is neither`,
          )
        : ok(zone);
    }
    if (!time.isDate && time.zone === ICAL.Timezone.utcTimezone) return ok("UTC");
    return ok(this.#floatingZone);
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
    const key = JSON.stringify([item.uid, item.isOverride, item.recurrenceId]);
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

function invalidContent(error: InvalidArgument, recurrence?: readonly string[]): string {
  const property: Record<string, string> = {
    title: "SUMMARY",
    description: "DESCRIPTION",
    start_time: "DTSTART",
    duration: "DTEND/DURATION",
    notify_before: "VALARM TRIGGER",
    time_zone: "DTSTART's TZID",
    recurrence: "RRULE",
  };
  // "recurrence[2]": the line seriesOf built from one RRULE, EXDATE or RDATE.
  const line = error.field.startsWith("recurrence[")
    ? recurrence?.[Number(error.field.slice("recurrence[".length, -1))]
    : undefined;
  const name = line?.split(/[;:]/)[0] ?? property[error.field];
  return `invalid content: ${name ?? error.field} ${error.message}`;
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
