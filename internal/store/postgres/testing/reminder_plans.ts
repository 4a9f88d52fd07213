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
  await sql`analyze reminders`;
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
  assertClaimPlan(dispatchPlan);

  const claimed = await claimedCtids(sql);
  assert.ok(claimed.length >= 50, `only ${claimed.length} pending reminders seeded`);
  const markPlan = await explain(sql, markStatement(sql, claimed));
  t.diagnostic(`mark plan:\n${markPlan}`);
  // A mark deletes reminders rows and nothing else: no events row, no
  // events index. (With this handful pending, a scan of the few pages of
  // reminders is cheaper than a TID scan; the backlog below shows the TID scan.)
  assert.match(markPlan, /Delete on reminders/);
  assert.doesNotMatch(markPlan, /events/);

  const cleanupPlan = await explain(sql, endedBeforeDelete(sql, PLAN_CUTOFF, 500));
  t.diagnostic(`cleanup plan:\n${cleanupPlan}`);
  assert.match(cleanupPlan, /Tid Scan on events/);
  assert.match(cleanupPlan, /Index Scan using events_end_time/);
  assert.doesNotMatch(cleanupPlan, /Seq Scan/);

  // A backlog: most of the table due at one instant (a popular 9:00). The
  // scan must still read one batch through the index, not sort the backlog.
  const [backlogPlan, backlogMarkPlan] = await withBacklog(sql, 20_000, async (tx) => [
    await explain(tx, dueRemindersQuery(tx, PLAN_NOW, 500)),
    await explain(tx, markStatement(tx, await claimedCtids(tx))),
  ]);
  t.diagnostic(`dispatch plan with 20,000 due at once:\n${backlogPlan}`);
  assertClaimPlan(backlogPlan);
  assert.doesNotMatch(backlogPlan, /Sort/);
  t.diagnostic(`mark plan with 20,000 due at once:\n${backlogMarkPlan}`);
  assert.match(backlogMarkPlan, /Tid Scan on reminders/);
  assert.doesNotMatch(backlogMarkPlan, /Seq Scan|events/);
}

/** Where 100 reminders due at PLAN_NOW lie, as a claim returns them. */
function claimedCtids(sql: Sql) {
  return sql<{ ctid: string }[]>`
    select ctid::text as ctid from reminders where notify_at <= ${instant(sql, PLAN_NOW)}
    order by notify_at limit 100`;
}

/**
 * The claim reads the reminders_due index in order, locks reminders rows
 * only, and reaches each event by its primary key: never the events GiST
 * index (events_no_overlap), never a scan of events.
 */
function assertClaimPlan(plan: string): void {
  assert.match(plan, /Index Scan using reminders_due on reminders/);
  assert.match(plan, /LockRows/);
  assert.match(plan, /Index Scan using events_pkey on events/);
  assert.doesNotMatch(plan, /events_no_overlap|Seq Scan|Bitmap/);
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
      await tx`analyze reminders`;
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
