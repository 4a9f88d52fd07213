// Importing .ics files as Google Calendar, Outlook and Apple Calendar export
// them, over the ImportEvents RPC and POST /import.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { ImportResult_Status as Status } from "../../gen/calendar/v1/interop_pb.js";
import {
  clientFor,
  protocolNamed,
  startTestServer,
  type TestServer,
} from "../api/testing/test_server.js";
import type { CalendarEvent } from "../domain/event.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const fixture = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");

describe("ImportEvents", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const clientAs = (user: string) =>
    clientFor(CalendarService, protocolNamed("Connect JSON over HTTP/1.1"), server.url, user);
  const storedEvents = (user: string): Promise<CalendarEvent[]> =>
    server.store.listEvents(
      user,
      { start: new Date(0), end: new Date(Date.UTC(3000, 0, 1)) },
      1000,
    );
  const byTitle = (events: CalendarEvent[], title: string) => {
    const event = events.find((e) => e.title === title);
    assert.ok(event, `no event titled ${title}`);
    return event;
  };

  it("imports a Google Calendar export: UTC times, an all-day date in X-WR-TIMEZONE, TZID, reminders; a cancelled event is rejected", async () => {
    const user = `user-${randomUUID()}`;
    const { results } = await clientAs(user).importEvents({ ics: fixture("google.ics") });
    assert.deepEqual(
      results.map((r) => [r.uid, r.status]),
      [
        ["4s1ot1c3kq0c9ejt7o1q6ktd3k@google.com", Status.CREATED],
        ["0k2f5o8s1v9ut3mh3l6ta2g3r2@google.com", Status.CREATED],
        ["7hq0d3k8b2m1c5n4p6r9s0t1u2@google.com", Status.CREATED],
        ["cancelled0000000000000000@google.com", Status.REJECTED],
      ],
    );
    assert.match(results[3]?.reason ?? "", /cancelled/);
    const events = await storedEvents(user);
    assert.equal(events.length, 3);
    const review = byTitle(events, "Quarterly review");
    assert.equal(review.start.toISOString(), "2027-01-12T08:00:00.000Z");
    assert.equal(review.durationMs, HOUR);
    assert.equal(review.description, "Agenda:\n- numbers, plans; risks\n<b>bold</b> stays text");
    assert.equal(review.notifyBeforeMs, 30 * MINUTE);
    assert.equal(review.id, results[0]?.eventId);
    const offsite = byTitle(events, "Offsite");
    assert.equal(offsite.start.toISOString(), "2027-01-14T23:00:00.000Z"); // midnight in Berlin
    assert.equal(offsite.durationMs, 24 * HOUR);
    const call = byTitle(events, "Call with NY office");
    assert.equal(call.start.toISOString(), "2027-01-13T19:00:00.000Z");
    assert.equal(call.durationMs, 30 * MINUTE);
  });

  it("imports an Outlook export: CRLF, folded lines, Windows zone names and a customized VTIMEZONE", async () => {
    const user = `user-${randomUUID()}`;
    const ics = fixture("outlook.ics");
    assert.ok(ics.includes("\r\n "), "the fixture has folded lines");
    const { results } = await clientAs(user).importEvents({ ics });
    assert.deepEqual(
      results.map((r) => r.status),
      [Status.CREATED, Status.CREATED],
    );
    const events = await storedEvents(user);
    const roadmap = byTitle(
      events,
      "Roadmap planning with the whole product and engineering group",
    );
    assert.equal(roadmap.start.toISOString(), "2027-01-12T09:00:00.000Z");
    assert.equal(roadmap.durationMs, 90 * MINUTE);
    assert.equal(roadmap.notifyBeforeMs, 15 * MINUTE);
    assert.equal(
      roadmap.description,
      "Hi all,\n\nPlease review the attached deck before the meeting. We will go through the roadmap item by item and agree on owners.\n\nThanks\n",
    );
    const sync = byTitle(events, "Sync with Bangalore");
    assert.equal(sync.start.toISOString(), "2027-01-13T04:30:00.000Z");
  });

  it("imports an Apple Calendar export: VTIMEZONE with DST, Apple's 'no alarm' trigger ignored", async () => {
    const user = `user-${randomUUID()}`;
    const { results } = await clientAs(user).importEvents({ ics: fixture("apple.ics") });
    assert.deepEqual(
      results.map((r) => r.status),
      [Status.CREATED, Status.CREATED],
    );
    const events = await storedEvents(user);
    const dinner = byTitle(events, "Dinner with Anna");
    assert.equal(dinner.start.toISOString(), "2027-07-16T16:30:00.000Z");
    assert.equal(dinner.durationMs, 90 * MINUTE);
    assert.equal(dinner.description, "Bring the blanket 🧺");
    assert.equal(dinner.notifyBeforeMs, HOUR);
    // The day after the switch to summer time: UTC+2.
    assert.equal(byTitle(events, "Dentist").start.toISOString(), "2027-03-29T07:30:00.000Z");
  });

  it("creates nothing new when the same file is imported again, and updates what changed", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const ics = fixture("google.ics");
    await client.importEvents({ ics });
    const first = await storedEvents(user);
    const again = await client.importEvents({ ics });
    assert.deepEqual(
      again.results.map((r) => r.status),
      [Status.UNCHANGED, Status.UNCHANGED, Status.UNCHANGED, Status.REJECTED],
    );
    assert.deepEqual(await storedEvents(user), first);

    const changed = await client.importEvents({
      ics: ics.replace("SUMMARY:Offsite", "SUMMARY:Offsite (moved)"),
    });
    assert.equal(changed.results[1]?.status, Status.UPDATED);
    const events = await storedEvents(user);
    assert.equal(events.length, 3);
    assert.equal(byTitle(events, "Offsite (moved)").version, 2);
  });

  it("rejects a VEVENT that overlaps an existing event, naming it, and still imports the others", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const { event } = await client.createEvent({
      event: {
        title: "Already booked",
        startTime: { seconds: BigInt(Date.parse("2027-01-12T08:30:00Z") / 1000) },
        duration: { seconds: 600n },
      },
    });
    const { results } = await client.importEvents({ ics: fixture("google.ics") });
    assert.equal(results[0]?.status, Status.REJECTED);
    assert.match(results[0]?.reason ?? "", new RegExp(`overlaps event ${event?.id}`));
    assert.equal(results[1]?.status, Status.CREATED);
    assert.equal(results[2]?.status, Status.CREATED);
    assert.equal((await storedEvents(user)).length, 3);
  });

  it("rejects a VEVENT with content the calendar cannot hold and says why", async () => {
    const user = `user-${randomUUID()}`;
    const vevent = (uid: string, lines: string) =>
      `BEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20261201T120000Z\r\n${lines}END:VEVENT\r\n`;
    const ics =
      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
      vevent("no-end", "DTSTART:20270101T100000Z\r\nSUMMARY:Point in time\r\n") +
      vevent("backwards", "DTSTART:20270101T100000Z\r\nDTEND:20270101T090000Z\r\n") +
      vevent("bad-date", "DTSTART:2027-13-45\r\nDTEND:20270101T090000Z\r\n") +
      vevent("unknown-zone", "DTSTART;TZID=Mars/Olympus:20270101T100000\r\nDURATION:PT1H\r\n") +
      vevent(
        "too-long",
        `DTSTART:20270101T100000Z\r\nDURATION:PT1H\r\nSUMMARY:${"x".repeat(300)}\r\n`,
      ) +
      vevent("hourly", "DTSTART:20270101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=HOURLY\r\n") +
      // A date where a date-time belongs: ical.js throws on reading it.
      vevent("bad-recurrence-id", "RECURRENCE-ID:20270101\r\nDTEND:20270112T090000Z\r\n") +
      vevent("fine", "DTSTART:20270102T100000Z\r\nDURATION:PT1H\r\n") +
      vevent("fine", "DTSTART:20270103T100000Z\r\nDURATION:PT1H\r\n") +
      "END:VCALENDAR\r\n";
    const { results } = await clientAs(user).importEvents({ ics });
    const byUid = results.map((r) => [r.uid, r.status, r.reason]);
    assert.deepEqual(
      byUid.map(([uid, status]) => [uid, status]),
      [
        ["no-end", Status.REJECTED],
        ["backwards", Status.REJECTED],
        ["bad-date", Status.REJECTED],
        ["unknown-zone", Status.REJECTED],
        ["too-long", Status.REJECTED],
        ["hourly", Status.REJECTED],
        ["bad-recurrence-id", Status.REJECTED],
        ["fine", Status.CREATED],
        ["fine", Status.REJECTED],
      ],
    );
    assert.match(String(byUid[0]?.[2]), /neither DTEND nor DURATION/);
    assert.match(String(byUid[1]?.[2]), /ends at or before its start/);
    assert.match(String(byUid[2]?.[2]), /invalid content/);
    assert.match(String(byUid[3]?.[2]), /unknown time zone "Mars\/Olympus"/);
    assert.match(String(byUid[4]?.[2]), /SUMMARY must be 1 to 255 characters/);
    assert.match(String(byUid[5]?.[2]), /RRULE FREQ=HOURLY: FREQ must be DAILY, WEEKLY, MONTHLY/);
    assert.match(String(byUid[6]?.[2]), /invalid content/);
    assert.match(String(byUid[8]?.[2]), /same UID/);
    const events = await storedEvents(user);
    assert.equal(events.length, 1);
    // Untitled VEVENTs get a title the calendar accepts.
    assert.equal(events[0]?.title, "(no title)");
  });

  it("answers INVALID_ARGUMENT for a file that is not iCalendar, and writes nothing", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    for (const ics of [
      "",
      "hello",
      "BEGIN:VCARD\r\nFN:Anna\r\nEND:VCARD\r\n",
      "BEGIN:VCALENDAR\r\nno colon here\r\n",
      `${fixture("google.ics").slice(0, 20)}\u0000`,
    ]) {
      await assert.rejects(client.importEvents({ ics }), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(
          error.code,
          Code.InvalidArgument,
          `for ${JSON.stringify(ics)}: ${error.message}`,
        );
        assert.match(error.rawMessage, /^ics: /);
        return true;
      });
    }
    assert.equal((await storedEvents(user)).length, 0);
  });

  it("answers RESOURCE_EXHAUSTED for a file over 10 MiB, and writes nothing", async () => {
    const user = `user-${randomUUID()}`;
    const google = fixture("google.ics");
    const ics = google.replace(
      "END:VCALENDAR",
      `X-PADDING:${"a".repeat(10 * 1024 * 1024)}\r\nEND:VCALENDAR`,
    );
    await assert.rejects(clientAs(user).importEvents({ ics }), (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, Code.ResourceExhausted);
      assert.match(error.rawMessage, /10 MiB/);
      return true;
    });
    assert.equal((await storedEvents(user)).length, 0);
  });

  describe("POST /import", () => {
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${server.url}/import`, { method: "POST", body, headers });

    it("imports a text/calendar body for the x-user-id user and answers the RPC's JSON", async () => {
      const user = `user-${randomUUID()}`;
      const response = await post(fixture("apple.ics"), {
        "content-type": "text/calendar",
        "x-user-id": user,
      });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { results: { status: string; uid: string }[] };
      assert.deepEqual(
        body.results.map((r) => r.status),
        ["STATUS_CREATED", "STATUS_CREATED"],
      );
      assert.equal((await storedEvents(user)).length, 2);
    });

    it("refuses a missing user, a non-iCalendar body, another content type and an oversized file", async () => {
      const user = `user-${randomUUID()}`;
      const noUser = await post(fixture("apple.ics"), { "content-type": "text/calendar" });
      assert.equal(noUser.status, 401);
      assert.equal(((await noUser.json()) as { code: string }).code, "unauthenticated");

      const notIcs = await post("hello", { "content-type": "text/calendar", "x-user-id": user });
      assert.equal(notIcs.status, 400);
      assert.match(
        ((await notIcs.json()) as { message: string }).message,
        /^ics: is not an iCalendar file/,
      );

      const json = await post("{}", { "content-type": "application/json", "x-user-id": user });
      assert.equal(json.status, 415);

      const big = await post("x".repeat(10 * 1024 * 1024 + 10), {
        "content-type": "text/calendar",
        "x-user-id": user,
      });
      assert.equal(big.status, 413);
      assert.equal(((await big.json()) as { code: string }).code, "resource_exhausted");
      assert.equal((await storedEvents(user)).length, 0);
    });
  });
});
