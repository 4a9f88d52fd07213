// The dispatcher loop with an injected clock: what it publishes, that it
// marks sent only what the broker confirmed, and how it weathers failures.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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

/**
 * A broker stand-in that records what it confirmed, and can refuse or take
 * its time to confirm (counting how many publishes wait at once).
 */
class RecordingPublisher implements Publisher {
  readonly confirmed: OutgoingMessage[] = [];
  refuse = false;
  confirmDelayMs = 0;
  #waiting = 0;
  mostWaitingAtOnce = 0;
  async publish(message: OutgoingMessage): Promise<void> {
    if (this.refuse) throw new Error("broker unreachable");
    this.#waiting++;
    this.mostWaitingAtOnce = Math.max(this.mostWaitingAtOnce, this.#waiting);
    try {
      if (this.confirmDelayMs > 0) await sleep(this.confirmDelayMs);
    } finally {
      this.#waiting--;
    }
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

async function setUp(
  options: { parallelPasses?: number; pollIntervalMs?: number; dueAtStart?: number } = {},
) {
  const clock = new ManualClock();
  const store = new MemoryEventStore({ clock: clock.read });
  await createDueReminders(store, clock, options.dueAtStart ?? 0);
  const publisher = new RecordingPublisher();
  // Counts passes: every pass is one dispatchDueReminders call.
  const reminders = {
    passes: 0,
    dispatchDueReminders(...args: Parameters<MemoryEventStore["dispatchDueReminders"]>) {
      reminders.passes++;
      return store.dispatchDueReminders(...args);
    },
    deleteEventsEndedBefore: (cutoff: Date, limit: number) =>
      store.deleteEventsEndedBefore(cutoff, limit),
  };
  const dispatcher = startDispatcher({
    reminders,
    publisher,
    logger: silentLogger(),
    clock: clock.read,
    metrics: createReminderMetrics(new client.Registry()),
    pollIntervalMs: options.pollIntervalMs ?? 5,
    batchSize: 10,
    parallelPasses: options.parallelPasses ?? 4,
  });
  return { clock, store, publisher, dispatcher, reminders };
}

async function createDueReminders(store: MemoryEventStore, clock: ManualClock, count: number) {
  for (let i = 0; i < count; i++) {
    await store.createEvent(`user-${i}`, randomUUID(), {
      title: `Event ${i}`,
      start: inMinutes(clock, 60),
      durationMs: MINUTE,
      description: undefined,
      notifyBeforeMs: 60 * MINUTE,
    });
  }
}

const inMinutes = (clock: ManualClock, minutes: number) =>
  new Date(clock.now.getTime() + minutes * MINUTE);

describe("reminder dispatcher", () => {
  it("publishes a due reminder once, as the Notification JSON with a stable message id", async () => {
    const { clock, store, publisher, dispatcher } = await setUp();
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
    const { clock, store, publisher, dispatcher } = await setUp();
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
    // A poll interval no test waits out: the batches after the first one
    // (at start) must follow at once.
    const { publisher, dispatcher } = await setUp({
      parallelPasses: 1,
      pollIntervalMs: 3_600_000,
      dueAtStart: 35,
    });
    try {
      await until(() => publisher.confirmed.length === 35, "all 35 reminders");
      assert.equal(new Set(publisher.confirmed.map((m) => m.messageId)).size, 35);
    } finally {
      await dispatcher.stop();
    }
  });

  it("overlaps passes on a backlog, each reminder published once", async () => {
    const { clock, store, publisher, dispatcher } = await setUp({ parallelPasses: 4 });
    try {
      publisher.confirmDelayMs = 20;
      await createDueReminders(store, clock, 200);
      await until(() => publisher.confirmed.length === 200, "all 200 reminders");
      await sleep(50);
      assert.equal(publisher.confirmed.length, 200, "none published twice");
      assert.equal(new Set(publisher.confirmed.map((m) => m.messageId)).size, 200);
      // A pass publishes its batch of 10 at once; more than 10 waiting for
      // confirms at once means a second pass was publishing meanwhile.
      assert.ok(
        publisher.mostWaitingAtOnce > 10,
        `passes did not overlap: at most ${publisher.mostWaitingAtOnce} publishes waited at once`,
      );
    } finally {
      await dispatcher.stop();
    }
  });

  it("keeps to one pass at a time with parallelPasses 1", async () => {
    const { clock, store, publisher, dispatcher } = await setUp({ parallelPasses: 1 });
    try {
      publisher.confirmDelayMs = 5;
      await createDueReminders(store, clock, 50);
      await until(() => publisher.confirmed.length === 50, "all 50 reminders");
      assert.ok(publisher.mostWaitingAtOnce <= 10, `${publisher.mostWaitingAtOnce} at once`);
    } finally {
      await dispatcher.stop();
    }
  });

  it("reports unhealthy while a pass hangs (a database that stopped answering)", async () => {
    let release: () => void = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const dispatcher = startDispatcher({
      reminders: {
        dispatchDueReminders: async () => {
          await hanging;
          return { claimed: 0, sent: 0, skipped: 0 };
        },
        deleteEventsEndedBefore: async () => 0,
      },
      publisher: new RecordingPublisher(),
      logger: silentLogger(),
      clock: () => new Date(),
      metrics: createReminderMetrics(new client.Registry()),
      pollIntervalMs: 5,
      batchSize: 10,
      parallelPasses: 1,
      stuckPassMs: 50,
    });
    try {
      assert.equal(dispatcher.isHealthy(), true, "healthy while the pass is young");
      await until(() => !dispatcher.isHealthy(), "the hanging pass to count as stuck");
      release();
      await until(() => dispatcher.isHealthy(), "health to return once the pass ends");
    } finally {
      release();
      await dispatcher.stop();
    }
  });

  it("polls with a single pass while nothing is due", async () => {
    let passes = 0;
    let running = 0;
    let mostAtOnce = 0;
    let release: () => void = () => {};
    const firstPassHeld = new Promise<void>((resolve) => {
      release = resolve;
    });
    const dispatcher = startDispatcher({
      reminders: {
        dispatchDueReminders: async () => {
          passes++;
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          await firstPassHeld;
          running--;
          return { claimed: 0, sent: 0, skipped: 0 };
        },
        deleteEventsEndedBefore: async () => 0,
      },
      publisher: new RecordingPublisher(),
      logger: silentLogger(),
      clock: () => new Date(),
      metrics: createReminderMetrics(new client.Registry()),
      pollIntervalMs: 1,
      batchSize: 10,
      parallelPasses: 4,
    });
    try {
      await until(() => passes === 1, "the first pass");
      // Many poll intervals while the first pass runs: no other pass starts.
      await sleep(50);
      assert.equal(passes, 1, "another pass started while the first ran, with nothing due");
      release();
      await until(() => passes >= 20, "the dispatcher to go on polling");
      assert.equal(mostAtOnce, 1, "passes ran side by side with nothing due");
    } finally {
      release();
      await dispatcher.stop();
    }
  });
});
