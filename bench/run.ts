// npm run bench: API, data size and reminder-pipeline benchmarks against the
// local PostgreSQL and RabbitMQ. Progress on stderr, the table on stdout, the
// same figures as JSON in bench/results/<timestamp>.json.
//
//   --parts api,data,reminders,sync,recurring,feed   which parts to run (default: all)
//   --duration 3 --warmup 1      seconds per cell, after a warm-up
//   --concurrency 1,16,64        API concurrencies
//   --methods ListDayEvents      API methods (default: all six)
//   --protocols "gRPC h2"        API protocols (default: gRPC h2,Connect JSON h1)
//   --client lean|connect        the API's clients: bench/lean_client.ts (default:
//                                less CPU per call) or Connect's own
//   --max-requests 200000        bound on calls per cell
//   --events 10000,1000000       table sizes for the data-size part
//   --reminders 100000           reminders due at once (drain)
//   --steady-rate 1000 --steady-seconds 60
//   --watchers 100 --watch-rate 200 --watch-seconds 10 --sync-events 10000
//                                the sync part: watch lag and SyncEvents throughput
//   --quick                      small sizes: a smoke run in about two minutes
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { type ApiReport, type ClientKind, METHODS, type Method, runApiBench } from "./api.js";
import { type DataSizeReport, runDataSizeBench } from "./data_size.js";
import { type FeedReport, runFeedBench } from "./feed.js";
import { type RecurringReport, recurringRatios, runRecurringBench } from "./recurring.js";
import { formatCores, type RemindersReport, runRemindersBench } from "./reminders.js";
import { createDatabase, progress, runId, startApi, startReference } from "./setup.js";
import { type CellResult, fmt, ratio } from "./stats.js";
import { runSyncBench, SYNC_PAGE_SIZE, type SyncReport } from "./sync.js";

const { values: flags } = parseArgs({
  options: {
    parts: { type: "string", default: "api,data,reminders,sync,recurring,feed" },
    duration: { type: "string", default: "3" },
    warmup: { type: "string", default: "1" },
    concurrency: { type: "string", default: "1,16,64" },
    methods: { type: "string" },
    protocols: { type: "string" },
    client: { type: "string", default: "lean" },
    "max-requests": { type: "string", default: "200000" },
    events: { type: "string", default: "10000,1000000" },
    reminders: { type: "string", default: "100000" },
    "steady-rate": { type: "string", default: "1000" },
    "steady-seconds": { type: "string", default: "60" },
    watchers: { type: "string", default: "100" },
    "watch-rate": { type: "string", default: "200" },
    "watch-seconds": { type: "string", default: "10" },
    "sync-events": { type: "string", default: "10000" },
    quick: { type: "boolean", default: false },
  },
});
if (flags.quick) {
  Object.assign(flags, {
    duration: "1",
    warmup: "0.5",
    events: "10000,100000",
    reminders: "10000",
    "steady-seconds": "10",
    "watch-seconds": "3",
  });
}
const numbers = (s: string) => s.split(",").map(Number);
const clientKind = (s: string): ClientKind => {
  if (s !== "connect" && s !== "lean") throw new Error(`--client: connect or lean, not ${s}`);
  return s;
};
const apiMethods = (s: string): Method[] =>
  s.split(",").map((m) => {
    if (!(METHODS as readonly string[]).includes(m)) throw new Error(`--methods: unknown ${m}`);
    return m as Method;
  });
const parts = new Set(flags.parts.split(","));
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
const AMQP_URL = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const load = {
  durationMs: Number(flags.duration) * 1000,
  warmupMs: Number(flags.warmup) * 1000,
  maxRequests: Number(flags["max-requests"]),
};

interface Results {
  runId: string;
  startedAt: string;
  flags: typeof flags;
  api?: ApiReport;
  dataSize?: DataSizeReport;
  reminders?: RemindersReport;
  feed?: FeedReport;
  recurring?: RecurringReport;
  sync?: SyncReport;
  targets: { target: string; value: string; met: boolean }[];
}

async function main(): Promise<Results> {
  const results: Results = { runId, startedAt: new Date().toISOString(), flags, targets: [] };
  const target = (name: string, value: number, limit: number, atMost: boolean, unit = "") =>
    results.targets.push({
      target: `${name} ${atMost ? "<=" : ">="} ${limit}${unit}`,
      value: `${fmt(value, 2)}${unit}`,
      met: atMost ? value <= limit : value >= limit,
    });

  if (parts.has("api")) {
    const db = await createDatabase(DATABASE_URL, "api");
    try {
      const api = await startApi(db.url);
      const second = await startApi(db.url).catch(async (error) => {
        await api.stop();
        throw error;
      });
      const reference = await startReference(db.url).catch(async (error) => {
        await Promise.all([api.stop(), second.stop()]);
        throw error;
      });
      try {
        results.api = await runApiBench(
          db,
          { api, second, reference },
          {
            ...load,
            concurrencies: numbers(flags.concurrency),
            ...(flags.methods && { methods: apiMethods(flags.methods) }),
            ...(flags.protocols && { protocols: flags.protocols.split(",") }),
            client: clientKind(flags.client),
          },
        );
      } finally {
        await Promise.all([api.stop(), second.stop(), reference.stop()]);
      }
    } finally {
      await db.drop();
    }
    const top = Math.max(...numbers(flags.concurrency));
    const emptyDone = new Set<string>();
    for (const row of results.api.rows) {
      if (row.concurrency !== top) continue;
      if (!emptyDone.has(row.protocol)) {
        emptyDone.add(row.protocol);
        target(
          `empty RPC ${row.protocol} c=${top} rps/plain Fastify`,
          ratio(row.empty.rps, row.plain.rps),
          0.5,
          false,
        );
      }
      const floor = {
        ListDayEvents: 0.7,
        GetEvent: 0.7,
        CreateEvent: 0.5,
        UpdateEvent: 0.5,
        DeleteEvent: 0.5,
      }[row.method as string];
      if (floor !== undefined) {
        target(
          `${row.method} ${row.protocol} c=${top} rps/minimal`,
          ratio(row.api.rps, row.minimal.rps),
          floor,
          false,
        );
      }
    }
    target("api peak RSS at c=64", results.api.peakRssMbAtMaxConcurrency, 150, true, " MB");
  }
  if (parts.has("data")) {
    results.dataSize = await runDataSizeBench(DATABASE_URL, {
      ...load,
      sizes: numbers(flags.events),
    });
    const r = results.dataSize.listMonthP50Ratio;
    if (r !== undefined) target("ListMonth p50 largest/smallest (api)", r, 1.5, true);
    const q = results.dataSize.sqlListMonthP50Ratio;
    if (q !== undefined) target("ListMonth p50 largest/smallest (SQL alone)", q, 1.5, true);
  }
  if (parts.has("reminders")) {
    results.reminders = await runRemindersBench(DATABASE_URL, AMQP_URL, {
      reminders: Number(flags.reminders),
      steadyRate: Number(flags["steady-rate"]),
      steadySeconds: Number(flags["steady-seconds"]),
    });
    const rm = results.reminders;
    target("drain/raw broker", ratio(rm.drainPerSecond, rm.rawPerSecond), 0.6, false);
    // Reminders committed after they fell due would make the lateness the insert's.
    const lateness = rm.steadyMinLeadMs < 0 ? Number.NaN : rm.lateness.p99Ms / 1000;
    target(`lateness p99 at ${rm.steadyRate}/s`, lateness, 0.5, true, " s");
    target("duplicates with 2 schedulers + 2 senders", rm.replicated.duplicates, 0, true);
  }
  if (parts.has("recurring")) {
    results.recurring = await runRecurringBench(DATABASE_URL, {
      ...load,
      concurrencies: [Math.max(...numbers(flags.concurrency))],
      ...(flags.protocols && { protocols: flags.protocols.split(",") }),
    });
    for (const row of results.recurring.rows) {
      target(
        `ListMonthEvents 5 series/20 singles ${row.protocol} c=${row.concurrency} rps`,
        recurringRatios(row).list,
        0.7,
        false,
      );
    }
  }
  if (parts.has("sync")) {
    results.sync = await runSyncBench(DATABASE_URL, {
      watchers: Number(flags.watchers),
      watchUsers: Math.max(1, Math.floor(Number(flags.watchers) / 2)),
      writesPerSecond: Number(flags["watch-rate"]),
      watchSeconds: Number(flags["watch-seconds"]),
      syncEvents: Number(flags["sync-events"]),
    });
    const sy = results.sync;
    target("watch lag p99", sy.lag.p99Ms, 1000, true, " ms");
    target("watchers at the final version", ratio(sy.watchersUpToDate, sy.watchers), 1, false);
    target(
      `full SyncEvents of ${sy.syncEvents} events`,
      sy.fullSyncEventsPerSecond,
      10_000,
      false,
      " events/s",
    );
  }
  if (parts.has("feed")) {
    results.feed = await runFeedBench(DATABASE_URL, load);
    target("feed GET p50, 1,000 events", results.feed.full.p50Ms, 100, true, " ms");
  }
  return results;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function print(results: Results): void {
  const out: string[] = [];
  if (results.api) {
    out.push(
      `API, ${results.flags.client} clients (ratios: api/pg = vs the same SQL on postgres.js; api/min = vs the same SQL behind a minimal Fastify route; api/empty = vs an empty RPC on the same server and protocol; empty/bare = that empty RPC vs the same on bare connect-fastify; empty/plain = vs a plain Fastify route)`,
    );
    out.push(
      table(
        [
          "method",
          "protocol",
          "c",
          "req/s",
          "p50 ms",
          "p99 ms",
          "err",
          "pg req/s",
          "min req/s",
          "min p50",
          "empty req/s",
          "bare req/s",
          "plain req/s",
          "api/pg",
          "api/min",
          "api/empty",
          "empty/bare",
          "empty/plain",
        ],
        results.api.rows.map((r) => [
          r.method,
          r.protocol,
          String(r.concurrency),
          fmt(r.api.rps, 0),
          fmt(r.api.p50Ms, 2),
          fmt(r.api.p99Ms, 2),
          String(r.api.errors + r.pg.errors + r.empty.errors),
          fmt(r.pg.rps, 0),
          fmt(r.minimal.rps, 0),
          fmt(r.minimal.p50Ms, 2),
          fmt(r.empty.rps, 0),
          fmt(r.bare.rps, 0),
          fmt(r.plain.rps, 0),
          fmt(ratio(r.api.rps, r.pg.rps), 2),
          fmt(ratio(r.api.rps, r.minimal.rps), 2),
          fmt(ratio(r.api.rps, r.empty.rps), 2),
          fmt(ratio(r.empty.rps, r.bare.rps), 2),
          fmt(ratio(r.empty.rps, r.plain.rps), 2),
        ]),
      ),
    );
    // CPU time per call holds up better than req/s on a shared machine:
    // other work slows every cell, but adds nothing to a process's own ticks.
    const usPerCall = (c: { rps: number; cpu: { api: number } }) => (1e6 * c.cpu.api) / c.rps;
    out.push(
      "",
      "Server CPU per call (µs of the serving process's CPU time / call; lower is better)",
    );
    out.push(
      table(
        [
          "method",
          "protocol",
          "c",
          "api",
          "minimal",
          "empty",
          "bare",
          "plain",
          "api/min",
          "empty/bare",
          "empty/plain",
        ],
        results.api.rows.map((r) => [
          r.method,
          r.protocol,
          String(r.concurrency),
          fmt(usPerCall(r.api), 0),
          fmt(usPerCall(r.minimal), 0),
          fmt(usPerCall(r.empty), 0),
          fmt(usPerCall(r.bare), 0),
          fmt(usPerCall(r.plain), 0),
          fmt(ratio(usPerCall(r.api), usPerCall(r.minimal)), 2),
          fmt(ratio(usPerCall(r.empty), usPerCall(r.bare)), 2),
          fmt(ratio(usPerCall(r.empty), usPerCall(r.plain)), 2),
        ]),
      ),
    );
    out.push(
      "",
      `CPU: cores kept busy during each cell (this machine has ${availableParallelism()}); bench = the load generator and its clients`,
    );
    const cores = (c: { api: number; bench: number; postgres: number; machine: number }) => [
      fmt(c.api, 2),
      fmt(c.bench, 2),
      fmt(c.postgres, 2),
      fmt(c.machine, 2),
    ];
    out.push(
      table(
        [
          "method",
          "protocol",
          "c",
          "api",
          "bench",
          "postgres",
          "machine",
          "pg cell: bench",
          "postgres",
          "machine",
          "min cell: server",
          "postgres",
          "machine",
          "empty cell: api",
          "bench",
          "machine",
        ],
        results.api.rows.map((r) => [
          r.method,
          r.protocol,
          String(r.concurrency),
          ...cores(r.api.cpu),
          ...cores(r.pg.cpu).slice(1),
          ...[r.minimal.cpu.api, r.minimal.cpu.postgres, r.minimal.cpu.machine].map((n) =>
            fmt(n, 2),
          ),
          ...[r.empty.cpu.api, r.empty.cpu.bench, r.empty.cpu.machine].map((n) => fmt(n, 2)),
        ]),
      ),
    );
    out.push(
      "",
      "Scale-out: one api process, then two (connections spread over both), back to back; api cores = all api processes",
    );
    out.push(
      table(
        [
          "call",
          "protocol",
          "c",
          "1 api req/s",
          "cores",
          "2 apis req/s",
          "cores",
          "machine",
          "2/1",
        ],
        results.api.scaling.map((r) => [
          r.call,
          r.protocol,
          String(r.concurrency),
          fmt(r.one.rps, 0),
          fmt(r.one.cpu.api, 2),
          fmt(r.two.rps, 0),
          fmt(r.two.cpu.api, 2),
          fmt(r.two.cpu.machine, 2),
          fmt(ratio(r.two.rps, r.one.rps), 2),
        ]),
      ),
    );
    out.push(
      `api memory: peak VmRSS during c=${Math.max(...numbers(flags.concurrency))} cells ${fmt(results.api.peakRssMbAtMaxConcurrency)} MB; VmHWM at end ${fmt(results.api.hwmMb)} MB; idle after start ${fmt(results.api.idleRssMb)} MB`,
    );
  }
  if (results.dataSize) {
    out.push("", "Data size (gRPC; probe users' months hold the same 5 events at every size)");
    out.push(
      table(
        ["rpc", "events", "c", "req/s", "p50 ms", "p99 ms", "err", "p50 / smallest"],
        results.dataSize.rows.map((r) => [
          r.rpc,
          String(r.events),
          String(r.concurrency),
          fmt(r.result.rps, 0),
          fmt(r.result.p50Ms, 2),
          fmt(r.result.p99Ms, 2),
          String(r.result.errors),
          fmt(r.p50VsSmallest, 2),
        ]),
      ),
    );
    for (const { events, plan } of results.dataSize.plans) {
      const lines = plan.split("\n");
      const index = lines.find((l) => l.includes("Index") || l.includes("Scan")) ?? "";
      const time = lines.find((l) => l.startsWith("Execution Time")) ?? "";
      out.push(`plan at ${events} events: ${index.trim().replace(/\s+/g, " ")}; ${time}`);
    }
  }
  if (results.recurring) {
    out.push("", "Recurring events (same api, same run)");
    out.push(
      table(
        [
          "protocol",
          "c",
          "",
          "list 5 series",
          "list 20 singles",
          "ratio",
          "create series",
          "create single",
          "ratio",
          "vs 2 series",
          "ratio",
          "single c=1",
          "at bound c=1",
          "ratio",
        ],
        results.recurring.rows.map((r) => [
          r.protocol,
          String(r.concurrency),
          "",
          `${fmt(r.listSeries.rps, 0)}/s`,
          `${fmt(r.listSingles.rps, 0)}/s`,
          fmt(recurringRatios(r).list, 2),
          `${fmt(r.createSeries.rps, 0)}/s`,
          `${fmt(r.createSingle.rps, 0)}/s`,
          fmt(recurringRatios(r).create, 2),
          `${fmt(r.createSeriesVsSeries.rps, 1)}/s`,
          fmt(recurringRatios(r).seriesVsSeries, 2),
          `${fmt(r.createSingleSerial.rps, 1)}/s`,
          `${fmt(r.createSeriesAtBound.rps, 1)}/s`,
          fmt(recurringRatios(r).atBound, 3),
        ]),
      ),
    );
  }
  if (results.reminders) {
    const rm = results.reminders;
    out.push("", "Reminders");
    out.push(
      table(
        ["what", "", "", "value"],
        [
          [
            `drain ${rm.reminders} due at once (DB -> scheduler -> RabbitMQ -> sender)`,
            "",
            "",
            `${fmt(rm.drainPerSecond, 0)}/s`,
          ],
          [
            `raw amqplib loop, ${rm.reminders} msgs (confirm, persistent, quorum, ack)`,
            "",
            "",
            `${fmt(rm.rawPerSecond, 0)}/s`,
          ],
          ["drain / raw", "", "", fmt(ratio(rm.drainPerSecond, rm.rawPerSecond), 2)],
          ["cores busy during the drain", "", "", formatCores(rm.drainCores)],
          ["cores busy during the raw loop", "", "", formatCores(rm.rawCores)],
          [
            "CPU ms per message: drain / raw loop (machine)",
            "",
            "",
            `${fmt((1000 * (rm.drainCores.machine ?? Number.NaN)) / rm.drainPerSecond, 3)} / ${fmt((1000 * (rm.rawCores.machine ?? Number.NaN)) / rm.rawPerSecond, 3)}`,
          ],
          [
            `steady ${rm.steadyRate}/s for ${rm.steadySeconds} s: delivered`,
            "",
            "",
            `${rm.lateness.count}/${rm.steadyRate * rm.steadySeconds}`,
          ],
          [
            "lateness p50 / p99 / max",
            "",
            "",
            `${fmt(rm.lateness.p50Ms, 0)} / ${fmt(rm.lateness.p99Ms, 0)} / ${fmt(rm.lateness.maxMs, 0)} ms`,
          ],
          ["longest gap between steady deliveries", "", "", `${fmt(rm.longestGapMs, 0)} ms`],
          [
            "steady reminders committed before due, at least (< 0: lateness invalid)",
            "",
            "",
            `${fmt(rm.steadyMinLeadMs, 0)} ms`,
          ],
          [
            `drain ${rm.reminders} due at once, 2 schedulers + 2 senders`,
            "",
            "",
            `${fmt(rm.replicated.drainPerSecond, 0)}/s`,
          ],
          [
            "  replicas / one of each; duplicates; events delivered",
            "",
            "",
            `${fmt(ratio(rm.replicated.drainPerSecond, rm.drainPerSecond), 2)}; ${rm.replicated.duplicates}; ${rm.replicated.delivered}/${rm.reminders}`,
          ],
          ["  cores busy", "", "", formatCores(rm.replicated.cores)],
          ["scheduler/sender warn+error lines (in the JSON)", "", "", String(rm.warnings.length)],
        ],
      ),
    );
  }
  if (results.sync) {
    const sy = results.sync;
    out.push("", "Sync and live changes");
    out.push(
      table(
        ["what", "", "", "value"],
        [
          [
            `watch lag p50 / p99 / max, ${sy.watchers} watchers, ${sy.writesPerSecond} writes/s for ${sy.watchSeconds} s`,
            "",
            "",
            `${fmt(sy.lag.p50Ms, 0)} / ${fmt(sy.lag.p99Ms, 0)} / ${fmt(sy.lag.maxMs, 0)} ms`,
          ],
          [
            "watchers at their user's final version (no change lost)",
            "",
            "",
            `${sy.watchersUpToDate}/${sy.watchers}`,
          ],
          [
            "changes received / written x watchers (fewer: updates coalesced)",
            "",
            "",
            `${sy.received}/${sy.expected}`,
          ],
          ["watches resumed after UNAVAILABLE", "", "", String(sy.reconnects)],
          ["watches ended with another code (resumed)", "", "", JSON.stringify(sy.watchFailures)],
          [
            "UpdateEvent round trip p50 / p99 (side by side with the lag)",
            "",
            "",
            `${fmt(sy.writeLatency.p50Ms, 0)} / ${fmt(sy.writeLatency.p99Ms, 0)} ms`,
          ],
          ["writes done / failed", "", "", `${sy.writes} / ${sy.writeErrors}`],
          [
            "writes answered per second / writer's slip behind its schedule",
            "",
            "",
            `${fmt(sy.achievedWritesPerSecond, 0)}/s / ${fmt(sy.writerSlipMs, 0)} ms`,
          ],
          ["cores busy during the watch cell", "", "", formatCores({ ...sy.watchCores })],
          [
            `full SyncEvents of ${sy.syncEvents} events (pages of ${SYNC_PAGE_SIZE}), 5 rounds`,
            "",
            "",
            `${sy.fullSyncMs.map((ms) => fmt(ms, 0)).join(" / ")} ms`,
          ],
          [
            "full SyncEvents throughput (median round)",
            "",
            "",
            `${fmt(sy.fullSyncEventsPerSecond, 0)} events/s`,
          ],
          [
            `ListEvents of the same events (pages of ${SYNC_PAGE_SIZE}), side by side`,
            "",
            "",
            `${sy.listAllMs.map((ms) => fmt(ms, 0)).join(" / ")} ms`,
          ],
          [
            "full SyncEvents / ListEvents throughput (median rounds)",
            "",
            "",
            fmt(ratio(sy.fullSyncEventsPerSecond, sy.listAllEventsPerSecond), 2),
          ],
          ["incremental SyncEvents of 100 changes", "", "", `${fmt(sy.incrementalSyncMs, 1)} ms`],
          ["SyncEvents pages retried after UNAVAILABLE", "", "", String(sy.syncRetries)],
        ],
      ),
    );
  }
  if (results.feed) {
    const feed = results.feed;
    const cell = (what: string, c: CellResult) => [
      what,
      "",
      "",
      `p50 ${fmt(c.p50Ms, 2)} / p99 ${fmt(c.p99Ms, 2)} ms (${c.count} calls, ${c.errors} errors)`,
    ];
    out.push(
      "",
      `iCalendar feed: ${feed.events} events, ${feed.series} series, ${fmt(feed.bytes / 1024, 0)} KiB`,
    );
    out.push(
      table(
        ["what", "", "", "value"],
        [
          cell("GET, whole feed (api + Postgres + rendering)", feed.full),
          cell("GET with If-None-Match (304)", feed.notModified),
          cell("rendering alone (renderFeed, in process)", feed.render),
        ],
      ),
    );
  }
  out.push("", "Targets");
  out.push(
    table(
      ["target", "value", "met"],
      results.targets.map((t) => [t.target, t.value, t.met ? "met" : "MISSED"]),
    ),
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

main().then(
  (results) => {
    print(results);
    const dir = new URL("./results/", import.meta.url);
    mkdirSync(dir, { recursive: true });
    const file = new URL(`${results.startedAt.replace(/[:.]/g, "-")}.json`, dir);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    progress(`wrote ${file.pathname}`);
    process.exit(0);
  },
  (error) => {
    progress(`failed: ${error?.stack ?? error}`);
    process.exit(1);
  },
);
