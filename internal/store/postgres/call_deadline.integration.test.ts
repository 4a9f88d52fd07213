// The store's call deadline against a real server (npm run test:integration):
// past the deadline the caller is answered UNAVAILABLE, and the database has
// ended the call's work: no statement of it still runs, no lock of it is
// still held, and a write it was told failed never commits.
//   DATABASE_URL=postgres://root@127.0.0.1:5432/test npx tsx --test <this file>
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import postgres, { type Sql } from "postgres";
import type { EventFields } from "../../domain/event.js";
import { silentLogger } from "../../log/logger.js";
import { StoreUnavailableError } from "../store.js";
import { CallDeadline, inPipelinedTransaction, inReadTransaction } from "./call_deadline.js";
import { serverPoolOptions, statementPoolOptions } from "./connect.js";
import { runMigrations } from "./migrate.js";
import { PostgresEventStore } from "./postgres_store.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is not set (see the first lines of this file)");
const logger = silentLogger();
const schema = `cal_test_${randomBytes(4).toString("hex")}_deadline`;
const admin = postgres(url, { max: 1, onnotice: () => {} });
const pools: Sql[] = [];

/**
 * A pool on the test schema whose backends carry `applicationName`; with
 * `statementTimeoutMs`, a pool of one-statement calls as the api opens it
 * (statementPoolOptions).
 */
function pool(applicationName: string, max = 4, statementTimeoutMs?: number): Sql {
  const server = serverPoolOptions(logger, max);
  const options =
    statementTimeoutMs === undefined ? server : statementPoolOptions(server, statementTimeoutMs);
  const sql = postgres(url as string, {
    ...options,
    connection: {
      ...options.connection,
      application_name: applicationName,
      search_path: `${schema},public`,
    },
  });
  pools.push(sql);
  return sql;
}

before(async () => {
  await admin`create extension if not exists btree_gist with schema public`;
  await admin`create schema ${admin(schema)}`;
  await runMigrations(pool(`cal_test_migrate_${process.pid}`, 1), logger);
});

after(async () => {
  await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })));
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

/**
 * Holds an ACCESS EXCLUSIVE lock on the events table until release() is
 * called: every statement that reads or writes it waits meanwhile.
 */
async function lockEventsTable(): Promise<{ release(): Promise<void> }> {
  const holder = pool(`cal_test_holder_${process.pid}`, 1);
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const transaction = holder.begin(async (tx) => {
    await tx`lock table events in access exclusive mode`;
    locked();
    await released;
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await transaction;
    },
  };
}

/** What the backends of one pool are doing other than waiting for work. */
function busyBackends(applicationName: string) {
  return admin<{ state: string; query: string }[]>`
    select state, query from pg_stat_activity
    where application_name = ${applicationName} and state <> 'idle'`;
}

/**
 * Runs `reads` while the events table is locked: each is answered
 * UNAVAILABLE, and then nothing of them runs on the server.
 */
async function assertReadsEndAtDeadline(
  applicationName: string,
  reads: (() => Promise<unknown>)[],
): Promise<void> {
  const table = await lockEventsTable();
  try {
    await Promise.all(reads.map((read) => assert.rejects(read(), StoreUnavailableError)));
    assert.deepEqual(
      (await busyBackends(applicationName)).map((row) => ({ ...row })),
      [],
      "the read still runs on the server",
    );
  } finally {
    await table.release();
  }
}

const event = (startIso: string): EventFields => ({
  title: "deadline",
  start: new Date(startIso),
  durationMs: 3_600_000,
  description: undefined,
  notifyBeforeMs: undefined,
});

// Calls as the api runs them (one statement each on a pool of one-statement
// calls, where the call is one statement) and as the embedded database does
// (in transactions on the one pool).
const WAYS = ["one statement", "transaction"] as const;
type Way = (typeof WAYS)[number];

/** A store on pools whose backends carry `applicationName`, run `way`. */
function storeFor(
  applicationName: string,
  way: Way,
  callTimeoutMs: number,
  statementTimeoutMs = callTimeoutMs,
) {
  return new PostgresEventStore(pool(applicationName), {
    callTimeoutMs,
    ...(way === "one statement" && {
      statements: pool(applicationName, 4, statementTimeoutMs),
    }),
  });
}

describe("a store call past its deadline", () => {
  for (const way of WAYS) {
    it(`ends a create on the server, releases the user's lock, and never commits it (${way})`, async () => {
      const applicationName = `cal_test_deadline_create_${process.pid}`;
      const store = storeFor(applicationName, way, 500);
      const user = `user-${randomUUID()}`;
      const id = randomUUID();

      const table = await lockEventsTable();
      try {
        // Takes the user's lock, then waits on the table.
        await assert.rejects(
          store.createEvent(user, id, event("2026-07-01T09:00:00Z")),
          StoreUnavailableError,
        );
        assert.deepEqual(
          (await busyBackends(applicationName)).map((row) => ({ ...row })),
          [],
          "a statement of the call still runs (or its transaction is open) on the server",
        );
      } finally {
        await table.release();
      }

      // Were the create still waiting, it would go through now.
      const found = await store.getEvent(user, id);
      assert.deepEqual(found, { ok: false, error: { kind: "not_found", id } });
      // The user's lock went with it: the user's next write goes through.
      const next = await store.createEvent(user, randomUUID(), event("2026-07-01T12:00:00Z"));
      assert.ok(next.ok);
    });
  }

  // Reads as the api runs them (one statement on the pool of one-statement
  // calls) and as the embedded database does (a read-only transaction).
  for (const way of WAYS) {
    it(`ends a read on the server (${way})`, async () => {
      const applicationName = `cal_test_deadline_read_${process.pid}`;
      const store = storeFor(applicationName, way, 500);
      const window = {
        start: new Date("2026-07-01T00:00:00Z"),
        end: new Date("2026-07-02T00:00:00Z"),
      };
      await assertReadsEndAtDeadline(applicationName, [
        () => store.listEvents("someone", window, 10),
        () => store.getEvent("someone", randomUUID()),
      ]);
    });
  }

  it("cancels a read that started late, at the call's deadline", async () => {
    // The pool's statement_timeout counts from a statement's start: a read
    // that waited for a connection would run past the call's deadline on it
    // alone. Past the deadline, the call cancels it.
    const applicationName = `cal_test_deadline_late_${process.pid}`;
    const store = new PostgresEventStore(pool(applicationName), {
      callTimeoutMs: 500,
      statements: pool(applicationName, 1, 5_000), // a timeout far past the deadline
    });
    await assertReadsEndAtDeadline(applicationName, [
      () => store.getEvent("someone", randomUUID()),
    ]);
  });

  for (const way of WAYS) {
    it(`ends an update and a delete on the server, leaving the event as it was (${way})`, async () => {
      const applicationName = `cal_test_deadline_write_${process.pid}`;
      const store = storeFor(applicationName, way, 500);
      const user = `user-${randomUUID()}`;
      const created = await store.createEvent(user, randomUUID(), event("2026-07-03T09:00:00Z"));
      assert.ok(created.ok);
      const id = created.value.id;

      const table = await lockEventsTable();
      try {
        await assert.rejects(
          store.updateEvent(user, id, { ...event("2026-07-03T10:00:00Z"), title: "moved" }, 1),
          StoreUnavailableError,
        );
        await assert.rejects(store.deleteEvent(user, id), StoreUnavailableError);
        assert.deepEqual(
          (await busyBackends(applicationName)).map((row) => ({ ...row })),
          [],
        );
      } finally {
        await table.release();
      }
      assert.deepEqual(await store.getEvent(user, id), created);
    });
  }
});

describe("a read sent in one round trip", () => {
  it("runs inside its read-only transaction, limited to the time left", async () => {
    const sql = pool(`cal_test_deadline_order_${process.pid}`, 1);
    for (let round = 0; round < 3; round++) {
      const deadline = new CallDeadline(3000, { endIdleTransactions: true });
      const [settings] = await inReadTransaction(
        sql,
        deadline,
        (db) => db<{ readOnly: string; statementTimeout: string; idleTimeout: string }[]>`
          select current_setting('transaction_read_only') as "readOnly",
                 current_setting('statement_timeout') as "statementTimeout",
                 current_setting('idle_in_transaction_session_timeout') as "idleTimeout"`,
      );
      assert.equal(settings?.readOnly, "on");
      for (const value of [settings?.statementTimeout, settings?.idleTimeout]) {
        assert.match(value ?? "", /^[1-9]\d*(ms|s)$/, `limited to the time left: ${value}`);
      }
      // Nothing of it stays on the connection.
      const [after] = await sql<{ statementTimeout: string }[]>`
        select current_setting('statement_timeout') as "statementTimeout"`;
      assert.equal(after?.statementTimeout, "0");
    }
  });
});

describe("a write sent in one round trip", () => {
  it("runs in its transaction, limited to the time left, and commits", async () => {
    const sql = pool(`cal_test_deadline_write_order_${process.pid}`, 1);
    await sql`create temporary table if not exists written (n int)`;
    const deadline = new CallDeadline(3000, { endIdleTransactions: true });
    const [settings] = await inPipelinedTransaction(sql, deadline, (db) => {
      const inserted = db`insert into written values (1)`.execute();
      const read = db<{ readOnly: string; statementTimeout: string; inBlock: boolean }[]>`
        select current_setting('transaction_read_only') as "readOnly",
               current_setting('statement_timeout') as "statementTimeout",
               now() = statement_timestamp() as "inBlock"`.execute();
      return Promise.all([inserted, read]).then(([, rows]) => rows);
    });
    assert.equal(settings?.readOnly, "off");
    assert.match(settings?.statementTimeout ?? "", /^[1-9]\d*(ms|s)$/);
    // now() is the transaction's start: in a transaction block, the select
    // started after it.
    assert.equal(settings?.inBlock, false);
    const [after] = await sql<{ statementTimeout: string; rows: number }[]>`
      select current_setting('statement_timeout') as "statementTimeout",
             (select count(*)::int from written) as rows`;
    assert.deepEqual({ ...after }, { statementTimeout: "0", rows: 1 });
  });

  it("rolls back everything when a statement fails, and reports that failure", async () => {
    const sql = pool(`cal_test_deadline_write_fail_${process.pid}`, 1);
    await sql`create temporary table if not exists kept (n int)`;
    const deadline = new CallDeadline(3000, { endIdleTransactions: true });
    await assert.rejects(
      inPipelinedTransaction(sql, deadline, (db) => {
        const inserted = db`insert into kept values (1)`.execute();
        const failed = db`select 1 / 0`.execute();
        const after = db`select 1`.execute();
        return Promise.all([inserted, failed, after]);
      }),
      /division by zero/,
    );
    const [count] = await sql<{ rows: number }[]>`select count(*)::int as rows from kept`;
    assert.equal(count?.rows, 0);
  });
});
