// The iCalendar feed of one user with 1,000 events: the whole GET as a
// calendar app makes it (api process, Postgres, rendering), the same with
// If-None-Match (the 304 every poll of an unchanged feed gets), and the
// rendering alone in this process.
//
// The issue asks for 1,000 events and 20 series; series come with the
// recurring-events work. Until the events table has recurrence, the feed
// holds single events only and the report says so (series: 0).
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import type { CalendarEvent } from "../internal/domain/event.js";
import { feedEntryOf, renderFeed } from "../internal/interop/feed_calendar.js";
import { createDatabase, type LoadOptions, progress, runLoad, startApi } from "./setup.js";
import type { CellResult } from "./stats.js";

const USER = "feed-bench-user";
const EVENTS = 1000;

export interface FeedReport {
  events: number;
  series: number;
  bytes: number;
  /** GET of the whole feed through the api. */
  full: CellResult;
  /** GET with If-None-Match of the current ETag: 304. */
  notModified: CellResult;
  /** renderFeed alone, in the bench process. */
  render: CellResult;
}

export async function runFeedBench(
  databaseUrl: string,
  load: Omit<LoadOptions, "concurrency">,
): Promise<FeedReport> {
  const db = await createDatabase(databaseUrl, "feed");
  try {
    // Two hours apart from now on, an hour long, half with a reminder and
    // a description: what a busy calendar's next few months look like.
    await db.sql`
      insert into events (user_id, id, title, description, start_time, end_time,
                          notify_before_ms, notify_at, created_at, updated_at, version)
      select ${USER}, gen_random_uuid(), 'Meeting ' || g || ', room ' || (g % 7),
             case when g % 2 = 0 then 'Agenda: item one; item two, item three.' || chr(10) || 'Notes follow.' end,
             date_trunc('hour', now()) + g * interval '2 hours',
             date_trunc('hour', now()) + g * interval '2 hours' + interval '1 hour',
             case when g % 2 = 0 then 600000 end,
             case when g % 2 = 0 then date_trunc('hour', now()) + g * interval '2 hours' - interval '10 minutes' end,
             now(), now(), 1 + g % 3
      from generate_series(1, ${EVENTS}) g`;
    progress(`feed: ${EVENTS} events loaded`);

    const api = await startApi(db.url);
    try {
      const client = createClient(
        CalendarService,
        createConnectTransport({
          baseUrl: api.url,
          httpVersion: "1.1",
          interceptors: [
            (next) => (req) => {
              req.header.set("x-user-id", USER);
              return next(req);
            },
          ],
        }),
      );
      const { url } = await client.getFeedUrl({});
      const feedUrl = `${api.url}${new URL(url).pathname}`;
      const first = await fetch(feedUrl);
      const body = await first.text();
      const etag = first.headers.get("etag") ?? "";
      const vevents = body.split("\r\n").filter((line) => line === "BEGIN:VEVENT").length;
      if (first.status !== 200 || vevents !== EVENTS) {
        throw new Error(
          `feed answered ${first.status} with ${vevents} VEVENTs, expected ${EVENTS}`,
        );
      }
      const options = { ...load, concurrency: 1 };
      progress("feed: full GET");
      const full = await runLoad(async () => {
        const response = await fetch(feedUrl);
        if (response.status !== 200) throw new Error(`status ${response.status}`);
        await response.arrayBuffer();
      }, options);
      progress("feed: GET with If-None-Match");
      const notModified = await runLoad(async () => {
        const response = await fetch(feedUrl, { headers: { "if-none-match": etag } });
        if (response.status !== 304) throw new Error(`status ${response.status}`);
        await response.arrayBuffer();
      }, options);

      progress("feed: rendering alone");
      const now = Date.now();
      const entries = Array.from({ length: EVENTS }, (_, i) => {
        const event: CalendarEvent = {
          id: crypto.randomUUID(),
          userId: USER,
          title: `Meeting ${i}, room ${i % 7}`,
          start: new Date(now + i * 7_200_000),
          durationMs: 3_600_000,
          description:
            i % 2 === 0 ? "Agenda: item one; item two, item three.\nNotes follow." : undefined,
          notifyBeforeMs: i % 2 === 0 ? 600_000 : undefined,
          createdAt: new Date(now),
          updatedAt: new Date(now),
          version: 1 + (i % 3),
        };
        return feedEntryOf(USER, event);
      });
      const render = await runLoad(async () => renderFeed(entries, "cal_service"), options);
      return {
        events: EVENTS,
        series: 0,
        bytes: Buffer.byteLength(body),
        full,
        notModified,
        render,
      };
    } finally {
      await api.stop();
    }
  } finally {
    await db.drop();
  }
}
