// The stack-level suite: listings (shared setup and helpers in ./stack.ts).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { Event } from "../../../gen/calendar/v1/calendar_pb.js";
import {
  type CalendarClient,
  client,
  createOk,
  DAY,
  env,
  expectStored,
  HOUR,
  MINUTE,
  RUN,
  user,
  useStack,
} from "./stack.js";

useStack();

describe(`cal_service stack at ${env.API_URL} (run ${RUN}): listings`, {
  concurrency: true,
}, () => {
  // One user's calendar around the DST changes of America/New_York in 2032
  // (Sunday 2032-03-14 has 23 hours there, Sunday 2032-11-07 has 25), and
  // around a month that starts on January 31 of a leap year. All times UTC.
  // The year is in the future so that the retention cleanup (events that
  // ended more than 365 days ago) never touches the fixture.
  const fixture = {
    // March: New York is UTC-5 until 2032-03-14 07:00Z, UTC-4 after.
    w0: ["2032-03-08T04:30:00Z", HOUR], // NY Mar 7 23:30 to Mar 8 00:30: crosses local midnight
    a: ["2032-03-13T23:00:00Z", HOUR], // ends exactly at UTC midnight of Mar 14
    b: ["2032-03-14T00:00:00Z", 30 * MINUTE], // starts exactly at UTC midnight
    c: ["2032-03-14T04:30:00Z", HOUR], // NY Mar 13 23:30 to Mar 14 00:30
    d: ["2032-03-14T06:30:00Z", HOUR], // NY 01:30 EST to 03:30 EDT, across the gap
    g: ["2032-03-14T23:30:00Z", HOUR], // crosses UTC midnight; NY 19:30 EDT
    e: ["2032-03-15T03:30:00Z", 30 * MINUTE], // NY Mar 14 23:30 to 24:00: ends at the 23 h day's end
    f: ["2032-03-15T04:00:00Z", 30 * MINUTE], // NY Mar 15 00:00: inside a 24 h "day" by mistake
    k1: ["2032-04-01T03:30:00Z", 30 * MINUTE], // NY Mar 31 23:30: last of the NY month
    k2: ["2032-04-01T04:00:00Z", 30 * MINUTE], // NY Apr 1 00:00: first after it
    // January 31 plus one month is February 29 (2032 is a leap year).
    j0: ["2032-01-30T23:00:00Z", HOUR], // ends exactly at UTC Jan 31 00:00
    j1: ["2032-01-31T00:00:00Z", HOUR], // UTC Jan 31 00:00; NY Jan 30 19:00
    j2: ["2032-02-28T23:00:00Z", HOUR], // ends exactly at UTC Feb 29 00:00
    j3: ["2032-02-29T00:00:00Z", 30 * MINUTE], // UTC Feb 29 00:00; NY Feb 28 19:00
    j4: ["2032-02-29T04:30:00Z", HOUR], // NY Feb 28 23:30 to Feb 29 00:30
    // November: New York is UTC-4 until 2032-11-07 06:00Z, UTC-5 after.
    n5: ["2032-11-06T23:45:00Z", 30 * MINUTE], // crosses UTC midnight; NY Nov 6 19:45
    n1: ["2032-11-07T03:30:00Z", HOUR], // NY Nov 6 23:30 to Nov 7 00:30
    n2: ["2032-11-07T05:30:00Z", HOUR], // NY 01:30 EDT to 01:30 EST, the repeated hour
    n3: ["2032-11-08T04:00:00Z", 30 * MINUTE], // NY Nov 7 23:00 EST: the 25th hour
    n4: ["2032-11-08T05:00:00Z", 30 * MINUTE], // NY Nov 8 00:00: just after the 25 h day
  } as const satisfies Record<string, readonly [string, number]>;
  type Name = keyof typeof fixture;

  const owner = user("listings");
  const stranger = user("listings-stranger");
  const lc = client(owner);
  const byName = new Map<Name, Event>();
  const nameOf = new Map<string, string>();

  before(async () => {
    for (const [name, [start, duration]] of Object.entries(fixture) as [
      Name,
      readonly [string, number],
    ][]) {
      const event = await createOk(lc, { title: name, start, durationMs: duration });
      byName.set(name, event);
      nameOf.set(event.id, name);
      await expectStored(owner, event);
    }
    // Someone else's event at the same time as c: never in the owner's listings.
    const theirs = await createOk(client(stranger), {
      title: "stranger",
      start: fixture.c[0],
      durationMs: DAY,
    });
    nameOf.set(theirs.id, "stranger's event");
  });

  const NY = "America/New_York";
  const listings: [kind: "day" | "week" | "month", date: string, zone: string, expected: Name[]][] =
    [
      // March, UTC: days are 24 h from UTC midnight; half-open windows.
      ["day", "2032-03-14", "UTC", ["b", "c", "d", "g"]],
      ["day", "2032-03-14", "", ["b", "c", "d", "g"]], // no zone: UTC
      ["day", "2032-03-15", "UTC", ["g", "e", "f"]],
      // March, New York: Mar 14 runs 05:00Z to 04:00Z next day (23 h).
      ["day", "2032-03-13", NY, ["a", "b", "c"]],
      ["day", "2032-03-14", NY, ["c", "d", "g", "e"]],
      ["day", "2032-03-15", NY, ["f"]],
      ["day", "2032-03-16", NY, []],
      ["week", "2032-03-08", NY, ["w0", "a", "b", "c", "d", "g", "e"]],
      ["week", "2032-03-08", "UTC", ["w0", "a", "b", "c", "d", "g"]],
      ["week", "2032-03-09", "UTC", ["a", "b", "c", "d", "g", "e", "f"]],
      ["month", "2032-03-01", NY, ["w0", "a", "b", "c", "d", "g", "e", "f", "k1"]],
      ["month", "2032-03-01", "UTC", ["w0", "a", "b", "c", "d", "g", "e", "f"]],
      // A month from January 31 ends on February 29.
      ["month", "2032-01-31", "UTC", ["j1", "j2"]],
      ["month", "2032-01-31", NY, ["j2", "j3", "j4"]],
      // November, UTC.
      ["day", "2032-11-07", "UTC", ["n5", "n1", "n2"]],
      // November, New York: Nov 7 runs 04:00Z to 05:00Z next day (25 h).
      ["day", "2032-11-06", NY, ["n5", "n1"]],
      ["day", "2032-11-07", NY, ["n1", "n2", "n3"]],
      ["day", "2032-11-08", NY, ["n4"]],
      ["week", "2032-11-01", NY, ["n5", "n1", "n2", "n3"]],
      ["week", "2032-11-01", "UTC", ["n5", "n1", "n2"]],
      ["month", "2032-10-08", NY, ["n5", "n1", "n2", "n3"]],
    ];

  const list = async (
    c: CalendarClient,
    kind: "day" | "week" | "month",
    date: string,
    timeZone: string,
  ) => {
    const request = { date, timeZone };
    const { events } =
      kind === "day"
        ? await c.listDayEvents(request)
        : kind === "week"
          ? await c.listWeekEvents(request)
          : await c.listMonthEvents(request);
    return events;
  };

  for (const [kind, date, zone, expected] of listings) {
    it(`${kind} from ${date} in ${zone || "(default) UTC"}: ${expected.join(", ") || "nothing"}`, async () => {
      const events = await list(lc, kind, date, zone);
      assert.deepEqual(
        events.map((e) => nameOf.get(e.id) ?? `unknown ${e.id}`),
        expected,
      );
      // Each listed event is the whole stored event.
      assert.deepEqual(
        events,
        expected.map((name) => byName.get(name)),
      );
    });
  }

  it("another user sees none of them", async () => {
    const events = await list(client(stranger), "month", "2032-03-01", NY);
    assert.deepEqual(
      events.map((e) => nameOf.get(e.id)),
      ["stranger's event"],
    );
    assert.deepEqual(await list(client(user("listings-nobody")), "month", "2032-03-01", "UTC"), []);
  });
});
