// The proof of "no lost change" on a PostgreSQL server, where transactions
// really run side by side (PGlite serves one connection, so its writes are
// serial anyway). See migrations/0004_sync.ts for the design under test.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "postgres";
import { PostgresEventStore } from "../postgres_store.js";

function fields(start: string) {
  return {
    title: "Ordered",
    start: new Date(start),
    durationMs: 3_600_000,
    description: undefined,
    notifyBeforeMs: undefined,
  };
}

/** `pool(max)`: a fresh pool on the migrated schema under test. */
export function runSyncOrderingChecks(name: string, pool: (max: number) => Promise<Sql>): void {
  describe(`sync change numbers under concurrent writers: ${name}`, () => {
    it("never hands out a position below a change that commits later (the BIGSERIAL gap)", async () => {
      const sql = await pool(4);
      const store = new PostgresEventStore(sql);
      const user = `order-${randomUUID()}`;
      const early = randomUUID();
      let releaseEarly = () => {};
      const earlyHolding = new Promise<void>((resolve) => {
        releaseEarly = resolve;
      });
      let earlyInserted = () => {};
      const inserted = new Promise<void>((resolve) => {
        earlyInserted = resolve;
      });
      // A transaction that writes first and commits last: a writer that
      // skips the store (and its advisory lock) and holds its transaction.
      const earlyTx = sql.begin(async (tx) => {
        await tx`
          insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
          values (${user}, ${early}, 'Early', '2026-10-01T09:00:00Z', '2026-10-01T10:00:00Z', now(), now(), 1)`;
        earlyInserted();
        await earlyHolding;
      });
      await inserted;

      // A later writer of the same user starts now...
      let lateSettled = false;
      const late = store.createEvent(user, randomUUID(), fields("2026-10-02T09:00:00Z"));
      late.finally(() => {
        lateSettled = true;
      });
      await sleep(300);
      // ...and cannot take a number (or commit) before the early one commits,
      assert.equal(lateSettled, false, "the later write must wait for the earlier one's commit");
      // so a reader now learns of neither and keeps position 0.
      const during = await store.readChanges(user, 0, 100, "incremental");
      assert.deepEqual(during, { ok: true, value: { changes: [], position: 0, complete: true } });

      releaseEarly();
      await earlyTx;
      const created = await late;
      assert.ok(created.ok);
      const afterBoth = await store.readChanges(user, 0, 100, "incremental");
      assert.ok(afterBoth.ok);
      assert.deepEqual(
        afterBoth.value.changes.map((c) => [c.change, c.kind === "upsert" ? c.event.id : c.id]),
        [
          [1, early],
          [2, created.value.id],
        ],
      );
      await sql.end();
    });

    it("loses no change to a reader syncing while 8 connections write one user at once", async () => {
      const sql = await pool(8);
      // The writes queue on one user's lock: give the last ones time to wait.
      const store = new PostgresEventStore(sql, { callTimeoutMs: 30_000 });
      const user = `order-${randomUUID()}`;
      const ids = Array.from({ length: 80 }, () => randomUUID());
      const writes = ids.map(async (id, i) => {
        const start = new Date(Date.UTC(2027, 0, 1, i)).toISOString();
        const created = await store.createEvent(user, id, fields(start));
        assert.ok(created.ok);
        if (i % 3 === 0) assert.ok((await store.deleteEvent(user, id)).ok);
      });
      // The reader's replica, kept only from incremental syncs.
      const replica = new Set<string>();
      let position = 0;
      const syncOnce = async () => {
        for (;;) {
          const page = await store.readChanges(user, position, 50, "incremental");
          assert.ok(page.ok);
          for (const c of page.value.changes) {
            if (c.kind === "upsert") replica.add(c.event.id);
            else replica.delete(c.id);
          }
          position = page.value.position;
          if (page.value.complete) return;
        }
      };
      let done = false;
      const reader = (async () => {
        while (!done) await syncOnce();
      })();
      await Promise.all(writes);
      done = true;
      await reader;
      await syncOnce();
      const expected = ids.filter((_, i) => i % 3 !== 0).sort();
      assert.deepEqual([...replica].sort(), expected);
      await sql.end();
    });
  });
}
