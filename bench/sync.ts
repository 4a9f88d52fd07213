// Sync and live changes, on the api as deployed (built, plain node) and a
// fresh database:
// - watch lag: 100 WatchEvents streams open (50 users, 2 watchers each,
//   over HTTP/2) while a writer updates those users' events at 200 writes/s
//   through the same api: open loop, write n sent at n/200 s whatever the
//   earlier ones do, round-robin over the 50 users (4 writes/s each, so the
//   per-user lock is never the bound); lag = a watcher's receipt - the event's
//   updated_at (taken in the writing transaction just before it commits), so
//   it covers commit, NOTIFY, the change-log read and the stream.
// - SyncEvents throughput: a full sync, in pages of 250 (the default page
//   size; pages of 1000 ran past the store's 3 s call deadline on the loaded
//   shared machine, 2026-12-01), of a user with
//   10,000 events, each round next to a ListEvents of the same events (the
//   side-by-side reference), and an incremental sync of 100 changes.
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
const MAX_WRITES_IN_FLIGHT = 64;
export const SYNC_PAGE_SIZE = 250;

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
  /** Writes answered per second over the writing phase (the pacing held if ~ writesPerSecond). */
  achievedWritesPerSecond: number;
  /** How late the paced writer sent its last write, against its schedule. */
  writerSlipMs: number;
  /** UpdateEvent round trips that succeeded: the side-by-side reference for the lag. */
  writeLatency: { p50Ms: number; p99Ms: number };
  received: number;
  expected: number;
  /** Watches ended UNAVAILABLE (a store call over its 3 s deadline) and resumed. */
  /** Watchers that received the final version of their user's event. */
  watchersUpToDate: number;
  reconnects: number;
  /** Watches ended with another code than UNAVAILABLE, by code (then resumed). */
  watchFailures: Record<string, number>;
  lag: { p50Ms: number; p99Ms: number; maxMs: number };
  watchCores: CpuCores;
  syncEvents: number;
  fullSyncMs: number[];
  fullSyncEventsPerSecond: number;
  /** The reference run side by side: ListEvents of the same events, 5 rounds. */
  listAllMs: number[];
  listAllEventsPerSecond: number;
  incrementalSyncMs: number;
  /** SyncEvents pages answered UNAVAILABLE and asked again. */
  syncRetries: number;
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
    // A fresh api for the second cell: right after the watch cell, on the
    // same api, SyncEvents pages ran 20 times slower than ListEvents and past
    // the 3 s deadline (2026-12-01, loaded machine), so one cell's leftovers
    // would be measured in the other.
    await api.stop();
    api = await startApi(db.url);
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
  const watchFailures = new Map<string, number>();
  // The newest version of its user's event each watcher has seen.
  const seenVersion: number[] = Array.from({ length: watchers }, () => 0);
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
                seenVersion[w] = message.event.version;
              }
            }
          } catch (error) {
            if (stop.signal.aborted) break;
            // Resumed from the last token whatever the code, so one failed
            // stream does not end the cell; anything but UNAVAILABLE is
            // counted apart (a server fault: rerun with BENCH_API_LOG=1).
            const code = ConnectError.from(error).code;
            if (code === Code.Unavailable) reconnects++;
            else watchFailures.set(Code[code], (watchFailures.get(Code[code]) ?? 0) + 1);
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
  const writeMs: number[] = [];
  // Paced, open loop: write n is due at n / rate seconds, whatever the
  // earlier ones do; but at most MAX_WRITES_IN_FLIGHT at once, as a client's
  // pool would allow. Without that bound, an api that falls behind (a loaded
  // machine) collects thousands of queued calls that all run past the
  // store's 3 s deadline: every write fails and the cell measures nothing.
  // The writer's slip behind its schedule says when the bound held it back.
  const inFlight = new Set<Promise<void>>();
  for (let n = 0; n < total; n++) {
    const due = startedAt + (n * 1000) / writesPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    while (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight);
    const user = users[n % users.length] as string;
    const i = n % users.length;
    const sentAt = performance.now();
    const write: Promise<void> = writer
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
          writeMs.push(performance.now() - sentAt);
        },
        () => {
          writeErrors++;
        },
      )
      .finally(() => inFlight.delete(write));
    inFlight.add(write);
  }
  const writerSlipMs = performance.now() - (startedAt + ((total - 1) * 1000) / writesPerSecond);
  await Promise.all(inFlight);
  const achievedWritesPerSecond = (writes / (performance.now() - startedAt)) * 1000;
  const watchersPerUser = watchers / users.length;
  // Counted in the database: a write the api answered UNAVAILABLE (its 3 s
  // deadline) may still have committed, and its change is then delivered.
  const [committed] = await sql<{ updates: string }[]>`
    select coalesce(sum(last_change - 1), 0)::text as updates
    from sync_users where user_id like 'watch-%'`;
  const expected = Number(committed?.updates ?? 0) * watchersPerUser;
  // No change lost: every watcher reaches the final version of its user's
  // event. (A watcher that reads after two updates of one event gets only
  // the newer, by design, so `received` may stay below `expected`.)
  const finalVersions = new Map(
    (
      await sql<{ user_id: string; version: number }[]>`
        select user_id, version from events where user_id like 'watch-%'`
    ).map((row) => [row.user_id, row.version]),
  );
  const upToDate = () =>
    seenVersion.filter((v, w) => v === finalVersions.get(users[w % users.length] as string)).length;
  // Let the last changes arrive (at most 10 s).
  const settleBy = Date.now() + 10_000;
  while (upToDate() < watchers && Date.now() < settleBy) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const watchersUpToDate = upToDate();
  const watchCores = meter();
  stop.abort();
  await Promise.all(streams);
  const sorted = sortedCopy(lags);
  progress(
    `sync: ${received}/${expected} changes received by the watchers, ` +
      `${watchersUpToDate}/${watchers} at their user's final version`,
  );
  return {
    watchers,
    writesPerSecond,
    watchSeconds,
    writes,
    writeErrors,
    achievedWritesPerSecond,
    writerSlipMs,
    received,
    expected,
    watchersUpToDate,
    reconnects,
    watchFailures: Object.fromEntries(watchFailures),
    writeLatency: {
      p50Ms: percentile(sortedCopy(writeMs), 0.5),
      p99Ms: percentile(sortedCopy(writeMs), 0.99),
    },
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
  // As a client should: a page answered UNAVAILABLE (the store's 3 s call
  // deadline, on a loaded machine) is asked again; counted, and the round's
  // time includes it.
  let retries = 0;
  const retrying = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Unavailable || attempt === 5) throw error;
        retries++;
      }
    }
  };
  const fullSync = async () => {
    let pageToken = "";
    let events = 0;
    let syncToken = "";
    do {
      const page = await retrying(() => sync.syncEvents({ pageSize: SYNC_PAGE_SIZE, pageToken }));
      events += page.events.length;
      pageToken = page.nextPageToken;
      syncToken = page.nextSyncToken;
    } while (pageToken !== "");
    if (events !== count) throw new Error(`full sync returned ${events} events, not ${count}`);
    return syncToken;
  };
  // The reference, side by side: the same 10,000 events through ListEvents
  // (same page size, over their whole span), so a loaded machine shows as a
  // ratio rather than as a figure that means nothing elsewhere.
  const listAll = async () => {
    let pageToken = "";
    let events = 0;
    do {
      const page = await retrying(() =>
        sync.listEvents({
          timeMin: timestampFromMs(Date.UTC(2020, 0, 1)),
          timeMax: timestampFromMs(Date.UTC(2020, 0, 1) + (count + 2) * 2 * HOUR),
          pageSize: SYNC_PAGE_SIZE,
          pageToken,
        }),
      );
      events += page.events.length;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    if (events !== count) throw new Error(`ListEvents returned ${events} events, not ${count}`);
  };
  await fullSync(); // warm-up
  await listAll();
  const fullSyncMs: number[] = [];
  const listAllMs: number[] = [];
  let token = "";
  for (let round = 0; round < 5; round++) {
    let t0 = performance.now();
    token = await fullSync();
    fullSyncMs.push(performance.now() - t0);
    t0 = performance.now();
    await listAll();
    listAllMs.push(performance.now() - t0);
    progress(
      `sync: full sync of ${count} events in ${fullSyncMs.at(-1)?.toFixed(0)} ms, ` +
        `ListEvents of them in ${listAllMs.at(-1)?.toFixed(0)} ms`,
    );
  }
  await sql`
    update events set title = title || '!', version = version + 1
    where user_id = ${user} and id in (select id from events where user_id = ${user} limit 100)`;
  const t0 = performance.now();
  const delta = await retrying(() => sync.syncEvents({ syncToken: token, pageSize: 1000 }));
  const incrementalSyncMs = performance.now() - t0;
  if (delta.events.length !== 100)
    throw new Error(`incremental sync returned ${delta.events.length}`);
  const median = sortedCopy(fullSyncMs)[2] ?? Number.NaN;
  return {
    syncEvents: count,
    fullSyncMs,
    fullSyncEventsPerSecond: (count / median) * 1000,
    listAllMs,
    listAllEventsPerSecond: (count / (sortedCopy(listAllMs)[2] ?? Number.NaN)) * 1000,
    incrementalSyncMs,
    syncRetries: retries,
  };
}
