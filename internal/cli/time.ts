// Times as a person types them, read in their time zone, and shown back.
import { Temporal } from "temporal-polyfill";
import { UsageError } from "./errors.js";

/** The zone calctl reads and shows times in: --tz, else TZ, else the system's. */
export function resolveTimeZone(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const name = flag ?? (env.TZ ? env.TZ.replace(/^:/, "") : undefined);
  if (name === undefined) return Temporal.Now.timeZoneId();
  try {
    return Temporal.ZonedDateTime.from({ year: 2000, month: 1, day: 1, timeZone: name }).timeZoneId;
  } catch {
    throw new UsageError(
      `${flag === undefined ? "TZ" : "--tz"}: unknown time zone "${name}"; use an IANA name such as Europe/Berlin or UTC`,
    );
  }
}

export function today(timeZone: string): Temporal.PlainDate {
  return Temporal.Now.plainDateISO(timeZone);
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** "2026-12-01", "today", "tomorrow" or "yesterday", in `timeZone`. */
export function parseDate(text: string, timeZone: string, what = "DATE"): Temporal.PlainDate {
  const relative: Record<string, number> = { yesterday: -1, today: 0, tomorrow: 1 };
  const shift = relative[text.toLowerCase()];
  if (shift !== undefined) return today(timeZone).add({ days: shift });
  if (DATE.test(text)) {
    try {
      return Temporal.PlainDate.from(text, { overflow: "reject" });
    } catch {}
  }
  throw new UsageError(
    `${what}: "${text}" is not a date; use YYYY-MM-DD (e.g. 2026-12-01), today, tomorrow or yesterday`,
  );
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)$/;
const TIME = /^(\d{1,2}:\d{2})$/;

/**
 * A start time: "2026-12-01 09:00" (local, in `timeZone`), "09:00" (today),
 * or an ISO instant with an offset ("2026-12-01T08:00:00Z").
 */
export function parseDateTime(text: string, timeZone: string, what = "--at"): Temporal.Instant {
  const trimmed = text.trim();
  try {
    const local = DATE_TIME.exec(trimmed);
    if (local) {
      const time = (local[2] ?? "").padStart(5, "0");
      return Temporal.PlainDateTime.from(`${local[1]}T${time}`, { overflow: "reject" })
        .toZonedDateTime(timeZone, { disambiguation: "compatible" })
        .toInstant();
    }
    const timeOnly = TIME.exec(trimmed);
    if (timeOnly) {
      const time = Temporal.PlainTime.from((timeOnly[1] ?? "").padStart(5, "0"), {
        overflow: "reject",
      });
      return today(timeZone).toZonedDateTime({ plainTime: time, timeZone }).toInstant();
    }
    if (/[zZ]$|[+-]\d{2}:?\d{2}$/.test(trimmed)) return Temporal.Instant.from(trimmed);
  } catch {}
  throw new UsageError(
    `${what}: "${text}" is not a time; use "YYYY-MM-DD HH:MM" in your time zone (e.g. "2026-12-01 09:00"), "HH:MM" for today, or an ISO time with an offset`,
  );
}

const DURATION_PART = /(\d+)\s*(d|h|m|s)/gy;
const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };

/** "30m", "1h30m", "2h", "1d", "90s" -> seconds. */
export function parseDuration(text: string, what: string): number {
  const trimmed = text.trim().toLowerCase();
  let seconds = 0;
  let matched = 0;
  DURATION_PART.lastIndex = 0;
  for (let part = DURATION_PART.exec(trimmed); part; part = DURATION_PART.exec(trimmed)) {
    seconds += Number(part[1]) * (UNIT_SECONDS[part[2] ?? ""] ?? 0);
    matched = DURATION_PART.lastIndex;
  }
  if (trimmed === "" || matched !== trimmed.length) {
    throw new UsageError(
      `${what}: "${text}" is not a duration; use a number and a unit, e.g. 30m, 1h30m, 2h, 1d or 90s`,
    );
  }
  return seconds;
}

/** 5400 -> "1h30m"; 0 -> "0m". */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0m";
  let rest = seconds;
  let text = "";
  for (const [unit, size] of Object.entries(UNIT_SECONDS)) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}

/** "Tue 1 Dec 2026". */
export function formatDay(date: Temporal.PlainDate): string {
  const weekday = date.toLocaleString("en-GB", { weekday: "short" });
  const month = date.toLocaleString("en-GB", { month: "short" });
  return `${weekday} ${date.day} ${month} ${date.year}`;
}

/** "09:05". */
export function formatClock(time: Temporal.ZonedDateTime): string {
  return `${String(time.hour).padStart(2, "0")}:${String(time.minute).padStart(2, "0")}`;
}
