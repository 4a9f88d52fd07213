// ListMonthEvents and CreateEvent with a small and a large events table
// (10,000 users' history), each in a database of its own with an api process
// of its own. The probe users' month (March 2027) holds the same 5 events at
// every size, so only the table grows, not the answer.
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Sql } from "postgres";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { eventsInWindow } from "../internal/store/postgres/postgres_store.js";
import {
  type ApiProcess,
  type BenchDatabase,
  createDatabase,
  type LoadOptions,
  progress,
  runLoad,
  startApi,
} from "./setup.js";
import type { CellResult } from "./stats.js";

const USERS = 10_000;
const PROBE_USERS = 200;
const BATCH = 100_000;
const HOUR = 3_600_000;

export interface DataSizeRow {
  /** "SQL ListMonth" is the store's query on postgres.js, without the api. */
  rpc: "ListMonthEvents" | "CreateEvent" | "SQL ListMonth";
  events: number;
  concurrency: number;
  result: CellResult;
  /** p50 at this size / p50 at the smallest size, same rpc and concurrency. */
  p50VsSmallest: number;
}

export interface DataSizeReport {
  rows: DataSizeRow[];
  /** ListMonthEvents p50 at the largest size / at the smallest, at concurrency 1. */
  listMonthP50Ratio?: number;
  /** The same for the query alone (postgres.js, concurrency 1). */
  sqlListMonthP50Ratio?: number;
  /** EXPLAIN (ANALYZE, BUFFERS) of one probe user's month, per size. */
  plans: { events: number; plan: string }[];
}

/** Background history: event g belongs to user d(g % 10,000), its k-th, 25 days after the last. */
async function loadUpTo(sql: Sql, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += BATCH) {
    const end = Math.min(start + BATCH, to);
    await sql`
      insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
      select 'd' || (g % ${USERS}), gen_random_uuid(), 'history',
             timestamptz '2016-01-01 00:00Z' + (g / ${USERS}) * interval '25 days' + (g % 24) * interval '1 hour',
             timestamptz '2016-01-01 01:00Z' + (g / ${USERS}) * interval '25 days' + (g % 24) * interval '1 hour',
             now(), now(), 1
      from generate_series(${start}::int8, ${end - 1}::int8) g`;
    progress(`data: loaded ${end.toLocaleString("en")} events`);
  }
}

/** One table size under test: its own database and its own api process. */
interface SizedTable {
  events: number;
  db: BenchDatabase;
  api: ApiProcess;
  /** CreateEvent calls made on this table so far (keeps new events apart). */
  created: number;
}

/**
 * Rounds per cell. The sizes are measured in turn, round after round (the
 * order flipped each round), so that drift on a shared machine (a
 * checkpoint, another process's burst) lands on every size alike, rather
 * than on whichever size happened to run during it. A cell reports the median
 * of its rounds.
 */
const ROUNDS = 3;

async function prepareTable(baseUrl: string, events: number): Promise<SizedTable> {
  const db = await createDatabase(baseUrl, `data${events}`);
  try {
    // The probe month: 5 events for each of the first 200 users.
    await db.sql`
      insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
      select 'd' || (g / 5), gen_random_uuid(), 'probe',
             timestamptz '2027-03-02 09:00Z' + (g % 5) * interval '3 days',
             timestamptz '2027-03-02 10:00Z' + (g % 5) * interval '3 days',
             now(), now(), 1
      from generate_series(0, ${PROBE_USERS * 5 - 1}) g`;
    await loadUpTo(db.sql, 0, events);
    progress(`data: vacuum analyze and checkpoint at ${events.toLocaleString("en")} events`);
    await db.sql`vacuum analyze events`;
    // Flush the load's dirty pages now, not during the measurements.
    await db.sql`checkpoint`;
    return { events, db, api: await startApi(db.url), created: 0 };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

export async function runDataSizeBench(
  baseUrl: string,
  options: Omit<LoadOptions, "concurrency"> & { sizes: number[] },
): Promise<DataSizeReport> {
  const tables: SizedTable[] = [];
  try {
    for (const events of [...options.sizes].sort((a, b) => a - b)) {
      tables.push(await prepareTable(baseUrl, events));
    }
    const plans: { events: number; plan: string }[] = [];
    for (const { events, db } of tables) {
      const plan = await db.sql.unsafe(`
        explain (analyze, buffers)
        select id from events
        where user_id = 'd7'
          and tstzrange(start_time, end_time, '[)') && tstzrange('2027-03-01Z', '2027-04-01Z', '[)')
        order by start_time, id limit 10001`);
      plans.push({ events, plan: plan.map((r) => r["QUERY PLAN"]).join("\n") });
    }

    const as = (userId: string) => ({ headers: { "x-user-id": userId } });
    const march = { start: new Date(Date.UTC(2027, 2, 1)), end: new Date(Date.UTC(2027, 3, 1)) };
    const callsOn = (table: SizedTable) => {
      const client = createClient(CalendarService, createGrpcTransport({ baseUrl: table.api.url }));
      return {
        ListMonthEvents: (seq: number) =>
          client.listMonthEvents({ date: "2027-03-01" }, as(`d${(seq * 7919) % PROBE_USERS}`)),
        // Creates go to the history users (so the overlap check sees their
        // history), in 2028, one 2-hour slot per call: the table's counter
        // keeps them from overlapping.
        CreateEvent: () => {
          const n = table.created++;
          return client.createEvent(
            {
              event: {
                title: "bench",
                startTime: timestampFromMs(Date.UTC(2028, 0, 1) + Math.floor(n / USERS) * 2 * HOUR),
                duration: durationFromMs(HOUR),
              },
            },
            as(`d${n % USERS}`),
          );
        },
        "SQL ListMonth": (seq: number) =>
          eventsInWindow(table.db.sql, `d${(seq * 7919) % PROBE_USERS}`, march, 10_001),
      };
    };
    const calls = tables.map(callsOn);

    const cells: { rpc: DataSizeRow["rpc"]; concurrency: number }[] = [
      { rpc: "ListMonthEvents", concurrency: 1 },
      { rpc: "CreateEvent", concurrency: 1 },
      { rpc: "SQL ListMonth", concurrency: 1 },
      { rpc: "ListMonthEvents", concurrency: 16 },
      { rpc: "CreateEvent", concurrency: 16 },
    ];
    const rows: DataSizeRow[] = [];
    for (const { rpc, concurrency } of cells) {
      const rounds: CellResult[][] = tables.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        const order = tables.map((_, i) => i);
        if (round % 2 === 1) order.reverse();
        for (const i of order) {
          const call = calls[i]?.[rpc] as (seq: number) => Promise<unknown>;
          rounds[i]?.push(await runLoad(call, { ...options, concurrency }));
        }
      }
      tables.forEach((table, i) => {
        const result = medianOfRounds(rounds[i] ?? []);
        const first = rows.find((r) => r.rpc === rpc && r.concurrency === concurrency);
        rows.push({
          rpc,
          events: table.events,
          concurrency,
          result,
          p50VsSmallest: first ? result.p50Ms / first.result.p50Ms : 1,
        });
        progress(
          `data ${rpc} at ${table.events} events c=${concurrency}: p50 ${result.p50Ms.toFixed(2)} ms p99 ${result.p99Ms.toFixed(2)} ms errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}`,
        );
      });
    }
    const lastRatio = (rpc: DataSizeRow["rpc"]) => {
      const list = rows.filter((r) => r.rpc === rpc && r.concurrency === 1);
      return list.length > 1 ? list[list.length - 1]?.p50VsSmallest : undefined;
    };
    return {
      rows,
      listMonthP50Ratio: lastRatio("ListMonthEvents"),
      sqlListMonthP50Ratio: lastRatio("SQL ListMonth"),
      plans,
    };
  } finally {
    for (const table of tables) {
      await table.api.stop();
      await table.db.drop();
    }
  }
}

/** A cell over its rounds: the median of each figure, errors summed. */
function medianOfRounds(rounds: CellResult[]): CellResult {
  const median = (pick: (r: CellResult) => number) => {
    const sorted = rounds.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  };
  const firstError = rounds.find((r) => r.firstError)?.firstError;
  const result: CellResult = {
    rps: median((r) => r.rps),
    p50Ms: median((r) => r.p50Ms),
    p99Ms: median((r) => r.p99Ms),
    count: rounds.reduce((sum, r) => sum + r.count, 0),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  };
  return firstError === undefined ? result : { ...result, firstError };
}
