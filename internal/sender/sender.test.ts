import assert from "node:assert/strict";
import { describe, it } from "node:test";
import client from "prom-client";
import { capturingLogger } from "../log/testing/capturing_logger.js";
import { encodeNotification, JSON_CONTENT_TYPE } from "../notification/codec.js";
import { idOf, type Notification } from "../notification/notification.js";
import { decodeReceipt } from "../notification/receipt.js";
import { createReminderMetrics } from "../observability/metrics.js";
import { MemoryBroker } from "../queue/memory/memory_broker.js";
import type { OutgoingMessage, Publisher } from "../queue/queue.js";
import { until as waitUntil } from "../testing/wait.js";
import { runSender, type SenderOptions } from "./sender.js";

const reminder: Notification = {
  eventId: "event-1",
  userId: "alice",
  title: "Standup",
  startTime: new Date("2026-12-01T09:00:00.000Z"),
  notifyAt: new Date("2026-12-01T08:55:00.000Z"),
};
const now = new Date("2026-12-01T08:55:01.500Z");

function message(body: Buffer, overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { messageId: "m-1", contentType: JSON_CONTENT_TYPE, body, ...overrides };
}

/** The shared poll, with this file's default wait (all in memory: short). */
const until = (condition: () => boolean, what: string, timeoutMs = 2000) =>
  waitUntil(condition, what, timeoutMs, 5);

async function setup(overrides: Partial<SenderOptions> = {}) {
  const broker = new MemoryBroker();
  const { logger, lines } = capturingLogger();
  const registry = new client.Registry();
  const metrics = createReminderMetrics(registry);
  const sender = await runSender({
    consumer: broker.notificationConsumer({ prefetch: 10 }),
    receipts: await broker.receiptPublisher(),
    logger,
    clock: () => now,
    metrics,
    requeueDelayMs: 5,
    ...overrides,
  });
  const publisher = await broker.notificationPublisher();
  const metric = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values.reduce((sum, v) => sum + v.value, 0);
  return { broker, lines, sender, publisher, metric, registry };
}

describe("sender", () => {
  it("logs a good reminder with its lateness, publishes a receipt, then acks", async () => {
    const { broker, lines, sender, publisher, metric, registry } = await setup();
    await publisher.publish(message(encodeNotification(reminder), { messageId: idOf(reminder) }));
    await until(() => broker.settled.length === 1, "the reminder to settle");
    await sender.stop();

    const delivered = lines.filter((l) => l.msg === "reminder delivered");
    assert.equal(delivered.length, 1);
    assert.deepEqual(
      {
        level: delivered[0]?.level,
        notificationId: delivered[0]?.notificationId,
        eventId: delivered[0]?.eventId,
        title: delivered[0]?.title,
        startTime: delivered[0]?.startTime,
        userId: delivered[0]?.userId,
        notifyAt: delivered[0]?.notifyAt,
        latenessMs: delivered[0]?.latenessMs,
        redelivered: delivered[0]?.redelivered,
      },
      {
        level: 30,
        notificationId: idOf(reminder),
        eventId: "event-1",
        title: "Standup",
        startTime: "2026-12-01T09:00:00.000Z",
        userId: "alice",
        notifyAt: "2026-12-01T08:55:00.000Z",
        latenessMs: 1500,
        redelivered: false,
      },
    );

    assert.equal(broker.receipts.length, 1);
    const receipt = broker.receipts[0];
    assert.equal(receipt?.messageId, idOf(reminder));
    assert.equal(receipt?.contentType, "application/json");
    assert.deepEqual(decodeReceipt(receipt?.body ?? Buffer.alloc(0)), {
      ok: true,
      value: {
        notificationId: idOf(reminder),
        eventId: "event-1",
        userId: "alice",
        deliveredAt: now,
      },
    });

    assert.deepEqual(broker.settled, [{ messageId: idOf(reminder), disposition: "ack" }]);
    assert.equal(broker.depth, 0);
    assert.equal(await metric("reminders_delivered_total"), 1);
    const lateness = (await registry.getSingleMetric("reminder_lateness_seconds")?.get())?.values as
      | { metricName?: string; value: number }[]
      | undefined;
    assert.equal(
      lateness?.find((v) => v.metricName === "reminder_lateness_seconds_sum")?.value,
      1.5,
    );
    assert.equal(
      lateness?.find((v) => v.metricName === "reminder_lateness_seconds_count")?.value,
      1,
    );
  });

  it("acks only after the log line is written and the receipt is confirmed", async () => {
    const broker = new MemoryBroker();
    const { logger, lines } = capturingLogger();
    const events: string[] = [];
    let confirm: () => void = () => {};
    const receipts: Publisher = {
      publish: () => {
        events.push(`receipt published after ${lines.length} log line(s)`);
        return new Promise<void>((resolve) => {
          confirm = resolve;
        });
      },
    };
    const sender = await runSender({
      consumer: broker.notificationConsumer({ prefetch: 1 }),
      receipts,
      logger,
      clock: () => now,
    });
    await (await broker.notificationPublisher()).publish(message(encodeNotification(reminder)));
    await until(() => events.length === 1, "the receipt publish");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(broker.settled.length, 0, "acked before the receipt was confirmed");
    confirm();
    await until(() => broker.settled.length === 1, "the ack");
    await sender.stop();
    // The "sender consuming reminders" line, then the delivery.
    assert.deepEqual(events, ["receipt published after 2 log line(s)"]);
    assert.equal(broker.settled[0]?.disposition, "ack");
  });

  const malformed: [string, OutgoingMessage, RegExp][] = [
    ["bad JSON", message(Buffer.from("{not json")), /^body: must be JSON/],
    [
      "a missing field",
      message(
        Buffer.from(
          JSON.stringify({
            ...JSON.parse(String(encodeNotification(reminder))),
            userId: undefined,
          }),
        ),
      ),
      /^userId: is required/,
    ],
    [
      "a bad timestamp",
      message(
        Buffer.from(
          JSON.stringify({ ...JSON.parse(String(encodeNotification(reminder))), notifyAt: "soon" }),
        ),
      ),
      /^notifyAt: must be an RFC 3339 timestamp/,
    ],
    [
      "a non-JSON content type",
      message(encodeNotification(reminder), { contentType: "application/x-protobuf" }),
      /^content-type: must be application\/json/,
    ],
  ];
  for (const [name, bad, expected] of malformed) {
    it(`dead-letters a message with ${name}, logs why, and never sees it again`, async () => {
      const { broker, lines, sender, publisher, metric } = await setup();
      await publisher.publish(bad);
      await publisher.publish(message(encodeNotification(reminder), { messageId: "good" }));
      await until(() => broker.settled.length === 2, "both messages to settle");
      await new Promise((resolve) => setTimeout(resolve, 20));
      await sender.stop();

      assert.deepEqual(broker.settled, [
        { messageId: "m-1", disposition: "dead-letter" },
        { messageId: "good", disposition: "ack" },
      ]);
      assert.deepEqual(
        broker.deadLetters.map((m) => m.messageId),
        ["m-1"],
      );
      assert.equal(broker.depth, 0);
      const errors = lines.filter((l) => l.level === 50);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.msg, "malformed notification: dead-lettering it");
      assert.equal(errors[0]?.messageId, "m-1");
      assert.match(String(errors[0]?.error), expected);
      assert.equal(broker.receipts.length, 1, "only the good message has a receipt");
      assert.equal(await metric("reminders_dead_lettered_total"), 1);
    });
  }

  it("does not ack a reminder whose receipt failed: it is requeued and delivered again", async () => {
    const broker = new MemoryBroker();
    let failures = 1;
    const real = await broker.receiptPublisher();
    const receipts: Publisher = {
      publish: async (m) => {
        if (failures-- > 0) throw new Error("status exchange unavailable");
        await real.publish(m);
      },
    };
    const { logger, lines } = capturingLogger();
    const registry = new client.Registry();
    const metrics = createReminderMetrics(registry);
    const sender = await runSender({
      consumer: broker.notificationConsumer({ prefetch: 10 }),
      receipts,
      logger,
      clock: () => now,
      metrics,
      requeueDelayMs: 5,
    });
    await (await broker.notificationPublisher()).publish(message(encodeNotification(reminder)));
    await until(() => broker.settled.length === 2, "the retry");
    await sender.stop();

    assert.deepEqual(
      broker.settled.map((s) => s.disposition),
      ["requeue", "ack"],
    );
    const delivered = lines.filter((l) => l.msg === "reminder delivered");
    assert.deepEqual(
      delivered.map((l) => l.redelivered),
      [false, true],
    );
    const warning = lines.find((l) => l.level === 40);
    assert.equal(warning?.msg, "receipt not confirmed: requeueing the reminder");
    assert.equal(broker.receipts.length, 1);
    assert.equal(broker.deadLetters.length, 0);
    assert.equal(
      (await registry.getSingleMetric("reminders_requeued_total")?.get())?.values[0]?.value,
      1,
    );
  });

  it("never acks while receipts keep failing", async () => {
    const broker = new MemoryBroker();
    const { logger } = capturingLogger();
    const sender = await runSender({
      consumer: broker.notificationConsumer({ prefetch: 10 }),
      receipts: { publish: async () => Promise.reject(new Error("down")) },
      logger,
      requeueDelayMs: 5,
    });
    await (await broker.notificationPublisher()).publish(message(encodeNotification(reminder)));
    await until(() => broker.settled.length >= 3, "a few attempts");
    await sender.stop();
    assert.ok(broker.settled.every((s) => s.disposition === "requeue"));
    assert.equal(broker.depth, 1, "the reminder is still queued");
  });
});
