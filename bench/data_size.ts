// ListMonthEvents and CreateEvent with a small and a large events table
// (10,000 users' history). The probe users' month (March 2027) holds the same
// 5 events at every size, so only the table grows, not the answer.
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Sql } from "postgres";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { eventsInWindow } from "../internal/store/postgres/postgres_store.js";
import { createDatabase, type LoadOptions, progress, runLoad, startApi } from "./setup.js";
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

export async function runDataSizeBench(
  baseUrl: string,
  options: Omit<LoadOptions, "concurrency"> & { sizes: number[] },
): Promise<DataSizeReport> {
  const db = await createDatabase(baseUrl, "data");
  try {
    // The probe month: 5 events for each of the first 200 users.
    await db.sql`
      insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
      select 'd' || (g / 5), gen_random_uuid(), 'probe',
             timestamptz '2027-03-02 09:00Z' + (g % 5) * interval '3 days',
             timestamptz '2027-03-02 10:00Z' + (g % 5) * interval '3 days',
             now(), now(), 1
      from generate_series(0, ${PROBE_USERS * 5 - 1}) g`;
    const api = await startApi(db.url);
    try {
      const client = createClient(CalendarService, createGrpcTransport({ baseUrl: api.url }));
      const as = (userId: string) => ({ headers: { "x-user-id": userId } });
      // Creates go to the history users (so the overlap check sees their history), in
      // 2028, one 2-hour slot per call: a global counter keeps them from overlapping.
      let created = 0;
      const createCall = () => {
        const n = created++;
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
      };
      const listCall = (seq: number) =>
        client.listMonthEvents({ date: "2027-03-01" }, as(`d${(seq * 7919) % PROBE_USERS}`));

      const march = { start: new Date(Date.UTC(2027, 2, 1)), end: new Date(Date.UTC(2027, 3, 1)) };
      const sqlCall = (seq: number) =>
        eventsInWindow(db.sql, `d${(seq * 7919) % PROBE_USERS}`, march, 10_001);
      const plans: { events: number; plan: string }[] = [];
      const rows: DataSizeRow[] = [];
      let loaded = 0;
      for (const size of [...options.sizes].sort((a, b) => a - b)) {
        await loadUpTo(db.sql, loaded, size);
        loaded = size;
        progress(`data: vacuum analyze at ${size.toLocaleString("en")} events`);
        await db.sql`vacuum analyze events`;
        const plan = await db.sql.unsafe(`
          explain (analyze, buffers)
          select id from events
          where user_id = 'd7'
            and tstzrange(start_time, end_time, '[)') && tstzrange('2027-03-01Z', '2027-04-01Z', '[)')
          order by start_time, id limit 10001`);
        plans.push({ events: size, plan: plan.map((r) => r["QUERY PLAN"]).join("\n") });
        for (const concurrency of [1, 16]) {
          for (const [rpc, call] of [
            ["ListMonthEvents", listCall],
            ["CreateEvent", createCall],
            ...(concurrency === 1 ? ([["SQL ListMonth", sqlCall]] as const) : []),
          ] as const) {
            const result = await runLoad(call, { ...options, concurrency });
            const first = rows.find((r) => r.rpc === rpc && r.concurrency === concurrency);
            rows.push({
              rpc,
              events: size,
              concurrency,
              result,
              p50VsSmallest: first ? result.p50Ms / first.result.p50Ms : 1,
            });
            progress(
              `data ${rpc} at ${size} events c=${concurrency}: p50 ${result.p50Ms.toFixed(2)} ms p99 ${result.p99Ms.toFixed(2)} ms errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}`,
            );
          }
        }
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
      await api.stop();
    }
  } finally {
    await db.drop();
  }
}
