// The reminder query plans, checked the same way on the embedded PGlite
// (postgres_store.test.ts) and on a real server (the integration test).
import assert from "node:assert/strict";
import type { Fragment, Sql } from "postgres";
import { dueRemindersQuery, endedBeforeDelete, markStatement } from "../reminder_store.js";
import { instant } from "../rows.js";

// The reminder query plans are checked on a table like a live one: years of
// history whose reminders were sent or skipped, a little still pending.
const PLAN_NOW = new Date("2027-01-15T00:00:00Z");
const PLAN_CUTOFF = new Date("2026-01-15T00:00:00Z");

/**
 * 20 users with a daily event from 2025-01-01 to 2027-01-21, each with a
 * reminder: sent before 2027-01-10 (every seventh one skipped), pending from then on.
 */
export async function seedPlanData(sql: Sql): Promise<void> {
  await sql`
    insert into events (user_id, id, title, start_time, end_time,
                        notify_before_ms, notify_at, reminder_sent_at, reminder_skipped_at,
                        created_at, updated_at, version)
    select 'reminder-plan-' || u, gen_random_uuid(), 'planned', s, s + interval '1 hour',
           600000, s - interval '10 minutes',
           case when s < timestamptz '2027-01-10' and d % 7 <> 0 then s end,
           case when s < timestamptz '2027-01-10' and d % 7 = 0 then s end,
           now(), now(), 1
    from generate_series(1, 20) u, generate_series(0, 750) d,
         lateral (select timestamptz '2025-01-01' + d * interval '1 day' as s) t`;
  await sql`analyze events`;
}

/**
 * The plans of the dispatch scan and the cleanup delete, on the seeded
 * table: each reads only what it needs through an index.
 */
export async function checkReminderPlans(
  sql: Sql,
  t: { diagnostic(message: string): void },
): Promise<void> {
  const dispatchPlan = await explain(sql, dueRemindersQuery(sql, PLAN_NOW, 100));
  t.diagnostic(`dispatch plan:\n${dispatchPlan}`);
  assert.match(dispatchPlan, /Index Scan using events_reminder_due/);
  assert.match(dispatchPlan, /LockRows/);
  assert.doesNotMatch(dispatchPlan, /Seq Scan/);

  const claimed = await sql<{ ctid: string }[]>`
    select ctid::text as ctid from events where notify_at <= ${instant(sql, PLAN_NOW)}
      and reminder_sent_at is null and reminder_skipped_at is null
    limit 100`;
  assert.ok(claimed.length >= 50, `only ${claimed.length} pending reminders seeded`);
  const markPlan = await explain(sql, markStatement(sql, "sent", PLAN_NOW, claimed));
  t.diagnostic(`mark plan:\n${markPlan}`);
  assert.match(markPlan, /Tid Scan on events/);
  assert.doesNotMatch(markPlan, /Seq Scan/);

  const cleanupPlan = await explain(sql, endedBeforeDelete(sql, PLAN_CUTOFF, 500));
  t.diagnostic(`cleanup plan:\n${cleanupPlan}`);
  assert.match(cleanupPlan, /Tid Scan on events/);
  assert.match(cleanupPlan, /Index Scan using events_end_time/);
  assert.doesNotMatch(cleanupPlan, /Seq Scan/);

  // A backlog: most of the table due at one instant (a popular 9:00). The
  // scan must still read one batch through the index, not sort the backlog.
  const backlogPlan = await withBacklog(sql, 20_000, (tx) =>
    explain(tx, dueRemindersQuery(tx, PLAN_NOW, 500)),
  );
  t.diagnostic(`dispatch plan with 20,000 due at once:\n${backlogPlan}`);
  assert.match(backlogPlan, /Index Scan using events_reminder_due/);
  assert.doesNotMatch(backlogPlan, /Sort|Seq Scan/);
}

/** Runs `use` with `count` extra reminders due at PLAN_NOW, then rolls them back. */
async function withBacklog<T>(sql: Sql, count: number, use: (tx: Sql) => Promise<T>): Promise<T> {
  let result: { value: T } | undefined;
  const rollback = new Error("roll back the backlog");
  await sql
    .begin(async (tx) => {
      await tx`
        insert into events (user_id, id, title, start_time, end_time,
                            notify_before_ms, notify_at, created_at, updated_at, version)
        select 'reminder-backlog-' || g, gen_random_uuid(), 'backlog',
               ${instant(tx, PLAN_NOW)} + interval '1 hour',
               ${instant(tx, PLAN_NOW)} + interval '2 hours',
               3600000, ${instant(tx, PLAN_NOW)}, now(), now(), 1
        from generate_series(1, ${count}) g`;
      await tx`analyze events`;
      result = { value: await use(tx as unknown as Sql) };
      throw rollback;
    })
    .catch((error: unknown) => {
      if (error !== rollback) throw error;
    });
  if (!result) throw new Error("the backlog check did not run");
  return result.value;
}

/** The plan Postgres picks for `query`, as the lines EXPLAIN prints. */
async function explain(sql: Sql, query: Fragment): Promise<string> {
  const rows = await sql<{ "QUERY PLAN": string }[]>`explain ${query}`;
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}
