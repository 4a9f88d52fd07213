// The fast paths of CreateEvent, UpdateEvent and DeleteEvent on a single
// event (sql/insert_single.ts, sql/update_single.ts, sql/delete_single.ts)
// against a real server (npm run test:integration): one round trip each when
// nothing stands in the way, and the full path's answers when something
// does (the id taken, the time busy, a series near, a stale version). Each
// both ways the store runs them: one statement on the pool of one-statement
// calls (the api on a server), and in a transaction (the embedded database).
//   DATABASE_URL=postgres://root@127.0.0.1:5432/test npx tsx --test <this file>
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import postgres, { type Sql } from "postgres";
import { type EventFields, notifyAt } from "../../domain/event.js";
import { occurrenceId } from "../../domain/recurrence.js";
import { silentLogger } from "../../log/logger.js";
import { runMigrations } from "./migrate.js";
import { DEFAULT_CALL_TIMEOUT_MS, PostgresEventStore } from "./postgres_store.js";
import { insertSingle } from "./sql/insert_single.js";
import { lockedWithNoSeriesAcross, lockUser } from "./sql/lock_user.js";
import { RoundTripProxy } from "./testing/round_trip_proxy.js";
import { schemaPool } from "./testing/schema_pool.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is not set (see the first lines of this file)");
const logger = silentLogger();
const schema = `cal_test_${randomBytes(4).toString("hex")}_fast`;
const admin = postgres(url, { max: 1, onnotice: () => {} });
const pools: Sql[] = [];
const direct = new URL(url);
const proxy = new RoundTripProxy({ host: direct.hostname, port: Number(direct.port || 5432) });

function pool(max: number, target = url as string, statementTimeoutMs?: number): Sql {
  const sql = schemaPool(target, schema, max, statementTimeoutMs);
  pools.push(sql);
  return sql;
}

const WAYS = ["one statement", "transaction"] as const;
type Way = (typeof WAYS)[number];

/** A store that runs its one-statement calls `way`, on `target`. */
function storeFor(way: Way, target = url as string, max = 4): PostgresEventStore {
  return new PostgresEventStore(pool(max, target), {
    ...(way === "one statement" && {
      statements: pool(max, target, DEFAULT_CALL_TIMEOUT_MS),
    }),
  });
}

before(async () => {
  await admin`create extension if not exists btree_gist with schema public`;
  await admin`create schema ${admin(schema)}`;
  await runMigrations(pool(1), logger);
  await proxy.start();
});

after(async () => {
  await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })));
  await proxy.stop();
  await admin`drop schema if exists ${admin(schema)} cascade`;
  await admin.end();
});

const HOUR = 3_600_000;
const event = (startIso: string, title = "Meeting"): EventFields => ({
  title,
  start: new Date(startIso),
  durationMs: HOUR,
  description: undefined,
  notifyBeforeMs: 10 * 60_000,
});
const weekly = (startIso: string): EventFields => ({
  ...event(startIso),
  recurrence: ["RRULE:FREQ=WEEKLY"],
  timeZone: "UTC",
});
const user = () => `user-${randomUUID()}`;
/** The answer to a write onto the occurrence of `series` at `startIso`. */
const occurrenceOverlap = (series: string, startIso: string) => ({
  ok: false,
  error: {
    kind: "overlap",
    conflictingId: occurrenceId(series, new Date(startIso)),
    conflictingStart: new Date(startIso),
  },
});

for (const way of WAYS) {
  const store = storeFor(way);

  describe(`a write of a single event with nothing in its way (${way})`, () => {
    it("is one round trip: create, update and delete", async () => {
      // One connection, so every statement is prepared on it by the warm-up
      // (a statement's first use describes it first: a round trip of its own).
      const viaProxy = new URL(url as string);
      viaProxy.port = String(proxy.port);
      const measured = storeFor(way, viaProxy.toString(), 1);
      const rounds = async (write: () => Promise<{ ok: boolean }>) => {
        proxy.reset();
        const result = await write();
        assert.ok(result.ok, JSON.stringify(result));
        return proxy.rounds;
      };
      for (const phase of ["warm-up", "measured"]) {
        const owner = user();
        const id = randomUUID();
        const counted = {
          create: await rounds(() =>
            measured.createEvent(owner, id, event("2026-09-01T09:00:00Z")),
          ),
          update: await rounds(() =>
            measured.updateEvent(owner, id, event("2026-09-01T10:00:00Z", "moved"), 1),
          ),
          delete: await rounds(() => measured.deleteEvent(owner, id)),
        };
        if (phase === "measured") assert.deepEqual(counted, { create: 1, update: 1, delete: 1 });
      }
    });

    it("keeps the change log in order: create, update, delete", async () => {
      const owner = user();
      const id = randomUUID();
      assert.ok((await store.createEvent(owner, id, event("2026-09-02T09:00:00Z"))).ok);
      assert.ok((await store.updateEvent(owner, id, event("2026-09-02T10:00:00Z"), 1)).ok);
      const sql = pool(1);
      const afterUpdate = await sql`
        select change, deleted from event_changes where user_id = ${owner} and event_id = ${id}`;
      assert.deepEqual([...afterUpdate], [{ change: "2", deleted: false }]);
      assert.ok((await store.deleteEvent(owner, id)).ok);
      const afterDelete = await sql`
        select change, deleted from event_changes where user_id = ${owner} and event_id = ${id}`;
      assert.deepEqual([...afterDelete], [{ change: "3", deleted: true }]);
    });
  });

  describe(`a write the fast path cannot decide (${way})`, () => {
    it("create on a busy time: Overlap naming the event in the way", async () => {
      const owner = user();
      const blocker = randomUUID();
      assert.ok((await store.createEvent(owner, blocker, event("2026-09-03T09:00:00Z"))).ok);
      const id = randomUUID();
      assert.deepEqual(await store.createEvent(owner, id, event("2026-09-03T09:30:00Z")), {
        ok: false,
        error: { kind: "overlap", conflictingId: blocker },
      });
      assert.deepEqual(await store.getEvent(owner, id), {
        ok: false,
        error: { kind: "not_found", id },
      });
    });

    it("create repeated with the same id: the stored event, or AlreadyExists for other content", async () => {
      const owner = user();
      const id = randomUUID();
      const first = await store.createEvent(owner, id, event("2026-09-04T09:00:00Z"));
      assert.ok(first.ok);
      assert.deepEqual(await store.createEvent(owner, id, event("2026-09-04T09:00:00Z")), first);
      assert.deepEqual(await store.createEvent(owner, id, event("2026-09-04T09:00:00Z", "other")), {
        ok: false,
        error: { kind: "already_exists", id },
      });
    });

    it("create near a series: Overlap naming the occurrence, or created between occurrences", async () => {
      const owner = user();
      const series = randomUUID();
      assert.ok((await store.createEvent(owner, series, weekly("2026-09-07T09:00:00Z"))).ok);
      const onOccurrence = await store.createEvent(
        owner,
        randomUUID(),
        event("2026-09-14T09:30:00Z"),
      );
      assert.deepEqual(onOccurrence, occurrenceOverlap(series, "2026-09-14T09:00:00Z"));
      const between = await store.createEvent(owner, randomUUID(), event("2026-09-15T09:00:00Z"));
      assert.ok(between.ok, JSON.stringify(between));
    });

    /**
     * Holds the user's lock while a series starting on 2026-09-07 09:00 UTC
     * is inserted and then committed, and runs `write` 300 ms before the
     * commit: the write waits for the lock meanwhile.
     */
    async function whileSeriesIsCreated<T>(owner: string, series: string, write: () => Promise<T>) {
      let written: Promise<T> | undefined;
      await pool(1).begin(async (tx) => {
        await lockUser(tx, owner);
        await tx`
          insert into events (user_id, id, title, start_time, end_time, created_at, updated_at,
                              version, recurrence, time_zone, duration_ms)
          values (${owner}, ${series}, 'weekly', '2026-09-07T09:00:00Z', 'infinity', now(), now(),
                  1, ${["RRULE:FREQ=WEEKLY"]}::text[], 'UTC', ${HOUR}::int8)`;
        written = write();
        await new Promise((resolve) => setTimeout(resolve, 300));
      });
      return written as Promise<T>;
    }

    // The series is committed while the write waits for the lock: the check
    // must read after the lock is granted, not from a snapshot taken before
    // (as one statement that takes the lock in a CTE would).
    it("create while the user's lock is held by a writer creating a series there: Overlap", async () => {
      const owner = user();
      const series = randomUUID();
      const created = await whileSeriesIsCreated(owner, series, () =>
        store.createEvent(owner, randomUUID(), event("2026-09-14T09:00:00Z")),
      );
      assert.deepEqual(created, occurrenceOverlap(series, "2026-09-14T09:00:00Z"));
    });

    it("update while the user's lock is held by a writer creating a series there: Overlap", async () => {
      const owner = user();
      const id = randomUUID();
      const stored = await store.createEvent(owner, id, event("2026-09-14T12:00:00Z"));
      assert.ok(stored.ok);
      const series = randomUUID();
      const updated = await whileSeriesIsCreated(owner, series, () =>
        store.updateEvent(owner, id, event("2026-09-14T09:30:00Z"), 1),
      );
      assert.deepEqual(updated, occurrenceOverlap(series, "2026-09-14T09:00:00Z"));
      assert.deepEqual(await store.getEvent(owner, id), stored);
    });

    it("update onto a busy time: Overlap naming the event in the way, the event unchanged", async () => {
      const owner = user();
      const blocker = randomUUID();
      const id = randomUUID();
      assert.ok((await store.createEvent(owner, blocker, event("2026-09-05T09:00:00Z"))).ok);
      const created = await store.createEvent(owner, id, event("2026-09-05T11:00:00Z"));
      assert.ok(created.ok);
      assert.deepEqual(await store.updateEvent(owner, id, event("2026-09-05T09:30:00Z"), 1), {
        ok: false,
        error: { kind: "overlap", conflictingId: blocker },
      });
      assert.deepEqual(await store.getEvent(owner, id), created);
    });

    it("update with a stale version, of a missing event, onto a series occurrence", async () => {
      const owner = user();
      const id = randomUUID();
      assert.ok((await store.createEvent(owner, id, event("2026-09-06T09:00:00Z"))).ok);
      assert.ok((await store.updateEvent(owner, id, event("2026-09-06T10:00:00Z"), 1)).ok);
      assert.deepEqual(await store.updateEvent(owner, id, event("2026-09-06T11:00:00Z"), 1), {
        ok: false,
        error: { kind: "version_mismatch", expected: 1, actual: 2 },
      });
      const missing = randomUUID();
      assert.deepEqual(
        await store.updateEvent(owner, missing, event("2026-09-06T11:00:00Z"), undefined),
        {
          ok: false,
          error: { kind: "not_found", id: missing },
        },
      );
      const series = randomUUID();
      assert.ok((await store.createEvent(owner, series, weekly("2026-09-08T09:00:00Z"))).ok);
      assert.deepEqual(
        await store.updateEvent(owner, id, event("2026-09-15T09:30:00Z"), 2),
        occurrenceOverlap(series, "2026-09-15T09:00:00Z"),
      );
    });

    it("update of a series' id with a single event's fields makes it a single event", async () => {
      const owner = user();
      const series = randomUUID();
      assert.ok((await store.createEvent(owner, series, weekly("2026-09-09T09:00:00Z"))).ok);
      const updated = await store.updateEvent(owner, series, event("2026-09-09T12:00:00Z"), 1);
      assert.ok(updated.ok, JSON.stringify(updated));
      assert.equal(updated.value.recurrence, undefined);
      assert.equal(updated.value.version, 2);
    });

    it("delete of a missing event: NotFound", async () => {
      const id = randomUUID();
      assert.deepEqual(await store.deleteEvent(user(), id), {
        ok: false,
        error: { kind: "not_found", id },
      });
    });
  });
}

describe("the fast writes' lock (sql/lock_user.ts)", () => {
  it("never waits for the user's lock: a fast write finds it taken, writes nothing, answers at once", async () => {
    const owner = user();
    const id = randomUUID();
    const statements = pool(1, url as string, DEFAULT_CALL_TIMEOUT_MS);
    const fields = event("2026-09-16T09:00:00Z");
    const now = new Date();
    const meta = {
      version: 1,
      createdAt: now,
      updatedAt: now,
      notifyAt: notifyAt(fields) ?? null,
    };
    let tookMs = Number.NaN;
    let written: readonly unknown[] = [];
    await pool(1).begin(async (tx) => {
      await lockUser(tx, owner);
      const started = performance.now();
      written = await insertSingle(statements, owner, id, fields, meta);
      tookMs = performance.now() - started;
    });
    assert.deepEqual([...written], []);
    assert.ok(tookMs < 1_000, `answered in ${tookMs} ms`);
    // Once the lock is free, the same statement writes.
    const [row] = await insertSingle(statements, owner, id, fields, meta);
    assert.equal(row?.id, id);
  });

  it("checks for series with a snapshot taken once it has the lock, not the statement's", async () => {
    // The statement's snapshot is taken before the series commits (during
    // the sleep that comes first in its select list); the check must see
    // the series all the same, as a check in the statement itself would not.
    const owner = user();
    const statements = pool(1, url as string, DEFAULT_CALL_TIMEOUT_MS);
    const window = {
      start: new Date("2026-09-14T09:00:00Z"),
      end: new Date("2026-09-14T10:00:00Z"),
    };
    const checked = statements<{ free: boolean; seenByStatement: boolean }[]>`
      select pg_sleep(0.5)::text as slept, ${lockedWithNoSeriesAcross(statements, owner, window)} as free,
             exists (select from events where user_id = ${owner}) as "seenByStatement"`.execute();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await pool(1)`
      insert into events (user_id, id, title, start_time, end_time, created_at, updated_at,
                          version, recurrence, time_zone, duration_ms)
      values (${owner}, ${randomUUID()}, 'weekly', '2026-09-07T09:00:00Z', 'infinity', now(), now(),
              1, ${["RRULE:FREQ=WEEKLY"]}::text[], 'UTC', ${HOUR}::int8)`;
    const [row] = await checked;
    assert.equal(row?.seenByStatement, false, "the statement's own snapshot predates the series");
    assert.equal(row?.free, false, "the check after the lock saw the series");
  });
});
