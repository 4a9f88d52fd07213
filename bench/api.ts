// API throughput and latency per RPC, protocol and concurrency, each beside
// references measured in the same run at the same concurrency:
// - pg:      the same SQL issued directly with postgres.js (a pool of 10, the
//            api's default DB_POOL_MAX): what the database can do;
// - minimal: a minimal Fastify + postgres.js server running the same SQL and
//            answering JSON over HTTP/1.1 (bench/reference_server.ts;
//            CreateEvent as one INSERT): what Node can do for the same work;
// - empty:   bench.v1.Bench/Ping on the same server and protocol, behind the
//            same interceptors (createApiServer's extraRoutes): what the server
//            (HTTP, Connect, Fastify, access log, metrics) can do per call;
// - plain:   a plain Fastify route answering {} in the reference process: what
//            Node and Fastify cost per HTTP/1.1 request;
// - bare:    the empty RPC on bare connect-fastify in the reference process
//            (Connect JSON over HTTP/1.1): what Connect itself costs per call.
// Each cell also records the cores kept busy by the api, this process (the
// load generator) and PostgreSQL, to show which one bounds it. At the top
// concurrency, scale-out cells load one api process and then two (the
// connections spread over both, as a load balancer would).
import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { Sql } from "postgres";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { notifyAt } from "../internal/domain/event.js";
import { CallDeadline, inOneStatement } from "../internal/store/postgres/call_deadline.js";
import {
  DEFAULT_CALL_TIMEOUT_MS,
  eventsInWindow,
} from "../internal/store/postgres/postgres_store.js";
import { type EventRow, eventColumns } from "../internal/store/postgres/rows.js";
import { deleteSingle } from "../internal/store/postgres/sql/delete_single.js";
import { insertSingle } from "../internal/store/postgres/sql/insert_single.js";
import { updateSingle } from "../internal/store/postgres/sql/update_single.js";
import { BenchService, PlainService } from "./bench_service.js";
import {
  leanConnectJsonClient,
  leanGrpcClient,
  type UnaryCall,
  unaryMethod,
} from "./lean_client.js";
import {
  type ApiProcess,
  type BenchDatabase,
  type CpuCores,
  CpuMeter,
  type LoadOptions,
  progress,
  RssSampler,
  runLoad,
} from "./setup.js";
import type { CellResult } from "./stats.js";

export const METHODS = [
  "CreateEvent",
  "UpdateEvent",
  "DeleteEvent",
  "GetEvent",
  "ListDayEvents",
  "ListMonthEvents",
] as const;
export type Method = (typeof METHODS)[number];

/** The protocols measured, each with the two clients the bench can use. */
export const PROTOCOLS: Record<string, Record<ClientKind, (baseUrl: string) => UnaryCall>> = {
  "gRPC h2": {
    connect: (baseUrl) => connectClient(createGrpcTransport({ baseUrl })),
    lean: (baseUrl) => leanGrpcClient(baseUrl).call,
  },
  "Connect JSON h1": {
    connect: (baseUrl) => connectClient(createConnectTransport({ baseUrl, httpVersion: "1.1" })),
    lean: (baseUrl) => leanConnectJsonClient(baseUrl).call,
  },
};

/**
 * connect: @connectrpc/connect-node's clients, as an application would call
 * the api; lean: bench/lean_client.ts, the wire protocol on node:http(2)
 * with far less CPU per call, so that more of a small machine is left to
 * the api.
 */
export type ClientKind = "connect" | "lean";

/** A cell's figures and the cores each process kept busy during it. */
export type MeasuredCell = CellResult & { cpu: CpuCores };

export interface ApiRow {
  method: Method;
  protocol: string;
  concurrency: number;
  api: MeasuredCell;
  pg: MeasuredCell;
  /** The same SQL behind a minimal Fastify route (Connect JSON paths, HTTP/1.1). */
  minimal: MeasuredCell;
  empty: MeasuredCell;
  /** A plain Fastify route answering {} (HTTP/1.1). */
  plain: MeasuredCell;
  /** The empty RPC on bare connect-fastify (Connect JSON, HTTP/1.1). */
  bare: MeasuredCell;
}

/** One api process, then two, loaded back to back at the same concurrency. */
export interface ScaleRow {
  call: Method | "empty";
  protocol: string;
  concurrency: number;
  one: MeasuredCell;
  two: MeasuredCell;
}

export interface ApiReport {
  rows: ApiRow[];
  scaling: ScaleRow[];
  /** Highest VmRSS sampled (every 100 ms) during the concurrency-64 cells. */
  peakRssMbAtMaxConcurrency: number;
  /** The api's VmHWM at the end of the API part. */
  hwmMb: number;
  /** VmRSS once started and idle, before any call: the floor under the peak. */
  idleRssMb: number;
}

const HOUR = 3_600_000;
const SEED_USERS = 1000;
const EVENTS_PER_USER = 10;
const DEC_1 = Date.UTC(2026, 11, 1);
const CREATE_START = Date.UTC(2027, 0, 10, 9);

/** A stored event a call reads or writes. */
interface Seeded {
  userId: string;
  id: string;
  startMs: number;
}

/** 10 events a day apart (Dec 1..10, 2026, 09:00 UTC, 1 h) for each of 1,000 users. */
async function seed(sql: Sql): Promise<Seeded[]> {
  await sql`
    insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
    select 's' || (g / ${EVENTS_PER_USER}), gen_random_uuid(), 'seeded',
           timestamptz '2026-12-01 09:00Z' + (g % ${EVENTS_PER_USER}) * interval '1 day',
           timestamptz '2026-12-01 10:00Z' + (g % ${EVENTS_PER_USER}) * interval '1 day',
           now(), now(), 1
    from generate_series(0, ${SEED_USERS * EVENTS_PER_USER - 1}) g`;
  await sql`vacuum analyze events`;
  return selectSeeded(sql, "s%");
}

function selectSeeded(sql: Sql, users: string): Promise<Seeded[]> {
  return sql<Seeded[]>`
    select user_id as "userId", id,
           round(extract(epoch from start_time) * 1000)::float8 as "startMs"
    from events where user_id like ${users}`.then((rows) => [...rows]);
}

/**
 * The events a DeleteEvent cell deletes, one per call: `count` events of
 * users of the cell's own (one each, like CreateEvent's), seeded just
 * before the cell so every call deletes an event that exists.
 */
async function seedDeletable(sql: Sql, count: number): Promise<Seeded[]> {
  const prefix = `d${++cellCounter}_`;
  await sql`
    insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
    select ${prefix} || g, gen_random_uuid(), 'doomed',
           timestamptz '2026-12-01 09:00Z', timestamptz '2026-12-01 10:00Z', now(), now(), 1
    from generate_series(1, ${count}) g`;
  return selectSeeded(sql, `${prefix}%`);
}

/** Enough for a DeleteEvent cell at any rate this machine reaches (calls stop when used up). */
const DELETABLE = 30_000;

const seededUser = (seq: number) => `s${(seq * 7919) % SEED_USERS}`;
const DAY = { date: "2026-12-05", start: DEC_1 + 4 * 24 * HOUR, end: DEC_1 + 5 * 24 * HOUR };
const MONTH = { date: "2026-12-01", start: DEC_1, end: Date.UTC(2027, 0, 1) };

type Calls = Record<Method, (seq: number) => Promise<unknown>>;

/** Each cell creates events for users of its own, one each: creates never overlap. */
let cellCounter = 0;
const createUser = (cell: number, seq: number) => `c${cell}_${seq}`;

const CREATE_EVENT = unaryMethod(CalendarService, "CreateEvent");
const UPDATE_EVENT = unaryMethod(CalendarService, "UpdateEvent");
const DELETE_EVENT = unaryMethod(CalendarService, "DeleteEvent");
const GET_EVENT = unaryMethod(CalendarService, "GetEvent");
const LIST_DAY = unaryMethod(CalendarService, "ListDayEvents");
const LIST_MONTH = unaryMethod(CalendarService, "ListMonthEvents");
const PING = unaryMethod(BenchService, "Ping");
const PLAIN_PING = unaryMethod(PlainService, "Ping");

/** The events a cell's calls act on: the seeded ones, and those a DeleteEvent cell deletes. */
interface Targets {
  events: Seeded[];
  deletable: Seeded[];
}

const pick = (events: Seeded[], seq: number) => events[(seq * 7919) % events.length] as Seeded;
/** Spread over the seeded events: 64 calls in flight touch 64 different events. */
const updated = (e: Seeded) => ({
  id: e.id,
  title: "updated",
  startTime: timestampFromMs(e.startMs),
  duration: durationFromMs(HOUR),
  notifyBefore: durationFromMs(HOUR / 6),
});
const deleted = (targets: Targets, seq: number) => targets.deletable[seq] as Seeded;

function apiCalls(call: UnaryCall, { events, deletable }: Targets): Calls {
  const as = (userId: string) => ({ "x-user-id": userId });
  const cell = ++cellCounter;
  return {
    CreateEvent: (seq) =>
      call(
        CREATE_EVENT,
        {
          event: {
            title: "bench",
            startTime: timestampFromMs(CREATE_START),
            duration: durationFromMs(HOUR / 2),
            notifyBefore: durationFromMs(HOUR / 6),
          },
        },
        as(createUser(cell, seq)),
      ),
    UpdateEvent: (seq) => {
      const e = pick(events, seq);
      return call(UPDATE_EVENT, { event: updated(e) }, as(e.userId));
    },
    DeleteEvent: (seq) => {
      const e = deleted({ events, deletable }, seq);
      return call(DELETE_EVENT, { id: e.id }, as(e.userId));
    },
    GetEvent: (seq) => {
      const e = pick(events, seq);
      return call(GET_EVENT, { id: e.id }, as(e.userId));
    },
    ListDayEvents: (seq) => call(LIST_DAY, { date: DAY.date }, as(seededUser(seq))),
    ListMonthEvents: (seq) => call(LIST_MONTH, { date: MONTH.date }, as(seededUser(seq))),
  };
}

/** Calls through Connect's own client on `transport`. */
function connectClient(transport: Transport): UnaryCall {
  const clients = new Map<DescService, Record<string, (...args: unknown[]) => Promise<unknown>>>();
  return (method, input, headers) => {
    let client = clients.get(method.parent);
    if (!client) {
      client = createClient(method.parent, transport) as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >;
      clients.set(method.parent, client);
    }
    return (client[method.localName] as (...args: unknown[]) => Promise<unknown>)(input, {
      headers,
    });
  };
}

/** A store call's deadline (call_deadline.ts), as the api gives each. */
const storeDeadline = () =>
  new CallDeadline(DEFAULT_CALL_TIMEOUT_MS, { endIdleTransactions: true });

/**
 * The SQL the store issues (postgres_store.ts), straight on a postgres.js
 * pool: for the writes, the fast paths' (sql/), one statement each.
 */
function pgCalls(sql: Sql, { events, deletable }: Targets): Calls {
  const cell = ++cellCounter;
  const list = (userId: string, w: { start: number; end: number }) =>
    eventsInWindow(sql, userId, { start: new Date(w.start), end: new Date(w.end) }, 10_001);
  return {
    CreateEvent: (seq) => {
      const userId = createUser(cell, seq);
      const now = new Date();
      const fields = {
        title: "bench",
        start: new Date(CREATE_START),
        durationMs: HOUR / 2,
        description: undefined,
        notifyBeforeMs: HOUR / 6,
      };
      const meta = {
        version: 1,
        createdAt: now,
        updatedAt: now,
        notifyAt: notifyAt(fields) ?? null,
      };
      return inOneStatement(sql, storeDeadline(), (db) =>
        insertSingle(db, userId, randomUUID(), fields, meta),
      );
    },
    UpdateEvent: (seq) => {
      const e = pick(events, seq);
      const fields = {
        title: "updated",
        start: new Date(e.startMs),
        durationMs: HOUR,
        description: undefined,
        notifyBeforeMs: HOUR / 6,
      };
      const meta = { updatedAt: new Date(), notifyAt: notifyAt(fields) ?? null };
      return inOneStatement(sql, storeDeadline(), (db) =>
        updateSingle(db, e.userId, e.id, fields, undefined, meta),
      );
    },
    DeleteEvent: (seq) => {
      const e = deleted({ events, deletable }, seq);
      return inOneStatement(sql, storeDeadline(), (db) => deleteSingle(db, e.userId, e.id));
    },
    GetEvent: (seq) => {
      const e = pick(events, seq);
      return sql<EventRow[]>`
        select ${eventColumns(sql)} from events where user_id = ${e.userId} and id = ${e.id}`;
    },
    ListDayEvents: (seq) => list(seededUser(seq), DAY),
    ListMonthEvents: (seq) => list(seededUser(seq), MONTH),
  };
}

/** Calls spread over several servers, one after the other, as a round-robin balancer does. */
function spread(calls: UnaryCall[]): UnaryCall {
  let next = 0;
  return (method, input, headers) => {
    const call = calls[next++ % calls.length] as UnaryCall;
    return call(method, input, headers);
  };
}

/** The methods the scale-out cells load (besides the empty RPC). */
const SCALED: readonly Method[] = ["ListDayEvents", "GetEvent"];

export async function runApiBench(
  db: BenchDatabase,
  servers: {
    api: ApiProcess;
    /** A second api process on the same database, for the scale-out cells. */
    second: ApiProcess;
    /** bench/reference_server.ts on the same database. */
    reference: ApiProcess;
  },
  options: Omit<LoadOptions, "concurrency"> & {
    concurrencies: number[];
    /** Subsets to run (default: all), e.g. to profile one path. */
    methods?: readonly Method[];
    protocols?: readonly string[];
    client?: ClientKind;
  },
): Promise<ApiReport> {
  const { api, second, reference } = servers;
  const clientKind = options.client ?? "lean";
  const methods = options.methods ?? METHODS;
  const idleRssMb = RssSampler.read(api.pid).rssKb / 1024;
  progress("api: seeding 10,000 events for 1,000 users");
  const events = await seed(db.sql);
  const protocols = Object.entries(PROTOCOLS).filter(
    ([name]) => options.protocols === undefined || options.protocols.includes(name),
  );
  const clients = protocols.map(([name, kinds]) => ({
    name,
    call: kinds[clientKind](api.url),
    both: spread([kinds[clientKind](api.url), kinds[clientKind](second.url)]),
  }));
  // The references speak plain JSON over HTTP/1.1, as Connect JSON does.
  const referenceCall = PROTOCOLS["Connect JSON h1"]?.[clientKind](reference.url) as UnaryCall;
  const rows: ApiRow[] = [];
  const scaling: ScaleRow[] = [];
  const rss = new RssSampler(api.pid);
  const meters = {
    api: new CpuMeter([api.pid]),
    both: new CpuMeter([api.pid, second.pid]),
    reference: new CpuMeter([reference.pid]),
  };
  const maxConcurrency = Math.max(...options.concurrencies);
  const scaled = ["empty", ...methods.filter((m) => SCALED.includes(m))] as const;
  const cells =
    options.concurrencies.length *
      ((methods.length + 1) * (clients.length + 1) + methods.length + 1) +
    2 * scaled.length * clients.length;
  let done = 0;
  const cell = async (
    label: string,
    call: (seq: number) => Promise<unknown>,
    concurrency: number,
    meter: CpuMeter = meters.api,
    maxRequests = options.maxRequests,
  ): Promise<MeasuredCell> => {
    done += 1;
    const cpuSince = meter.start();
    const load = {
      ...options,
      concurrency,
      maxRequests: Math.min(maxRequests, options.maxRequests),
    };
    const result = { ...(await runLoad(call, load)), cpu: cpuSince() };
    const c = result.cpu;
    progress(
      `api ${done}/${cells} ${label} c=${concurrency}: ${result.rps.toFixed(0)}/s p50 ${result.p50Ms.toFixed(2)} ms p99 ${result.p99Ms.toFixed(2)} ms errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}; cores busy: server ${c.api.toFixed(2)} bench ${c.bench.toFixed(2)} postgres ${c.postgres.toFixed(2)} machine ${c.machine.toFixed(2)}`,
    );
    return result;
  };

  /** A method's cell: DeleteEvent's gets events of its own to delete, and stops when they run out. */
  const methodCell = async (
    label: string,
    method: Method,
    calls: (targets: Targets) => Calls,
    concurrency: number,
    meter?: CpuMeter,
  ): Promise<MeasuredCell> => {
    if (method !== "DeleteEvent") {
      return cell(label, calls({ events, deletable: [] })[method], concurrency, meter);
    }
    const deletable = await seedDeletable(db.sql, DELETABLE);
    return cell(label, calls({ events, deletable })[method], concurrency, meter, DELETABLE);
  };

  for (const concurrency of options.concurrencies) {
    const pg: Partial<Record<Method, MeasuredCell>> = {};
    const minimal: Partial<Record<Method, MeasuredCell>> = {};
    for (const method of methods) {
      pg[method] = await methodCell(
        `pg ${method}`,
        method,
        (targets) => pgCalls(db.sql, targets),
        concurrency,
      );
    }
    const plain = await cell(
      "plain Fastify empty",
      () => referenceCall(PLAIN_PING, {}, {}),
      concurrency,
      meters.reference,
    );
    const bare = await cell(
      "bare connect-fastify empty",
      () => referenceCall(PING, {}, {}),
      concurrency,
      meters.reference,
    );
    for (const method of methods) {
      minimal[method] = await methodCell(
        `minimal Fastify+pg ${method}`,
        method,
        (targets) => apiCalls(referenceCall, targets),
        concurrency,
        meters.reference,
      );
    }
    if (concurrency === maxConcurrency) rss.start();
    for (const client of clients) {
      const empty = await cell(
        `${client.name} empty`,
        () => client.call(PING, {}, {}),
        concurrency,
      );
      for (const method of methods) {
        const result = await methodCell(
          `${client.name} ${method}`,
          method,
          (targets) => apiCalls(client.call, targets),
          concurrency,
        );
        rows.push({
          method,
          protocol: client.name,
          concurrency,
          api: result,
          pg: pg[method] as MeasuredCell,
          minimal: minimal[method] as MeasuredCell,
          empty,
          plain,
          bare,
        });
      }
    }
    rss.stop();
  }

  // Scale-out: the same calls on one process and on two, back to back.
  for (const client of clients) {
    for (const call of scaled) {
      const on = (target: UnaryCall) =>
        call === "empty"
          ? () => target(PING, {}, {})
          : apiCalls(target, { events, deletable: [] })[call];
      const label = `${client.name} ${call}`;
      const one = await cell(`${label} (1 api)`, on(client.call), maxConcurrency);
      const two = await cell(`${label} (2 apis)`, on(client.both), maxConcurrency, meters.both);
      scaling.push({ call, protocol: client.name, concurrency: maxConcurrency, one, two });
    }
  }
  const { hwmKb } = RssSampler.read(api.pid);
  return {
    rows,
    scaling,
    peakRssMbAtMaxConcurrency: rss.peakRssKb / 1024,
    hwmMb: hwmKb / 1024,
    idleRssMb,
  };
}
