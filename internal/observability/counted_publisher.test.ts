import assert from "node:assert/strict";
import { it } from "node:test";
import client from "prom-client";
import { MemoryBroker } from "../queue/memory/memory_broker.js";
import { PublishError } from "../queue/queue.js";
import { FaultyBroker } from "../queue/testing/faulty_broker.js";
import { countedPublisher } from "./counted_publisher.js";
import { createReminderMetrics } from "./metrics.js";

it("counts every publish, and a confirm only when the broker confirmed", async () => {
  const registry = new client.Registry();
  const metrics = createReminderMetrics(registry);
  const broker = new FaultyBroker(new MemoryBroker());
  const publisher = countedPublisher(await broker.notificationPublisher(), metrics);
  const message = { messageId: "m", contentType: "application/json", body: Buffer.from("{}") };

  await publisher.publish(message);
  broker.failPublishes(new PublishError("down"));
  await assert.rejects(publisher.publish(message), PublishError);

  const value = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
  assert.equal(await value("reminders_published_total"), 2);
  assert.equal(await value("reminders_confirmed_total"), 1);
});
