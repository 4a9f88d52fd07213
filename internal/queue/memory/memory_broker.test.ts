import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Delivery, type Disposition, PublishError } from "../queue.js";
import { runBrokerContract } from "../testing/broker_contract.js";
import { MemoryBroker } from "./memory_broker.js";

const message = (id: string) => ({
  messageId: id,
  contentType: "application/json",
  body: Buffer.from(`{"id":"${id}"}`),
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe("MemoryBroker", () => {
  it("confirms a publish once queued, and delivers it later with its properties", async () => {
    const broker = new MemoryBroker();
    const publisher = await broker.notificationPublisher();
    const body = Buffer.from("{}");
    await publisher.publish({ messageId: "a", contentType: "application/json", body });
    body.write("XX"); // the broker kept its own copy
    assert.equal(broker.depth, 1);

    const seen: Delivery[] = [];
    const consumer = broker.notificationConsumer({ prefetch: 5 });
    await consumer.start(async (d) => {
      seen.push(d);
      return "ack";
    });
    await until(() => broker.settled.length === 1, "the ack");
    await consumer.stop();
    assert.deepEqual(seen, [
      {
        messageId: "a",
        contentType: "application/json",
        body: Buffer.from("{}"),
        redelivered: false,
      },
    ]);
    assert.equal(broker.depth, 0);
  });

  it("redelivers a requeued message, flagged, and keeps dead letters", async () => {
    const broker = new MemoryBroker();
    const publisher = await broker.notificationPublisher();
    const answers: Disposition[] = ["requeue", "ack", "dead-letter"];
    const seen: string[] = [];
    const consumer = broker.notificationConsumer({ prefetch: 1 });
    await consumer.start(async (d) => {
      seen.push(`${d.messageId}${d.redelivered ? " again" : ""}`);
      return answers.shift() ?? "ack";
    });
    await publisher.publish(message("a"));
    await publisher.publish(message("b"));
    await until(() => broker.settled.length === 3, "three settlements");
    await consumer.stop();
    assert.deepEqual(seen, ["a", "b", "a again"]);
    assert.deepEqual(
      broker.deadLetters.map((m) => m.messageId),
      ["a"],
    );
  });

  it("a handler that throws gets its message again", async () => {
    const broker = new MemoryBroker();
    let calls = 0;
    const consumer = broker.notificationConsumer({ prefetch: 1 });
    await consumer.start(async () => {
      calls += 1;
      if (calls === 1) throw new Error("boom");
      return "ack";
    });
    await (await broker.notificationPublisher()).publish(message("a"));
    await until(() => broker.settled.length === 2, "the retry");
    await consumer.stop();
    assert.deepEqual(
      broker.settled.map((s) => s.disposition),
      ["requeue", "ack"],
    );
  });

  it("holds at most `prefetch` deliveries at once, and stop waits for them", async () => {
    const broker = new MemoryBroker();
    const publisher = await broker.notificationPublisher();
    for (const id of ["a", "b", "c", "d", "e"]) await publisher.publish(message(id));
    let inHand = 0;
    let most = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = broker.notificationConsumer({ prefetch: 2 });
    await consumer.start(async () => {
      inHand += 1;
      most = Math.max(most, inHand);
      await gate;
      inHand -= 1;
      return "ack";
    });
    await until(() => inHand === 2, "two in hand");
    const stopped = consumer.stop();
    release();
    await stopped;
    assert.equal(most, 2);
    assert.equal(inHand, 0, "stop resolved only after the handlers finished");
    assert.equal(broker.settled.length, 2);
    assert.equal(broker.depth, 3, "the rest stay queued for the next consumer");
  });

  it("hands receipts to subscribers, and refuses publishes once closed", async () => {
    const broker = new MemoryBroker();
    const receipts = await broker.receiptPublisher();
    const heard: string[] = [];
    const unsubscribe = broker.onReceipt((r) => heard.push(r.messageId));
    await receipts.publish(message("r1"));
    unsubscribe();
    await receipts.publish(message("r2"));
    assert.deepEqual(heard, ["r1"]);
    assert.deepEqual(
      broker.receipts.map((r) => r.messageId),
      ["r1", "r2"],
    );

    await broker.close();
    assert.equal(broker.isHealthy(), false);
    await assert.rejects(
      (await broker.notificationPublisher()).publish(message("x")),
      PublishError,
    );
  });
});

runBrokerContract("in-process (MemoryBroker)", async () => {
  const broker = new MemoryBroker();
  return { broker, dispose: () => broker.close() };
});
