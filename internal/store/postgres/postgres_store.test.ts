// The Postgres store against the embedded PGlite: needs no server, so it is
// part of `npm test`. The same store against a real server is in
// postgres_store.integration.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import type { Fragment, Sql } from "postgres";
import { silentLogger } from "../../log/logger.js";
import { openEventStore } from "../open.js";
import { runEventStoreContract } from "../testing/contract.js";
import { runReminderStoreContract } from "../testing/reminder_contract.js";
import {
  connectWithRetry,
  type Database,
  DatabaseConnectError,
  openDatabase,
  serverPoolOptions,
} from "./connect.js";
import { DataDirInUseError } from "./dir_lock.js";
import { runMigrations } from "./migrate.js";
import { PostgresEventStore } from "./postgres_store.js";
import { dueRemindersQuery, endedBeforeDelete, markStatement } from "./reminder_store.js";
import { instant } from "./rows.js";
import { runPostgresStoreChecks } from "./testing/store_checks.js";

const logger = silentLogger();

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "cal_service-pglite-"));
}

function embeddedStorage(dataDir: string) {
  return {
    kind: "postgres" as const,
    databaseUrl: undefined,
    dataDir,
    migrateOnStart: false,
    connectTimeoutMs: 10_000,
    poolMax: 10,
  };
}

// One PGlite for the contract suite and the store checks: starting one takes
// seconds. Opened by whichever suite runs first, closed after all of them.
let shared: Promise<{ database: Database; dataDir: string }> | undefined;
function sharedDatabase() {
  shared ??= (async () => {
    const dataDir = await tempDir();
    const database = await openDatabase(embeddedStorage(dataDir), logger);
    await runMigrations(database.sql, logger);
    return { database, dataDir };
  })();
  return shared;
}
after(async () => {
  if (!shared) return;
  const { database, dataDir } = await shared;
  await database.close();
  await rm(dataDir, { recursive: true, force: true });
});

runEventStoreContract("postgres (embedded PGlite)", async (clock) => {
  const { database } = await sharedDatabase();
  return { store: new PostgresEventStore(database.sql, { clock }), dispose: async () => {} };
});

runPostgresStoreChecks("embedded PGlite", async () => (await sharedDatabase()).database.sql);

// Dispatch and cleanup act on the whole table, so each test of this contract
// starts from an empty one. PGlite has a single database and session, hence
// no schema of its own as on a server: the shared table is emptied instead.
// That is harmless to the other suites, which run one after another in this
// file and each create their own rows in their own tests.
runReminderStoreContract("postgres (embedded PGlite)", async (clock) => {
  const { sql } = (await sharedDatabase()).database;
  await sql`truncate events`;
  const store = new PostgresEventStore(sql, { clock });
  return { events: store, reminders: store, dispose: async () => {} };
});

describe("reminder query plans (embedded PGlite)", () => {
  it("dispatches through the partial index and cleans up through the end_time index", async (t) => {
    const { sql } = (await sharedDatabase()).database;
    await seedPlanData(sql);
    await checkReminderPlans(sql, t);
  });
});

describe("embedded database", () => {
  let dataDir: string;
  before(async () => {
    dataDir = await tempDir();
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps events across a restart on the same data dir, one process at a time, migrating once", async () => {
    const userId = `user-${randomUUID()}`;
    const id = randomUUID();
    const fields = {
      title: "Survives restarts",
      start: new Date("2026-06-02T09:00:00.123Z"),
      durationMs: 3_600_000,
      description: "kept on disk",
      notifyBeforeMs: 60_000,
    };

    const first = await openEventStore(embeddedStorage(dataDir), logger);
    let created: unknown;
    try {
      const result = await first.store.createEvent(userId, id, fields);
      assert.ok(result.ok);
      created = result.value;
      // A second process on the same files would corrupt them: refused.
      await assert.rejects(openEventStore(embeddedStorage(dataDir), logger), DataDirInUseError);
    } finally {
      await first.close();
    }
    // A lock left behind by a process that died is taken over.
    await writeFile(join(dataDir, "pglite.lock"), "999999999\n");

    const second = await openEventStore(embeddedStorage(dataDir), logger);
    try {
      const found = await second.store.getEvent(userId, id);
      assert.ok(found.ok);
      assert.deepEqual(found.value, created);

      // openEventStore migrated on each start; the second time found nothing to do.
      assert.ok(second.sql);
      assert.deepEqual(await runMigrations(second.sql, logger), { applied: [] });
      const recorded = await second.sql<{ version: number; name: string }[]>`
        select version, name from schema_migrations order by version`;
      assert.deepEqual(
        recorded.map((row) => ({ ...row })),
        [
          { version: 1, name: "0001_events" },
          { version: 2, name: "0002_reminder_dispatch" },
        ],
      );
    } finally {
      await second.close();
    }
  });
});

describe("embedded data dir lock", () => {
  it("refuses a data dir that another live process holds", async () => {
    const dataDir = await tempDir();
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"]);
    try {
      await mkdir(join(dataDir, "pglite"), { recursive: true });
      await writeFile(join(dataDir, "pglite.lock"), `${holder.pid}\n`);
      await assert.rejects(
        openEventStore(embeddedStorage(dataDir), logger),
        new RegExp(`in use by process ${holder.pid}`),
      );
    } finally {
      holder.kill();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("connecting", () => {
  it("retries an unreachable database, never logs its password, then gives up clearly", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const captured = pino({ level: "debug" }, sink);
    // Port 9 (discard) on loopback: nothing listens there, so ECONNREFUSED.
    const url = "postgres://calendar:s3cret-password@127.0.0.1:9/calendar";
    const started = performance.now();
    await assert.rejects(
      connectWithRetry(url, serverPoolOptions(captured, 1), 1_500, captured),
      (error: unknown) => {
        assert.ok(error instanceof DatabaseConnectError);
        assert.match(error.message, /not reachable after \d+ attempt/);
        assert.match(error.message, /127\.0\.0\.1:9/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
    assert.ok(performance.now() - started < 8_000, "gave up within the timeout");
    const warnings = lines.map((line) => JSON.parse(line)).filter((l) => l.level === 40);
    assert.ok(warnings.length >= 2, `expected several attempts, got ${warnings.length}`);
    assert.equal(warnings[0].msg, "database not reachable yet");
    assert.equal(warnings[0].attempt, 1);
    assert.equal(typeof warnings[0].nextRetryMs, "number");
    assert.equal(warnings[0].url, "postgres://calendar:***@127.0.0.1:9/calendar");
    for (const line of lines) assert.doesNotMatch(line, /s3cret/);
  });
});

// The reminder query plans are checked on a table like a live one: years of
// history whose reminders were sent or skipped, a little still pending.
const PLAN_NOW = new Date("2027-01-15T00:00:00Z");
const PLAN_CUTOFF = new Date("2026-01-15T00:00:00Z");

/**
 * 20 users with a daily event from 2025-01-01 to 2027-01-21, each with a
 * reminder: sent before 2027-01-10 (every seventh one skipped), pending from then on.
 */
async function seedPlanData(sql: Sql): Promise<void> {
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
async function checkReminderPlans(
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
