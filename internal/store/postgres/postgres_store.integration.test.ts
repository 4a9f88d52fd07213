// The Postgres store against a real server (npm run test:integration):
//   DATABASE_URL=postgres://root@127.0.0.1:5432/test npx tsx --test <this file>
// Each run works in schemas of its own (cal_test_<random>...), dropped at the
// end, so runs never see each other's tables or the database's own.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import postgres, { type Sql } from "postgres";
import { occurrenceId } from "../../domain/recurrence.js";
import { silentLogger } from "../../log/logger.js";
import { type DueReminder, StoreUnavailableError } from "../store.js";
import { ManualClock, runEventStoreContract } from "../testing/contract.js";
import { runFeedStoreContract } from "../testing/feed_contract.js";
import { runFeedRowsContract } from "../testing/feed_rows_contract.js";
import { runReminderStoreContract } from "../testing/reminder_contract.js";
import { runSeriesContract } from "../testing/series_contract.js";
import { runSyncStoreContract } from "../testing/sync_contract.js";
import { connectWithRetry, DatabaseConnectError, serverPoolOptions } from "./connect.js";
import { isConnectionError } from "./errors.js";
import { PostgresFeedStore } from "./feed_store.js";
import { type Migration, MigrationError, runMigrations } from "./migrate.js";
import { migration0001 } from "./migrations/0001_events.js";
import { migrations } from "./migrations/index.js";
import { DEFAULT_CALL_TIMEOUT_MS, PostgresEventStore } from "./postgres_store.js";
import { PostgresReminderStore } from "./reminder_store.js";
import { instant } from "./rows.js";
import { checkReminderPlans, seedPlanData } from "./testing/reminder_plans.js";
import { schemaPool } from "./testing/schema_pool.js";
import { runPostgresStoreChecks } from "./testing/store_checks.js";
import { runSyncOrderingChecks } from "./testing/sync_ordering.js";
import { TcpProxy } from "./testing/tcp_proxy.js";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  throw new Error(
    "DATABASE_URL is not set. The integration tests need a Postgres server with the " +
      "btree_gist extension available, e.g. " +
      "DATABASE_URL=postgres://root@127.0.0.1:5432/test npm run test:integration",
  );
}
const url: string = databaseUrl;
const logger = silentLogger();
const runId = randomBytes(4).toString("hex");

// Connections for housekeeping: creating and dropping the test schemas.
const admin = postgres(url, { max: 1, onnotice: () => {} });
const schemas: string[] = [];
const pools: Sql[] = [];

const schemaName = (label: string) => `cal_test_${runId}_${label}`;

/** A fresh, empty schema, first on the search_path of every pool opened for it. */
async function newSchema(label: string): Promise<string> {
  const schema = schemaName(label);
  await admin`create schema ${admin(schema)}`;
  schemas.push(schema);
  return schema;
}

/**
 * A pool whose connections look in `schema` first, then in public, where
 * btree_gist lives (see the root before hook).
 */
function pool(schema: string, max = 10, target = url, statementTimeoutMs?: number): Sql {
  const sql = schemaPool(target, schema, max, statementTimeoutMs);
  pools.push(sql);
  return sql;
}

before(async () => {
  // An extension belongs to the whole database but its objects to one schema.
  // Installed into a per-run schema, it would vanish with that schema while
  // other runs rely on it: put it in public once, for everyone.
  await admin`create extension if not exists btree_gist with schema public`;
});

after(async () => {
  await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })));
  for (const schema of schemas) await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

// The schema the contract suite and the checks on its data use.
const mainSchema = schemaName("main");
let mainSql: Promise<Sql> | undefined;
function mainPool(): Promise<Sql> {
  mainSql ??= (async () => {
    const sql = pool(await newSchema("main"));
    await runMigrations(sql, logger);
    return sql;
  })();
  return mainSql;
}

// The api's pool of one-statement calls on the same schema (connect.ts).
let mainStatementsSql: Sql | undefined;
async function mainStatements(): Promise<{ statements: Sql }> {
  await mainPool();
  mainStatementsSql ??= pool(mainSchema, 10, url, DEFAULT_CALL_TIMEOUT_MS);
  return { statements: mainStatementsSql };
}

runEventStoreContract("postgres (server)", async (clock) => {
  const store = new PostgresEventStore(await mainPool(), { clock, ...(await mainStatements()) });
  // The pool is shared with the tests below and ended in the root after hook.
  return { store, dispose: async () => {} };
});

runFeedStoreContract("postgres (server)", async () => ({
  feeds: new PostgresFeedStore(await mainPool(), await mainStatements()),
  dispose: async () => {},
}));

runPostgresStoreChecks("server", mainPool);

runFeedRowsContract("postgres (server)", async (clock) => {
  const store = new PostgresEventStore(await mainPool(), { clock, ...(await mainStatements()) });
  return { store, dispose: async () => {} };
});

runSeriesContract("postgres (server)", async (clock) => {
  const store = new PostgresEventStore(await mainPool(), { clock, ...(await mainStatements()) });
  return { events: store, reminders: store, dispose: async () => {} };
});

runSyncStoreContract("postgres (server)", async (clock) => {
  const store = new PostgresEventStore(await mainPool(), { clock, ...(await mainStatements()) });
  return { store, dispose: async () => {} };
});
runSyncOrderingChecks("server", async (max) => {
  await mainPool(); // migrates the schema
  return pool(mainSchema, max);
});

// Dispatch and cleanup act on the whole table: the reminder contract gets a
// schema of its own, emptied before each of its tests.
let reminderSql: Promise<Sql> | undefined;
runReminderStoreContract("postgres (server)", async (clock) => {
  reminderSql ??= (async () => {
    const sql = pool(await newSchema("reminders"));
    await runMigrations(sql, logger);
    return sql;
  })();
  const sql = await reminderSql;
  await sql`truncate events, reminders`;
  const store = new PostgresEventStore(sql, { clock });
  return { events: store, reminders: store, dispose: async () => {} };
});

const HOUR = 3_600_000;

function event(start: string, durationMs: number) {
  return {
    title: "Meeting",
    start: new Date(start),
    durationMs,
    description: undefined,
    notifyBeforeMs: undefined,
  };
}

describe("the constraints as the backstop", () => {
  // A writer that bypasses the store, and so its per-user lock, holds an
  // uncommitted row while the store creates an event. The store's checks
  // cannot see that row; its insert waits on it and fails once the row is
  // committed (23P01 / 23505). The store must then answer as if it had seen
  // the row in the first place, and never throw.
  async function createBehindBypassingWriter(rawId: string, storeId: string) {
    const sql = await mainPool();
    const store = new PostgresEventStore(sql, { clock: new ManualClock().read });
    const bypassing = pool(mainSchema, 1);
    const user = `user-${randomUUID()}`;
    let created: ReturnType<typeof store.createEvent> | undefined;
    await bypassing.begin(async (tx) => {
      await tx`
        insert into events (user_id, id, title, start_time, end_time,
                            created_at, updated_at, version)
        values (${user}, ${rawId}, 'Meeting', '2026-08-01T09:00:00Z', '2026-08-01T10:00:00Z',
                now(), now(), 1)`;
      created = store.createEvent(user, storeId, event("2026-08-01T09:00:00Z", HOUR));
      // Time for the store's insert to start waiting on our row; then commit.
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    assert.ok(created);
    const result = await created;
    const [row] = await sql<{ count: number }[]>`
      select count(*)::int as count from events where user_id = ${user}`;
    return { result, rows: row?.count };
  }

  it("answers an exclusion violation with Overlap naming the committed event", async () => {
    const rawId = randomUUID();
    const { result, rows } = await createBehindBypassingWriter(rawId, randomUUID());
    assert.deepEqual(result, { ok: false, error: { kind: "overlap", conflictingId: rawId } });
    assert.equal(rows, 1);
  });

  it("answers a unique violation with the committed event (same content)", async () => {
    const id = randomUUID();
    const { result, rows } = await createBehindBypassingWriter(id, id);
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.id, id);
    assert.equal(result.value.title, "Meeting");
    assert.equal(rows, 1);
  });
});

describe("migrations on a server", () => {
  async function tables(sql: Sql): Promise<string[]> {
    const rows = await sql<{ name: string }[]>`
      select table_name as name from information_schema.tables
      where table_schema = current_schema() order by table_name`;
    return rows.map((row) => row.name);
  }

  it("applies each version once, however often and however concurrently it runs", async () => {
    const schema = await newSchema("concurrent");
    const runners = [pool(schema, 1), pool(schema, 1), pool(schema, 1)];
    const results = await Promise.all(runners.map((sql) => runMigrations(sql, logger)));
    // Each migration is one transaction under the runners' lock, so two
    // runners may share the work (one applies 0001, another 0002); what
    // matters is that each version is applied exactly once.
    const appliedBy = results.map((r) => r.applied);
    assert.deepEqual(
      appliedBy.flat().sort(),
      [
        "0001_events",
        "0002_reminder_dispatch",
        "0003_recurring_events",
        "0004_sync",
        "0005_feed_secrets",
        "0006_sync_occurrences",
        "0007_reminders",
        "0008_sync_series_resets",
        "0009_fast_write_lock",
      ],
      JSON.stringify(appliedBy),
    );

    const [first] = runners;
    assert.ok(first);
    assert.deepEqual(await runMigrations(first, logger), { applied: [] });
    const recorded = await first<{ version: number; name: string; checksum: string }[]>`
      select version, name, checksum from schema_migrations`;
    assert.deepEqual(recorded.map((row) => row.name).sort(), [
      "0001_events",
      "0002_reminder_dispatch",
      "0003_recurring_events",
      "0004_sync",
      "0005_feed_secrets",
      "0006_sync_occurrences",
      "0007_reminders",
      "0008_sync_series_resets",
      "0009_fast_write_lock",
    ]);
    for (const row of recorded) assert.match(row.checksum, /^[0-9a-f]{64}$/);
    assert.deepEqual(await tables(first), [
      "event_changes",
      "events",
      "feed_key",
      "feed_secrets",
      "reminders",
      "schema_migrations",
      "sync_users",
    ]);
  });

  it("numbers each series' exceptions after the series when upgrading to 0008", async () => {
    const sql = pool(await newSchema("series_resets"), 1);
    await runMigrations(
      sql,
      logger,
      migrations.filter((m) => m.version < 8),
    );
    const store = new PostgresEventStore(sql, { clock: new ManualClock().read });
    const user = "user-a";
    const seriesId = randomUUID();
    const weekly = {
      ...event("2026-06-01T07:00:00Z", HOUR),
      recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"],
      timeZone: "UTC",
    };
    const created = await store.createEvent(user, seriesId, weekly);
    assert.ok(created.ok);
    const moved = occurrenceId(seriesId, new Date("2026-06-08T07:00:00Z"));
    const cancelled = occurrenceId(seriesId, new Date("2026-06-15T07:00:00Z"));
    assert.ok(
      (await store.updateEvent(user, moved, event("2026-06-09T10:00:00Z", HOUR), undefined)).ok,
    );
    assert.ok((await store.deleteEvent(user, cancelled)).ok);
    // Edited before 0008: the series is numbered after its exceptions.
    assert.ok((await store.updateEvent(user, seriesId, { ...weekly, title: "renamed" }, 1)).ok);
    const order = async () => {
      const page = await store.readChanges(user, 0, 100, "full");
      assert.ok(page.ok);
      return page.value.changes.map((c) => (c.kind === "upsert" ? c.event.id : c.id));
    };
    assert.deepEqual(await order(), [moved, cancelled, seriesId]);
    assert.deepEqual(await runMigrations(sql, logger), {
      applied: ["0008_sync_series_resets", "0009_fast_write_lock"],
    });
    assert.deepEqual(await order(), [seriesId, moved, cancelled]);
    const [counter] = await sql<{ last: string; top: string }[]>`
      select (select last_change from sync_users where user_id = ${user})::text as last,
             (select max(change) from event_changes where user_id = ${user})::text as top`;
    assert.equal(counter?.last, counter?.top, "the counter covers the new numbers");
  });

  it("leaves the schema as it was when a migration fails, and names the file", async () => {
    const sql = pool(await newSchema("failing"), 1);
    const broken: Migration = {
      version: 2,
      name: "0002_broken",
      sql: `
        create table half_done (x int);
        alter table events add column half_done int;
        select 1 / 0;`,
    };
    await assert.rejects(runMigrations(sql, logger, [migration0001, broken]), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.match(error.message, /migrations\/0002_broken\.ts failed/);
      assert.match(error.message, /division by zero/);
      return true;
    });
    // 0001 went through in its own transaction; nothing of 0002 did.
    assert.deepEqual(await tables(sql), ["events", "schema_migrations"]);
    const columns = await sql`
      select 1 from information_schema.columns
      where table_schema = current_schema() and table_name = 'events' and column_name = 'half_done'`;
    assert.equal(columns.length, 0);
    const versions = await sql<{ version: number }[]>`select version from schema_migrations`;
    assert.deepEqual(
      versions.map((row) => row.version),
      [1],
    );

    // A fixed migration 2 then applies normally.
    const fixed: Migration = {
      ...broken,
      name: "0002_fixed",
      sql: "create table half_done (x int)",
    };
    assert.deepEqual(await runMigrations(sql, logger, [migration0001, fixed]), {
      applied: ["0002_fixed"],
    });
  });

  it("refuses to run when an applied migration was edited", async () => {
    const sql = pool(await newSchema("edited"), 1);
    await runMigrations(sql, logger);
    const edited: Migration = { ...migration0001, sql: `${migration0001.sql}\n-- edited` };
    await assert.rejects(runMigrations(sql, logger, [edited]), /0001_events\.ts was changed/);
  });
});

describe("connecting to a server", () => {
  it("gives up at once, without retrying, when the database does not exist", async () => {
    const target = new URL(url);
    target.pathname = `/no_such_database_${runId}`;
    const started = performance.now();
    await assert.rejects(
      connectWithRetry(target.toString(), serverPoolOptions(logger, 1), 30_000, logger),
      (error: unknown) => {
        assert.ok(error instanceof DatabaseConnectError);
        assert.match(error.message, /refused the connection: database .* does not exist/);
        return true;
      },
    );
    assert.ok(performance.now() - started < 2_000);
  });
});

describe("an outage between the store and the server", () => {
  it("fails calls fast with StoreUnavailableError, then recovers without reopening", async () => {
    const schema = await newSchema("outage");
    const direct = new URL(url);
    const proxy = new TcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.start();
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    try {
      const sql = pool(schema, 4, viaProxy.toString());
      await runMigrations(sql, logger);
      const store = new PostgresEventStore(sql);
      const user = `user-${randomUUID()}`;
      const created = await store.createEvent(
        user,
        randomUUID(),
        event("2026-07-01T09:00:00Z", HOUR),
      );
      assert.ok(created.ok);

      // A query in flight when the connection drops.
      const inFlight = sql`select pg_sleep(10)`.then(
        () => assert.fail("pg_sleep should have been cut off"),
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await proxy.stop();
      assert.ok(isConnectionError(await inFlight), "a dropped query counts as unavailable");

      const calls = everyStoreCall(store, user, created.value.id, randomUUID());
      for (const [name, call] of calls) {
        const started = performance.now();
        await assert.rejects(call(), StoreUnavailableError, `${name} during the outage`);
        const ms = performance.now() - started;
        assert.ok(ms < 3_000, `${name} took ${Math.round(ms)} ms to fail`);
      }

      await proxy.start();
      const started = performance.now();
      let recovered = false;
      while (!recovered && performance.now() - started < 5_000) {
        recovered = await store.ping().then(
          () => true,
          () => false,
        );
        if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(recovered, "the store works again once the database is back");
      const found = await store.getEvent(user, created.value.id);
      assert.ok(found.ok);
      assert.deepEqual(await store.listEvents(user, JULY_FIRST, 10), [found.value]);
    } finally {
      await proxy.stop();
    }
  });
});

describe("a server that ends a connection inside a transaction", () => {
  it("leaves the process running and the pool working (patched postgres.js defect)", async () => {
    // In a process of its own: the defect is an uncaught exception, which
    // node:test would claim for itself.
    const script = fileURLToPath(
      new URL("./testing/terminated_in_transaction.ts", import.meta.url),
    );
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", script],
        { env: { ...process.env, DATABASE_URL: url }, timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error ? ((error as { code?: number }).code ?? 1) : 0,
            output: `${stdout}${stderr}`,
          }),
      );
    });
    const rounds = result.output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { answered: boolean; cutOff: boolean });
    assert.equal(result.code, 0, `the process failed or crashed:\n${result.output}`);
    assert.equal(rounds.length, 3, result.output);
    for (const round of rounds) {
      assert.deepEqual(
        { cutOff: round.cutOff, answered: round.answered },
        { cutOff: true, answered: true },
      );
    }
  });
});

describe("a database that stops answering (packets black-holed)", () => {
  it("answers StoreUnavailableError within the call timeout, then recovers when it heals", async () => {
    const schema = await newSchema("blackhole");
    const direct = new URL(url);
    const proxy = new TcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    await proxy.start();
    const viaProxy = new URL(url);
    viaProxy.port = String(proxy.port);
    try {
      const sql = pool(schema, 4, viaProxy.toString());
      await runMigrations(sql, logger);
      const callTimeoutMs = 1000;
      const store = new PostgresEventStore(sql, { callTimeoutMs });
      const user = `user-${randomUUID()}`;
      const created = await store.createEvent(
        user,
        randomUUID(),
        event("2026-07-01T09:00:00Z", HOUR),
      );
      assert.ok(created.ok);

      // Connections stay open and silent; new ones are accepted and never answered.
      proxy.blackhole();
      const lateId = randomUUID();
      const calls = everyStoreCall(store, user, created.value.id, lateId);
      // All at once, more than the pool has connections: the ones queued for
      // a connection are bounded too.
      await Promise.all(
        [...calls, ...calls].map(async ([name, call]) => {
          const started = performance.now();
          await assert.rejects(call(), StoreUnavailableError, `${name} while black-holed`);
          const ms = performance.now() - started;
          assert.ok(
            ms < callTimeoutMs + 1000,
            `${name} took ${Math.round(ms)} ms to fail (timeout ${callTimeoutMs})`,
          );
        }),
      );

      proxy.heal();
      const started = performance.now();
      let recovered = false;
      while (!recovered && performance.now() - started < 10_000) {
        recovered = await store.ping().then(
          () => true,
          () => false,
        );
        if (!recovered) await sleep(100);
      }
      assert.ok(recovered, "the store works again once the network heals");
      const found = await store.getEvent(user, created.value.id);
      assert.ok(found.ok);
      // The create that timed out did not go through once the network
      // healed: its caller was told UNAVAILABLE, and nothing of a call is
      // sent, let alone committed, after its deadline (call_deadline.ts).
      const late = await store.getEvent(user, lateId);
      assert.deepEqual(late, { ok: false, error: { kind: "not_found", id: lateId } });
      // Repeating it creates it, as a retrying client would.
      const retried = await store.createEvent(user, lateId, event("2026-07-01T12:00:00Z", HOUR));
      assert.ok(retried.ok);
      assert.equal(retried.value.id, lateId);
      // The calls given up on while black-holed finish on the healed network;
      // let them, rather than cut their connections mid-transaction below
      // (patches/postgres+3.4.9.patch is about that case).
      await sql.end({ timeout: 5 });
    } finally {
      await proxy.stop();
    }
  });
});

describe("reminder dispatch on a server", () => {
  const MINUTE = 60_000;
  const now = new Date("2026-09-01T12:00:00.000Z");

  /** A migrated schema of its own, with a store on a pool of its own. */
  async function freshStore(label: string) {
    const schema = await newSchema(label);
    const sql = pool(schema, 4);
    await runMigrations(sql, logger);
    return { schema, sql, store: new PostgresEventStore(sql, { clock: new ManualClock().read }) };
  }

  /** One event with a reminder due 10 minutes before `now`, starting an hour after it. */
  async function dueEvent(store: PostgresEventStore, startOffsetMs = HOUR) {
    const created = await store.createEvent(`user-${randomUUID()}`, randomUUID(), {
      ...event(new Date(now.getTime() + startOffsetMs).toISOString(), HOUR),
      notifyBeforeMs: startOffsetMs + 10 * MINUTE,
    });
    assert.ok(created.ok);
    return created.value;
  }

  /** Starts a dispatch whose publish waits for `release()`; resolves once publish has the batch. */
  async function heldDispatch(store: PostgresEventStore) {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let handed: (batch: DueReminder[]) => void = () => {};
    const batch = new Promise<DueReminder[]>((resolve) => {
      handed = resolve;
    });
    const result = store.dispatchDueReminders(now, 100, async (due) => {
      handed(due);
      await released;
      return due;
    });
    return { batch: await batch, release, result };
  }

  it("scans, marks and cleans up through indexes", async (t) => {
    const { sql } = await freshStore("plans");
    await seedPlanData(sql);
    await checkReminderPlans(sql, t);
  });

  it("publishes each of 200 reminders once between two schedulers on two pools", async () => {
    const { schema, store } = await freshStore("two_schedulers");
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await dueEvent(store)).id);
    // Two pools: two processes, as far as the database can tell.
    const schedulers = [
      new PostgresReminderStore(pool(schema, 2)),
      new PostgresReminderStore(pool(schema, 2)),
    ];
    const published: string[] = [];
    const run = async (scheduler: PostgresReminderStore) => {
      let sent = 0;
      for (;;) {
        const result = await scheduler.dispatchDueReminders(now, 10, async (due) => {
          await sleep(5);
          published.push(...due.map((r) => r.eventId));
          return due;
        });
        sent += result.sent;
        if (result.claimed === 0) return sent;
      }
    };
    const sent = await Promise.all(schedulers.map(run));
    assert.equal(published.length, 200);
    assert.deepEqual(new Set(published), ids);
    assert.ok(
      sent.every((n) => n > 0),
      `both schedulers took part: ${sent.join(" + ")}`,
    );
    const [pending] = await pool(schema, 1)<{ count: number }[]>`
      select count(*)::int as count from reminders`;
    assert.equal(pending?.count, 0);
  });

  it("makes an update of a claimed event wait for the dispatch, then re-arms it", async () => {
    const { store } = await freshStore("update_waits");
    const claimed = await dueEvent(store);
    const held = await heldDispatch(store);
    assert.deepEqual(
      held.batch.map((r) => r.eventId),
      [claimed.id],
    );
    const moved = { ...event("2026-09-02T09:00:00Z", HOUR), notifyBeforeMs: 15 * MINUTE };
    let updated = false;
    const updating = store.updateEvent(claimed.userId, claimed.id, moved, undefined).then((r) => {
      updated = true;
      return r;
    });
    await sleep(300);
    assert.equal(updated, false, "the update waits on the row the dispatch holds");
    held.release();
    assert.deepEqual(await held.result, { claimed: 1, sent: 1, skipped: 0 });
    assert.ok((await updating).ok);
    // The update came after the mark, so it re-armed the reminder.
    const again = await store.dispatchDueReminders(
      new Date("2026-09-02T08:45:00Z"),
      100,
      async (due) => due,
    );
    assert.deepEqual(again, { claimed: 1, sent: 1, skipped: 0 });
  });

  it("lets a second scheduler and the cleanup pass over claimed rows without waiting", async () => {
    const { schema, store } = await freshStore("skip_locked");
    const claimed = await dueEvent(store);
    const free = await dueEvent(store, 2 * HOUR);
    const held = await heldDispatch(store);
    assert.deepEqual(held.batch.map((r) => r.eventId).sort(), [claimed.id, free.id].sort());
    const other = new PostgresReminderStore(pool(schema, 1));
    try {
      const started = performance.now();
      assert.deepEqual(await other.dispatchDueReminders(now, 100, async (due) => due), {
        claimed: 0,
        sent: 0,
        skipped: 0,
      });
      // Both events ended before this (made-up) cutoff, but both are held.
      assert.equal(await other.deleteEventsEndedBefore(new Date("2027-01-01T00:00:00Z"), 10), 0);
      assert.ok(performance.now() - started < 1_000, "neither waited for the dispatch");
    } finally {
      held.release();
    }
    assert.deepEqual(await held.result, { claimed: 2, sent: 2, skipped: 0 });
    assert.equal(await other.deleteEventsEndedBefore(new Date("2027-01-01T00:00:00Z"), 10), 2);
  });

  it("keeps the pending reminders of a database migrated from 0001", async () => {
    const sql = pool(await newSchema("upgrade"), 1);
    await runMigrations(sql, logger, [migration0001]);
    await sql`
      insert into events (user_id, id, title, start_time, end_time, notify_before_ms, notify_at,
                          reminder_sent_at, created_at, updated_at, version)
      values ('user-a', ${randomUUID()}, 'pending', ${instant(sql, new Date("2026-09-01T13:00:00Z"))},
              ${instant(sql, new Date("2026-09-01T14:00:00Z"))}, 600000,
              ${instant(sql, new Date("2026-09-01T12:50:00Z"))}, null, now(), now(), 1),
             ('user-a', ${randomUUID()}, 'sent', ${instant(sql, new Date("2026-09-01T15:00:00Z"))},
              ${instant(sql, new Date("2026-09-01T16:00:00Z"))}, 9000000,
              ${instant(sql, new Date("2026-09-01T12:30:00Z"))}, now(), now(), now(), 1)`;
    assert.deepEqual(await runMigrations(sql, logger), {
      applied: [
        "0002_reminder_dispatch",
        "0003_recurring_events",
        "0004_sync",
        "0005_feed_secrets",
        "0006_sync_occurrences",
        "0007_reminders",
        "0008_sync_series_resets",
        "0009_fast_write_lock",
      ],
    });
    const store = new PostgresReminderStore(sql);
    const titles: string[] = [];
    const result = await store.dispatchDueReminders(
      new Date("2026-09-01T12:55:00Z"),
      10,
      async (due) => {
        titles.push(...due.map((r) => r.title));
        return due;
      },
    );
    assert.deepEqual(result, { claimed: 1, sent: 1, skipped: 0 });
    assert.deepEqual(titles, ["pending"]);
  });
  it("moves exactly the pending reminders of a database at 0006 into the reminders table", async () => {
    const sql = pool(await newSchema("backfill"), 1);
    await runMigrations(sql, logger, migrations.slice(0, 6));
    const ids = { pending: randomUUID(), sent: randomUUID(), skipped: randomUUID() };
    const series = { pending: randomUUID(), done: randomUUID() };
    const at = (iso: string) => instant(sql, new Date(iso));
    await sql`
      insert into events (user_id, id, title, start_time, end_time, notify_before_ms, notify_at,
                          reminder_sent_at, reminder_skipped_at, created_at, updated_at, version)
      values ('user-b', ${ids.pending}, 'pending', ${at("2026-09-01T13:00:00Z")},
              ${at("2026-09-01T14:00:00Z")}, 600000, ${at("2026-09-01T12:50:00Z")},
              null, null, now(), now(), 1),
             ('user-b', ${ids.sent}, 'sent', ${at("2026-09-02T13:00:00Z")},
              ${at("2026-09-02T14:00:00Z")}, 600000, ${at("2026-09-02T12:50:00Z")},
              now(), null, now(), now(), 1),
             ('user-b', ${ids.skipped}, 'skipped', ${at("2026-09-03T13:00:00Z")},
              ${at("2026-09-03T14:00:00Z")}, 600000, ${at("2026-09-03T12:50:00Z")},
              null, now(), now(), now(), 1)`;
    await sql`
      insert into events (user_id, id, title, start_time, end_time, notify_before_ms, notify_at,
                          created_at, updated_at, version, recurrence, time_zone, duration_ms)
      values ('user-b', ${series.pending}, 'series', ${at("2026-10-01T08:00:00Z")}, 'infinity',
              600000, ${at("2026-10-05T07:50:00Z")}, now(), now(), 1,
              array['RRULE:FREQ=DAILY'], 'UTC', 3600000),
             ('user-b', ${series.done}, 'series done', ${at("2025-10-01T08:00:00Z")},
              ${at("2025-10-03T09:00:00Z")}, 600000, 'infinity', now(), now(), 1,
              array['RRULE:FREQ=DAILY;COUNT=3'], 'UTC', 3600000)`;
    assert.deepEqual(await runMigrations(sql, logger), {
      applied: ["0007_reminders", "0008_sync_series_resets", "0009_fast_write_lock"],
    });
    const rows = await sql<{ event_id: string; due: string }[]>`
      select event_id::text as event_id,
             to_char(notify_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI') as due
      from reminders order by notify_at`;
    assert.deepEqual(
      [...rows],
      [
        { event_id: ids.pending, due: "2026-09-01T12:50" },
        { event_id: series.pending, due: "2026-10-05T07:50" },
      ],
    );
  });
});

/**
 * One call of every EventStore method (and ping) for `user`, whose event
 * `existingId` is stored on 2026-07-01 09:00; the create uses `newId`.
 */
function everyStoreCall(
  store: PostgresEventStore,
  user: string,
  existingId: string,
  newId: string,
): [string, () => Promise<unknown>][] {
  return [
    ["getEvent", () => store.getEvent(user, existingId)],
    ["createEvent", () => store.createEvent(user, newId, event("2026-07-01T12:00:00Z", HOUR))],
    [
      "updateEvent",
      () => store.updateEvent(user, existingId, event("2026-07-01T09:00:00Z", HOUR), undefined),
    ],
    ["deleteEvent", () => store.deleteEvent(user, randomUUID())],
    ["listEvents", () => store.listEvents(user, JULY_FIRST, 10)],
    ["ping", () => store.ping()],
  ];
}

/** The day of the events everyStoreCall works on. */
const JULY_FIRST = {
  start: new Date("2026-07-01T00:00:00Z"),
  end: new Date("2026-07-02T00:00:00Z"),
};
