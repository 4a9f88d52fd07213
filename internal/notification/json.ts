// Strict reading of untrusted JSON message bodies. Every error starts with
// the field it is about, so a dead-lettered message's log line says what to fix.
import { err, ok, type Result } from "../domain/result.js";

export type JsonObject = Record<string, unknown>;

// Invalid UTF-8 would otherwise turn into U+FFFD and slip through JSON.parse.
const utf8 = new TextDecoder("utf-8", { fatal: true });

export function parseJsonObject(body: Uint8Array): Result<JsonObject, string> {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return err("body: must be UTF-8 text");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return err(`body: must be JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return err(`body: must be a JSON object (got ${describe(value)})`);
  }
  return ok(value as JsonObject);
}

/** A required, non-blank string field. */
export function requireString(
  obj: JsonObject,
  name: string,
  alias?: string,
): Result<string, string> {
  const value = pick(obj, name, alias);
  if (value === undefined || value === null) return err(`${name}: is required`);
  if (typeof value !== "string") return err(`${name}: must be a string (got ${describe(value)})`);
  if (value.trim() === "") return err(`${name}: must not be empty`);
  return ok(value);
}

// RFC 3339 as google.protobuf.Timestamp's JSON mapping accepts it (upper-case
// T and Z only). Checked here rather than left to Date or @bufbuild/protobuf,
// which both roll an impossible date such as 02-30 over into March instead of
// refusing it.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A required RFC 3339 timestamp field, checked but left as text. */
export function requireTimestamp(
  obj: JsonObject,
  name: string,
  alias?: string,
): Result<string, string> {
  const value = pick(obj, name, alias);
  if (value === undefined || value === null) return err(`${name}: is required`);
  const problem = `${name}: must be an RFC 3339 timestamp such as 2026-12-01T09:00:00Z (got ${describe(value)})`;
  if (typeof value !== "string") return err(problem);
  const m = RFC3339.exec(value);
  if (!m) return err(problem);
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map(Number);
  const offset = m[8] ?? "Z";
  const [offsetHours = 0, offsetMinutes = 0] =
    offset.length === 6 ? offset.slice(1).split(":").map(Number) : [];
  const fieldsValid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59;
  if (!fieldsValid) return err(problem);
  const sign = offset.startsWith("-") ? -1 : 1;
  const utcSeconds =
    utcDaySeconds(year, month, day) +
    hour * 3600 +
    minute * 60 +
    second -
    sign * (offsetHours * 3600 + offsetMinutes * 60);
  if (utcSeconds < MIN_SECONDS || utcSeconds > MAX_SECONDS) {
    return err(
      `${name}: must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z (got "${value}")`,
    );
  }
  return ok(value);
}

// google.protobuf.Timestamp's range, in seconds since the Unix epoch.
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

function utcDaySeconds(year: number, month: number, day: number): number {
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 onto 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime() / 1000;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2
    ? leap
      ? 29
      : 28
    : ([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0);
}

// Proto JSON parsers accept a field's original name as well as its lowerCamel
// JSON name; the strict checks must accept the same inputs.
function pick(obj: JsonObject, name: string, alias: string | undefined): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  return alias !== undefined && Object.hasOwn(obj, alias) ? obj[alias] : undefined;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}
