// Retention with an injected clock: what is old enough to delete, in batches.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import client from "prom-client";
import { silentLogger } from "../log/logger.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import { ManualClock } from "../store/testing/contract.js";
import { cleanUpOnce } from "./cleanup.js";

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
});
