// The stack-level suite: validation (shared setup and helpers in ./stack.ts).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Event } from "../../../gen/calendar/v1/calendar_pb.js";
import {
  client,
  createOk,
  DAY,
  type EventInit,
  edited,
  env,
  eventOf,
  expectError,
  expectStored,
  HOUR,
  RUN,
  rowCount,
  rowOf,
  SECOND,
  type Spec,
  tsMs,
  USER_PREFIX,
  user,
  useStack,
} from "./stack.js";

useStack();

describe(`cal_service stack at ${env.API_URL} (run ${RUN}): validation`, {
  concurrency: false,
}, () => {
  const u = user("invalid");
  const c = client(u);
  const bin = client(u, { binary: true });
  const valid: Spec = { start: "2033-09-01T09:00:00Z", durationMs: HOUR };
  const createWith = (changes: EventInit, via = c) =>
    via.createEvent({ event: edited(eventOf(valid), changes) });
  const badUuid = /must be a UUID such as/;
  const dateRule = /^date: must be a calendar date as YYYY-MM-DD, e\.g\. 2026-03-08$/;
  const zoneRule = /^time_zone: must be an IANA time zone name/;
  const durationRule = /^event\.duration: must be greater than 0s and at most 366 days$/;
  const notifyRule = /^event\.notify_before: must be from 0s to 366 days$/;
  const startRule = /^event\.start_time: must be between 0001-01-01 and 9999-12-31 \(UTC\)$/;
  const someId = randomUUID();
  // A lone surrogate cannot travel as UTF-8: the JSON decoder refuses it
  // before the domain's own rule ("must be valid UTF-8 text") is reached;
  // either refusal is fine, storing it is not.
  const notUtf8 = (field: string) =>
    new RegExp(
      `^(event\\.${field}: must be valid UTF-8 text|cannot decode field calendar\\.v1\\.Event\\.${field} from JSON: .*invalid UTF8)$`,
    );

  const cases: [string, () => Promise<unknown>, Code, RegExp][] = [
    // x-user-id
    [
      "x-user-id missing",
      () => client(undefined).getEvent({ id: someId }),
      Code.Unauthenticated,
      /^the x-user-id header is required/,
    ],
    [
      "x-user-id empty",
      () => client("").listDayEvents({ date: "2033-09-01" }),
      Code.Unauthenticated,
      /^the x-user-id header is required/,
    ],
    [
      "x-user-id over 128 characters",
      () => client(`${USER_PREFIX}${"u".repeat(129)}`).listDayEvents({ date: "2033-09-01" }),
      Code.InvalidArgument,
      /^x-user-id: must be at most 128 characters$/,
    ],
    [
      "x-user-id with a control character",
      () => client(`${USER_PREFIX}tab\there`).listDayEvents({ date: "2033-09-01" }),
      Code.InvalidArgument,
      /^x-user-id: must not contain control characters$/,
    ],
    // the request
    [
      "create without an event",
      () => c.createEvent({}),
      Code.InvalidArgument,
      /^event: is required$/,
    ],
    [
      "update without an event",
      () => c.updateEvent({}),
      Code.InvalidArgument,
      /^event: is required$/,
    ],
    [
      "create with an id that is not a UUID",
      () => createWith({ id: "not-a-uuid" }),
      Code.InvalidArgument,
      /^event\.id: must be a UUID/,
    ],
    [
      "update without an id",
      () => c.updateEvent({ event: eventOf(valid) }),
      Code.InvalidArgument,
      /^event\.id: must be a UUID/,
    ],
    [
      "update with expected_version 0",
      () => c.updateEvent({ event: eventOf({ ...valid, id: someId }), expectedVersion: 0 }),
      Code.InvalidArgument,
      /^expected_version: must be 1 or more when set$/,
    ],
    ["get with an empty id", () => c.getEvent({ id: "" }), Code.InvalidArgument, badUuid],
    [
      "get with a malformed id",
      () => c.getEvent({ id: `${someId}x` }),
      Code.InvalidArgument,
      badUuid,
    ],
    [
      "delete with a malformed id",
      () => c.deleteEvent({ id: "42" }),
      Code.InvalidArgument,
      badUuid,
    ],
    [
      "a body over 1 MiB",
      () => createWith({ description: "d".repeat(1024 * 1024 + 1) }),
      Code.ResourceExhausted,
      /./,
    ],
    // title
    [
      "empty title",
      () => createWith({ title: "" }),
      Code.InvalidArgument,
      /^event\.title: must be 1 to 255 characters after trimming \(got 0\)$/,
    ],
    [
      "title of spaces only",
      () => createWith({ title: " \t\n " }),
      Code.InvalidArgument,
      /^event\.title: must be 1 to 255 characters after trimming \(got 0\)$/,
    ],
    [
      "title of 256 characters",
      () => createWith({ title: "t".repeat(256) }),
      Code.InvalidArgument,
      /^event\.title: must be 1 to 255 characters after trimming \(got 256\)$/,
    ],
    [
      "title of 256 astral characters",
      () => createWith({ title: "😀".repeat(256) }),
      Code.InvalidArgument,
      /\(got 256\)$/,
    ],
    [
      "title with a control character",
      () => createWith({ title: "bell\u0007" }),
      Code.InvalidArgument,
      /^event\.title: must not contain control characters$/,
    ],
    [
      "title with a lone surrogate",
      () => createWith({ title: "broken \ud800" }),
      Code.InvalidArgument,
      notUtf8("title"),
    ],
    [
      "update with a bad title (the same rules as create)",
      () => c.updateEvent({ event: eventOf({ ...valid, id: someId, title: " " }) }),
      Code.InvalidArgument,
      /^event\.title: must be 1 to 255 characters/,
    ],
    // start_time
    [
      "no start_time",
      () => createWith({ startTime: undefined }),
      Code.InvalidArgument,
      /^event\.start_time: is required$/,
    ],
    [
      "start_time before 0001-01-01",
      () => createWith({ startTime: timestampFromMs(Date.parse("0000-12-31T23:59:59.999Z")) }, bin),
      Code.InvalidArgument,
      startRule,
    ],
    [
      "start_time after 9999-12-31",
      () =>
        createWith({ startTime: timestampFromMs(Date.parse("+010000-01-01T00:00:00.000Z")) }, bin),
      Code.InvalidArgument,
      startRule,
    ],
    [
      "start_time finer than a millisecond",
      () =>
        createWith({
          startTime: { ...timestampFromMs(Date.parse("2033-09-01T09:00:00Z")), nanos: 1 },
        }),
      Code.InvalidArgument,
      /^event\.start_time: must have at most millisecond precision$/,
    ],
    // duration
    [
      "no duration",
      () => createWith({ duration: undefined }),
      Code.InvalidArgument,
      /^event\.duration: is required$/,
    ],
    [
      "zero duration",
      () => createWith({ duration: durationFromMs(0) }),
      Code.InvalidArgument,
      durationRule,
    ],
    [
      "negative duration",
      () => createWith({ duration: durationFromMs(-SECOND) }),
      Code.InvalidArgument,
      durationRule,
    ],
    [
      "duration of 366 days and 1 ms",
      () => createWith({ duration: durationFromMs(366 * DAY + 1) }),
      Code.InvalidArgument,
      durationRule,
    ],
    [
      "duration finer than a millisecond",
      () => createWith({ duration: { ...durationFromMs(HOUR), nanos: 500 } }),
      Code.InvalidArgument,
      /^event\.duration: must have at most millisecond precision$/,
    ],
    // description
    [
      "description of 16 KiB + 1 byte (of UTF-8)",
      () => createWith({ description: `${"€".repeat(5461)}ab` }),
      Code.InvalidArgument,
      /^event\.description: must be at most 16 KiB/,
    ],
    [
      "description with NUL",
      () => createWith({ description: "a\u0000b" }),
      Code.InvalidArgument,
      /^event\.description: must not contain NUL characters$/,
    ],
    [
      "description with a lone surrogate",
      () => createWith({ description: "\udc00" }),
      Code.InvalidArgument,
      notUtf8("description"),
    ],
    // notify_before
    [
      "negative notify_before",
      () => createWith({ notifyBefore: durationFromMs(-1) }),
      Code.InvalidArgument,
      notifyRule,
    ],
    [
      "notify_before of 366 days and 1 ms",
      () => createWith({ notifyBefore: durationFromMs(366 * DAY + 1) }),
      Code.InvalidArgument,
      notifyRule,
    ],
    // listings
    [
      "day: February 30",
      () => c.listDayEvents({ date: "2026-02-30" }),
      Code.InvalidArgument,
      dateRule,
    ],
    ["day: no date", () => c.listDayEvents({ date: "" }), Code.InvalidArgument, dateRule],
    [
      "day: unpadded date",
      () => c.listDayEvents({ date: "2026-3-8" }),
      Code.InvalidArgument,
      dateRule,
    ],
    [
      "week: a date-time",
      () => c.listWeekEvents({ date: "2026-03-08T00:00:00Z" }),
      Code.InvalidArgument,
      dateRule,
    ],
    [
      "month: year 0",
      () => c.listMonthEvents({ date: "0000-01-01" }),
      Code.InvalidArgument,
      dateRule,
    ],
    [
      "day: unknown time zone",
      () => c.listDayEvents({ date: "2026-03-08", timeZone: "Mars/Olympus_Mons" }),
      Code.InvalidArgument,
      zoneRule,
    ],
    [
      "week: an offset instead of a zone name",
      () => c.listWeekEvents({ date: "2026-03-08", timeZone: "+05:00" }),
      Code.InvalidArgument,
      zoneRule,
    ],
    [
      "month: a zone name with a path trick",
      () => c.listMonthEvents({ date: "2026-03-08", timeZone: "../etc/passwd" }),
      Code.InvalidArgument,
      zoneRule,
    ],
  ];

  describe("each rule, refused", { concurrency: true }, () => {
    for (const [name, call, code, message] of cases) {
      it(name, async () => {
        await expectError(call(), code, message);
      });
    }
  });

  it("a refused write stores nothing", async () => {
    assert.equal(await rowCount(u), 0);
  });

  it("the limits themselves are accepted, and stored exactly", async () => {
    const ok = user("limits");
    const l = client(ok);
    const lb = client(ok, { binary: true });
    const stored: Event[] = [];
    const accept = async (spec: Spec, via = l) => {
      const event = await createOk(via, spec);
      stored.push(event);
      return event;
    };
    const astral = await accept({
      title: "😀".repeat(255),
      start: "2033-10-01T00:00:00Z",
      durationMs: 1,
    });
    assert.equal(astral.title, "😀".repeat(255), "255 characters, 510 UTF-16 units");
    const padded = await accept({
      title: `  ${"t".repeat(255)}  `,
      start: "2033-10-01T01:00:00Z",
      durationMs: 1,
    });
    assert.equal(padded.title, "t".repeat(255));
    const description = `${"€".repeat(5461)}a`; // 16384 bytes
    assert.equal(Buffer.byteLength(description), 16 * 1024);
    await accept({ description, start: "2033-10-01T02:00:00Z", durationMs: HOUR });
    await accept({ start: "2033-10-01T03:00:00Z", durationMs: HOUR, notifyBeforeMs: 0 });
    await accept({ start: "2033-10-01T04:00:00Z", durationMs: HOUR, notifyBeforeMs: 366 * DAY });
    await accept({ start: "2040-01-01T00:00:00Z", durationMs: 366 * DAY });
    const last = await accept({ start: "9999-12-31T23:59:59.999Z", durationMs: 1 }, lb);
    for (const event of stored) await expectStored(ok, event);
    const lastRow = await rowOf(ok, last.id);
    assert.equal(lastRow?.end_ms, Date.parse("+010000-01-01T00:00:00.000Z"), "ends in year 10000");

    // The earliest start: checked on the response only, because the
    // retention cleanup may delete the row at any moment (it ended long ago).
    const first = await createOk(lb, { start: "0001-01-01T00:00:00.000Z", durationMs: HOUR });
    assert.equal(tsMs(first.startTime), Date.parse("0001-01-01T00:00:00.000Z"));

    const longest = `${USER_PREFIX}${"u".repeat(128 - USER_PREFIX.length)}`;
    assert.equal(longest.length, 128);
    const { events } = await client(longest).listDayEvents({ date: "2033-10-01" });
    assert.deepEqual(events, []);
  });
});
