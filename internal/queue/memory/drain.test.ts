// MemoryBroker.drain: what `all` waits for before its sender stops.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBroker } from "./memory_broker.js";

const message = (id: string) => ({
  messageId: id,
  contentType: "application/json",
  body: Buffer.from(`{"id":"${id}"}`),
});

describe("MemoryBroker.drain", () => {
  it("waits until the consumer has settled every queued message", async () => {
    const broker = new MemoryBroker();
    const publisher = await broker.notificationPublisher();
    for (const id of ["a", "b", "c", "d"]) await publisher.publish(message(id));
    const consumer = broker.notificationConsumer({ prefetch: 1 });
    await consumer.start(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return "ack";
    });
    assert.equal(await broker.drain(5000), 0);
    assert.deepEqual(
      broker.settled.map((s) => s.messageId),
      ["a", "b", "c", "d"],
    );
    await consumer.stop();
  });

  it("gives up after its timeout and says how many were not settled", async () => {
    const broker = new MemoryBroker();
    const publisher = await broker.notificationPublisher();
    for (const id of ["a", "b", "c"]) await publisher.publish(message(id));
    // No consumer: nothing will take them.
    const began = Date.now();
    assert.equal(await broker.drain(50), 3);
    assert.ok(Date.now() - began < 2000);
  });
});
