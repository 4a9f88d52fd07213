// Sync and live changes, on the api as deployed (built, plain node) and a
// fresh database:
// - watch lag: 100 WatchEvents streams open (50 users, 2 watchers each,
//   over HTTP/2) while a writer updates those users' events at 200 writes/s
//   through the same api; lag = a watcher's receipt - the event's
//   updated_at (taken in the writing transaction just before it commits), so
//   it covers commit, NOTIFY, the change-log read and the stream.
// - SyncEvents throughput: a full sync, in pages of 1000, of a user with
//   10,000 events, and an incremental sync of 100 changes among them.
import { durationFromMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../gen/calendar/v1/sync_pb.js";
import {
  type ApiProcess,
  type CpuCores,
  CpuMeter,
  createDatabase,
  progress,
  startApi,
} from "./setup.js";
import { percentile, sortedCopy } from "./stats.js";

const HOUR = 3_600_000;

export interface SyncOptions {
  watchers: number;
  watchUsers: number;
  writesPerSecond: number;
  watchSeconds: number;
  syncEvents: number;
}

export interface SyncReport {
  watchers: number;
  writesPerSecond: number;
  watchSeconds: number;
  writes: number;
  writeErrors: number;
  received: number;
  expected: number;
  /** Watches ended UNAVAILABLE (a store call over its 3 s deadline) and resumed. */
  reconnects: number;
  lag: { p50Ms: number; p99Ms: number; maxMs: number };
  watchCores: CpuCores;
  syncEvents: number;
  fullSyncMs: number[];
  fullSyncEventsPerSecond: number;
  incrementalSyncMs: number;
}

const asUser =
  (user: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("x-user-id", user);
    return next(req);
  };

export async function runSyncBench(databaseUrl: string, options: SyncOptions): Promise<SyncReport> {
  const db = await createDatabase(databaseUrl, "sync");
  let api: ApiProcess | undefined;
  try {
    api = await startApi(db.url);
    const watch = await watchLag(db.sql, api, options);
    const sync = await syncThroughput(db.sql, api, options.syncEvents);
    return { ...watch, ...sync };
  } finally {
    await api?.stop();
    await db.drop();
  }
}

async function watchLag(sql: import("postgres").Sql, api: ApiProcess, options: SyncOptions) {
  const { watchers, watchUsers, writesPerSecond, watchSeconds } = options;
  const users = Array.from({ length: watchUsers }, (_, i) => `watch-${i}`);
  // One event per user to update over and over (a create per write would
  // measure the overlap check as much as the watch).
  const eventIds = new Map<string, string>();
  for (const [i, user] of users.entries()) {
    const calendar = createClient(
      CalendarService,
      createGrpcTransport({ baseUrl: api.url, interceptors: [asUser(user)] }),
    );
    const { event } = await calendar.createEvent({
      event: {
        title: "watched",
        startTime: timestampFromMs(Date.UTC(2027, 0, 1) + i * HOUR),
        duration: durationFromMs(HOUR),
      },
    });
    eventIds.set(user, event?.id ?? "");
  }

  const stop = new AbortController();
  const lags: number[] = [];
  let received = 0;
  let reconnects = 0;
  const opened: Promise<void>[] = [];
  const streams: Promise<void>[] = [];
  for (let w = 0; w < watchers; w++) {
    const user = users[w % users.length] as string;
    // Several HTTP/2 connections, as many clients would have.
    const sync = createClient(
      CalendarSyncService,
      createConnectTransport({
        baseUrl: api.url,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors: [asUser(user)],
      }),
    );
    let markOpen = () => {};
    opened.push(
      new Promise<void>((resolve) => {
        markOpen = resolve;
      }),
    );
    streams.push(
      (async () => {
        // As a client should: on UNAVAILABLE, resume from the last token.
        let syncToken = "";
        while (!stop.signal.aborted) {
          try {
            for await (const message of sync.watchEvents({ syncToken }, { signal: stop.signal })) {
              markOpen();
              syncToken = message.syncToken;
              if (message.event?.updatedAt) {
                lags.push(Date.now() - Number(timestampMs(message.event.updatedAt)));
                received++;
              }
            }
          } catch (error) {
            if (stop.signal.aborted) break;
            if (ConnectError.from(error).code !== Code.Unavailable) throw error;
            reconnects++;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      })(),
    );
  }
  await Promise.all(opened);
  progress(`sync: ${watchers} watchers open; writing ${writesPerSecond}/s for ${watchSeconds} s`);

  const writer = createClient(CalendarService, createGrpcTransport({ baseUrl: api.url }));
  const meter = new CpuMeter([api.pid]).start();
  const startedAt = performance.now();
  const total = writesPerSecond * watchSeconds;
  let writes = 0;
  let writeErrors = 0;
  const inFlight: Promise<void>[] = [];
  for (let n = 0; n < total; n++) {
    // Paced: write n goes out at n / rate seconds, whatever the earlier ones do.
    const due = startedAt + (n * 1000) / writesPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const user = users[n % users.length] as string;
    const i = n % users.length;
    inFlight.push(
      writer
        .updateEvent(
          {
            event: {
              id: eventIds.get(user),
              title: `update ${n}`,
              startTime: timestampFromMs(Date.UTC(2027, 0, 1) + i * HOUR),
              duration: durationFromMs(HOUR),
            },
          },
          { headers: { "x-user-id": user } },
        )
        .then(
          () => {
            writes++;
          },
          () => {
            writeErrors++;
          },
        ),
    );
  }
  await Promise.all(inFlight);
  const watchersPerUser = watchers / users.length;
  // Counted in the database: a write the api answered UNAVAILABLE (its 3 s
  // deadline) may still have committed, and its change is then delivered.
  const [committed] = await sql<{ updates: string }[]>`
    select coalesce(sum(last_change - 1), 0)::text as updates
    from sync_users where user_id like 'watch-%'`;
  const expected = Number(committed?.updates ?? 0) * watchersPerUser;
  // Let the last changes arrive (at most 10 s).
  const settleBy = Date.now() + 10_000;
  while (received < expected && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 50));
  const watchCores = meter();
  stop.abort();
  await Promise.all(streams);
  const sorted = sortedCopy(lags);
  progress(`sync: ${received}/${expected} changes received by the watchers`);
  return {
    watchers,
    writesPerSecond,
    watchSeconds,
    writes,
    writeErrors,
    received,
    expected,
    reconnects,
    lag: {
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    },
    watchCores,
  };
}

async function syncThroughput(sql: import("postgres").Sql, api: ApiProcess, count: number) {
  const user = "sync-10k";
  progress(`sync: loading ${count} events for one user`);
  await sql`
    insert into events (user_id, id, title, description, start_time, end_time, created_at, updated_at, version)
    select ${user}, gen_random_uuid(), 'event ' || g, 'a description of moderate length, as people write them',
           timestamptz '2020-01-01 00:00Z' + g * interval '2 hours',
           timestamptz '2020-01-01 01:00Z' + g * interval '2 hours',
           now(), now(), 1
    from generate_series(1, ${count}::int4) g`;
  const sync = createClient(
    CalendarSyncService,
    createGrpcTransport({ baseUrl: api.url, interceptors: [asUser(user)] }),
  );
  const fullSync = async () => {
    let pageToken = "";
    let events = 0;
    let syncToken = "";
    do {
      const page = await sync.syncEvents({ pageSize: 1000, pageToken });
      events += page.events.length;
      pageToken = page.nextPageToken;
      syncToken = page.nextSyncToken;
    } while (pageToken !== "");
    if (events !== count) throw new Error(`full sync returned ${events} events, not ${count}`);
    return syncToken;
  };
  await fullSync(); // warm-up
  const fullSyncMs: number[] = [];
  let token = "";
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    token = await fullSync();
    fullSyncMs.push(performance.now() - t0);
    progress(`sync: full sync of ${count} events in ${fullSyncMs.at(-1)?.toFixed(0)} ms`);
  }
  await sql`
    update events set title = title || '!', version = version + 1
    where user_id = ${user} and id in (select id from events where user_id = ${user} limit 100)`;
  const t0 = performance.now();
  const delta = await sync.syncEvents({ syncToken: token, pageSize: 1000 });
  const incrementalSyncMs = performance.now() - t0;
  if (delta.events.length !== 100)
    throw new Error(`incremental sync returned ${delta.events.length}`);
  const median = sortedCopy(fullSyncMs)[2] ?? Number.NaN;
  return {
    syncEvents: count,
    fullSyncMs,
    fullSyncEventsPerSecond: (count / median) * 1000,
    incrementalSyncMs,
  };
}
