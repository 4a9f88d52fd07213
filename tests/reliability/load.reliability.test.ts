// Reliability: sustained mixed load against one `cal_service api` child
// process on a real Postgres store (a fresh database on DATABASE_URL;
// embedded PGlite when it is unset).
//
//   RELIABILITY_LOAD_SECONDS=60 (default; CI runs 20)
//
// WORKERS clients, protocols taken in turn (Connect JSON and binary over
// HTTP/1.1 and h2c, gRPC, gRPC-Web), each with users of its own, send a
// weighted mix for a warm-up and then RELIABILITY_LOAD_SECONDS: creates,
// gets, updates with and without expected_version, deletes, day/week/month
// lists in several time zones, deliberate business errors (overlap, not
// found, stale version), bad input, and a race on a few shared events (see
// load_traffic.ts). Every answer is checked: the expected code, and for an
// OK the content the worker knows must be there.
//
// Pass: no answer other than the expected one (an unexpected code, a
// dropped connection, a "socket hang up" or a timeout all fail, and the
// first few are printed); every user's data at the end is what its worker
// wrote; the api's memory is flat: the median RSS of the last 10 s at most
// 1.5 x that of the first 10 s + 30 MiB, and the live heap (heap used after
// a major collection) of the second half at most 1.2 x that of the first
// half + 16 MiB (why: RSS_GROWTH below).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  assertNoServerErrors,
  h1Get,
  mib,
  rssBytes,
  type ServiceUnderTest,
  startService,
  Tally,
  wholeNumberFromEnv,
} from "./harness.js";
import { answer, as, crowdClient, describeAnswer, PROTOCOLS } from "./load_clients.js";
import {
  BASE_MS,
  type HotEvents,
  LoadStats,
  operations,
  seededRandom,
  step,
  verifyFinalState,
  type Worker,
} from "./load_traffic.js";

// The memory check compares the first and the last 10 s: they must not overlap.
const SECONDS = wholeNumberFromEnv("RELIABILITY_LOAD_SECONDS", 60, 20);
/** Traffic before the measured run: connections open, JIT warm, heap at its working size. */
const WARMUP_SECONDS = 10;
const WORKERS = 48;
const USERS_PER_WORKER = 4;
const HOT_EVENTS = 4;
/** Memory samples this far apart; progress every PROGRESS_EVERY samples. */
const SAMPLE_MS = 1000;
const PROGRESS_EVERY = 5;
/**
 * RSS is flat when median(last 10 s) <= median(first 10 s) * 1.5 + 30 MiB
 * (the bound the fuzz suite uses too). RSS follows V8's heap sizing, not
 * only what the api holds: measured on the shared 2-core development
 * machine (the api from source under tsx, ~240 MiB RSS under this load),
 * the 10 s medians of 13 runs moved by -25 to +25 MiB, except on two runs
 * under heavy contention (load average 8 to 10 from other work) where V8
 * kept growing its heap: +70 and +118 MiB, with no error and nothing to
 * show for it later. A tighter bound (1.2 x + 20 MiB) failed those two.
 * Medians, not peaks, so that one collection's timing does not decide.
 *
 * So a leak is looked for where it shows earlier: the live heap, what
 * "heap used" (the api's /metrics) falls to after a major collection, which
 * these runs put at 35 to 45 MiB whatever the RSS did. Its lowest value in
 * the second half of the run may be at most 1.1 x + 16 MiB that of the
 * first half (~20 MiB over a 40 MiB baseline; a post-collection sample
 * carries up to a second's allocation, and the halves' values differed by
 * up to 7 MiB). The halves' values are ~SECONDS/2 apart, so a 60 s run
 * fails a leak of ~0.7 MB/s, 1-2 KiB per request at the 300 to 700 requests
 * a second measured here (checked: a planted 20 KB per GetEvent, ~3 KiB per
 * request, failed it), the 20 s CI run one of about three times that. RSS
 * catches leaks outside the V8 heap (buffers, native memory) past
 * ~150 MiB; a longer run (RELIABILITY_LOAD_SECONDS=600) finds smaller
 * leaks with the same bounds.
 */
const RSS_GROWTH = { factor: 1.5, plusBytes: 30 * 1024 * 1024 };
const LIVE_HEAP_GROWTH = { factor: 1.1, plusBytes: 16 * 1024 * 1024 };
/** A fall in "heap used" between two samples this large means a major collection ran. */
const GC_DROP_BYTES = 8 * 1024 * 1024;

const RUN = randomBytes(3).toString("hex");
const SEED = Number.parseInt(randomBytes(4).toString("hex"), 16);
const tally = new Tally("load");

let svc: ServiceUnderTest;

before(async () => {
  svc = await startService();
  console.log(
    `# api at ${svc.url} (pid ${svc.pid}) on ${svc.storage}; ${WORKERS} workers over ${PROTOCOLS.length} protocols, ${WORKERS * USERS_PER_WORKER} users; ${WARMUP_SECONDS} s warm-up + ${SECONDS} s; seed ${SEED}`,
  );
});

after(async () => {
  tally.publish(`load (${SECONDS} s after a ${WARMUP_SECONDS} s warm-up)`);
  await svc?.stop();
});

interface MemorySample {
  /** Since the end of the warm-up. */
  atMs: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
}

/** The api's V8 heap, as its /metrics reports it (prom-client's default metrics). */
async function heapOf(baseUrl: string): Promise<{ heapUsed: number; heapTotal: number }> {
  const res = await fetch(new URL("/metrics", baseUrl), { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const value = (name: string) => {
    const found = new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
    if (found === undefined) throw new Error(`no ${name} in /metrics`);
    return Number(found);
  };
  return {
    heapUsed: value("nodejs_heap_size_used_bytes"),
    heapTotal: value("nodejs_heap_size_total_bytes"),
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

describe("load", () => {
  it(`mixed traffic for ${SECONDS} s: only expected errors, data intact, RSS flat`, {
    timeout: (SECONDS + WARMUP_SECONDS + 300) * 1000,
  }, async () => {
    const workers: Worker[] = Array.from({ length: WORKERS }, (_, index) => {
      const { client, protocol } = crowdClient(svc.url, index);
      return {
        index,
        client,
        protocol,
        users: Array.from({ length: USERS_PER_WORKER }, (_, u) => ({
          id: `load-${RUN}-w${index}-u${u}`,
          events: new Map(),
          slots: new Map(),
        })),
        random: seededRandom(SEED + index),
        serial: 0,
      };
    });

    // The shared events every worker races on.
    const hot: HotEvents = { user: `load-${RUN}-hot`, ids: [], wins: new Map() };
    const [first] = workers;
    assert.ok(first);
    for (let i = 0; i < HOT_EVENTS; i++) {
      const created = await answer(
        first.client.createEvent(
          {
            event: {
              title: `hot ${i}`,
              startTime: timestampFromMs(BASE_MS + i * 3_600_000),
              duration: durationFromMs(1_800_000),
            },
          },
          as(hot.user),
        ),
      );
      assert.ok(
        created.ok && created.value.event,
        `creating hot event: ${describeAnswer(created)}`,
      );
      hot.ids.push(created.value.event.id);
    }

    const mix = operations(hot);
    const warmupStats = new LoadStats();
    const stats = new LoadStats();
    let current = warmupStats;
    const warmupEnds = Date.now() + WARMUP_SECONDS * 1000;
    const ends = warmupEnds + SECONDS * 1000;

    const samples: MemorySample[] = [];
    let sampled = 0;
    let lastRequests = 0;
    let lastAt = Date.now();
    const sampler = setInterval(() => {
      void Promise.all([rssBytes(svc.pid), heapOf(svc.url)])
        .then(([rss, heap]) => {
          const now = Date.now();
          if (now >= warmupEnds && now < ends)
            samples.push({ atMs: now - warmupEnds, rss, ...heap });
          if (++sampled % PROGRESS_EVERY !== 0) return;
          const total = warmupStats.requests + stats.requests;
          const rps = ((total - lastRequests) * 1000) / (now - lastAt);
          lastRequests = total;
          lastAt = now;
          const phase =
            now < warmupEnds ? "warm-up" : `${Math.round((now - warmupEnds) / 1000)}/${SECONDS} s`;
          console.log(
            `# ${phase}: ${total} requests, ${rps.toFixed(0)} rps, ${warmupStats.failures + stats.failures} errors, api RSS ${mib(rss)}, heap ${mib(heap.heapUsed)} used of ${mib(heap.heapTotal)}`,
          );
        })
        .catch((error: Error) => console.log(`# memory sample failed: ${error.message}`));
    }, SAMPLE_MS);

    try {
      await Promise.all(
        workers.map(async (w) => {
          while (Date.now() < ends) {
            if (current === warmupStats && Date.now() >= warmupEnds) current = stats;
            await step(w, mix, current);
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const elapsed = (Date.now() - warmupEnds) / 1000;

    // Everything each worker wrote is there, and nothing else.
    const finalStats = new LoadStats();
    const finalProblems = (
      await Promise.all(workers.map((w) => verifyFinalState(w, finalStats)))
    ).flat();
    // Each hot event's version counts its winning updates.
    for (const id of hot.ids) {
      const read = await answer(first.client.getEvent({ id }, as(hot.user)));
      const expected = 1 + (hot.wins.get(id) ?? 0);
      const version = read.ok ? read.value.event?.version : undefined;
      const fine = version === expected;
      tally.record("hot events: final version = 1 + winning updates", fine);
      if (!fine)
        finalProblems.push(
          `hot event ${id}: version ${version}, ${expected - 1} updates won (${describeAnswer(read)})`,
        );
    }

    // Report.
    console.log(
      `# warm-up: ${warmupStats.requests} requests, ${warmupStats.failures} errors; measured: ${stats.requests} requests in ${elapsed.toFixed(1)} s (${(stats.requests / elapsed).toFixed(0)} rps), ${stats.failures} errors`,
    );
    console.log(
      `# answers: ${[...stats.codes.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${n}`)
        .join(", ")}`,
    );
    console.log(
      `# operations by protocol: ${[...stats.protocols.entries()].map(([name, n]) => `${name} ${n}`).join(", ")}`,
    );
    for (const [name, op] of stats.ops) {
      console.log(
        `#   ${name.padEnd(48)} ${String(op.tried).padStart(7)} calls, p50 ${percentile(op.latenciesMs, 0.5).toFixed(1)} ms, p99 ${percentile(op.latenciesMs, 0.99).toFixed(1)} ms, max ${Math.max(...op.latenciesMs).toFixed(0)} ms`,
      );
    }
    const failures = [...warmupStats.firstFailures, ...stats.firstFailures];
    if (failures.length > 0) {
      console.log(`# first errors (of ${warmupStats.failures + stats.failures}):`);
      for (const f of failures.slice(0, 10)) {
        console.log(
          `#   ${(f.atMs / 1000).toFixed(1)} s, worker ${f.worker} (${f.protocol}), ${f.op}: ${f.detail}`,
        );
      }
    }
    for (const problem of finalProblems.slice(0, 10)) console.log(`# final state: ${problem}`);

    for (const [name, op] of [...warmupStats.ops, ...stats.ops]) {
      // One row per operation kind over warm-up and measured run together.
      const row = `answers as expected: ${name}`;
      for (let i = 0; i < op.passed; i++) tally.record(row, true);
      for (let i = 0; i < op.tried - op.passed; i++) tally.record(row, false, op.firstFailure);
    }
    const finalRow = finalStats.op("final state matches");
    for (let i = 0; i < finalRow.tried; i++) {
      tally.record(
        "final state: each user's month as its worker wrote it",
        i < finalRow.passed,
        i < finalRow.passed ? undefined : finalRow.firstFailure,
      );
    }

    const firstWindow = samples.filter((s) => s.atMs < 10_000);
    const lastWindow = samples.filter((s) => s.atMs >= (SECONDS - 10) * 1000);
    const enough = firstWindow.length >= 5 && lastWindow.length >= 5;
    const before = median(firstWindow.map((s) => s.rss));
    const last = median(lastWindow.map((s) => s.rss));
    const limit = before * RSS_GROWTH.factor + RSS_GROWTH.plusBytes;
    const peak = Math.max(...samples.map((s) => s.rss));
    console.log(
      `# api RSS: median of the first 10 s ${mib(before)} (${firstWindow.length} samples), of the last 10 s ${mib(last)} (${lastWindow.length} samples), limit ${mib(limit)}, peak ${mib(peak)}`,
    );
    const rssFlat = enough && last <= limit;
    const rssRow = `api RSS flat (${mib(before)} -> ${mib(last)}, limit ${mib(limit)})`;
    tally.record(rssRow, rssFlat);
    // The live heap: "heap used" right after a major collection, seen as a
    // drop between two samples; the lowest such value in each half of the run.
    const afterGc = samples.filter(
      (sample, i) => i > 0 && sample.heapUsed < (samples[i - 1]?.heapUsed ?? 0) - GC_DROP_BYTES,
    );
    const halfMs = (SECONDS * 1000) / 2;
    const floorOf = (list: MemorySample[]) =>
      list.length === 0 ? undefined : Math.min(...list.map((sample) => sample.heapUsed));
    const floorBefore = floorOf(afterGc.filter((sample) => sample.atMs < halfMs));
    const floorLast = floorOf(afterGc.filter((sample) => sample.atMs >= halfMs));
    const heapTotals = samples.map((sample) => sample.heapTotal);
    const heapNote = `heap total ${mib(Math.min(...heapTotals))} to ${mib(Math.max(...heapTotals))}, ${afterGc.length} major collections seen`;
    let floorLimit: number | undefined;
    if (floorBefore === undefined || floorLast === undefined) {
      // Too few collections to tell (a very slow run): RSS alone decides.
      console.log(`# api live heap: no major collection seen in one half of the run; ${heapNote}`);
      tally.note(rssRow, "live heap not judged: no major collection seen in one half of the run");
    } else {
      floorLimit = floorBefore * LIVE_HEAP_GROWTH.factor + LIVE_HEAP_GROWTH.plusBytes;
      console.log(
        `# api live heap (heap used after a major collection): first half ${mib(floorBefore)}, second half ${mib(floorLast)}, limit ${mib(floorLimit)}; ${heapNote}`,
      );
      tally.record(
        `api live heap flat (${mib(floorBefore)} -> ${mib(floorLast)}, limit ${mib(floorLimit)})`,
        floorLast <= floorLimit,
      );
    }

    assert.deepEqual(
      failures.slice(0, 5).map((f) => `${f.op} over ${f.protocol}: ${f.detail}`),
      [],
      `${warmupStats.failures + stats.failures} answers were not the expected ones`,
    );
    assert.deepEqual(finalProblems.slice(0, 5), [], "the data at the end is not what was written");
    assert.ok(enough, "too few memory samples");
    assert.ok(
      last <= limit,
      `api RSS grew from ${mib(before)} to ${mib(last)} (limit ${mib(limit)})`,
    );
    if (floorBefore !== undefined && floorLast !== undefined && floorLimit !== undefined) {
      assert.ok(
        floorLast <= floorLimit,
        `api live heap grew from ${mib(floorBefore)} to ${mib(floorLast)} (limit ${mib(floorLimit)})`,
      );
    }
  });

  it("afterwards: the process is up and logged no errors", async () => {
    assert.equal(svc.started.child.exitCode, null, "the api process exited");
    assert.equal(await h1Get(svc.url, "/readyz"), 200);
    assertNoServerErrors(svc, tally);
  });
});
