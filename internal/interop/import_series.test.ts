// Importing recurring events: series (RRULE, EXDATE, RDATE) and their
// overrides (RECURRENCE-ID) as Google Calendar, Outlook and Apple Calendar
// export them, and the round trip feed -> import. Checked through the API's
// own list calls, as a client would see the calendar.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CalendarService, type Event } from "../../gen/calendar/v1/calendar_pb.js";
import { ImportResult_Status as Status } from "../../gen/calendar/v1/interop_pb.js";
import {
  clientFor,
  protocolNamed,
  startTestServer,
  type TestServer,
} from "../api/testing/test_server.js";

const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");
const seconds = (iso: string) => ({ seconds: BigInt(Date.parse(iso) / 1000) });
const iso = (value: { seconds: bigint } | undefined) =>
  value === undefined ? "" : new Date(Number(value.seconds) * 1000).toISOString();

/** An event as a list call shows it, without what differs between users (ids, stamps). */
interface Listed {
  title: string;
  start: string;
  durationS: number;
  description: string | undefined;
  notifyBeforeS: number | undefined;
  /** "" for a single event; the occurrence's original start otherwise. */
  originalStart: string;
  /** The part of the id after the series id ("_20270105T090000Z"), "" for a single event. */
  occurrenceSuffix: string;
}

function listed(event: Event): Listed {
  return {
    title: event.title,
    start: iso(event.startTime),
    durationS: Number(event.duration?.seconds ?? 0n),
    description: event.description,
    notifyBeforeS: event.notifyBefore ? Number(event.notifyBefore.seconds) : undefined,
    originalStart: iso(event.originalStartTime),
    occurrenceSuffix:
      event.recurringEventId === "" ? "" : event.id.slice(event.recurringEventId.length),
  };
}

describe("ImportEvents with recurring events", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const clientAs = (user: string) =>
    clientFor(CalendarService, protocolNamed("Connect JSON over HTTP/1.1"), server.url, user);

  /** Every event and occurrence of a year, month by month (UTC), through ListMonthEvents. */
  const yearOf = async (user: string, year = 2027): Promise<Event[]> => {
    const client = clientAs(user);
    const events: Event[] = [];
    const seen = new Set<string>();
    for (let month = 1; month <= 12; month++) {
      const date = `${year}-${String(month).padStart(2, "0")}-01`;
      for (const event of (await client.listMonthEvents({ date, timeZone: "UTC" })).events) {
        if (seen.has(event.id)) continue; // listed in both months it spans
        seen.add(event.id);
        events.push(event);
      }
    }
    return events;
  };
  const titled = (events: Event[], title: string) => events.filter((e) => e.title === title);

  it("imports a Google Calendar export: weekly series with UTC UNTIL and EXDATE, a moved occurrence written before its series, an all-day yearly series", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const ics = fixture("google_series.ics");
    const { results } = await client.importEvents({ ics });
    assert.deepEqual(
      results.map((r) => [r.uid, r.recurrenceId, r.status, r.reason]),
      [
        ["5q8r2t4v6x8z0b2d4f6h8j0l2n@google.com", "2027-01-26T10:00:00", Status.CREATED, ""],
        ["5q8r2t4v6x8z0b2d4f6h8j0l2n@google.com", "", Status.CREATED, ""],
        ["3c5e7g9i1k3m5o7q9s1u3w5y7a@google.com", "", Status.CREATED, ""],
      ],
    );
    const seriesId = results[1]?.eventId ?? "";
    assert.equal(results[0]?.eventId, `${seriesId}_20270126T090000Z`);

    const { event: series } = await client.getEvent({ id: seriesId });
    assert.equal(series?.timeZone, "Europe/Berlin");
    assert.deepEqual(series?.recurrence, [
      // ical.js leaves out WKST=MO, the default.
      "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20270329T215959Z",
      "EXDATE;TZID=Europe/Berlin:20270216T100000",
    ]);

    const year = await yearOf(user);
    const weekly = [...titled(year, "Team weekly"), ...titled(year, "Team weekly (afternoon)")];
    // Tuesdays Jan 5 to Mar 23 at 10:00 Berlin: twelve, less the EXDATE of Feb 16.
    assert.equal(weekly.length, 11);
    assert.ok(!weekly.some((e) => iso(e.startTime).startsWith("2027-02-16")));
    const moved = titled(year, "Team weekly (afternoon)");
    assert.deepEqual(moved.map(listed), [
      {
        title: "Team weekly (afternoon)",
        start: "2027-01-26T14:00:00.000Z",
        durationS: 3600,
        description: "Moved to the afternoon: the room is taken in the morning.",
        notifyBeforeS: 600,
        originalStart: "2027-01-26T09:00:00.000Z",
        occurrenceSuffix: "_20270126T090000Z",
      },
    ]);
    const regular = titled(year, "Team weekly");
    assert.ok(regular.every((e) => iso(e.startTime).endsWith("T09:00:00.000Z")));
    assert.ok(
      regular.every((e) => e.description === "Weekly team meeting, notes in the shared doc."),
    );

    // All-day, yearly: the whole day in the calendar's zone (X-WR-TIMEZONE), every year.
    const birthdays = titled(year, "Anna's birthday").map(listed);
    assert.deepEqual(
      birthdays.map((b) => [b.start, b.durationS]),
      [["2027-03-02T23:00:00.000Z", 86_400]],
    );
    const next = titled(await yearOf(user, 2031), "Anna's birthday").map(listed);
    assert.deepEqual(
      next.map((b) => b.start),
      ["2031-03-02T23:00:00.000Z"],
    );

    // Importing it again creates nothing and changes nothing.
    const again = await client.importEvents({ ics });
    assert.deepEqual(
      again.results.map((r) => r.status),
      [Status.UNCHANGED, Status.UNCHANGED, Status.UNCHANGED],
    );
    assert.deepEqual((await yearOf(user)).map(listed), year.map(listed));
  });

  it("imports an Outlook export: Windows zone names, CRLF, folded lines, a moved and a cancelled occurrence", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const ics = fixture("outlook_series.ics");
    assert.ok(ics.includes("\r\n "), "the fixture has folded lines");
    assert.ok(!/[^\r]\n/.test(ics), "the fixture has CRLF line ends only");
    const { results } = await client.importEvents({ ics });
    assert.deepEqual(
      results.map((r) => [r.recurrenceId, r.status, r.reason]),
      [
        ["", Status.CREATED, ""],
        ["2027-01-20T09:00:00", Status.CREATED, ""],
        ["2027-01-22T09:00:00", Status.CREATED, ""],
        ["", Status.CREATED, ""],
      ],
    );
    const standupId = results[0]?.eventId ?? "";
    const { event: standup } = await client.getEvent({ id: standupId });
    assert.equal(standup?.timeZone, "Europe/Berlin");
    assert.equal(standup?.title, "Platform standup");
    assert.match(
      standup?.description ?? "",
      /what will you do, what blocks you\.\n\nJoin on Teams: https:\/\/teams\.example\.com\/l\/meetup-join\//,
    );
    // The cancelled occurrence is gone: NOT_FOUND, as after DeleteEvent on it.
    await assert.rejects(
      client.getEvent({ id: results[2]?.eventId ?? "" }),
      (error: unknown) => error instanceof ConnectError && error.code === Code.NotFound,
    );
    assert.equal(results[2]?.eventId, `${standupId}_20270122T080000Z`);

    const year = await yearOf(user);
    const standups = year.filter((e) => e.recurringEventId === standupId);
    // Mondays, Wednesdays and Fridays from Jan 11 to Feb 26 (21), less the
    // EXDATE (Jan 18) and the cancelled Jan 22.
    assert.equal(standups.length, 19);
    const starts = standups.map((e) => iso(e.startTime));
    assert.ok(!starts.some((s) => s.startsWith("2027-01-18") || s.startsWith("2027-01-22")));
    const moved = standups.find((e) => e.id === `${standupId}_20270120T080000Z`);
    assert.equal(iso(moved?.startTime), "2027-01-20T13:00:00.000Z");
    assert.equal(moved?.title, "Platform standup (after the all-hands, moved to the afternoon)");
    assert.equal(moved?.notifyBefore?.seconds, 900n);

    // "Pacific Standard Time", monthly on the 15th at 08:00: 16:00Z in
    // winter, 15:00Z once daylight saving time starts (March 14).
    const vendor = titled(year, "Vendor check-in").map((e) => iso(e.startTime));
    assert.deepEqual(vendor, [
      "2027-01-15T16:00:00.000Z",
      "2027-02-15T16:00:00.000Z",
      "2027-03-15T15:00:00.000Z",
      "2027-04-15T15:00:00.000Z",
      "2027-05-15T15:00:00.000Z",
      "2027-06-15T15:00:00.000Z",
    ]);

    const again = await client.importEvents({ ics });
    assert.deepEqual(
      again.results.map((r) => r.status),
      [Status.UNCHANGED, Status.UNCHANGED, Status.UNCHANGED, Status.UNCHANGED],
    );
    assert.deepEqual((await yearOf(user)).map(listed), year.map(listed));
  });

  it("imports an Apple Calendar export: a VTIMEZONE zone, RRULE with BYDAY and COUNT across a DST change, an override", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const ics = fixture("apple_series.ics");
    const { results } = await client.importEvents({ ics });
    assert.deepEqual(
      results.map((r) => [r.recurrenceId, r.status, r.reason]),
      [
        ["", Status.CREATED, ""],
        ["2027-03-17T07:00:00", Status.CREATED, ""],
      ],
    );
    const year = await yearOf(user);
    const swims = year.filter((e) => e.recurringEventId === results[0]?.eventId);
    assert.equal(swims.length, 12);
    const starts = swims.map((e) => iso(e.startTime));
    // 07:00 Los Angeles: PST (15:00Z) until March 14, PDT (14:00Z) after.
    assert.deepEqual(starts.slice(0, 6), [
      "2027-03-01T15:00:00.000Z",
      "2027-03-03T15:00:00.000Z",
      "2027-03-05T15:00:00.000Z",
      "2027-03-08T15:00:00.000Z",
      "2027-03-10T15:00:00.000Z",
      "2027-03-12T15:00:00.000Z",
    ]);
    assert.equal(starts[6], "2027-03-15T14:00:00.000Z");
    const evening = titled(swims, "Swim (evening lanes)").map(listed);
    assert.deepEqual(
      evening.map((e) => [e.start, e.originalStart, e.durationS, e.notifyBeforeS]),
      [["2027-03-18T01:30:00.000Z", "2027-03-17T14:00:00.000Z", 3600, 1800]],
    );
    const again = await client.importEvents({ ics });
    assert.deepEqual(
      again.results.map((r) => r.status),
      [Status.UNCHANGED, Status.UNCHANGED],
    );
  });

  it("takes all-day series with date EXDATE and RECURRENCE-ID in the calendar's zone, and UTC series with UTC EXDATE, RDATE and a cancelling override", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const vevent = (uid: string, lines: string) =>
      `BEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20261201T120000Z\r\n${lines}END:VEVENT\r\n`;
    const ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nX-WR-TIMEZONE:Europe/Berlin\r\n" +
      vevent(
        "holiday",
        "DTSTART;VALUE=DATE:20270401\r\nDTEND;VALUE=DATE:20270402\r\nRRULE:FREQ=DAILY;COUNT=5\r\n" +
          "EXDATE;VALUE=DATE:20270403\r\nSUMMARY:Holiday\r\n",
      ) +
      vevent(
        "holiday",
        "RECURRENCE-ID;VALUE=DATE:20270404\r\nDTSTART;VALUE=DATE:20270404\r\n" +
          "DTEND;VALUE=DATE:20270405\r\nSUMMARY:Holiday (Easter)\r\n",
      ) +
      vevent("daily", "RECURRENCE-ID:20270503T100000Z\r\nSTATUS:CANCELLED\r\n") +
      vevent(
        "daily",
        "DTSTART:20270501T100000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY;COUNT=3\r\n" +
          "EXDATE:20270502T100000Z\r\nRDATE:20270510T100000Z\r\nSUMMARY:Daily\r\n",
      ) +
      "END:VCALENDAR\r\n";
    const { results } = await client.importEvents({ ics });
    assert.deepEqual(
      results.map((r) => [r.uid, r.status, r.reason]),
      [
        ["holiday", Status.CREATED, ""],
        ["holiday", Status.CREATED, ""],
        ["daily", Status.CREATED, ""],
        ["daily", Status.CREATED, ""],
      ],
    );
    const { event: holiday } = await client.getEvent({ id: results[0]?.eventId ?? "" });
    assert.equal(holiday?.timeZone, "Europe/Berlin");
    // Midnight in Berlin (summer time) as a UTC instant.
    assert.deepEqual(holiday?.recurrence, ["RRULE:FREQ=DAILY;COUNT=5", "EXDATE:20270402T220000Z"]);
    const { event: daily } = await client.getEvent({ id: results[3]?.eventId ?? "" });
    assert.equal(daily?.timeZone, "UTC");
    assert.deepEqual(daily?.recurrence, [
      "RRULE:FREQ=DAILY;COUNT=3",
      "EXDATE:20270502T100000Z",
      "RDATE:20270510T100000Z",
    ]);
    const year = await yearOf(user);
    assert.deepEqual(
      year.map((e) => [e.title, iso(e.startTime), Number(e.duration?.seconds)]),
      [
        ["Holiday", "2027-03-31T22:00:00.000Z", 86_400],
        ["Holiday", "2027-04-01T22:00:00.000Z", 86_400],
        ["Holiday (Easter)", "2027-04-03T22:00:00.000Z", 86_400],
        ["Holiday", "2027-04-04T22:00:00.000Z", 86_400],
        ["Daily", "2027-05-01T10:00:00.000Z", 1800],
        ["Daily", "2027-05-10T10:00:00.000Z", 1800],
      ],
    );
    const again = await client.importEvents({ ics });
    assert.ok(
      again.results.every((r) => r.status === Status.UNCHANGED),
      JSON.stringify(again.results),
    );
  });

  it("rejects, each with its reason, rules the service does not take and overrides it cannot place, and imports the rest", async () => {
    const user = `user-${randomUUID()}`;
    const vevent = (uid: string, lines: string) =>
      `BEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20261201T120000Z\r\n${lines}END:VEVENT\r\n`;
    const at = (day: string) =>
      `DTSTART;TZID=Europe/Berlin:202702${day}T100000\r\nDTEND;TZID=Europe/Berlin:202702${day}T110000\r\n`;
    const ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
      // Outlook's zone for one it has no Windows name for: a VTIMEZONE only.
      "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n" +
      "TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" +
      vevent("hourly", `${at("01")}RRULE:FREQ=HOURLY;COUNT=3\r\n`) +
      // ical.js cannot parse this one at all: still only its VEVENT is rejected.
      vevent("garbled", `${at("01")}RRULE:FREQ=FORTNIGHTLY;INTERVAL=two\r\n`) +
      vevent("by-hour", `${at("02")}RRULE:FREQ=DAILY;BYHOUR=9,17\r\n`) +
      vevent("too-many", `${at("03")}RRULE:FREQ=YEARLY;COUNT=1001\r\n`) +
      vevent("no-rule", `${at("04")}RDATE;TZID=Europe/Berlin:20270305T100000\r\n`) +
      vevent(
        "custom-zone",
        "DTSTART;TZID=Customized Time Zone:20270206T100000\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY\r\n",
      ) +
      vevent("orphan", `${at("07")}RECURRENCE-ID;TZID=Europe/Berlin:20270207T100000\r\n`) +
      vevent("hourly", `${at("08")}RECURRENCE-ID;TZID=Europe/Berlin:20270201T100000\r\n`) +
      // A good series: Mondays from Feb 8 at 10:00 Berlin, four times.
      vevent("weekly", `${at("08")}RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\n`) +
      vevent(
        "weekly",
        `${at("10")}RECURRENCE-ID;TZID=Europe/Berlin:20270210T100000\r\nSUMMARY:Not a Monday\r\n`,
      ) +
      vevent(
        "weekly",
        `${at("16")}RECURRENCE-ID:20270215T090000Z\r\nSUMMARY:Monday, moved to Tuesday\r\n`,
      ) +
      vevent(
        "weekly",
        `${at("17")}RECURRENCE-ID;TZID=Europe/Berlin:20270215T100000\r\nSUMMARY:Again\r\n`,
      ) +
      vevent("single", `${at("12")}SUMMARY:One-off\r\n`) +
      vevent("single", `${at("12")}RECURRENCE-ID:20270212T090000Z\r\nSUMMARY:Override\r\n`) +
      "END:VCALENDAR\r\n";
    const { results } = await clientAs(user).importEvents({ ics });
    const byUid = results.map((r) => [r.uid, r.status, r.reason] as const);
    assert.deepEqual(
      byUid.map(([uid, status]) => [uid, status]),
      [
        ["hourly", Status.REJECTED],
        ["garbled", Status.REJECTED],
        ["by-hour", Status.REJECTED],
        ["too-many", Status.REJECTED],
        ["no-rule", Status.REJECTED],
        ["custom-zone", Status.REJECTED],
        ["orphan", Status.REJECTED],
        ["hourly", Status.REJECTED],
        ["weekly", Status.CREATED],
        ["weekly", Status.REJECTED],
        ["weekly", Status.CREATED],
        ["weekly", Status.REJECTED],
        ["single", Status.CREATED],
        ["single", Status.REJECTED],
      ],
    );
    const reasons = byUid.map(([, , reason]) => reason);
    assert.match(
      reasons[0] ?? "",
      /RRULE FREQ=HOURLY: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY/,
    );
    assert.match(
      reasons[1] ?? "",
      /RRULE FREQ=FORTNIGHTLY;INTERVAL=two is not a rule: invalid frequency/,
    );
    assert.match(reasons[2] ?? "", /RRULE BYHOUR is not supported/);
    assert.match(reasons[3] ?? "", /RRULE COUNT=1001: COUNT must be 1 to 1000/);
    assert.match(reasons[4] ?? "", /RDATE or EXDATE but no RRULE/);
    assert.match(reasons[5] ?? "", /TZID "Customized Time Zone" is neither/);
    assert.match(reasons[6] ?? "", /its series is not in the file/);
    assert.match(reasons[7] ?? "", /its series was not imported: .*FREQ=HOURLY/);
    assert.match(reasons[9] ?? "", /2027-02-10T09:00:00.000Z is not an occurrence of its series/);
    assert.match(
      reasons[11] ?? "",
      /another VEVENT earlier in the file overrides the same occurrence/,
    );
    assert.match(reasons[13] ?? "", /does not repeat/);
    for (const reason of reasons) assert.doesNotMatch(reason, /internal/i);

    const year = await yearOf(user);
    assert.deepEqual(
      year.map((e) => [e.title, iso(e.startTime)]),
      [
        ["Weekly", "2027-02-08T09:00:00.000Z"],
        ["One-off", "2027-02-12T09:00:00.000Z"],
        ["Monday, moved to Tuesday", "2027-02-16T09:00:00.000Z"],
        ["Weekly", "2027-02-22T09:00:00.000Z"],
        ["Weekly", "2027-03-01T09:00:00.000Z"],
      ],
    );
  });

  it("round trip: a feed with a series, a cancelled and an edited occurrence, imported into a fresh user, lists the same", async () => {
    const owner = `user-${randomUUID()}`;
    const source = clientAs(owner);
    // Mondays 09:00 Berlin from Jan 4, 2027, with no end; and a single event.
    const { event: series } = await source.createEvent({
      event: {
        title: "Weekly sync",
        description: "Status, then plans.",
        startTime: seconds("2027-01-04T08:00:00Z"),
        duration: { seconds: 3600n },
        notifyBefore: { seconds: 900n },
        recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
        timeZone: "Europe/Berlin",
      },
    });
    assert.ok(series);
    await source.createEvent({
      event: {
        title: "Offsite",
        startTime: seconds("2027-05-05T07:00:00Z"),
        duration: { seconds: 8n * 3600n },
      },
    });
    // Moved and retitled (summer time: 09:00 Berlin is 07:00Z).
    await source.updateEvent({
      event: {
        id: `${series.id}_20270607T070000Z`,
        title: "Weekly sync (Tuesday)",
        startTime: seconds("2027-06-08T12:00:00Z"),
        duration: { seconds: 1800n },
        notifyBefore: { seconds: 300n },
      },
    });
    await source.deleteEvent({ id: `${series.id}_20270301T080000Z` });

    const { url } = await source.getFeedUrl({});
    const feed = await (await fetch(`${server.url}${new URL(url).pathname}`)).text();
    const copy = `user-${randomUUID()}`;
    const { results } = await clientAs(copy).importEvents({ ics: feed });
    assert.equal(results.length, 3);
    assert.ok(
      results.every((r) => r.status === Status.CREATED),
      JSON.stringify(results),
    );

    const original = await yearOf(owner);
    const imported = await yearOf(copy);
    // 52 Mondays less the cancelled one, plus the single event.
    assert.equal(original.length, 52);
    assert.deepEqual(imported.map(listed), original.map(listed));

    const { event: importedSeries } = await clientAs(copy).getEvent({
      id: imported.find((e) => e.recurringEventId !== "")?.recurringEventId ?? "",
    });
    assert.equal(importedSeries?.timeZone, "Europe/Berlin");
    assert.equal(importedSeries?.title, "Weekly sync");
    // The feed writes a cancelled occurrence as an EXDATE (as Google does): it comes back as one.
    assert.deepEqual(importedSeries?.recurrence, [
      "RRULE:FREQ=WEEKLY;BYDAY=MO",
      "EXDATE;TZID=Europe/Berlin:20270301T090000",
    ]);

    const again = await clientAs(copy).importEvents({ ics: feed });
    assert.ok(
      again.results.every((r) => r.status === Status.UNCHANGED),
      JSON.stringify(again.results),
    );
  });
});
