// What keeping the reminders table costs an events write, and what the
// alternative would: run with
//
//   node --import tsx bench/reminder_write_cost.ts [rows per round, default 2000]
//
// On a scratch database on the local PostgreSQL (BENCH_DATABASE_URL, default
// postgres://root@127.0.0.1:5432/test), migrated to the latest version. Each
// round times inserts of single events with a reminder, one statement per
// round trip (as a one-round-trip CreateEvent issues them), four ways:
//   trigger    - migration 0007's trigger inserts the reminders row (what ships);
//   cte        - no trigger; the statement inserts both rows itself
//                (`with e as (insert into events ...) insert into reminders ...`),
//                the one-statement write an application-side design would need;
//   two        - no trigger; a second statement inserts the reminders row, in
//                one transaction (an application-side design without the CTE);
//   none       - no trigger and no reminders row: the floor.
// The ways take turns, round after round, each round starting with the next
// one, so load from other work on the machine falls on each alike; the
// figures are ratios to `none`.
import { randomUUID } from "node:crypto";
import postgres, { type Sql } from "postgres";
import { silentLogger } from "../internal/log/logger.js";
import { runMigrations } from "../internal/store/postgres/migrate.js";
import { createScratchDatabase } from "../internal/testing/database.js";

const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/test";
const perRound = Number(process.argv[2] ?? 2000);
const rounds = 8;

type Way = "trigger" | "cte" | "two" | "none";
const ways: Way[] = ["trigger", "cte", "two", "none"];

async function insertOne(sql: Sql, way: Way, user: string, i: number): Promise<void> {
  const id = randomUUID();
  const start = new Date(Date.UTC(2030, 0, 1) + i * 7_200_000);
  const end = new Date(start.getTime() + 3_600_000);
  const notifyAt = new Date(start.getTime() - 600_000);
  if (way === "cte") {
    await sql`
      with e as (
        insert into events (user_id, id, title, start_time, end_time, notify_before_ms, notify_at,
                            created_at, updated_at, version)
        values (${user}, ${id}, 'cost', ${start}, ${end}, 600000, ${notifyAt}, now(), now(), 1)
        returning user_id, id, notify_at)
      insert into reminders (user_id, event_id, notify_at) select user_id, id, notify_at from e`;
    return;
  }
  const insertEvent = (db: Sql) => db`
    insert into events (user_id, id, title, start_time, end_time, notify_before_ms, notify_at,
                        created_at, updated_at, version)
    values (${user}, ${id}, 'cost', ${start}, ${end}, 600000, ${notifyAt}, now(), now(), 1)`;
  if (way === "two") {
    await sql.begin(async (tx) => {
      await insertEvent(tx as unknown as Sql);
      await tx`insert into reminders (user_id, event_id, notify_at) values (${user}, ${id}, ${notifyAt})`;
    });
    return;
  }
  await insertEvent(sql);
}

async function main(): Promise<void> {
  const db = await createScratchDatabase(serverUrl, `cal_cost_${randomUUID().slice(0, 8)}`);
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await runMigrations(sql, silentLogger());
    const totals: Record<Way, number> = { trigger: 0, cte: 0, two: 0, none: 0 };
    for (let round = 1; round <= rounds; round++) {
      // Each round starts with the next way, so none is always first.
      for (const way of [...ways.slice(round % 4), ...ways.slice(0, round % 4)]) {
        const triggers = way === "trigger" ? sql`enable` : sql`disable`;
        await sql`alter table events ${triggers} trigger events_arm_reminder_insert`;
        const user = `cost-${way}-${round}`;
        const started = performance.now();
        for (let i = 0; i < perRound; i++) await insertOne(sql, way, user, i);
        totals[way] += performance.now() - started;
      }
      process.stderr.write(`[cost] round ${round}/${rounds} done\n`);
    }
    const perWrite = (way: Way) => (totals[way] * 1000) / (rounds * perRound);
    console.log(`${rounds} rounds x ${perRound} inserts per way, one connection`);
    console.log("way      us/insert  ratio to none");
    for (const way of ways) {
      console.log(
        `${way.padEnd(8)} ${perWrite(way).toFixed(0).padStart(9)}  ${(perWrite(way) / perWrite("none")).toFixed(2)}`,
      );
    }
  } finally {
    await sql.end({ timeout: 2 });
    await db.drop();
  }
}

await main();
