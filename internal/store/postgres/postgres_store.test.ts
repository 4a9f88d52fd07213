// The Postgres store against the embedded PGlite: needs no server, so it is
// part of `npm test`. The same store against a real server is in
// postgres_store.integration.test.ts.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { silentLogger } from "../../log/logger.js";
import { capturingLogger } from "../../log/testing/capturing_logger.js";
import { openEventStore } from "../open.js";
import { runEventStoreContract } from "../testing/contract.js";
import { runFeedStoreContract } from "../testing/feed_contract.js";
import { runFeedRowsContract } from "../testing/feed_rows_contract.js";
import { runReminderStoreContract } from "../testing/reminder_contract.js";
import { runSeriesContract } from "../testing/series_contract.js";
import { runSyncStoreContract } from "../testing/sync_contract.js";
import {
  connectWithRetry,
  type Database,
  DatabaseConnectError,
  openDatabase,
  serverPoolOptions,
} from "./connect.js";
import { DataDirInUseError } from "./dir_lock.js";
import { PostgresFeedStore } from "./feed_store.js";
import { runMigrations } from "./migrate.js";
import { migrations } from "./migrations/index.js";
import { PostgresEventStore } from "./postgres_store.js";
import { checkReminderPlans, seedPlanData } from "./testing/reminder_plans.js";
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
  return {
    store: new PostgresEventStore(database.sql, { clock, endIdleTransactions: false }),
    dispose: async () => {},
  };
});

runFeedStoreContract("postgres (embedded PGlite)", async () => {
  const { database } = await sharedDatabase();
  return {
    feeds: new PostgresFeedStore(database.sql, { endIdleTransactions: false }),
    dispose: async () => {},
  };
});

runSyncStoreContract("postgres (embedded PGlite)", async (clock) => {
  const { database } = await sharedDatabase();
  return { store: new PostgresEventStore(database.sql, { clock }), dispose: async () => {} };
});

runPostgresStoreChecks("embedded PGlite", async () => (await sharedDatabase()).database.sql);

runFeedRowsContract("postgres (embedded PGlite)", async (clock) => {
  const { database } = await sharedDatabase();
  return { store: new PostgresEventStore(database.sql, { clock }), dispose: async () => {} };
});

runSeriesContract("postgres (embedded PGlite)", async (clock) => {
  const { database } = await sharedDatabase();
  const store = new PostgresEventStore(database.sql, { clock });
  return { events: store, reminders: store, dispose: async () => {} };
});

// Dispatch and cleanup act on the whole table, so each test of this contract
// starts from an empty one. PGlite has a single database and session, hence
// no schema of its own as on a server: the shared table is emptied instead.
// That is harmless to the other suites, which run one after another in this
// file and each create their own rows in their own tests.
runReminderStoreContract("postgres (embedded PGlite)", async (clock) => {
  const { sql } = (await sharedDatabase()).database;
  await sql`truncate events, reminders`;
  const store = new PostgresEventStore(sql, { clock, endIdleTransactions: false });
  return { events: store, reminders: store, dispose: async () => {} };
});

describe("reminder query plans (embedded PGlite)", () => {
  it("claims through the reminders index, marks reminders rows only, cleans up through the end_time index", async (t) => {
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

    const firstLog = capturingLogger();
    const first = await openEventStore(embeddedStorage(dataDir), firstLog.logger);
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

    const secondLog = capturingLogger();
    const second = await openEventStore(embeddedStorage(dataDir), secondLog.logger);
    try {
      const found = await second.store.getEvent(userId, id);
      assert.ok(found.ok);
      assert.deepEqual(found.value, created);

      // openEventStore migrates on each start: the first applied every
      // migration, the second found them recorded and applied none again.
      const appliedBy = (lines: Record<string, unknown>[]) =>
        lines.filter((line) => line.msg === "migration applied").map((line) => line.migration);
      assert.deepEqual(
        appliedBy(firstLog.lines),
        migrations.map((m) => m.name),
      );
      assert.deepEqual(appliedBy(secondLog.lines), []);
      assert.ok(second.sql);
      const recorded = await second.sql<{ version: number; name: string }[]>`
        select version, name from schema_migrations order by version`;
      assert.deepEqual(
        recorded.map((row) => ({ ...row })),
        migrations.map(({ version, name }) => ({ version, name })),
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

describe("an uncaught exception in a process with the database open", () => {
  it("is fatal: the store installs no handler that would keep the process running", async () => {
    const dataDir = await tempDir();
    try {
      const script = fileURLToPath(new URL("./testing/uncaught_after_open.ts", import.meta.url));
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          execFile(
            process.execPath,
            ["--import", "tsx", script, dataDir],
            { timeout: 180_000 },
            (error, stdout, stderr) =>
              resolve({
                code: error ? ((error as { code?: number }).code ?? null) : 0,
                stdout,
                stderr,
              }),
          );
        },
      );
      const opened = result.stdout.split("\n").find((line) => line.startsWith("{"));
      assert.ok(opened, `the database did not open:\n${result.stdout}${result.stderr}`);
      const { listenersBefore, listenersAfter } = JSON.parse(opened);
      assert.equal(
        listenersAfter,
        listenersBefore,
        "opening the database added an uncaughtException listener",
      );
      assert.equal(result.code, 1, `the process ran on or exited otherwise:\n${result.stderr}`);
      assert.match(result.stderr, /a bug nobody caught/);
    } finally {
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
