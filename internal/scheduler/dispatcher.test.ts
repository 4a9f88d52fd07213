// The dispatcher loop with an injected clock: what it publishes, that it
// marks sent only what the broker confirmed, and how it weathers failures.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import client from "prom-client";
import { silentLogger } from "../log/logger.js";
import { decodeNotification } from "../notification/codec.js";
import { notificationId } from "../notification/notification.js";
import { createReminderMetrics } from "../observability/metrics.js";
import type { OutgoingMessage, Publisher } from "../queue/queue.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import { ManualClock } from "../store/testing/contract.js";
import { startDispatcher } from "./dispatcher.js";

const MINUTE = 60_000;

/** A broker stand-in that records what it confirmed, and can refuse. */
class RecordingPublisher implements Publisher {
  readonly confirmed: OutgoingMessage[] = [];
  refuse = false;
  async publish(message: OutgoingMessage): Promise<void> {
    if (this.refuse) throw new Error("broker unreachable");
    this.confirmed.push(message);
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function setUp() {
  const clock = new ManualClock();
  const store = new MemoryEventStore({ clock: clock.read });
  const publisher = new RecordingPublisher();
  const dispatcher = startDispatcher({
    reminders: store,
    publisher,
    logger: silentLogger(),
    clock: clock.read,
    metrics: createReminderMetrics(new client.Registry()),
    pollIntervalMs: 5,
    batchSize: 10,
  });
  return { clock, store, publisher, dispatcher };
}

const inMinutes = (clock: ManualClock, minutes: number) =>
  new Date(clock.now.getTime() + minutes * MINUTE);

describe("reminder dispatcher", () => {
  it("publishes a due reminder once, as the Notification JSON with a stable message id", async () => {
    const { clock, store, publisher, dispatcher } = setUp();
    try {
      const id = randomUUID();
      const start = inMinutes(clock, 30);
      await store.createEvent("alice", id, {
        title: "Dentist",
        start,
        durationMs: 30 * MINUTE,
        description: undefined,
        notifyBeforeMs: 15 * MINUTE,
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(publisher.confirmed.length, 0, "not due yet");

      clock.advance(15 * MINUTE);
      await until(() => publisher.confirmed.length === 1, "the reminder");
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(publisher.confirmed.length, 1, "published once");

      const [message] = publisher.confirmed;
      const notifyAt = new Date(start.getTime() - 15 * MINUTE);
      assert.equal(message?.messageId, notificationId("alice", id, notifyAt));
      assert.equal(message?.contentType, "application/json");
      const decoded = decodeNotification(message?.body ?? Buffer.alloc(0));
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.value, {
        eventId: id,
        userId: "alice",
        title: "Dentist",
        startTime: start,
        notifyAt,
      });
    } finally {
      await dispatcher.stop();
    }
  });

  it("keeps a reminder due while the broker refuses it, and sends it once the broker is back", async () => {
    const { clock, store, publisher, dispatcher } = setUp();
    try {
      publisher.refuse = true;
      await store.createEvent("bob", randomUUID(), {
        title: "Call",
        start: inMinutes(clock, 10),
        durationMs: MINUTE,
        description: undefined,
        notifyBeforeMs: 10 * MINUTE,
      });
      await until(() => !dispatcher.isHealthy(), "the dispatcher to report the failure");
      assert.equal(publisher.confirmed.length, 0);

      publisher.refuse = false;
      await until(() => publisher.confirmed.length === 1, "the retried reminder");
      await until(() => dispatcher.isHealthy(), "health to recover");
    } finally {
      await dispatcher.stop();
    }
  });

  it("drains a backlog larger than one batch without waiting a poll between batches", async () => {
    const { clock, store, publisher, dispatcher } = setUp();
    try {
      for (let i = 0; i < 35; i++) {
        await store.createEvent(`user-${i}`, randomUUID(), {
          title: `Event ${i}`,
          start: inMinutes(clock, 60),
          durationMs: MINUTE,
          description: undefined,
          notifyBeforeMs: 60 * MINUTE,
        });
      }
      await until(() => publisher.confirmed.length === 35, "all 35 reminders");
      assert.equal(new Set(publisher.confirmed.map((m) => m.messageId)).size, 35);
    } finally {
      await dispatcher.stop();
    }
  });
});
