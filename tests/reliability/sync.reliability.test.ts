// Reliability of sync and live changes, against `cal_service api` processes.
//
//   RELIABILITY_SYNC_SECONDS=10 (default, CI)   FUZZ_RUNS=200 (default)
//
// Fuzz: ListEvents, SyncEvents and WatchEvents over every protocol get
// hostile typed requests (random, damaged and forged tokens, page sizes,
// times and zones) and raw random bodies. Every answer is a success or a
// caller's-fault code: never INTERNAL, UNKNOWN, UNAVAILABLE, nor a hang.
//
// Replicas (needs DATABASE_URL): two api processes on one database, each
// with watchers of several users (gRPC on one, Connect on the other), while
// a third api process takes random creates, updates and deletes from
// several writers. Afterwards every watcher's copy, built only from its
// stream, must equal the server's state: no change lost, none out of order.
//
// Series model: random series writes (rule edits, splits, moved and
// cancelled occurrences) with replicas syncing in between, checked after
// every step against a full sync and ListEvents; FUZZ_RUNS / 5 sequences.
// The lag from commit (updated_at) to receipt is reported as p50/p99.
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import postgres from "postgres";
import { CalendarService, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../gen/calendar/v1/sync_pb.js";
import { checkSeriesSyncModel } from "../../internal/api/testing/series_sync_model.js";
import { clientFor, protocols } from "../../internal/api/testing/test_server.js";
import { runCalService, startCalService, waitForLog } from "../../internal/testing/process.js";
import { hostileString, timestampArb, timeZoneArb } from "./arbitraries.js";
import { readOutcome, SERVER_FAULT_CODES } from "./framing.js";
import {
  assertNoServerErrors,
  fuzzRuns,
  h1Post,
  type ServiceUnderTest,
  startService,
  Tally,
  wholeNumberFromEnv,
} from "./harness.js";

const RUNS = fuzzRuns();
const SYNC_SECONDS = wholeNumberFromEnv("RELIABILITY_SYNC_SECONDS", 10, 1);
const tally = new Tally("sync");
const SYNC_PATH = "/calendar.v1.CalendarSyncService";

after(() => tally.publish("sync reliability"));

/** A token as the server would write it for `user`, with any body: forged. */
function forged(user: string, body: Record<string, unknown>): string {
  const u = createHash("sha256").update(user).digest("base64url").slice(0, 16);
  return Buffer.from(JSON.stringify({ v: 1, u, ...body })).toString("base64url");
}

function tokenArb(user: string): fc.Arbitrary<string> {
  const number = fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -1, 2 ** 53, 2 ** 53 - 1, 8.64e15 + 1, 1e308, 0.5),
    fc.constant("1"),
  );
  return fc.oneof(
    fc.constant(""),
    hostileString(80),
    fc.base64String({ maxLength: 120 }),
    fc
      .record({
        k: fc.constantFrom("sync", "sync_page", "list_page", "x"),
        p: number,
        from: number,
      })
      .map((body) => forged(user, body)),
    fc
      .record({
        k: fc.constant("list_page"),
        min: number,
        max: number,
        z: fc.constantFrom("UTC", "Europe/Berlin", ""),
        s: number,
        i: fc.oneof(fc.uuid(), hostileString(40), fc.constant("-".repeat(36))),
      })
      .map((body) => forged(user, body)),
    fc.string().map((s) => Buffer.from(s).toString("base64url")),
  );
}

function callerFault(error: unknown): boolean {
  const code = ConnectError.from(error).code;
  return ![Code.Internal, Code.Unknown, Code.Unavailable, Code.DataLoss].includes(code);
}

describe("sync RPCs, fuzzed", () => {
  let svc: ServiceUnderTest;
  before(async () => {
    svc = await startService();
  });
  after(async () => {
    await svc?.stop();
  });

  for (const [protocol, transport] of Object.entries(protocols)) {
    it(`answers hostile typed requests with success or a caller's-fault code: ${protocol}`, async () => {
      const user = `fuzz-${randomUUID()}`;
      const sync = clientFor(CalendarSyncService, transport, svc.url, user);
      const calendar = clientFor(CalendarService, transport, svc.url, user);
      for (let h = 0; h < 3; h++) {
        await calendar.createEvent({
          event: create(EventSchema, {
            title: "seed",
            startTime: timestampFromDate(new Date(Date.UTC(2026, 0, 1, h))),
            duration: durationFromMs(3_600_000),
          }),
        });
      }
      const pageSize = fc.oneof(fc.integer({ min: -5, max: 1005 }), fc.integer());
      const request = fc.oneof(
        fc.record({
          rpc: fc.constant("list" as const),
          timeMin: timestampArb,
          timeMax: timestampArb,
          timeZone: fc.oneof(timeZoneArb, fc.constant("")),
          pageSize,
          pageToken: tokenArb(user),
        }),
        fc.record({
          rpc: fc.constantFrom("sync" as const, "watch" as const),
          syncToken: tokenArb(user),
          pageSize,
          pageToken: tokenArb(user),
        }),
      );
      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          let passed = true;
          try {
            if (req.rpc === "list") {
              await sync.listEvents(req);
            } else if (req.rpc === "sync") {
              await sync.syncEvents(req);
            } else {
              const stop = new AbortController();
              const timer = setTimeout(() => stop.abort(), 5000);
              try {
                for await (const _ of sync.watchEvents(req, { signal: stop.signal })) break;
              } finally {
                clearTimeout(timer);
              }
            }
          } catch (error) {
            passed = callerFault(error);
            if (!passed) tally.note(`typed requests: ${protocol}`, String(error).slice(0, 160));
          }
          tally.record(`typed requests: ${protocol}`, passed);
          assert.ok(passed, `server fault for ${req.rpc}`);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("answers raw random Connect bodies with a caller's-fault code", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("ListEvents", "SyncEvents", "WatchEvents"),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          hostileString(200).map((s) => new TextEncoder().encode(s)),
        ),
        fc.constantFrom(
          "application/json",
          "application/proto",
          "application/connect+json",
          "application/connect+proto",
        ),
        async (method, body, contentType) => {
          const res = await h1Post(
            svc.url,
            `${SYNC_PATH}/${method}`,
            { "content-type": contentType, "x-user-id": "raw" },
            body,
          );
          const outcome = readOutcome("connect", res);
          const passed = !outcome.ok || !SERVER_FAULT_CODES.has(outcome.code);
          tally.record("raw bodies: Connect", passed);
          assert.ok(passed, JSON.stringify(outcome));
        },
      ),
      { numRuns: RUNS },
    );
  });

  // The model of series sync (internal/api/testing/series_sync_model.ts),
  // with more and longer sequences than npm test runs, on the real store.
  it("replays random series, exception and cancellation writes exactly, after every step", async () => {
    const numRuns = Math.max(5, Math.ceil(RUNS / 5));
    let passed = false;
    try {
      await checkSeriesSyncModel(svc.url, { numRuns, maxSteps: 40 });
      passed = true;
    } finally {
      tally.record("series sync model", passed, `${numRuns} sequences of up to 40 steps`);
    }
  });

  it("logged no server errors", () => {
    assertNoServerErrors(svc, tally);
  });
});

describe("watchers on two api processes while a third writes", () => {
  const databaseUrl = process.env.DATABASE_URL;
  it("delivers every change to every watcher of every replica", async (t) => {
    if (!databaseUrl) {
      t.skip("needs DATABASE_URL: replicas share a PostgreSQL server (PGlite serves one process)");
      return;
    }
    const name = `cal_sync_${randomBytes(6).toString("hex")}`;
    const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    const env = {
      DATABASE_URL: url.toString(),
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SHUTDOWN_TIMEOUT: "2s",
      WATCH_HEARTBEAT: "1s",
    };
    const apis: ReturnType<typeof startCalService>[] = [];
    try {
      const migrated = await runCalService(["migrate"], env);
      assert.equal(migrated.code, 0, migrated.stderr);
      const urls: string[] = [];
      for (let i = 0; i < 3; i++) {
        const api = startCalService(["api"], env);
        apis.push(api);
        urls.push(String((await waitForLog(api, (l) => l.msg === "api listening", 90_000)).url));
      }
      const [watchedA, watchedB, writerUrl] = urls as [string, string, string];

      const users = Array.from({ length: 4 }, () => `replica-${randomUUID()}`);
      const stop = new AbortController();
      const lags: number[] = [];
      type Copy = Map<string, number>; // id -> version
      const watchers: { label: string; user: string; copy: Copy; done: Promise<void> }[] = [];
      for (const user of users) {
        for (const [label, base, transport] of [
          ["api 1, gRPC", watchedA, protocols["gRPC over HTTP/2"]],
          ["api 2, Connect", watchedB, protocols["Connect JSON over HTTP/1.1"]],
        ] as const) {
          const sync = clientFor(CalendarSyncService, transport as never, base, user);
          const copy: Copy = new Map();
          const stream = sync.watchEvents({}, { signal: stop.signal });
          let markStarted = () => {};
          const started = new Promise<void>((resolve) => {
            markStarted = resolve;
          });
          const done = (async () => {
            try {
              for await (const message of stream) {
                markStarted();
                if (message.event) {
                  copy.set(message.event.id, message.event.version);
                  if (message.event.updatedAt)
                    lags.push(Date.now() - Number(timestampMs(message.event.updatedAt)));
                } else if (message.deletedId) {
                  copy.delete(message.deletedId);
                }
              }
            } catch (error) {
              if (!stop.signal.aborted) throw error;
            }
          })();
          watchers.push({ label, user, copy, done });
          await started;
        }
      }

      // Several writers per user, through the third process, for a while.
      let writes = 0;
      const deadline = Date.now() + SYNC_SECONDS * 1000;
      await Promise.all(
        users.flatMap((user) =>
          [0, 1].map(async (writer) => {
            const calendar: Client<typeof CalendarService> = clientFor(
              CalendarService,
              protocols["Connect binary over HTTP/2"] as never,
              writerUrl,
              user,
            );
            const mine: { id: string; version: number; hour: number }[] = [];
            let hour = writer * 1_000_000;
            while (Date.now() < deadline) {
              const roll = Math.random();
              const target = mine[Math.floor(Math.random() * mine.length)];
              if (roll < 0.5 || !target) {
                const { event } = await calendar.createEvent({
                  event: create(EventSchema, {
                    title: "w",
                    startTime: timestampFromDate(new Date(Date.UTC(2026, 0, 1) + hour * 3_600_000)),
                    duration: durationFromMs(3_600_000),
                  }),
                });
                mine.push({ id: event?.id ?? "", version: 1, hour: hour++ });
              } else if (roll < 0.8) {
                const { event } = await calendar.updateEvent({
                  event: create(EventSchema, {
                    id: target.id,
                    title: `w${target.version}`,
                    startTime: timestampFromDate(
                      new Date(Date.UTC(2026, 0, 1) + target.hour * 3_600_000),
                    ),
                    duration: durationFromMs(3_600_000),
                  }),
                });
                target.version = event?.version ?? 0;
              } else {
                await calendar.deleteEvent({ id: target.id });
                mine.splice(mine.indexOf(target), 1);
              }
              writes++;
            }
          }),
        ),
      );

      // The truth, from a full sync on the writer's process.
      const truth = new Map<string, Map<string, number>>();
      for (const user of users) {
        const sync = clientFor(
          CalendarSyncService,
          protocols["Connect JSON over HTTP/1.1"] as never,
          writerUrl,
          user,
        );
        const state = new Map<string, number>();
        let pageToken = "";
        do {
          const page = await sync.syncEvents({ pageSize: 1000, pageToken });
          for (const e of page.events) state.set(e.id, e.version);
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        truth.set(user, state);
      }
      // Give the last changes time to arrive, then compare.
      const settled = Date.now() + 10_000;
      const same = (w: (typeof watchers)[number]) =>
        JSON.stringify([...w.copy].sort()) ===
        JSON.stringify([...(truth.get(w.user) ?? [])].sort());
      while (Date.now() < settled && !watchers.every(same))
        await new Promise((r) => setTimeout(r, 100));
      stop.abort();
      await Promise.all(watchers.map((w) => w.done));

      lags.sort((a, b) => a - b);
      const pct = (p: number) =>
        lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))] ?? 0;
      for (const w of watchers) {
        const expected = truth.get(w.user) ?? new Map();
        const lost =
          [...expected].filter(([id, v]) => w.copy.get(id) !== v).length +
          [...w.copy.keys()].filter((id) => !expected.has(id)).length;
        tally.record(
          `watchers on two replicas, writes on a third (${w.label})`,
          lost === 0,
          `${writes} writes in ${SYNC_SECONDS} s; lag p50 ${pct(50)} ms, p99 ${pct(99)} ms`,
        );
        assert.equal(lost, 0, `${w.label} for ${w.user}: ${lost} events differ`);
      }
    } finally {
      for (const api of apis) api.child.kill("SIGTERM");
      await Promise.all(apis.map((api) => api.exited));
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    }
  });
});
