// npm run bench:ab -- --other <checkout>: this checkout's api against the api
// built from another checkout (say, main before a change), side by side in
// one run: the same write calls on one database, cells alternated A, B, A, B
// so that drift on a shared machine lands on both. Per method and protocol
// it prints each build's req/s and server CPU per call (the median of the
// rounds) and the ratio this/other. The empty RPC is the control: it should
// come out near 1.
//
//   --other ../main-copy   a checkout with node_modules and the same migrations
//   --rounds 3 --duration 3 --warmup 1 --concurrency 64
//   --methods empty,GetEvent,ListDayEvents   (default: the empty RPC and the writes)
//   --other-node-options "--max-semi-space-size=8"   NODE_OPTIONS of the other api
//                          (default: the Dockerfile's, as this one's); with
//                          --other . it compares one build under two settings
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Sql } from "postgres";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { BenchService } from "./bench_service.js";
import {
  leanConnectJsonClient,
  leanGrpcClient,
  type UnaryCall,
  unaryMethod,
} from "./lean_client.js";
import * as setup from "./setup.js";

const { values: flags } = parseArgs({
  options: {
    other: { type: "string" },
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "3" },
    warmup: { type: "string", default: "1" },
    concurrency: { type: "string", default: "64" },
    methods: { type: "string", default: "empty,CreateEvent,UpdateEvent,DeleteEvent" },
    "other-node-options": { type: "string" },
  },
});
if (!flags.other) throw new Error("--other <checkout> is required");
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
const HOUR = 3_600_000;
const DELETABLE = 30_000;
const load = {
  durationMs: Number(flags.duration) * 1000,
  warmupMs: Number(flags.warmup) * 1000,
  concurrency: Number(flags.concurrency),
};

const CREATE = unaryMethod(CalendarService, "CreateEvent");
const UPDATE = unaryMethod(CalendarService, "UpdateEvent");
const DELETE = unaryMethod(CalendarService, "DeleteEvent");
const GET = unaryMethod(CalendarService, "GetEvent");
const LIST_DAY = unaryMethod(CalendarService, "ListDayEvents");
const PING = unaryMethod(BenchService, "Ping");

let users = 0;
/** `count` events of fresh users, one each, on Dec 1, 2026, 09:00-10:00 UTC. */
async function seed(sql: Sql, count: number): Promise<{ userId: string; id: string }[]> {
  const prefix = `ab${++users}_`;
  return [
    ...(await sql<{ userId: string; id: string }[]>`
      insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
      select ${prefix} || g, gen_random_uuid(), 'seeded',
             timestamptz '2026-12-01 09:00Z', timestamptz '2026-12-01 10:00Z', now(), now(), 1
      from generate_series(1, ${count}) g
      returning user_id as "userId", id`),
  ];
}

const ALL_METHODS = [
  "empty",
  "CreateEvent",
  "UpdateEvent",
  "DeleteEvent",
  "GetEvent",
  "ListDayEvents",
] as const;
type Method = (typeof ALL_METHODS)[number];
const METHODS = (flags.methods as string).split(",").map((name) => {
  if (!(ALL_METHODS as readonly string[]).includes(name)) {
    throw new Error(`--methods: unknown ${name}; known: ${ALL_METHODS.join(", ")}`);
  }
  return name as Method;
});

/** One cell's calls; the events it writes are its own. */
async function calls(sql: Sql, method: Method, call: UnaryCall) {
  const as = (userId: string) => ({ "x-user-id": userId });
  const event = {
    title: "ab",
    startTime: timestampFromMs(Date.UTC(2026, 11, 1, 9)),
    duration: durationFromMs(HOUR),
    notifyBefore: durationFromMs(HOUR / 6),
  };
  if (method === "empty") return { call: () => call(PING, {}, {}), max: Infinity };
  if (method === "CreateEvent") {
    const prefix = `abc${++users}_`;
    return {
      call: (seq: number) => call(CREATE, { event }, as(`${prefix}${seq}`)),
      max: Infinity,
    };
  }
  const targets = await seed(sql, method === "DeleteEvent" ? DELETABLE : 1000);
  const pick = (seq: number) => targets[seq % targets.length] as { userId: string; id: string };
  if (method === "GetEvent") {
    return {
      call: (seq: number) => {
        const e = pick(seq);
        return call(GET, { id: e.id }, as(e.userId));
      },
      max: Infinity,
    };
  }
  if (method === "ListDayEvents") {
    return {
      call: (seq: number) => call(LIST_DAY, { date: "2026-12-01" }, as(pick(seq).userId)),
      max: Infinity,
    };
  }
  if (method === "UpdateEvent") {
    return {
      call: (seq: number) => {
        const e = pick(seq);
        return call(UPDATE, { event: { ...event, id: e.id, title: `v${seq}` } }, as(e.userId));
      },
      max: Infinity,
    };
  }
  return {
    call: (seq: number) => {
      const e = pick(seq);
      return call(DELETE, { id: e.id }, as(e.userId));
    },
    max: DELETABLE,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main() {
  const other: typeof setup = await import(
    join(resolve(flags.other as string), "bench", "setup.ts")
  );
  const db = await setup.createDatabase(DATABASE_URL, "ab");
  const thisApi = await setup.startApi(db.url);
  const otherOptions = flags["other-node-options"];
  if (otherOptions !== undefined) process.env.BENCH_API_NODE_OPTIONS = otherOptions;
  const apis = { this: thisApi, other: await other.startApi(db.url) };
  const rows: string[] = [];
  try {
    for (const [protocol, client] of [
      ["Connect JSON h1", leanConnectJsonClient],
      ["gRPC h2", leanGrpcClient],
    ] as const) {
      const clients = { this: client(apis.this.url), other: client(apis.other.url) };
      for (const method of METHODS) {
        const figures = {
          this: { rps: [] as number[], us: [] as number[] },
          other: { rps: [] as number[], us: [] as number[] },
        };
        for (let round = 0; round < Number(flags.rounds); round++) {
          // Alternate which build goes first, too.
          const order =
            round % 2 === 0 ? (["this", "other"] as const) : (["other", "this"] as const);
          for (const which of order) {
            const { call, max } = await calls(db.sql, method, clients[which].call);
            const meter = new setup.CpuMeter([apis[which].pid]);
            const cpuSince = meter.start();
            const result = await setup.runLoad(call, {
              ...load,
              maxRequests: Math.min(max, 200_000),
            });
            const cpu = cpuSince();
            figures[which].rps.push(result.rps);
            figures[which].us.push((1e6 * cpu.api) / result.rps);
            setup.progress(
              `ab ${protocol} ${method} ${which} round ${round + 1}: ${result.rps.toFixed(0)}/s, ${((1e6 * cpu.api) / result.rps).toFixed(0)} µs CPU/call, errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}, machine ${cpu.machine.toFixed(2)} cores`,
            );
          }
        }
        const t = { rps: median(figures.this.rps), us: median(figures.this.us) };
        const o = { rps: median(figures.other.rps), us: median(figures.other.us) };
        rows.push(
          [
            method.padEnd(12),
            protocol.padEnd(16),
            t.rps.toFixed(0).padStart(6),
            o.rps.toFixed(0).padStart(6),
            (t.rps / o.rps).toFixed(2).padStart(6),
            t.us.toFixed(0).padStart(7),
            o.us.toFixed(0).padStart(7),
            (o.us / t.us).toFixed(2).padStart(6),
          ].join("  "),
        );
      }
      clients.this.close();
      clients.other.close();
    }
  } finally {
    await Promise.all([apis.this.stop(), apis.other.stop()]);
    await db.drop();
  }
  process.stdout.write(
    `this = ${process.cwd()}, other = ${flags.other}${otherOptions === undefined ? "" : ` with NODE_OPTIONS=${otherOptions}`}; c=${load.concurrency}, median of ${flags.rounds} rounds\n` +
      `${[
        "method".padEnd(12),
        "protocol".padEnd(16),
        "req/s".padStart(6),
        "other".padStart(6),
        "ratio".padStart(6),
        "CPU µs".padStart(7),
        "other".padStart(7),
        "ratio".padStart(6),
      ].join("  ")}\n` +
      `${rows.join("\n")}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
