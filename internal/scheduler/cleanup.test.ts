// Retention with an injected clock: what is old enough to delete, in batches.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import client from "prom-client";
import { silentLogger } from "../log/logger.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import { ManualClock } from "../store/testing/contract.js";
import { cleanUpOnce, startCleanup } from "./cleanup.js";

const DAY = 24 * 60 * 60 * 1000;

describe("retention cleanup", () => {
  it("deletes events that ended 13 months ago and keeps those that ended 11 months ago", async () => {
    const clock = new ManualClock();
    clock.now = new Date("2027-06-01T00:00:00Z");
    const store = new MemoryEventStore({ clock: clock.read });
    const make = async (user: string, start: string) => {
      const id = randomUUID();
      await store.createEvent(user, id, {
        title: "old",
        start: new Date(start),
        durationMs: DAY,
        description: undefined,
        notifyBeforeMs: undefined,
      });
      return id;
    };
    const thirteenMonths = await make("alice", "2026-04-30T00:00:00Z");
    const elevenMonths = await make("alice", "2026-06-30T00:00:00Z");
    const deleted = new client.Counter({ name: "deleted_test", help: "test", registers: [] });
    const count = await cleanUpOnce({
      reminders: store,
      logger: silentLogger(),
      clock: clock.read,
      deleted,
      retentionMs: 365 * DAY,
      batchSize: 1,
    });
    assert.equal(count, 1);
    assert.equal((await store.getEvent("alice", thirteenMonths)).ok, false);
    assert.equal((await store.getEvent("alice", elevenMonths)).ok, true);
    assert.equal((await deleted.get()).values[0]?.value, 1);
  });

  it("keeps deleting in batches until nothing old is left", async () => {
    const clock = new ManualClock();
    const store = new MemoryEventStore({ clock: clock.read });
    for (let i = 0; i < 7; i++) {
      await store.createEvent(`user-${i}`, randomUUID(), {
        title: "ancient",
        start: new Date("2020-01-01T00:00:00Z"),
        durationMs: DAY,
        description: undefined,
        notifyBeforeMs: undefined,
      });
    }
    const count = await cleanUpOnce({
      reminders: store,
      logger: silentLogger(),
      clock: clock.read,
      deleted: new client.Counter({ name: "deleted_batches", help: "test", registers: [] }),
      retentionMs: 365 * DAY,
      batchSize: 3,
    });
    assert.equal(count, 7);
    assert.equal(await store.deleteEventsEndedBefore(clock.read(), 100), 0);
  });

  it("forgets deletions older than TOMBSTONE_RETENTION, in batches, so older sync tokens expire", async () => {
    const clock = new ManualClock();
    const store = new MemoryEventStore({ clock: clock.read });
    const fields = (hour: number) => ({
      title: "gone",
      start: new Date(Date.UTC(2030, 0, 1, hour)),
      durationMs: 60_000,
      description: undefined,
      notifyBeforeMs: undefined,
    });
    const ids: string[] = [];
    for (let h = 0; h < 5; h++) {
      const id = randomUUID();
      await store.createEvent("alice", id, fields(h));
      ids.push(id);
    }
    const beforeOld = await store.syncPosition("alice");
    for (const id of ids.slice(0, 4)) await store.deleteEvent("alice", id);
    const afterOld = await store.syncPosition("alice");
    clock.advance(31 * DAY);
    await store.deleteEvent("alice", ids[4] as string); // a recent deletion, kept
    const purged = new client.Counter({ name: "purged_test", help: "test", registers: [] });
    await cleanUpOnce({
      reminders: store,
      logger: silentLogger(),
      clock: clock.read,
      deleted: new client.Counter({ name: "deleted_tomb", help: "test", registers: [] }),
      retentionMs: 365 * DAY,
      batchSize: 3,
      tombstones: { store, retentionMs: 30 * DAY, purged },
    });
    assert.equal((await purged.get()).values[0]?.value, 4);
    assert.equal((await store.readChanges("alice", beforeOld, 10, "incremental")).ok, false);
    const recent = await store.readChanges("alice", afterOld, 10, "incremental");
    assert.ok(recent.ok);
    assert.deepEqual(
      recent.value.changes.map((c) => c.kind),
      ["delete"],
    );
  });

  // A backlog of old events must not hold a shutdown: the loop stops after
  // the batch in hand. (Before, it deleted until nothing old was left.)
  it("stops between batches when asked, however many old events remain", {
    timeout: 10_000,
  }, async () => {
    let batches = 0;
    let stopAsked = false;
    let batchesWhenStopAsked = 0;
    const cleanup = startCleanup({
      reminders: {
        // An endless backlog: every batch comes back full.
        async deleteEventsEndedBefore(_cutoff, limit) {
          batches += 1;
          await new Promise((resolve) => setTimeout(resolve, 1));
          return limit;
        },
      },
      logger: silentLogger(),
      clock: () => new Date(),
      deleted: new client.Counter({ name: "deleted_stop_test", help: "test", registers: [] }),
      retentionMs: 365 * DAY,
      intervalMs: 60_000,
      batchSize: 100,
    });
    while (batches < 3) await new Promise((resolve) => setTimeout(resolve, 1));
    stopAsked = true;
    batchesWhenStopAsked = batches;
    await cleanup.stop();
    assert.ok(stopAsked);
    assert.ok(
      batches <= batchesWhenStopAsked + 1,
      `${batches - batchesWhenStopAsked} batches ran after the stop`,
    );
  });
});
