// The subscription feed, read back with an independent parser (ical.js; the
// feed is written by ical-generator) and checked field by field.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import ICAL from "ical.js";
import { CalendarService, type Event } from "../../gen/calendar/v1/calendar_pb.js";
import { ImportResult_Status } from "../../gen/calendar/v1/interop_pb.js";
import {
  clientFor,
  protocolNamed,
  startTestServer,
  type TestServer,
} from "../api/testing/test_server.js";
import { capturingLogger } from "../log/testing/capturing_logger.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import type { EventStore } from "../store/store.js";
import { ManualClock } from "../store/testing/contract.js";
import { feedUid } from "./event_uid.js";
import { type FeedEntry, foldLines, renderFeed } from "./feed_calendar.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PUBLIC_URL = "https://calendar.example.com";

const seconds = (iso: string) => ({ seconds: BigInt(Date.parse(iso) / 1000) });
const ms = (value: { seconds: bigint; nanos: number } | undefined) =>
  value === undefined ? undefined : Number(value.seconds) * 1000 + value.nanos / 1e6;

describe("subscription feed", () => {
  const clock = new ManualClock(); // 2026-06-01T12:00:00Z
  const { logger, lines } = capturingLogger("debug");
  const handedOut: string[] = [];
  let server: TestServer;
  let failingListing = false;

  before(async () => {
    // A store whose listing can be made to fail, for the error path.
    class FailingListing extends MemoryEventStore {
      override listFeedRows(...args: Parameters<EventStore["listFeedRows"]>) {
        if (failingListing) return Promise.reject(new Error("listing exploded"));
        return super.listFeedRows(...args);
      }
    }
    const store = new FailingListing({ clock: clock.read });
    server = await startTestServer({
      store,
      logger,
      clock: clock.read,
      feed: { publicUrl: PUBLIC_URL },
    });
  });
  after(async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    await server.close();
    // The URL is the credential: no log line, nor metric label, may hold one.
    const logged = JSON.stringify(lines) + metrics;
    assert.match(metrics, /route="\/feeds\/:file"/);
    for (const url of handedOut) {
      const secret = new URL(url).pathname.split("/").at(-1)?.replace(".ics", "") ?? "";
      assert.ok(secret.length >= 43);
      assert.ok(!logged.includes(secret), "a feed secret appears in the logs");
    }
  });

  const clientAs = (user: string) =>
    clientFor(CalendarService, protocolNamed("Connect binary over HTTP/2"), server.url, user);
  const feedUrlOf = async (user: string, rotate = false) => {
    const client = clientAs(user);
    const { url } = rotate ? await client.rotateFeedUrl({}) : await client.getFeedUrl({});
    handedOut.push(url);
    return url;
  };
  /** Fetches a handed-out URL from the test server (PUBLIC_URL is not reachable). */
  const fetchFeed = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${new URL(url).pathname}`, { headers });
  const parse = (text: string) => new ICAL.Component(ICAL.parse(text) as never);

  it("hands out one stable URL per user under PUBLIC_URL, with a long secret", async () => {
    const [a, b] = [`user-${randomUUID()}`, `user-${randomUUID()}`];
    const first = await feedUrlOf(a);
    assert.equal(await feedUrlOf(a), first);
    assert.match(first, /^https:\/\/calendar\.example\.com\/feeds\/[A-Za-z0-9_-]{43}\.ics$/);
    assert.notEqual(await feedUrlOf(b), first);
  });

  it("serves every field of every event, as an independent parser reads them", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const description = `Agenda; items, "quotes", back\\slash\nsecond line — ünïcödé 🎉 ${"long text ".repeat(20)}`;
    const drafts = [
      {
        title: "Planning, part 1; with care",
        startTime: seconds("2026-06-02T09:00:00Z"),
        duration: { seconds: 5400n },
        description,
        notifyBefore: { seconds: 900n },
      },
      {
        title: "No extras",
        startTime: seconds("2026-06-03T22:30:00Z"),
        duration: { seconds: 1800n },
      },
      {
        title: "Ended a month ago",
        startTime: seconds("2026-05-01T10:00:00Z"),
        duration: { seconds: 3600n },
        notifyBefore: { seconds: 0n },
      },
      {
        title: "Ended long ago",
        startTime: seconds("2026-01-01T10:00:00Z"),
        duration: { seconds: 3600n },
      },
    ];
    const created: Event[] = [];
    for (const event of drafts) created.push((await client.createEvent({ event })).event as Event);

    const response = await fetchFeed(await feedUrlOf(user));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/calendar; charset=utf-8");
    const text = await response.text();
    for (const line of text.split("\r\n")) {
      assert.ok(Buffer.byteLength(line) <= 75, `line longer than 75 octets: ${line}`);
    }
    assert.ok(text.endsWith("END:VCALENDAR\r\n"));

    const calendar = parse(text);
    assert.equal(calendar.getFirstPropertyValue("version"), "2.0");
    const vevents = calendar.getAllSubcomponents("vevent");
    // FEED_PAST (90 days by default): the event that ended in January is out.
    assert.equal(vevents.length, 3);
    for (const stored of created.slice(0, 3)) {
      const vevent = vevents.find(
        (v) => v.getFirstPropertyValue("uid") === feedUid(user, stored.id),
      );
      assert.ok(vevent, `no VEVENT for ${stored.title}`);
      const start = vevent.getFirstPropertyValue("dtstart") as ICAL.Time;
      const end = vevent.getFirstPropertyValue("dtend") as ICAL.Time;
      assert.equal(start.toJSDate().getTime(), ms(stored.startTime));
      assert.equal(
        end.toJSDate().getTime(),
        (ms(stored.startTime) ?? 0) + (ms(stored.duration) ?? 0),
      );
      assert.equal(start.zone, ICAL.Timezone.utcTimezone);
      assert.equal(vevent.getFirstPropertyValue("summary"), stored.title);
      assert.equal(vevent.getFirstPropertyValue("description") ?? undefined, stored.description);
      assert.equal(vevent.getFirstPropertyValue("sequence"), stored.version - 1);
      const updated = Math.floor((ms(stored.updatedAt) ?? 0) / 1000) * 1000;
      assert.equal(
        (vevent.getFirstPropertyValue("last-modified") as ICAL.Time).toJSDate().getTime(),
        updated,
      );
      assert.equal(
        (vevent.getFirstPropertyValue("dtstamp") as ICAL.Time).toJSDate().getTime(),
        updated,
      );
      const alarms = vevent.getAllSubcomponents("valarm");
      if (stored.notifyBefore === undefined) {
        assert.equal(alarms.length, 0);
      } else {
        assert.equal(alarms.length, 1);
        assert.equal(alarms[0]?.getFirstPropertyValue("action"), "DISPLAY");
        const trigger = alarms[0]?.getFirstPropertyValue("trigger") as ICAL.Duration;
        // "|| 0": a reminder at the start reads back as -0 seconds.
        assert.equal(-trigger.toSeconds() * 1000 || 0, ms(stored.notifyBefore));
      }
    }
  });

  it("keeps the UID and raises SEQUENCE when an event's time changes", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const { event } = await client.createEvent({
      event: {
        title: "Moves",
        startTime: seconds("2026-06-05T09:00:00Z"),
        duration: { seconds: 3600n },
      },
    });
    const url = await feedUrlOf(user);
    const before = parse(await (await fetchFeed(url)).text()).getFirstSubcomponent("vevent");
    clock.advance(MINUTE);
    await client.updateEvent({
      event: {
        ...(event as Event),
        startTime: create(TimestampSchema, seconds("2026-06-05T10:00:00Z")),
      },
    });
    const after = parse(await (await fetchFeed(url)).text()).getFirstSubcomponent("vevent");
    assert.equal(after?.getFirstPropertyValue("uid"), before?.getFirstPropertyValue("uid"));
    assert.ok(
      Number(after?.getFirstPropertyValue("sequence")) >
        Number(before?.getFirstPropertyValue("sequence")),
    );
    assert.equal(
      (after?.getFirstPropertyValue("dtstart") as ICAL.Time | undefined)?.toJSDate().toISOString(),
      "2026-06-05T10:00:00.000Z",
    );
  });

  it("answers 304 to If-None-Match and If-Modified-Since until something changes, deletions included", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    const { event } = await client.createEvent({
      event: {
        title: "Cached",
        startTime: seconds("2026-06-06T09:00:00Z"),
        duration: { seconds: 3600n },
      },
    });
    await client.createEvent({
      event: {
        title: "Stays",
        startTime: seconds("2026-06-07T09:00:00Z"),
        duration: { seconds: 3600n },
      },
    });
    const url = await feedUrlOf(user);
    const first = await fetchFeed(url);
    const etag = first.headers.get("etag") ?? "";
    const lastModified = first.headers.get("last-modified") ?? "";
    assert.match(etag, /^".+"$/);
    assert.ok(lastModified !== "");

    clock.advance(HOUR);
    const cached = await fetchFeed(url, { "if-none-match": etag });
    assert.equal(cached.status, 304);
    assert.equal(await cached.text(), "");
    assert.equal((await fetchFeed(url, { "if-none-match": `W/${etag}, "other"` })).status, 304);
    assert.equal((await fetchFeed(url, { "if-modified-since": lastModified })).status, 304);

    await client.deleteEvent({ id: event?.id ?? "" });
    clock.advance(HOUR);
    const changed = await fetchFeed(url, { "if-none-match": etag });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("etag"), etag);
    assert.ok(Date.parse(changed.headers.get("last-modified") ?? "") > Date.parse(lastModified));
    assert.equal((await fetchFeed(url, { "if-modified-since": lastModified })).status, 200);
    assert.equal(parse(await changed.text()).getAllSubcomponents("vevent").length, 1);
  });

  it("rotating makes the old URL answer 404 at once, exactly like a URL that never existed", async () => {
    const user = `user-${randomUUID()}`;
    const old = await feedUrlOf(user);
    assert.equal((await fetchFeed(old)).status, 200);
    const rotated = await feedUrlOf(user, true);
    assert.notEqual(rotated, old);
    assert.equal(await feedUrlOf(user), rotated);
    assert.equal((await fetchFeed(rotated)).status, 200);

    const gone = await fetchFeed(old);
    const never = await fetchFeed(`${PUBLIC_URL}/feeds/${"A".repeat(43)}.ics`);
    const malformed = await fetchFeed(`${PUBLIC_URL}/feeds/short.ics`);
    for (const response of [gone, never, malformed]) assert.equal(response.status, 404);
    const bodies = await Promise.all([gone, never, malformed].map((r) => r.text()));
    assert.equal(new Set(bodies).size, 1);
  });

  it("writes a series as one VEVENT in its zone, a moved occurrence as an override, a cancelled one as EXDATE", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    // Mondays 09:00 Berlin (07:00Z in summer), four times.
    const { event: series } = await client.createEvent({
      event: {
        title: "Weekly sync",
        startTime: seconds("2026-06-01T07:00:00Z"),
        duration: { seconds: 3600n },
        recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"],
        timeZone: "Europe/Berlin",
      },
    });
    assert.ok(series);
    await client.updateEvent({
      event: {
        id: `${series.id}_20260608T070000Z`,
        title: "Weekly sync (Tuesday)",
        startTime: seconds("2026-06-09T08:00:00Z"),
        duration: { seconds: 1800n },
      },
    });
    await client.deleteEvent({ id: `${series.id}_20260615T070000Z` });

    const calendar = parse(await (await fetchFeed(await feedUrlOf(user))).text());
    const zones = calendar.getAllSubcomponents("vtimezone");
    assert.deepEqual(
      zones.map((zone) => zone.getFirstPropertyValue("tzid")),
      ["Europe/Berlin"],
    );
    const vevents = calendar.getAllSubcomponents("vevent");
    assert.equal(vevents.length, 2);
    const uid = feedUid(user, series.id);
    assert.ok(vevents.every((v) => v.getFirstPropertyValue("uid") === uid));
    const [master, override] = [
      vevents.find((v) => !v.hasProperty("recurrence-id")),
      vevents.find((v) => v.hasProperty("recurrence-id")),
    ];
    assert.ok(master && override);
    const local = (v: ICAL.Component, name: string) => {
      const property = v.getFirstProperty(name);
      assert.ok(property, `no ${name}`);
      return [property.getParameter("tzid"), (property.getFirstValue() as ICAL.Time).toString()];
    };
    assert.deepEqual(local(master, "dtstart"), ["Europe/Berlin", "2026-06-01T09:00:00"]);
    assert.deepEqual(local(master, "dtend"), ["Europe/Berlin", "2026-06-01T10:00:00"]);
    assert.equal(master.getFirstPropertyValue("summary"), "Weekly sync");
    const rule = master.getFirstPropertyValue("rrule") as ICAL.Recur;
    assert.deepEqual([rule.freq, rule.count, rule.parts.BYDAY], ["WEEKLY", 4, ["MO"]]);
    assert.deepEqual(local(master, "exdate"), ["Europe/Berlin", "2026-06-15T09:00:00"]);
    assert.deepEqual(local(override, "recurrence-id"), ["Europe/Berlin", "2026-06-08T09:00:00"]);
    assert.deepEqual(local(override, "dtstart"), ["Europe/Berlin", "2026-06-09T10:00:00"]);
    assert.deepEqual(local(override, "dtend"), ["Europe/Berlin", "2026-06-09T10:30:00"]);
    assert.equal(override.getFirstPropertyValue("summary"), "Weekly sync (Tuesday)");

    // ical.js expands it to what the service lists: the moved one at its new time, no cancelled one.
    const event = new ICAL.Event(master);
    event.relateException(override);
    const starts: string[] = [];
    const iterator = event.iterator();
    for (let next = iterator.next(); next; next = iterator.next()) {
      const details = event.getOccurrenceDetails(next);
      starts.push(details.startDate.toJSDate().toISOString());
    }
    assert.deepEqual(starts, [
      "2026-06-01T07:00:00.000Z",
      "2026-06-09T08:00:00.000Z",
      "2026-06-22T07:00:00.000Z",
    ]);
  });

  it("answers 500 without the URL in the log when the listing fails", async () => {
    const user = `user-${randomUUID()}`;
    const url = await feedUrlOf(user);
    failingListing = true;
    try {
      assert.equal((await fetchFeed(url)).status, 500);
    } finally {
      failingListing = false;
    }
    assert.ok(lines.some((line) => line.msg === "feed not served: unexpected error"));
  });

  it("round trip: the feed imported into a fresh user yields the same events", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientAs(user);
    await client.createEvent({
      event: {
        title: "One; two, three",
        startTime: seconds("2026-06-10T08:15:00Z"),
        duration: { seconds: 2700n },
        description: "Line 1\nLine 2, with; punctuation\\",
        notifyBefore: { seconds: 86400n },
      },
    });
    await client.createEvent({
      event: {
        title: "Long one",
        startTime: seconds("2026-06-11T00:00:00Z"),
        duration: { seconds: 3n * 86400n },
      },
    });
    const feed = await (await fetchFeed(await feedUrlOf(user))).text();
    const fresh = `user-${randomUUID()}`;
    const { results } = await clientAs(fresh).importEvents({ ics: feed });
    assert.deepEqual(
      results.map((r) => r.status),
      [ImportResult_Status.CREATED, ImportResult_Status.CREATED],
    );
    const window = { start: new Date(0), end: new Date(Date.UTC(3000, 0, 1)) };
    const content = async (owner: string) =>
      (await server.store.listEvents(owner, window, 100)).map((e) => ({
        title: e.title,
        start: e.start.toISOString(),
        durationMs: e.durationMs,
        description: e.description,
        notifyBeforeMs: e.notifyBeforeMs,
      }));
    assert.deepEqual(await content(fresh), await content(user));
    assert.equal((await content(fresh)).length, 2);
  });
});

describe("renderFeed", () => {
  const entry: FeedEntry = {
    uid: "series-1@cal-service",
    start: new Date("2026-03-27T09:00:00Z"), // 10:00 in Berlin (CET)
    end: new Date("2026-03-27T10:00:00Z"),
    timeZone: "Europe/Berlin",
    title: "Weekly",
    description: undefined,
    sequence: 0,
    lastModified: new Date("2026-03-01T00:00:00Z"),
    created: new Date("2026-03-01T00:00:00Z"),
    notifyBeforeMs: undefined,
    recurrence: ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20260410T100000"],
    recurrenceId: undefined,
  };

  it("writes zoned times with a matching VTIMEZONE, and series lines with their overrides", () => {
    const override: FeedEntry = {
      ...entry,
      start: new Date("2026-04-03T10:00:00Z"),
      end: new Date("2026-04-03T11:00:00Z"),
      recurrence: [],
      recurrenceId: new Date("2026-04-03T08:00:00Z"), // 10:00 CEST
    };
    const text = renderFeed([entry, override], "test");
    assert.match(text, /DTSTART;TZID=Europe\/Berlin:20260327T100000\r\n/);
    assert.match(text, /RRULE:FREQ=WEEKLY;COUNT=4\r\n/);
    assert.match(text, /EXDATE;TZID=Europe\/Berlin:20260410T100000\r\n/);
    assert.match(text, /RECURRENCE-ID;TZID=Europe\/Berlin:20260403T100000\r\n/);

    const calendar = new ICAL.Component(ICAL.parse(text) as never);
    const vtimezones = calendar.getAllSubcomponents("vtimezone");
    assert.equal(vtimezones.length, 1);
    assert.equal(vtimezones[0]?.getFirstPropertyValue("tzid"), "Europe/Berlin");
    // Read with the feed's own VTIMEZONE, each time is the stored instant,
    // on both sides of the switch to summer time.
    ICAL.TimezoneService.register(new ICAL.Timezone(vtimezones[0] as ICAL.Component));
    try {
      const [series, exception] = calendar
        .getAllSubcomponents("vevent")
        .map((v) => new ICAL.Event(v));
      assert.equal(series?.startDate.toJSDate().toISOString(), "2026-03-27T09:00:00.000Z");
      assert.equal(exception?.startDate.toJSDate().toISOString(), "2026-04-03T10:00:00.000Z");
      assert.equal(exception?.recurrenceId.toJSDate().toISOString(), "2026-04-03T08:00:00.000Z");
      assert.equal(exception?.uid, series?.uid);
    } finally {
      ICAL.TimezoneService.remove("Europe/Berlin");
    }
  });

  it("gives the same bytes for the same events (so ETags hold)", () => {
    assert.equal(renderFeed([entry], "test"), renderFeed([entry], "test"));
  });
});

describe("foldLines", () => {
  it("splits at 75 octets, never inside a character, and unfolds to the original", () => {
    for (const unit of ["a", "é", "€", "🎉", "a🎉é"]) {
      for (let count = 1; count < 90; count += 7) {
        const line = `DESCRIPTION:${unit.repeat(count)}`;
        const folded = foldLines(`${line}\r\nSUMMARY:x`);
        for (const part of folded.split("\r\n")) {
          assert.ok(Buffer.byteLength(part) <= 75, `${part} is ${Buffer.byteLength(part)} octets`);
          assert.ok(part.isWellFormed());
        }
        assert.equal(folded.replace(/\r\n /g, ""), `${line}\r\nSUMMARY:x`);
      }
    }
  });
});
