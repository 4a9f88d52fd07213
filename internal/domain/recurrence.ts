// Recurring events: RFC 5545 recurrence lines (as Google Calendar's API takes
// them) checked, and expanded into occurrence starts by rrule-temporal. No
// expansion is written by hand here: this module only parses the lines far
// enough to check them and to tell the client which line and part is wrong.
//
// Rules the library applies, as RFC 5545 3.3.10 and 3.3.5 require:
// - an invalid date (Feb 30, the 5th Monday of a month that has four) is
//   skipped, never clamped, and does not count towards COUNT;
// - a local time that a DST change skips (02:30 on a spring-forward day) is
//   skipped the same way; a local time that repeats (autumn) is taken at its
//   first occurrence.
// Occurrences keep the series' local time in its time zone across DST.
import { RRuleTemporal } from "rrule-temporal";
import { Temporal } from "temporal-polyfill";
import { type InvalidArgument, invalidArgument } from "./errors.js";
import { err, ok, type Result } from "./result.js";

export const recurrenceLimits = {
  maxLines: 100,
  maxLineChars: 1000,
  maxCount: 1_000,
} as const;

const FREQUENCIES = new Set(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]);
const RULE_PARTS = new Set([
  "FREQ",
  "INTERVAL",
  "COUNT",
  "UNTIL",
  "BYDAY",
  "BYMONTHDAY",
  "BYMONTH",
  "BYYEARDAY",
  "BYWEEKNO",
  "BYSETPOS",
  "WKST",
]);
const WEEKDAY = /^(?:[+-]?(?:[1-9]|[1-4]\d|5[0-3]))?(?:MO|TU|WE|TH|FR|SA|SU)$/;
const INTEGER_LIST = /^[+-]?\d{1,3}(?:,[+-]?\d{1,3})*$/;
const DATE_TIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$/;

/** A series' checked recurrence: what the expansion needs. */
export interface Recurrence {
  /** The lines as the client sent them (trimmed), stored and returned as they are. */
  lines: string[];
  timeZone: string;
}

/** The parsed form of the lines, ready for rrule-temporal. */
interface ParsedRecurrence {
  rrule: string | undefined;
  parts: Map<string, string>;
  exDates: Temporal.ZonedDateTime[];
  rDates: Temporal.ZonedDateTime[];
}

/**
 * Checks `lines` for a series starting at `start` in `timeZone`. The field
 * names in the errors are the API's ("recurrence[2]").
 */
export function validateRecurrence(
  lines: readonly string[],
  timeZone: string | undefined,
  start: Date,
): Result<Recurrence, InvalidArgument> {
  if (lines.length > recurrenceLimits.maxLines) {
    return err(
      invalidArgument("recurrence", `must have at most ${recurrenceLimits.maxLines} lines`),
    );
  }
  if (timeZone === undefined || timeZone === "") {
    return err(
      invalidArgument(
        "time_zone",
        'is required for a recurring event: an IANA time zone name such as "Europe/Berlin"',
      ),
    );
  }
  if (!isTimeZone(timeZone)) {
    return err(
      invalidArgument("time_zone", 'must be an IANA time zone name such as "Europe/Berlin"'),
    );
  }
  if (start.getTime() % 1000 !== 0) {
    return err(
      invalidArgument("start_time", "of a recurring event must be a whole second (RFC 5545 times)"),
    );
  }
  const trimmed = lines.map((line) => line.trim());
  const parsed = parseLines(trimmed, timeZone);
  if (!parsed.ok) return parsed;
  const { parts } = parsed.value;
  if (parsed.value.rrule === undefined) {
    return err(invalidArgument("recurrence", "must hold one RRULE line"));
  }
  const until = parts.get("UNTIL");
  if (until !== undefined) {
    const untilInstant = parseDateTime(until, timeZone);
    if (untilInstant && untilInstant.epochMilliseconds < start.getTime()) {
      return err(
        invalidArgument(`recurrence[${parsed.value.rruleIndex}]`, "UNTIL is before start_time"),
      );
    }
  }
  const recurrence = { lines: trimmed, timeZone };
  let rule: RRuleTemporal;
  try {
    rule = buildRule(parsed.value, start, timeZone, FIRST_OCCURRENCE_SEARCH);
  } catch (error) {
    return err(
      invalidArgument(
        `recurrence[${parsed.value.rruleIndex}]`,
        `is not a valid RRULE: ${(error as Error).message}`,
      ),
    );
  }
  let first: unknown = null;
  try {
    first = rule.next(new Date(start.getTime() - 1), true);
  } catch {
    // The library gives up after a bounded search (10,000 periods): a rule
    // such as "February 30th" never matches.
  }
  if (first === null) {
    return err(invalidArgument("recurrence", "yields no occurrence at all"));
  }
  try {
    // The end of a bounded series is stored with it (retention, lists).
    Schedule.of(start, recurrence).last();
  } catch {
    return err(
      invalidArgument(
        `recurrence[${parsed.value.rruleIndex}]`,
        "COUNT or UNTIL reaches too far to expand; use a shorter span or no end at all",
      ),
    );
  }
  return ok(recurrence);
}

function parseLines(
  lines: readonly string[],
  timeZone: string,
): Result<ParsedRecurrence & { rruleIndex: number }, InvalidArgument> {
  let rrule: string | undefined;
  let rruleIndex = -1;
  const parts = new Map<string, string>();
  const exDates: Temporal.ZonedDateTime[] = [];
  const rDates: Temporal.ZonedDateTime[] = [];
  for (const [index, line] of lines.entries()) {
    const field = `recurrence[${index}]`;
    if (line.length > recurrenceLimits.maxLineChars) {
      return err(
        invalidArgument(field, `must be at most ${recurrenceLimits.maxLineChars} characters`),
      );
    }
    const colon = line.indexOf(":");
    if (colon < 0) {
      return err(invalidArgument(field, 'must be "RRULE:...", "EXDATE...:..." or "RDATE...:..."'));
    }
    const [rawName = "", ...params] = line.slice(0, colon).split(";");
    const name = rawName.toUpperCase();
    const value = line.slice(colon + 1);
    if (name === "RRULE") {
      if (rrule !== undefined)
        return err(invalidArgument(field, "is a second RRULE; one is allowed"));
      if (params.length > 0) return err(invalidArgument(field, "RRULE takes no parameters"));
      const checked = checkRulePart(field, value.toUpperCase(), parts);
      if (!checked.ok) return checked;
      rrule = value.toUpperCase();
      rruleIndex = index;
    } else if (name === "EXDATE" || name === "RDATE") {
      const dates = parseDateList(field, params, value, timeZone);
      if (!dates.ok) return dates;
      (name === "EXDATE" ? exDates : rDates).push(...dates.value);
    } else {
      return err(
        invalidArgument(field, `${name || "(empty)"} is not supported; use RRULE, EXDATE or RDATE`),
      );
    }
  }
  return ok({ rrule, rruleIndex, parts, exDates, rDates });
}

function checkRulePart(
  field: string,
  rule: string,
  parts: Map<string, string>,
): Result<void, InvalidArgument> {
  for (const part of rule.split(";")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    if (!RULE_PARTS.has(key)) {
      return err(
        invalidArgument(
          field,
          `${key || "(empty part)"} is not supported; allowed: ${[...RULE_PARTS].join(", ")}`,
        ),
      );
    }
    if (parts.has(key)) return err(invalidArgument(field, `${key} appears twice`));
    if (value === "") return err(invalidArgument(field, `${key} needs a value`));
    parts.set(key, value);
    const bad = (allowed: string) => err(invalidArgument(field, `${key}=${value}: ${allowed}`));
    switch (key) {
      case "FREQ":
        if (!FREQUENCIES.has(value)) return bad("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY");
        break;
      case "INTERVAL":
        if (!/^\d{1,4}$/.test(value) || Number(value) < 1) return bad("INTERVAL must be 1 to 9999");
        break;
      case "COUNT":
        if (
          !/^\d{1,6}$/.test(value) ||
          Number(value) < 1 ||
          Number(value) > recurrenceLimits.maxCount
        )
          return bad(`COUNT must be 1 to ${recurrenceLimits.maxCount}`);
        break;
      case "UNTIL":
        if (!/^\d{8}(?:T\d{6}Z?)?$/.test(value))
          return bad("UNTIL must be a date-time such as 20261231T235959Z");
        break;
      case "BYDAY":
        if (!value.split(",").every((day) => WEEKDAY.test(day)))
          return bad("BYDAY must list weekdays such as MO,WE or 2MO,-1FR");
        break;
      case "WKST":
        if (!/^(?:MO|TU|WE|TH|FR|SA|SU)$/.test(value))
          return bad("WKST must be a weekday such as MO");
        break;
      default: {
        const range: Record<string, [number, number]> = {
          BYMONTHDAY: [1, 31],
          BYMONTH: [1, 12],
          BYYEARDAY: [1, 366],
          BYWEEKNO: [1, 53],
          BYSETPOS: [1, 366],
        };
        const [low, high] = range[key] ?? [1, 1];
        const ok =
          INTEGER_LIST.test(value) &&
          value.split(",").every((n) => {
            const abs = Math.abs(Number(n));
            return abs >= low && abs <= high && (key !== "BYMONTH" || Number(n) > 0);
          });
        if (!ok)
          return bad(
            key === "BYMONTH"
              ? "BYMONTH must list months 1 to 12"
              : `${key} must list numbers from ${low} to ${high} or -${high} to -${low}`,
          );
      }
    }
  }
  if (!parts.has("FREQ")) return err(invalidArgument(field, "FREQ is required"));
  if (parts.has("COUNT") && parts.has("UNTIL")) {
    return err(invalidArgument(field, "COUNT and UNTIL must not both be given"));
  }
  return ok(undefined);
}

function parseDateList(
  field: string,
  params: string[],
  value: string,
  timeZone: string,
): Result<Temporal.ZonedDateTime[], InvalidArgument> {
  let zone = timeZone;
  for (const param of params) {
    const [rawKey = "", paramValue = ""] = param.split("=");
    const key = rawKey.toUpperCase();
    if (key === "TZID") {
      if (!isTimeZone(paramValue))
        return err(invalidArgument(field, `TZID=${paramValue} is not an IANA time zone`));
      zone = paramValue;
    } else if (!(key === "VALUE" && paramValue.toUpperCase() === "DATE-TIME")) {
      return err(invalidArgument(field, `${param} is not supported; use TZID=... or a UTC time`));
    }
  }
  const dates: Temporal.ZonedDateTime[] = [];
  for (const text of value.split(",")) {
    const date = parseDateTime(text.trim(), zone);
    if (date === undefined) {
      return err(
        invalidArgument(
          field,
          `${text} must be a date-time such as 20260601T090000 or 20260601T070000Z`,
        ),
      );
    }
    dates.push(date);
  }
  return ok(dates);
}

/** A basic-format date-time: UTC when it ends in Z, else local time in `zone`. */
function parseDateTime(text: string, zone: string): Temporal.ZonedDateTime | undefined {
  const dateOnly = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  const match = DATE_TIME.exec(text) ?? (dateOnly ? [...dateOnly, "00", "00", "00", ""] : null);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, z] = match;
  try {
    const plain = new Temporal.PlainDateTime(
      Number(y),
      Number(mo),
      Number(d),
      Number(h),
      Number(mi),
      Number(s),
    );
    return z === "Z"
      ? plain.toZonedDateTime("UTC").withTimeZone(zone)
      : plain.toZonedDateTime(zone);
  } catch {
    return undefined;
  }
}

const ZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

export function isTimeZone(zone: string): boolean {
  if (zone.length > 64 || !ZONE_PATTERN.test(zone)) return false;
  try {
    Temporal.PlainDate.from({ year: 2000, month: 1, day: 1 }).toZonedDateTime(zone);
    return true;
  } catch {
    return false;
  }
}

function buildRule(
  parsed: ParsedRecurrence,
  start: Date,
  timeZone: string,
  maxIterations?: number,
): RRuleTemporal {
  const dtstart = Temporal.Instant.fromEpochMilliseconds(start.getTime()).toZonedDateTimeISO(
    timeZone,
  );
  let rrule = parsed.rrule ?? "";
  // A floating or date-only UNTIL is local time in the series' zone; the
  // library wants the RFC's UTC form.
  const until = parsed.parts.get("UNTIL");
  if (until !== undefined && !until.endsWith("Z")) {
    const instant = parseDateTime(until, timeZone);
    if (instant) {
      rrule = rrule.replace(
        `UNTIL=${until}`,
        `UNTIL=${basicUtc(new Date(instant.epochMilliseconds))}`,
      );
    }
  }
  return new RRuleTemporal({
    rruleString: `RRULE:${rrule}`,
    dtstart,
    tzid: timeZone,
    exDate: parsed.exDates,
    rDate: parsed.rDates,
    ...(maxIterations === undefined ? {} : { maxIterations }),
  });
}

// How far the "does it ever occur" check searches, in periods of the rule's
// FREQ. Real rules have their first occurrence well within it (Feb 29 at
// most 8 years away, Friday the 13th 14 months); a rule that never matches
// (Feb 30) is found out in about 0.4 s instead of the library's 10,000
// periods (2 s).
const FIRST_OCCURRENCE_SEARCH = 2000;

/**
 * What the busy check reasons about a rule without expanding it (see
 * series_overlap.ts): its FREQ, INTERVAL and parts, and its dated lines.
 */
export interface RuleShape {
  freq: "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY";
  interval: number;
  /** The RRULE's parts, FREQ and INTERVAL included. */
  parts: ReadonlyMap<string, string>;
  /** True when RDATE lines add occurrences the RRULE does not generate. */
  hasRDates: boolean;
  /** The latest RDATE or EXDATE (epoch ms), if any: the rule is irregular up to it. */
  lastDatedLine: number | undefined;
}

/** An expanded series: its occurrence starts, on demand. */
export class Schedule {
  readonly #rule: RRuleTemporal;
  readonly shape: RuleShape;
  /** How the series ends: by COUNT, by UNTIL (epoch ms, RDATEs included), or never. */
  readonly #end: { kind: "count" } | { kind: "until"; bound: number } | { kind: "never" };
  readonly start: Date;

  private constructor(
    rule: RRuleTemporal,
    start: Date,
    parsed: ParsedRecurrence,
    timeZone: string,
  ) {
    this.#rule = rule;
    this.start = start;
    const dated = [...parsed.exDates, ...parsed.rDates].map((date) => date.epochMilliseconds);
    this.shape = {
      freq: (parsed.parts.get("FREQ") ?? "DAILY") as RuleShape["freq"],
      interval: Number(parsed.parts.get("INTERVAL") ?? "1"),
      parts: parsed.parts,
      hasRDates: parsed.rDates.length > 0,
      lastDatedLine: dated.length > 0 ? Math.max(...dated) : undefined,
    };
    const until = parsed.parts.get("UNTIL");
    if (parsed.parts.has("COUNT")) this.#end = { kind: "count" };
    else if (until !== undefined) {
      const untilMs = parseDateTime(until, timeZone)?.epochMilliseconds ?? start.getTime();
      const rDates = parsed.rDates.map((date) => date.epochMilliseconds);
      this.#end = { kind: "until", bound: Math.max(untilMs, start.getTime(), ...rDates) };
    } else this.#end = { kind: "never" };
  }

  /** For a stored (so already validated) series. */
  static of(start: Date, recurrence: Recurrence): Schedule {
    const key = `${start.getTime()}\n${recurrence.timeZone}\n${recurrence.lines.join("\n")}`;
    const cached = scheduleCache.get(key);
    if (cached) {
      scheduleCache.delete(key);
      scheduleCache.set(key, cached);
      return cached;
    }
    const parsed = parseLines(recurrence.lines, recurrence.timeZone);
    if (!parsed.ok) throw new Error(`stored recurrence is invalid: ${parsed.error.message}`);
    const schedule = new Schedule(
      buildRule(parsed.value, start, recurrence.timeZone),
      start,
      parsed.value,
      recurrence.timeZone,
    );
    scheduleCache.set(key, schedule);
    if (scheduleCache.size > 1000) {
      const oldest = scheduleCache.keys().next().value;
      if (oldest !== undefined) scheduleCache.delete(oldest);
    }
    return schedule;
  }

  /**
   * The same RRULE on the wall clock: DTSTART's local date and time read as
   * if in UTC, without COUNT, UNTIL, EXDATE or RDATE. Its starts are the
   * local date-times the rule generates (as epoch ms of that wall time); the
   * real series has a subset of them (bounds and exclusions only remove,
   * and a local time a DST gap skips is skipped), each at its zone's offset.
   */
  static wallClock(start: Date, recurrence: Recurrence): Schedule {
    const wall = Temporal.Instant.fromEpochMilliseconds(start.getTime())
      .toZonedDateTimeISO(recurrence.timeZone)
      .toPlainDateTime()
      .toZonedDateTime("UTC");
    const lines = recurrence.lines
      .filter((line) => line.toUpperCase().startsWith("RRULE:"))
      .map(
        (line) =>
          `RRULE:${line
            .slice(6)
            .split(";")
            .filter((part) => !/^(COUNT|UNTIL)=/i.test(part))
            .join(";")}`,
      );
    return Schedule.of(new Date(wall.epochMilliseconds), { lines, timeZone: "UTC" });
  }

  /** Occurrence starts s with from <= s < to, in order. */
  startsBetween(from: Date, to: Date): Date[] {
    if (!(from < to)) return [];
    return this.#rule
      .between(new Date(from.getTime()), new Date(to.getTime() - 1), true)
      .map((zdt) => new Date(zdt.epochMilliseconds));
  }

  /** True when `start` is one of the series' occurrences. */
  hasOccurrenceAt(start: Date): boolean {
    return this.startsBetween(start, new Date(start.getTime() + 1)).length === 1;
  }

  /** The first occurrence starting at or after `from`, if any. */
  nextFrom(from: Date): Date | undefined {
    const next = this.#rule.next(new Date(from.getTime()), true);
    return next ? new Date(next.epochMilliseconds) : undefined;
  }

  first(): Date | undefined {
    const next = this.#rule.next(new Date(this.start.getTime() - 1), true);
    return next ? new Date(next.epochMilliseconds) : undefined;
  }

  /**
   * No occurrence starts after this; undefined when the series never ends.
   * Exact for COUNT (at most 1,000 occurrences to expand); for UNTIL it is
   * UNTIL itself (or a later RDATE): expanding up to an UNTIL centuries
   * away would take seconds, and a bound is all that retention and the
   * stored end of a series need.
   */
  last(): Date | undefined {
    if (this.#end.kind === "never") return undefined;
    if (this.#end.kind === "until") return new Date(this.#end.bound);
    if (this.#lastOfCount === undefined) {
      const all = this.#rule.all();
      this.#lastOfCount = all[all.length - 1]?.epochMilliseconds ?? null;
    }
    return this.#lastOfCount === null ? undefined : new Date(this.#lastOfCount);
  }
  #lastOfCount: number | null | undefined;

  /** How many occurrences start before `before`. */
  countBefore(before: Date): number {
    return this.#rule.between(
      new Date(this.start.getTime() - 1),
      new Date(before.getTime() - 1),
      true,
    ).length;
  }
}

const scheduleCache = new Map<string, Schedule>();

/**
 * The lines of a series cut so that its last occurrence starts before
 * `splitAt` ("this and following" keeps the part before it). COUNT becomes
 * an UNTIL one second before `splitAt`; RDATEs from `splitAt` on are dropped.
 */
export function recurrenceEndingBefore(recurrence: Recurrence, splitAt: Date): Recurrence {
  const until = basicUtc(new Date(splitAt.getTime() - 1000));
  const lines = recurrence.lines.flatMap((line) => {
    const upper = line.toUpperCase();
    if (upper.startsWith("RRULE:")) {
      const parts = line
        .slice(6)
        .split(";")
        .filter((part) => !/^(COUNT|UNTIL)=/i.test(part));
      return [`RRULE:${[...parts, `UNTIL=${until}`].join(";")}`];
    }
    return [line];
  });
  return { lines, timeZone: recurrence.timeZone };
}

/**
 * The lines of the part of a series from `splitAt` on, when the client did
 * not send new ones: the same rule, its COUNT reduced by the occurrences
 * that stay with the old series.
 */
export function recurrenceFrom(
  recurrence: Recurrence,
  schedule: Schedule,
  splitAt: Date,
): Recurrence {
  const before = schedule.countBefore(splitAt);
  const lines = recurrence.lines.map((line) =>
    line.toUpperCase().startsWith("RRULE:")
      ? line.replace(
          /COUNT=(\d+)/i,
          (_, count: string) => `COUNT=${Math.max(1, Number(count) - before)}`,
        )
      : line,
  );
  return { lines, timeZone: recurrence.timeZone };
}

/** 20260601T090000Z: RFC 5545's UTC date-time form. */
export function basicUtc(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll("-", "")
    .replaceAll(":", "");
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const OCCURRENCE_ID = new RegExp(`^(${UUID})_(\\d{8}T\\d{6}Z)$`, "i");

/** An occurrence's id: the series id and its original start, as Google's API forms it. */
export function occurrenceId(seriesId: string, originalStart: Date): string {
  return `${seriesId}_${basicUtc(originalStart)}`;
}

/** The series id and original start an occurrence id names, or undefined for any other id. */
export function parseOccurrenceId(
  id: string,
): { seriesId: string; originalStart: Date } | undefined {
  const match = OCCURRENCE_ID.exec(id);
  if (!match) return undefined;
  const [, seriesId = "", stamp = ""] = match;
  const iso = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
  const originalStart = new Date(iso);
  if (Number.isNaN(originalStart.getTime()) || basicUtc(originalStart) !== stamp.toUpperCase()) {
    return undefined;
  }
  return { seriesId: seriesId.toLowerCase(), originalStart };
}
