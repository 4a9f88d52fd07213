// Against a real RabbitMQ at AMQP_URL (npm run test:integration). Each run
// declares its own exchanges and queues (random suffix) and deletes them.
// The restart test stops and starts the local broker's app with rabbitmqctl,
// so this file runs its tests one at a time and always starts the app again.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import amqp, { type Channel } from "amqplib";
import type { TopologyNames } from "../../config/config.js";
import { silentLogger } from "../../log/logger.js";
import { capturingLogger } from "../../log/testing/capturing_logger.js";
import { encodeNotification, JSON_CONTENT_TYPE } from "../../notification/codec.js";
import { notificationMessage } from "../../notification/message.js";
import { idOf, type Notification } from "../../notification/notification.js";
import { decodeReceipt } from "../../notification/receipt.js";
import { runSender } from "../../sender/sender.js";
import { until as waitUntil } from "../../testing/wait.js";
import { type Delivery, PublishError } from "../queue.js";
import { RabbitBroker, type RabbitBrokerOptions } from "./broker.js";
import { DELIVERY_LIMIT, NOTIFICATION_ROUTING_KEY } from "./topology.js";

const AMQP_URL = process.env.AMQP_URL;
if (!AMQP_URL) {
  throw new Error(
    "AMQP_URL is not set: these tests need RabbitMQ, e.g. " +
      "AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run test:integration",
  );
}
const url: string = AMQP_URL;

const run = randomUUID().slice(0, 8);
const names: TopologyNames = {
  notificationsExchange: `test.${run}.notifications`,
  notificationsQueue: `test.${run}.notifications`,
  deadLetterExchange: `test.${run}.dead-letter`,
  deadLetterQueue: `test.${run}.notifications.dead`,
  statusExchange: `test.${run}.status`,
};

const reminder = (n: number): Notification => ({
  eventId: `event-${n}`,
  userId: "alice",
  title: `Meeting ${n}`,
  startTime: new Date("2026-12-01T09:00:00.000Z"),
  notifyAt: new Date("2026-12-01T08:55:00.000Z"),
});
const messageOf = notificationMessage;

const brokers: RabbitBroker[] = [];
function broker(overrides: Partial<RabbitBrokerOptions> = {}): RabbitBroker {
  const b = new RabbitBroker({
    url,
    names,
    logger: silentLogger(),
    connectTimeoutMs: 10_000,
    confirmTimeoutMs: 3_000,
    backoff: { initialDelayMs: 200, maxDelayMs: 2_000 },
    connectionName: `cal_service test ${run}`,
    ...overrides,
  });
  brokers.push(b);
  return b;
}

/** A plain connection for looking at queues from outside. */
async function withAdmin<T>(use: (channel: Channel) => Promise<T>): Promise<T> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    // A failed check (404) closes the channel with an "error" event; the
    // rejected call already reports it.
    channel.on("error", () => {});
    return await use(channel);
  } finally {
    await connection.close().catch(() => {});
  }
}

/** The shared poll, with this file's default wait. */
const until = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) =>
  waitUntil(condition, what, timeoutMs, 50);

const messageCount = (queue: string) =>
  withAdmin(async (ch) => (await ch.checkQueue(queue)).messageCount);

const execFileAsync = promisify(execFile);
async function rabbitmqctl(...args: string[]): Promise<void> {
  try {
    await execFileAsync("rabbitmqctl", args, { timeout: 120_000 });
  } catch (error) {
    throw new Error(
      `rabbitmqctl ${args.join(" ")} failed (the restart test needs rabbitmqctl for the broker ` +
        `at AMQP_URL): ${(error as Error).message}`,
    );
  }
}

describe("RabbitMQ broker", { concurrency: 1, timeout: 180_000 }, () => {
  before(async () => {
    // Fail here, with the reason, rather than in every test.
    await withAdmin(async () => {});
  });

  after(async () => {
    await Promise.all(brokers.map((b) => b.close().catch(() => {})));
    await withAdmin(async (ch) => {
      for (const queue of [names.notificationsQueue, names.deadLetterQueue]) {
        await ch.deleteQueue(queue);
      }
      for (const exchange of [
        names.notificationsExchange,
        names.deadLetterExchange,
        names.statusExchange,
      ]) {
        await ch.deleteExchange(exchange);
      }
    });
  });

  it("declares durable exchanges and quorum queues with a dead-letter exchange", async () => {
    const b = broker();
    await b.notificationPublisher();
    const { stdout } = await execFileAsync(
      "rabbitmqctl",
      ["list_queues", "--quiet", "--no-table-headers", "name", "type", "durable", "arguments"],
      { timeout: 60_000 },
    );
    const line = (name: string) => stdout.split("\n").find((l) => l.startsWith(`${name}\t`)) ?? "";
    assert.match(line(names.notificationsQueue), /\tquorum\ttrue\t/);
    assert.match(
      line(names.notificationsQueue),
      new RegExp(`x-dead-letter-exchange.*${names.deadLetterExchange}`),
    );
    assert.match(line(names.notificationsQueue), new RegExp(`x-delivery-limit.*${DELIVERY_LIMIT}`));
    assert.match(line(names.deadLetterQueue), /\tquorum\ttrue\t/);
    await withAdmin(async (ch) => {
      await ch.checkExchange(names.notificationsExchange);
      await ch.checkExchange(names.deadLetterExchange);
      await ch.checkExchange(names.statusExchange);
    });
    assert.equal(b.isHealthy(), true);
    await b.close();
  });

  it("publishes persistent messages with message-id and content-type, confirmed", async () => {
    const b = broker();
    const publisher = await b.notificationPublisher();
    const n = reminder(1);
    await publisher.publish(messageOf(n));
    const got = await withAdmin(async (ch) => {
      const message = await ch.get(names.notificationsQueue, { noAck: true });
      assert.ok(message, "the confirmed message is on the queue");
      return message;
    });
    assert.equal(got.properties.deliveryMode, 2);
    assert.equal(got.properties.messageId, idOf(n));
    assert.equal(got.properties.contentType, "application/json");
    assert.deepEqual(got.content, encodeNotification(n));
    await b.close();
  });

  it("rejects a publish no queue takes instead of losing it", async () => {
    const b = broker();
    const publisher = await b.notificationPublisher();
    await withAdmin((ch) =>
      ch.unbindQueue(
        names.notificationsQueue,
        names.notificationsExchange,
        NOTIFICATION_ROUTING_KEY,
      ),
    );
    try {
      await assert.rejects(publisher.publish(messageOf(reminder(2))), (error: Error) => {
        assert.ok(error instanceof PublishError);
        assert.match(error.message, /no queue is bound/);
        return true;
      });
    } finally {
      await withAdmin((ch) =>
        ch.bindQueue(
          names.notificationsQueue,
          names.notificationsExchange,
          NOTIFICATION_ROUTING_KEY,
        ),
      );
    }
    await b.close();
  });

  it("reopens a channel RabbitMQ closed, declaring what was deleted again", async () => {
    const b = broker({ logger: capturingLogger("debug").logger });
    const receipts = await b.receiptPublisher();
    await withAdmin((ch) => ch.deleteExchange(names.statusExchange));
    // Publishing to a missing exchange makes RabbitMQ close the channel (404).
    await assert.rejects(receipts.publish(messageOf(reminder(4))), PublishError);
    await until(() => b.isHealthy(), "the channel to come back");
    await receipts.publish(messageOf(reminder(4)));
    await withAdmin((ch) => ch.checkExchange(names.statusExchange));
    await b.close();
  });

  it("subscribes again when the queue is deleted under the consumer", async () => {
    const b = broker();
    const seen: string[] = [];
    const consumer = b.notificationConsumer({ prefetch: 5 });
    await consumer.start(async (d) => {
      seen.push(d.messageId ?? "");
      return "ack";
    });
    await withAdmin((ch) => ch.deleteQueue(names.notificationsQueue));
    await until(
      () =>
        withAdmin(async (ch) => (await ch.checkQueue(names.notificationsQueue)).consumerCount === 1)
          // 404 until the consumer has declared it again
          .catch(() => false),
      "the queue to be declared and consumed again",
    );
    await (await b.notificationPublisher()).publish(messageOf(reminder(5)));
    await until(() => seen.includes(idOf(reminder(5))), "the delivery");
    await consumer.stop();
    await b.close();
  });

  it("delivers through the sender: logged, receipt on the status exchange, acked", async () => {
    const b = broker();
    const { logger, lines } = capturingLogger("debug");
    const statusConnection = await amqp.connect(url);
    try {
      const status = await statusConnection.createChannel();
      const { queue } = await status.assertQueue("", { exclusive: true, autoDelete: true });
      await status.bindQueue(queue, names.statusExchange, "");
      const receipts: Buffer[] = [];
      await status.consume(queue, (m) => m && receipts.push(m.content), { noAck: true });

      const sender = await runSender({
        consumer: b.notificationConsumer({ prefetch: 5 }),
        receipts: await b.receiptPublisher(),
        logger,
      });
      const n = reminder(3);
      await (await b.notificationPublisher()).publish(messageOf(n));
      await until(() => receipts.length === 1, "the receipt");
      const receipt = decodeReceipt(receipts[0] ?? Buffer.alloc(0));
      assert.ok(receipt.ok);
      assert.equal(receipt.value.notificationId, idOf(n));
      assert.equal(receipt.value.eventId, n.eventId);
      assert.ok(lines.some((l) => l.msg === "reminder delivered" && l.eventId === n.eventId));
      await sender.stop();
      assert.equal(await messageCount(names.notificationsQueue), 0, "acked, nothing left");
    } finally {
      await statusConnection.close();
      await b.close();
    }
  });

  it("dead-letters a malformed message into the dead-letter queue, once", async () => {
    const b = broker();
    const { logger, lines } = capturingLogger("debug");
    const sender = await runSender({
      consumer: b.notificationConsumer({ prefetch: 5 }),
      receipts: await b.receiptPublisher(),
      logger,
    });
    const publisher = await b.notificationPublisher();
    await publisher.publish({
      messageId: `bad-${run}`,
      contentType: JSON_CONTENT_TYPE,
      body: Buffer.from("{oops"),
    });
    await until(async () => (await messageCount(names.deadLetterQueue)) === 1, "the dead letter");
    await sender.stop();

    const dead = await withAdmin((ch) => ch.get(names.deadLetterQueue, { noAck: true }));
    assert.ok(dead);
    assert.equal(dead.properties.messageId, `bad-${run}`);
    assert.equal(dead.content.toString(), "{oops");
    const deaths = dead.properties.headers?.["x-death"] as { reason: string; queue: string }[];
    assert.equal(deaths[0]?.reason, "rejected");
    assert.equal(deaths[0]?.queue, names.notificationsQueue);
    assert.equal(await messageCount(names.notificationsQueue), 0);
    const errors = lines.filter((l) => l.msg === "malformed notification: dead-lettering it");
    assert.equal(errors.length, 1, "handled once, not redelivered");
    assert.match(String(errors[0]?.error), /^body: must be JSON/);
    await b.close();
  });

  it("dead-letters a message requeued too often instead of cycling it forever", async () => {
    const b = broker();
    let attempts = 0;
    const consumer = b.notificationConsumer({ prefetch: 5 });
    await consumer.start(async () => {
      attempts += 1;
      return "requeue";
    });
    await (await b.notificationPublisher()).publish({
      ...messageOf(reminder(6)),
      messageId: `loop-${run}`,
    });
    await until(async () => (await messageCount(names.deadLetterQueue)) === 1, "the dead letter");
    await consumer.stop();
    const dead = await withAdmin((ch) => ch.get(names.deadLetterQueue, { noAck: true }));
    assert.ok(dead);
    assert.equal(dead.properties.messageId, `loop-${run}`);
    const deaths = dead.properties.headers?.["x-death"] as { reason: string }[];
    assert.equal(deaths[0]?.reason, "delivery_limit");
    assert.equal(attempts, DELIVERY_LIMIT + 1);
    await b.close();
  });

  it("fails fast on bad credentials and on a clashing queue declaration", async () => {
    const wrong = new URL(url);
    wrong.password = "certainly-not-the-password";
    const started = Date.now();
    const b1 = broker({ url: wrong.toString(), connectTimeoutMs: 30_000 });
    await assert.rejects(b1.notificationPublisher(), /ACCESS.REFUSED|403/);
    assert.ok(Date.now() - started < 10_000, "did not wait for the deadline");
    await b1.close();

    const clashing: TopologyNames = { ...names, notificationsQueue: `test.${run}.classic` };
    await withAdmin((ch) => ch.assertQueue(clashing.notificationsQueue, { durable: true }));
    try {
      const b2 = broker({ names: clashing, connectTimeoutMs: 30_000 });
      await assert.rejects(b2.notificationPublisher(), /PRECONDITION.FAILED|406/);
      await b2.close();
    } finally {
      await withAdmin((ch) => ch.deleteQueue(clashing.notificationsQueue));
    }
  });

  it("gives up at the connect deadline when RabbitMQ is unreachable", async () => {
    const nowhere = new URL(url);
    nowhere.port = "1";
    const b = broker({ url: nowhere.toString(), connectTimeoutMs: 1_000 });
    await assert.rejects(b.notificationPublisher(), /not ready within 1000 ms/);
    await b.close();
  });

  it("survives a broker restart: publishes fail fast during it, nothing confirmed is lost", {
    timeout: 150_000,
  }, async () => {
    const { logger, lines } = capturingLogger("debug");
    const b = broker({ logger });
    const publisher = await b.notificationPublisher();
    const consumer = b.notificationConsumer({ prefetch: 10 });

    // Hold the first messages unacked across the restart: RabbitMQ must
    // hand them out again afterwards.
    let releaseHeld: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      releaseHeld = resolve;
    });
    const seen: Delivery[] = [];
    await consumer.start(async (delivery) => {
      seen.push(delivery);
      if (!delivery.redelivered && delivery.messageId?.startsWith("held-")) await held;
      return "ack";
    });
    for (const i of [1, 2, 3]) {
      await publisher.publish({ ...messageOf(reminder(100 + i)), messageId: `held-${i}` });
    }
    await until(() => seen.length === 3, "the held messages");

    try {
      await rabbitmqctl("stop_app");
      await until(() => !b.isHealthy(), "the broker to notice the outage");
      const outageStart = Date.now();
      await assert.rejects(publisher.publish(messageOf(reminder(200))), PublishError);
      assert.ok(Date.now() - outageStart < 5_000, "a publish during the outage rejects promptly");
      releaseHeld(); // their acks go to a dead channel
    } finally {
      await rabbitmqctl("start_app");
      await rabbitmqctl("await_startup");
    }

    await until(() => b.isHealthy(), "the reconnect", 60_000);
    for (const i of [1, 2, 3]) {
      await publisher.publish({ ...messageOf(reminder(300 + i)), messageId: `after-${i}` });
    }
    await until(
      () =>
        ["held-1", "held-2", "held-3", "after-1", "after-2", "after-3"].every((id) =>
          seen.some((d) => d.messageId === id && (!id.startsWith("held-") || d.redelivered)),
        ),
      "the held messages again and the new ones",
      30_000,
    );
    await consumer.stop();
    assert.equal(await messageCount(names.notificationsQueue), 0, "everything acked");

    const retries = lines.filter((l) => l.msg === "RabbitMQ unavailable: retrying");
    assert.ok(retries.length > 0, "each reconnect attempt is logged");
    const password = new URL(url).password;
    for (const line of retries) {
      assert.equal(line.level, 40);
      if (password) assert.ok(!String(line.url).includes(`:${password}@`), "password redacted");
    }
    assert.ok(lines.some((l) => l.msg === "reconnected to RabbitMQ"));
    await b.close();
  });
});

after(async () => {
  // Whatever happened above, leave RabbitMQ running for whoever is next.
  await rabbitmqctl("start_app").catch(() => {});
});
