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

  const claimed = await sql<{ user_id: string; id: string }[]>`
    select user_id, id from events where notify_at <= ${instant(sql, PLAN_NOW)}
      and reminder_sent_at is null and reminder_skipped_at is null
    limit 100`;
  assert.ok(claimed.length >= 50, `only ${claimed.length} pending reminders seeded`);
  // Not asserted: the marks find their rows by key, and whether probing the
  // primary key row by row beats one pass over the table depends on the
  // batch and table sizes (the planner picks; on this table it often scans).
  const markPlan = await explain(sql, markStatement(sql, "sent", PLAN_NOW, claimed));
  t.diagnostic(`mark plan:\n${markPlan}`);

  const cleanupPlan = await explain(sql, endedBeforeDelete(sql, PLAN_CUTOFF, 500));
  t.diagnostic(`cleanup plan:\n${cleanupPlan}`);
  assert.match(cleanupPlan, /Tid Scan on events/);
  assert.match(cleanupPlan, /Index Scan using events_end_time/);
  assert.doesNotMatch(cleanupPlan, /Seq Scan/);
}

/** The plan Postgres picks for `query`, as the lines EXPLAIN prints. */
async function explain(sql: Sql, query: Fragment): Promise<string> {
  const rows = await sql<{ "QUERY PLAN": string }[]>`explain ${query}`;
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}
