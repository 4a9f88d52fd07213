// CalendarService end to end through the generated client, once per
// protocol: Connect JSON, Connect binary, gRPC and gRPC-Web.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  durationFromMs,
  type Timestamp,
  timestampDate,
  timestampFromDate,
} from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  CalendarService,
  type Event,
  EventSchema,
  UpdateEventRequest_Scope,
} from "../../gen/calendar/v1/calendar_pb.js";
import { clientFor, protocols, startTestServer, type TestServer } from "./testing/test_server.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type EventInit = MessageInitShape<typeof EventSchema>;

function eventInput(start: string, durationMs = HOUR, extra: EventInit = {}): Event {
  return create(EventSchema, {
    title: "Planning",
    startTime: timestampFromDate(new Date(start)),
    duration: durationFromMs(durationMs),
    ...extra,
  });
}

/** The event with some fields changed, as an update request carries it. */
function edit(event: Event | undefined, changes: EventInit): Event {
  assert.ok(event, "expected an event");
  const { $typeName: _, ...fields } = event;
  return create(EventSchema, { ...fields, ...changes });
}

async function codeOf(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await call;
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { code: connectError.code, message: connectError.rawMessage };
  }
  assert.fail("expected the call to fail");
}

describe("CalendarService", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  for (const [protocol, transport] of Object.entries(protocols)) {
    describe(protocol, () => {
      // A fresh user per test keeps tests independent on the shared server.
      const asNewUser = (): Client<typeof CalendarService> =>
        clientFor(CalendarService, transport, server.url, `user-${randomUUID()}`);

      it("creates, reads, updates, lists and deletes an event", async () => {
        const client = asNewUser();
        const { event: created } = await client.createEvent({
          event: eventInput("2026-03-10T09:00:00Z", 30 * MINUTE, {
            title: "  Dentist  ",
            description: "Bring the form",
            notifyBefore: durationFromMs(15 * MINUTE),
          }),
        });
        assert.ok(created);
        assert.match(created.id, /^[0-9a-f-]{36}$/);
        assert.equal(created.title, "Dentist", "title is trimmed");
        assert.equal(created.description, "Bring the form");
        assert.equal(created.version, 1);
        assert.ok(created.startTime);
        assert.equal(timestampDate(created.startTime).toISOString(), "2026-03-10T09:00:00.000Z");
        assert.equal(Number(created.duration?.seconds), 1800);
        assert.equal(Number(created.notifyBefore?.seconds), 900);
        assert.ok(created.createdAt && created.updatedAt);

        const { event: fetched } = await client.getEvent({ id: created.id });
        assert.equal(fetched?.id, created.id);
        assert.equal(fetched?.userId, created.userId);

        const { event: updated } = await client.updateEvent({
          event: edit(created, {
            title: "Dentist (moved)",
            startTime: timestampFromDate(new Date("2026-03-10T11:00:00Z")),
          }),
          expectedVersion: 1,
        });
        assert.equal(updated?.version, 2);
        assert.equal(updated?.title, "Dentist (moved)");

        const { events: day } = await client.listDayEvents({ date: "2026-03-10", timeZone: "UTC" });
        assert.deepEqual(
          day.map((e) => e.id),
          [created.id],
        );
        const { events: week } = await client.listWeekEvents({ date: "2026-03-09" });
        assert.deepEqual(
          week.map((e) => e.title),
          ["Dentist (moved)"],
        );
        const { events: month } = await client.listMonthEvents({
          date: "2026-03-01",
          timeZone: "Europe/Berlin",
        });
        assert.equal(month.length, 1);

        await client.deleteEvent({ id: created.id });
        assert.equal((await codeOf(client.getEvent({ id: created.id }))).code, Code.NotFound);
        assert.deepEqual((await client.listDayEvents({ date: "2026-03-10" })).events, []);
      });

      it("lists a day in the caller's time zone, including events that cross midnight", async () => {
        const client = asNewUser();
        // New York, 2026-03-08: the DST day, 05:00Z to 04:00Z next day (23 h).
        const crossing = await client.createEvent({
          event: eventInput("2026-03-08T04:30:00Z", HOUR, { title: "crosses" }),
        });
        const inside = await client.createEvent({
          event: eventInput("2026-03-09T03:00:00Z", HOUR, { title: "last hour" }),
        });
        await client.createEvent({
          event: eventInput("2026-03-09T04:00:00Z", HOUR, { title: "next day" }),
        });
        const { events } = await client.listDayEvents({
          date: "2026-03-08",
          timeZone: "America/New_York",
        });
        assert.deepEqual(
          events.map((e) => e.id),
          [crossing.event?.id, inside.event?.id],
        );
        const { events: previous } = await client.listDayEvents({
          date: "2026-03-07",
          timeZone: "America/New_York",
        });
        assert.deepEqual(
          previous.map((e) => e.title),
          ["crosses"],
        );
      });

      it("keeps each user's events invisible to every other user", async () => {
        const alice = asNewUser();
        const bob = asNewUser();
        const { event } = await alice.createEvent({ event: eventInput("2026-04-01T10:00:00Z") });
        const id = event?.id ?? "";
        assert.equal((await codeOf(bob.getEvent({ id }))).code, Code.NotFound);
        assert.equal(
          (await codeOf(bob.updateEvent({ event: edit(event, { title: "mine now" }) }))).code,
          Code.NotFound,
        );
        assert.equal((await codeOf(bob.deleteEvent({ id }))).code, Code.NotFound);
        assert.deepEqual((await bob.listDayEvents({ date: "2026-04-01" })).events, []);
        // Bob's calendar is his own: the same slot is free for him.
        await bob.createEvent({ event: eventInput("2026-04-01T10:00:00Z") });
        assert.equal((await alice.getEvent({ id })).event?.title, "Planning");
      });

      it("refuses an overlapping event and names the one in the way", async () => {
        const client = asNewUser();
        const { event } = await client.createEvent({ event: eventInput("2026-05-01T09:00:00Z") });
        const clash = await codeOf(
          client.createEvent({ event: eventInput("2026-05-01T09:30:00Z") }),
        );
        assert.equal(clash.code, Code.FailedPrecondition);
        assert.ok(clash.message.includes(event?.id ?? "?"), clash.message);
        await client.createEvent({ event: eventInput("2026-05-01T10:00:00Z") }); // back to back is fine
      });

      it("answers a stale expected_version with ABORTED", async () => {
        const client = asNewUser();
        const { event } = await client.createEvent({ event: eventInput("2026-05-02T09:00:00Z") });
        await client.updateEvent({ event: edit(event, { title: "v2" }), expectedVersion: 1 });
        const stale = await codeOf(
          client.updateEvent({ event: edit(event, { title: "v3" }), expectedVersion: 1 }),
        );
        assert.equal(stale.code, Code.Aborted);
        assert.match(stale.message, /stored version is 2/);
      });

      it("makes create with a client-chosen id idempotent", async () => {
        const client = asNewUser();
        const id = randomUUID();
        const first = await client.createEvent({
          event: eventInput("2026-05-03T09:00:00Z", HOUR, { id }),
        });
        const again = await client.createEvent({
          event: eventInput("2026-05-03T09:00:00Z", HOUR, { id }),
        });
        assert.equal(first.event?.id, id);
        assert.deepEqual(again.event, first.event);
        const changed = await codeOf(
          client.createEvent({
            event: eventInput("2026-05-03T09:00:00Z", HOUR, { id, title: "x" }),
          }),
        );
        assert.equal(changed.code, Code.AlreadyExists);
      });

      it("refuses a series that meets another decades away, or that it cannot check, with FAILED_PRECONDITION", async () => {
        const client = asNewUser();
        const series = (start: string, rule: string, timeZone: string) =>
          eventInput(start, HOUR, { recurrence: [rule], timeZone });
        const { event: thursdays } = await client.createEvent({
          event: series("2026-10-29T09:00:00Z", "RRULE:FREQ=MONTHLY;BYMONTHDAY=29;BYDAY=TH", "UTC"),
        });
        const clash = await codeOf(
          client.createEvent({
            event: series(
              "2028-02-29T09:00:00Z",
              "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
              "UTC",
            ),
          }),
        );
        assert.equal(clash.code, Code.FailedPrecondition);
        assert.match(
          clash.message,
          new RegExp(`${thursdays?.id}_20520229T090000Z \\(the occurrence starting 2052-02-29`),
        );
        // Another user: a daily series is itself uncheckable against the monthly one above.
        const other = asNewUser();
        const { event: berlin } = await other.createEvent({
          event: series("2026-12-07T05:00:00Z", "RRULE:FREQ=DAILY", "Europe/Berlin"),
        });
        const uncheckable = await codeOf(
          other.createEvent({
            event: series("2026-12-07T14:00:00Z", "RRULE:FREQ=DAILY", "America/New_York"),
          }),
        );
        assert.equal(uncheckable.code, Code.FailedPrecondition);
        assert.match(
          uncheckable.message,
          new RegExp(
            `cannot compare this series with series ${berlin?.id} at every date: .*COUNT or UNTIL`,
          ),
        );
      });

      it("serves a weekly series: occurrences in lists, one moved, one cancelled, this and following", async () => {
        const client = asNewUser();
        const { event: series } = await client.createEvent({
          event: eventInput("2026-06-01T07:00:00Z", HOUR, {
            title: "Weekly sync",
            recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
            timeZone: "Europe/Berlin",
            notifyBefore: durationFromMs(10 * MINUTE),
          }),
        });
        assert.ok(series);
        assert.deepEqual(series.recurrence, ["RRULE:FREQ=WEEKLY;BYDAY=MO"]);
        assert.equal(series.timeZone, "Europe/Berlin");
        const june = async () =>
          (await client.listMonthEvents({ date: "2026-06-01", timeZone: "Europe/Berlin" })).events;
        const listed = await june();
        assert.equal(listed.length, 5);
        const second = listed[1];
        assert.ok(second?.originalStartTime);
        assert.equal(second.id, `${series.id}_20260608T070000Z`);
        assert.equal(second.recurringEventId, series.id);
        assert.equal(
          timestampDate(second.originalStartTime).toISOString(),
          "2026-06-08T07:00:00.000Z",
        );
        assert.equal((await client.getEvent({ id: second.id })).event?.title, "Weekly sync");

        // Move the second occurrence to Tuesday.
        const { event: moved } = await client.updateEvent({
          event: edit(second, {
            startTime: timestampFromDate(new Date("2026-06-09T07:00:00Z")),
            title: "Tuesday sync",
          }),
          expectedVersion: second.version,
        });
        assert.equal(moved?.id, second.id);
        assert.equal(moved?.title, "Tuesday sync");
        // Cancel the third.
        await client.deleteEvent({ id: `${series.id}_20260615T070000Z` });
        assert.equal(
          (await codeOf(client.getEvent({ id: `${series.id}_20260615T070000Z` }))).code,
          Code.NotFound,
        );
        // A single event over the fourth is refused, naming the occurrence and its start.
        const clash = await codeOf(
          client.createEvent({ event: eventInput("2026-06-22T07:30:00Z") }),
        );
        assert.equal(clash.code, Code.FailedPrecondition);
        assert.match(
          clash.message,
          new RegExp(
            `${series.id}_20260622T070000Z \\(the occurrence starting 2026-06-22T07:00:00.000Z\\)`,
          ),
        );
        // From the fourth on, an hour later.
        const fourth = (await june()).find((e) => e.id === `${series.id}_20260622T070000Z`);
        const { event: tail } = await client.updateEvent({
          event: edit(fourth, {
            startTime: timestampFromDate(new Date("2026-06-22T08:00:00Z")),
            title: "Later sync",
          }),
          scope: UpdateEventRequest_Scope.THIS_AND_FOLLOWING,
        });
        assert.ok(tail);
        assert.notEqual(tail.id, series.id);
        assert.deepEqual(
          (await june()).map((e) => [
            timestampDate(e.startTime as Timestamp).toISOString(),
            e.title,
          ]),
          [
            ["2026-06-01T07:00:00.000Z", "Weekly sync"],
            ["2026-06-09T07:00:00.000Z", "Tuesday sync"],
            ["2026-06-22T08:00:00.000Z", "Later sync"],
            ["2026-06-29T08:00:00.000Z", "Later sync"],
          ],
        );
      });

      it("names the recurrence line and part at fault", async () => {
        const client = asNewUser();
        const refused = async (extra: EventInit) =>
          codeOf(client.createEvent({ event: eventInput("2026-06-01T07:00:00Z", HOUR, extra) }));
        const noZone = await refused({ recurrence: ["RRULE:FREQ=DAILY"] });
        assert.equal(noZone.code, Code.InvalidArgument);
        assert.match(noZone.message, /^event\.time_zone: is required/);
        const badPart = await refused({
          recurrence: ["RRULE:FREQ=DAILY", "RRULE:FREQ=HOURLY"],
          timeZone: "UTC",
        });
        assert.match(badPart.message, /^event\.recurrence\[1\]: is a second RRULE/);
        const scope = await codeOf(
          client.updateEvent({
            event: eventInput("2026-06-01T07:00:00Z", HOUR, { id: randomUUID() }),
            scope: UpdateEventRequest_Scope.THIS_AND_FOLLOWING,
          }),
        );
        assert.equal(scope.code, Code.InvalidArgument);
        assert.match(scope.message, /^scope: /);
        assert.equal(
          (await codeOf(client.getEvent({ id: `${randomUUID()}_2026` }))).code,
          Code.InvalidArgument,
        );
      });

      it("answers unknown ids with NOT_FOUND", async () => {
        const client = asNewUser();
        const id = randomUUID();
        assert.equal((await codeOf(client.getEvent({ id }))).code, Code.NotFound);
        assert.equal((await codeOf(client.deleteEvent({ id }))).code, Code.NotFound);
        assert.equal(
          (
            await codeOf(
              client.updateEvent({ event: eventInput("2026-05-04T09:00:00Z", HOUR, { id }) }),
            )
          ).code,
          Code.NotFound,
        );
      });

      it("names the field and the rule for each invalid input", async () => {
        const client = asNewUser();
        const cases: [string, () => Promise<unknown>, Code, RegExp][] = [
          [
            "256-character title",
            () =>
              client.createEvent({
                event: eventInput("2026-06-01T09:00:00Z", HOUR, { title: "x".repeat(256) }),
              }),
            Code.InvalidArgument,
            /event\.title: must be 1 to 255 characters/,
          ],
          [
            "blank title",
            () =>
              client.createEvent({
                event: eventInput("2026-06-01T09:00:00Z", HOUR, { title: "   " }),
              }),
            Code.InvalidArgument,
            /event\.title/,
          ],
          [
            "zero duration",
            () => client.createEvent({ event: eventInput("2026-06-01T09:00:00Z", 0) }),
            Code.InvalidArgument,
            /event\.duration: must be greater than 0s/,
          ],
          [
            "duration over 366 days",
            () =>
              client.createEvent({ event: eventInput("2026-06-01T09:00:00Z", 367 * 24 * HOUR) }),
            Code.InvalidArgument,
            /event\.duration/,
          ],
          [
            "missing start",
            () =>
              client.createEvent({
                event: edit(eventInput("2026-06-01T09:00:00Z"), { startTime: undefined }),
              }),
            Code.InvalidArgument,
            /event\.start_time: is required/,
          ],
          [
            "negative reminder",
            () =>
              client.createEvent({
                event: eventInput("2026-06-01T09:00:00Z", HOUR, {
                  notifyBefore: durationFromMs(-MINUTE),
                }),
              }),
            Code.InvalidArgument,
            /event\.notify_before/,
          ],
          [
            "description over 16 KiB",
            () =>
              client.createEvent({
                event: eventInput("2026-06-01T09:00:00Z", HOUR, { description: "é".repeat(8193) }),
              }),
            Code.InvalidArgument,
            /event\.description: must be at most 16 KiB/,
          ],
          [
            "sub-millisecond start",
            () =>
              client.createEvent({
                event: edit(eventInput("2026-06-01T09:00:00Z"), {
                  startTime: { seconds: 1780304400n, nanos: 1 },
                }),
              }),
            Code.InvalidArgument,
            /event\.start_time: must have at most millisecond precision/,
          ],
          [
            "missing event",
            () => client.createEvent({}),
            Code.InvalidArgument,
            /event: is required/,
          ],
          [
            "bad UUID on get",
            () => client.getEvent({ id: "not-a-uuid" }),
            Code.InvalidArgument,
            /id: must be a UUID/,
          ],
          [
            "bad UUID on create",
            () =>
              client.createEvent({ event: eventInput("2026-06-01T09:00:00Z", HOUR, { id: "42" }) }),
            Code.InvalidArgument,
            /event\.id: must be a UUID/,
          ],
          [
            "update without id",
            () => client.updateEvent({ event: eventInput("2026-06-01T09:00:00Z") }),
            Code.InvalidArgument,
            /event\.id: must be a UUID/,
          ],
          [
            "unknown time zone",
            () => client.listDayEvents({ date: "2026-06-01", timeZone: "Mars/Olympus_Mons" }),
            Code.InvalidArgument,
            /time_zone: must be an IANA time zone/,
          ],
          [
            "malformed date",
            () => client.listWeekEvents({ date: "2026-6-1" }),
            Code.InvalidArgument,
            /date: must be a calendar date as YYYY-MM-DD/,
          ],
          [
            "impossible date",
            () => client.listMonthEvents({ date: "2026-02-30" }),
            Code.InvalidArgument,
            /date:/,
          ],
        ];
        for (const [name, call, code, message] of cases) {
          const outcome = await codeOf(call());
          assert.equal(Code[outcome.code], Code[code], `${name}: ${outcome.message}`);
          assert.match(outcome.message, message, name);
        }
      });

      it("requires x-user-id, and refuses an unusable one", async () => {
        const anonymous = clientFor(CalendarService, transport, server.url, undefined);
        assert.equal(
          (await codeOf(anonymous.listDayEvents({ date: "2026-06-01" }))).code,
          Code.Unauthenticated,
        );
        const empty = clientFor(CalendarService, transport, server.url, "");
        assert.equal(
          (await codeOf(empty.listDayEvents({ date: "2026-06-01" }))).code,
          Code.Unauthenticated,
        );
        const long = clientFor(CalendarService, transport, server.url, "u".repeat(129));
        const tooLong = await codeOf(long.listDayEvents({ date: "2026-06-01" }));
        assert.equal(tooLong.code, Code.InvalidArgument);
        assert.match(tooLong.message, /x-user-id: must be at most 128 characters/);
        const longest = clientFor(CalendarService, transport, server.url, "u".repeat(128));
        assert.deepEqual((await longest.listDayEvents({ date: "2026-06-01" })).events, []);
      });
    });
  }
});
