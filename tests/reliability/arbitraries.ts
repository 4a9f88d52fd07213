// fast-check arbitraries for the reliability suite: hostile field values for
// the typed layer, and malformed request bodies for the raw layer.
import { randomUUID } from "node:crypto";
import { create, type DescMessage, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  type Duration,
  DurationSchema,
  type Timestamp,
  TimestampSchema,
} from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { CalendarService, type Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";

export const MIB = 1024 * 1024;

/** Strings a careless store would run as SQL, or as LIKE patterns, or escapes. */
export const SQL_STRINGS = [
  "'; DROP TABLE events; --",
  "' OR '1'='1",
  "\\'; DELETE FROM events WHERE ''='",
  "%",
  "_",
  "%_%\\%",
  "\\",
  "\\\\",
  "$1",
  "$$; select pg_sleep(5); $$",
  "'); insert into events values (1); --",
  '"events"',
  "E'\\x00'",
  "/* */ UNION SELECT * FROM events --",
  "\\N",
  "::text",
  "`rm -rf /`",
  "$" + "{jndi:ldap://x}",
  "<script>alert(1)</script>",
];

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Any text, including lone surrogates, controls, NUL and SQL. */
export const hostileString = (maxLength = 64): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength }) },
    { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength }) },
    { weight: 3, arbitrary: fc.constantFrom(...SQL_STRINGS) },
    {
      weight: 3,
      arbitrary: fc
        .array(fc.oneof(fc.constantFrom(...SQL_STRINGS), fc.string({ maxLength: 8 })), {
          minLength: 1,
          maxLength: 4,
        })
        .map((parts) => parts.join("")),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("", " ", "\u0000", "a\u0000b", "\ud800", "x\udc00y", "\t\n\r"),
    },
    { weight: 1, arbitrary: fc.constantFrom("  padded  ", "\u00a0nbsp\u3000", "\ufeffbom") },
  );

/** Titles around the 255-character limit, and a few beyond. */
const limitTitle = fc
  .tuple(fc.constantFrom("a", "é", "😀", "'", "%"), fc.integer({ min: 250, max: 300 }))
  .map(([unit, count]) => unit.repeat(count));

export const titleArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: hostileString(64) },
  { weight: 1, arbitrary: limitTitle },
);

/** Descriptions around the 16 KiB limit, and a few beyond. */
export const descriptionArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: hostileString(200) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("a", "é", "😀", "'", "\\"), fc.integer({ min: 16_000, max: 17_000 }))
      .map(([unit, bytes]) => unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)))),
  },
);

const int64 = fc.bigInt({ min: INT64_MIN, max: INT64_MAX });
const int32 = fc.integer({ min: INT32_MIN, max: INT32_MAX });
const MIN_TS_S = -62_135_596_800n; // 0001-01-01
const MAX_TS_S = 253_402_300_799n; // 9999-12-31T23:59:59

export const timestampArb: fc.Arbitrary<Timestamp | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    // Valid, at millisecond precision.
    weight: 4,
    arbitrary: fc
      .tuple(fc.bigInt({ min: MIN_TS_S, max: MAX_TS_S }), fc.integer({ min: 0, max: 999 }))
      .map(([seconds, ms]) => create(TimestampSchema, { seconds, nanos: ms * 1_000_000 })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(
          int64,
          fc.constantFrom(INT64_MIN, INT64_MAX, MIN_TS_S - 1n, MAX_TS_S + 1n, 0n, -1n),
        ),
        fc.oneof(int32, fc.constantFrom(-1, 0, 1, 999_999_999, 1_000_000_000, 500)),
      )
      .map(([seconds, nanos]) => create(TimestampSchema, { seconds, nanos })),
  },
);

const DAY_S = 86_400n;
export const durationArb: fc.Arbitrary<Duration | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc.integer({ min: 1, max: 3 * 3600 * 1000 }).map((ms) =>
      create(DurationSchema, {
        seconds: BigInt(Math.trunc(ms / 1000)),
        nanos: (ms % 1000) * 1e6,
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(
          int64,
          fc.constantFrom(INT64_MIN, INT64_MAX, 366n * DAY_S, 366n * DAY_S + 1n, 0n, -1n),
          fc.bigInt({ min: -400n * DAY_S, max: 400n * DAY_S }),
        ),
        fc.oneof(int32, fc.constantFrom(-1, 0, 1, 999_999_999, -999_999_999, 1_000_000_000, 7)),
      )
      .map(([seconds, nanos]) => create(DurationSchema, { seconds, nanos })),
  },
);

export const uuidArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
);

export const idArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constant("") },
  { weight: 4, arbitrary: uuidArb },
  { weight: 3, arbitrary: hostileString(40) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      `${randomUUID()}'; --`,
      `{${randomUUID()}}`,
      randomUUID().replaceAll("-", ""),
      `${randomUUID()}_20260601T070000Z`,
      `${randomUUID()}_20260230T070000Z`,
      `${randomUUID()}_99991231T235959Z`,
      `${randomUUID()}_20260601T070000`,
    ),
  },
);

/** Recurrence lines: valid rules, rules the service refuses, and noise. */
export const recurrenceArb: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<string[]>([]) },
  {
    weight: 3,
    arbitrary: fc.array(
      fc.oneof(
        fc.constantFrom(
          "RRULE:FREQ=WEEKLY;BYDAY=MO",
          "RRULE:FREQ=DAILY;COUNT=5",
          "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
          "RRULE:FREQ=MONTHLY;BYMONTHDAY=31",
          "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
          "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
          "RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
          "RRULE:FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO",
          "RRULE:FREQ=WEEKLY;INTERVAL=9999;UNTIL=99991231T235959Z",
          "RRULE:FREQ=DAILY;UNTIL=99991231T235959Z",
          "RRULE:FREQ=DAILY;COUNT=1000;BYDAY=MO",
          "RRULE:FREQ=HOURLY",
          "RRULE:FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z",
          "RRULE:FREQ=DAILY;BYHOUR=9",
          "RRULE:",
          "RRULE:FREQ=DAILY;;",
          "EXDATE:20260601T070000Z",
          "EXDATE;TZID=Europe/Berlin:20260601T090000,20260608T090000",
          "EXDATE;TZID=Mars/Olympus:20260601T090000",
          "RDATE:99991231T235959Z",
          "RDATE;VALUE=DATE:20260601",
          "DTSTART:20260601T070000Z",
        ),
        hostileString(60),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constant(Array.from({ length: 101 }, () => "EXDATE:20300101T000000Z")),
  },
);

export const eventArb: fc.Arbitrary<Event> = fc
  .record({
    recurrence: recurrenceArb,
    timeZone: fc.oneof(
      fc.constantFrom("", "UTC", "Europe/Berlin", "America/New_York", "Mars/Olympus", "+05:00"),
      hostileString(20),
    ),
    id: idArb,
    title: titleArb,
    startTime: timestampArb,
    duration: durationArb,
    description: descriptionArb,
    notifyBefore: durationArb,
    userId: fc.oneof(fc.constant(""), hostileString(20)),
    version: fc.oneof(fc.constant(0), int32),
  })
  .map((fields) => create(EventSchema, fields));

export const dateArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({
        min: new Date("0001-01-01T00:00:00Z"),
        max: new Date("9999-12-31T00:00:00Z"),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "0001-01-01",
      "9999-12-31",
      "0000-01-01",
      "2026-02-29",
      "2024-02-29",
      "2026-13-01",
      "2026-00-10",
      "+002026-01-01",
      "2026-1-1",
      "2026-03-08T00:00:00Z",
      "",
      "９９９９-01-01",
    ),
  },
  { weight: 2, arbitrary: hostileString(24) },
);

export const timeZoneArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "",
      "UTC",
      "Europe/Berlin",
      "America/New_York",
      "Pacific/Kiritimati",
      "Pacific/Pago_Pago",
      "Asia/Kathmandu",
      "Etc/GMT+12",
      "Etc/GMT-14",
      "America/Sao_Paulo",
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "+05:00",
      "UTC+1",
      "Mars/Olympus",
      "europe/berlin",
      "../../etc/passwd",
      "Europe/Berlin[u-ca=iso8601]",
      "2026-01-01T00:00:00+01:00[Europe/Berlin]",
      "A".repeat(65),
      "America/Argentina/ComodRivadavia",
      "GMT0",
      "Z",
    ),
  },
  { weight: 2, arbitrary: hostileString(40) },
);

// ---------------------------------------------------------------------------
// Requests for each method, as messages.

export type MethodName =
  | "CreateEvent"
  | "GetEvent"
  | "UpdateEvent"
  | "DeleteEvent"
  | "ListDayEvents"
  | "ListWeekEvents"
  | "ListMonthEvents"
  | "GetFeedUrl"
  | "RotateFeedUrl"
  | "ImportEvents"
  | "GetFreeBusy";

const seconds = (ms: number) => ({ seconds: BigInt(Math.trunc(ms / 1000)) });

export const METHOD_NAMES: MethodName[] = CalendarService.methods.map((m) => m.name as MethodName);

export function inputSchema(method: MethodName): DescMessage {
  const found = CalendarService.methods.find((m) => m.name === method);
  if (!found) throw new Error(`no method ${method}`);
  return found.input;
}

/** Plausible (often invalid) request messages for `method`, as init objects. */
export function requestArb(method: MethodName): fc.Arbitrary<Record<string, unknown>> {
  switch (method) {
    case "CreateEvent":
      return fc.record({ event: fc.option(eventArb, { nil: undefined }) });
    case "UpdateEvent":
      return fc.record({
        event: fc.option(eventArb, { nil: undefined }),
        expectedVersion: fc.option(int32, { nil: undefined }),
        scope: fc.oneof(fc.constant(0), fc.constant(1), int32),
      });
    case "GetEvent":
    case "DeleteEvent":
      return fc.record({ id: idArb });
    case "GetFeedUrl":
    case "RotateFeedUrl":
      return fc.constant({});
    case "ImportEvents":
      return fc.record({
        ics: fc.oneof(hostileString(), fc.constant("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")),
      });
    case "GetFreeBusy":
      return fc.record({
        timeMin: fc.option(fc.integer({ min: -1e12, max: 1e12 }).map(seconds), { nil: undefined }),
        timeMax: fc.option(fc.integer({ min: -1e12, max: 1e12 }).map(seconds), { nil: undefined }),
        timeZone: timeZoneArb,
      });
    default:
      return fc.record({ date: dateArb, timeZone: timeZoneArb });
  }
}

/** The binary encoding (lone surrogates become U+FFFD, as on any client). */
export function encodeBinary(method: MethodName, init: Record<string, unknown>): Uint8Array {
  const schema = inputSchema(method);
  return toBinary(schema, create(schema, init));
}

/** The JSON encoding, or a hand-made one when protobuf JSON cannot say it. */
export function encodeJson(method: MethodName, init: Record<string, unknown>): string {
  const schema = inputSchema(method);
  try {
    return toJsonString(schema, create(schema, init));
  } catch {
    // Out-of-range timestamps and durations have no canonical JSON form;
    // send what a hand-written client would.
    return JSON.stringify(init, (_key, value) => {
      if (typeof value === "bigint") return value.toString();
      if (value && typeof value === "object" && "$typeName" in value) {
        const { $typeName: _, ...rest } = value as Record<string, unknown>;
        return rest;
      }
      return value;
    });
  }
}

// ---------------------------------------------------------------------------
// Malformed payloads.

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field `fieldNo` holding exactly `bytes`. */
export function lengthDelimited(fieldNo: number, bytes: Uint8Array): Uint8Array {
  const head = [...varint((fieldNo << 3) | 2), ...varint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

/** Byte sequences that are not UTF-8. */
const invalidUtf8 = fc.constantFrom(
  Uint8Array.from([0xff]),
  Uint8Array.from([0xc0, 0x80]), // overlong NUL
  Uint8Array.from([0xed, 0xa0, 0x80]), // a surrogate, encoded
  Uint8Array.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Uint8Array.from([0x61, 0xe2, 0x82]), // truncated
  Uint8Array.from([0x80, 0x80, 0x80]),
);

/**
 * A message whose string field (id, date, or event.title/description) holds
 * invalid UTF-8, NUL, or a huge string. Field 1 is a string in Get/Delete and
 * the List requests, and the Event in Create/Update.
 */
export function hostileBinaryArb(method: MethodName): fc.Arbitrary<Uint8Array> {
  const payload = fc.oneof(
    invalidUtf8,
    fc.constant(new TextEncoder().encode("a\u0000b")),
    fc
      .tuple(invalidUtf8, fc.string({ maxLength: 10 }))
      .map(([bad, s]) => Uint8Array.from([...new TextEncoder().encode(s), ...bad])),
  );
  if (method === "CreateEvent" || method === "UpdateEvent") {
    return fc
      .tuple(payload, fc.constantFrom(1, 2, 5, 6))
      .map(([bytes, field]) => lengthDelimited(1, lengthDelimited(field, bytes)));
  }
  return fc
    .tuple(payload, fc.constantFrom(1, 2))
    .map(([bytes, field]) => lengthDelimited(field, bytes));
}

/** A message just under, at, or well over the 1 MiB body limit. */
export const hugeSizeArb = fc.oneof(
  fc.integer({ min: MIB - 64, max: MIB + 64 }),
  fc.integer({ min: MIB + 64, max: 2 * MIB }),
);

export function hugeBinary(method: MethodName, size: number, unit: string): Uint8Array {
  const text = new TextEncoder().encode(unit.repeat(Math.ceil(size / Buffer.byteLength(unit))));
  const body = text.subarray(0, size);
  if (method === "CreateEvent" || method === "UpdateEvent") {
    return lengthDelimited(1, lengthDelimited(5, body));
  }
  return lengthDelimited(1, body);
}

export function hugeJson(method: MethodName, size: number, unit: string): string {
  // Sized as JSON: an escaped unit ("\u0000") takes several bytes.
  const encoded = JSON.stringify(unit).length - 2;
  const count = Math.ceil(size / encoded);
  const text = unit.repeat(count);
  if (method === "CreateEvent" || method === "UpdateEvent") {
    return JSON.stringify({ event: { title: "t", description: text } });
  }
  return JSON.stringify(method.startsWith("List") ? { date: text } : { id: text });
}

/** JSON texts that are not valid requests: wrong types, junk, nesting, escapes. */
export function hostileJsonArb(method: MethodName): fc.Arbitrary<string> {
  const field = method.startsWith("List")
    ? "date"
    : method.endsWith("Event") && !["CreateEvent", "UpdateEvent"].includes(method)
      ? "id"
      : "event";
  const wrongTypes = fc.constantFrom<unknown>(
    null,
    0,
    -1,
    1e308,
    true,
    [],
    {},
    "",
    [1, 2, 3],
    { $typeName: "x" },
    "\u0000",
  );
  const eventFields = fc.record(
    {
      id: fc.oneof(fc.string(), wrongTypes),
      title: fc.oneof(fc.string(), wrongTypes, fc.constantFrom(...SQL_STRINGS)),
      startTime: fc.oneof(
        wrongTypes,
        fc.constantFrom(
          "10000-01-01T00:00:00Z",
          "0000-12-31T23:59:59Z",
          "-0001-01-01T00:00:00Z",
          "2026-02-30T00:00:00Z",
          "2026-01-01T00:00:00.0000000001Z",
          "2026-01-01T00:00:00+25:00",
          "1970-01-01T00:00:00Z",
          "9999-12-31T23:59:59.999999999Z",
          "2026-01-01",
          "NaN",
        ),
      ),
      duration: fc.oneof(
        wrongTypes,
        fc.constantFrom(
          "-1s",
          "0s",
          "1e30s",
          "315576000001s",
          "-315576000001s",
          "31622400.001s",
          "0.0000000001s",
          "1.5",
          "s",
          "1h",
          "99999999999999999999999s",
          "NaNs",
        ),
      ),
      notifyBefore: fc.oneof(wrongTypes, fc.constantFrom("-0.001s", "31622401s", "1.000000001s")),
      description: fc.oneof(fc.string(), wrongTypes),
      version: fc.oneof(wrongTypes, fc.constantFrom("1", 2 ** 31, -(2 ** 31) - 1, 1.5)),
      unknownField: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  const nestedDepth = fc.integer({ min: 10, max: 200_000 });
  return fc.oneof(
    fc.json(),
    fc.string(),
    fc.string({ unit: "binary" }),
    fc.record({ [field]: wrongTypes }).map((v) => JSON.stringify(v)),
    eventFields.map((event) =>
      JSON.stringify(
        field === "event" ? { event, expectedVersion: event.version } : { [field]: event },
      ),
    ),
    nestedDepth.map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`),
    nestedDepth.map((depth) => `{"${field}":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`),
    // Escapes JSON allows but text must not hold: lone surrogates, NUL.
    fc.constantFrom(
      `{"${field}":"\\ud800"}`,
      `{"${field}":"\\u0000"}`,
      `{"event":{"title":"\\udc00x","startTime":"2026-01-01T00:00:00Z","duration":"60s"}}`,
      `{"event":{"title":"ok","description":"\\ud83d","startTime":"2026-01-01T00:00:00Z","duration":"60s"}}`,
      `{"${field}":"a","${field}":"b"}`,
      `{"${field}":1e99999}`,
      `{"expectedVersion":99999999999}`,
      `\ufeff{}`,
      `{} {}`,
      `{`,
      `"`,
    ),
  );
}
