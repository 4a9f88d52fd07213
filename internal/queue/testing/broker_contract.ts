// What every Broker promises the scheduler and the sender, run against each
// one: the in-process MemoryBroker (memory_broker.test.ts) and RabbitMQ
// (broker_contract.integration.test.ts). The in-process queue stands in for
// RabbitMQ in `cal_service all` and in tests, so it must behave the same.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { until as waitUntil } from "../../testing/wait.js";
import {
  type Broker,
  type Delivery,
  type Disposition,
  type OutgoingMessage,
  PublishError,
} from "../queue.js";

export interface BrokerUnderTest {
  /** A broker on queues of its own, empty. */
  broker: Broker;
  /** Closes the broker (if the test did not) and removes what it declared. */
  dispose(): Promise<void>;
}

const message = (id: string): OutgoingMessage => ({
  messageId: id,
  contentType: "application/json",
  body: Buffer.from(JSON.stringify({ id })),
});

/** The shared poll, with this suite's default wait. */
const until = (condition: () => boolean, what: string, timeoutMs = 10_000) =>
  waitUntil(condition, what, timeoutMs, 5);

/**
 * Consumes with `decide` choosing each delivery's disposition, recording
 * every delivery. Stop it with the returned consumer.
 */
async function consume(
  broker: Broker,
  decide: (delivery: Delivery, seenBefore: number) => Disposition | Promise<Disposition>,
  prefetch = 1,
) {
  const seen: Delivery[] = [];
  const consumer = broker.notificationConsumer({ prefetch });
  await consumer.start(async (delivery) => {
    const before = seen.filter((d) => d.messageId === delivery.messageId).length;
    seen.push(delivery);
    return decide(delivery, before);
  });
  const ids = () => seen.map((d) => d.messageId);
  return { consumer, seen, ids };
}

export function runBrokerContract(name: string, open: () => Promise<BrokerUnderTest>): void {
  describe(`Broker contract: ${name}`, { concurrency: 1 }, () => {
    async function withBroker(test: (broker: Broker) => Promise<void>): Promise<void> {
      const opened = await open();
      try {
        await test(opened.broker);
      } finally {
        await opened.dispose();
      }
    }

    it("delivers what was published once publish resolved, with its id, content type and body", () =>
      withBroker(async (broker) => {
        const publisher = await broker.notificationPublisher();
        const sent = message(randomUUID());
        const body = Buffer.from(sent.body);
        await publisher.publish(sent);
        sent.body.fill(0); // the broker holds its own copy once it confirmed

        const { consumer, seen } = await consume(broker, () => "ack");
        await until(() => seen.length === 1, "the delivery");
        await consumer.stop();
        assert.deepEqual(seen[0], {
          messageId: sent.messageId,
          contentType: "application/json",
          body,
          redelivered: false,
        });
      }));

    it("delivers a requeued message again, flagged, and one whose handler threw", () =>
      withBroker(async (broker) => {
        const publisher = await broker.notificationPublisher();
        await publisher.publish(message("requeued"));
        await publisher.publish(message("threw"));
        const { consumer, seen, ids } = await consume(broker, (delivery, before) => {
          if (before > 0) return "ack";
          if (delivery.messageId === "threw") throw new Error("handler bug");
          return "requeue";
        });
        await until(() => seen.length === 4, "both messages twice");
        await consumer.stop();
        assert.deepEqual(ids().sort(), ["requeued", "requeued", "threw", "threw"]);
        for (const delivery of seen) {
          const first = seen.find((d) => d.messageId === delivery.messageId) === delivery;
          assert.equal(delivery.redelivered, !first, `${delivery.messageId} redelivered flag`);
        }
      }));

    it("does not deliver an acked or a dead-lettered message again", () =>
      withBroker(async (broker) => {
        const publisher = await broker.notificationPublisher();
        await publisher.publish(message("acked"));
        await publisher.publish(message("dead"));
        const { consumer, ids } = await consume(broker, (delivery) =>
          delivery.messageId === "dead" ? "dead-letter" : "ack",
        );
        await until(() => ids().length === 2, "both messages");
        // A message published after them arrives after any redelivery would.
        await publisher.publish(message("marker"));
        await until(() => ids().includes("marker"), "the marker");
        await consumer.stop();
        assert.deepEqual(ids(), ["acked", "dead", "marker"]);
      }));

    it("holds at most `prefetch` unsettled deliveries; stop waits for them; the rest go to the next consumer", () =>
      withBroker(async (broker) => {
        const publisher = await broker.notificationPublisher();
        const published = ["a", "b", "c", "d", "e"];
        for (const id of published) await publisher.publish(message(id));
        let inHand = 0;
        let most = 0;
        let release = () => {};
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        const first = await consume(
          broker,
          async (): Promise<Disposition> => {
            inHand += 1;
            most = Math.max(most, inHand);
            await gate;
            inHand -= 1;
            return "ack";
          },
          2,
        );
        await until(() => inHand === 2, "two in hand");
        const stopped = first.consumer.stop();
        release();
        await stopped;
        assert.equal(most, 2, "never more than prefetch in hand");
        assert.equal(inHand, 0, "stop resolved only after the handlers finished");

        const next = await consume(broker, () => "ack");
        const handled = () => [...first.ids(), ...next.ids()];
        await until(() => handled().length >= published.length, "every message handled");
        await next.consumer.stop();
        assert.deepEqual([...new Set(handled())].sort(), published, "each message handled");
        assert.equal(first.ids().length, 2, "the first consumer took only what it could hold");
      }));

    it("confirms receipts with nobody listening for them", () =>
      withBroker(async (broker) => {
        const receipts = await broker.receiptPublisher();
        await receipts.publish(message("receipt"));
      }));

    it("refuses publishes once closed, and reports itself unhealthy", () =>
      withBroker(async (broker) => {
        const publisher = await broker.notificationPublisher();
        assert.equal(broker.isHealthy(), true);
        await broker.close();
        assert.equal(broker.isHealthy(), false);
        await assert.rejects(publisher.publish(message("late")), PublishError);
      }));
  });
}
