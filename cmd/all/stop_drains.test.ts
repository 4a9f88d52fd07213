// `cal_service all` on the in-process queue: a reminder the scheduler
// published is marked sent, so the queue holds the only copy. Stopping must
// not drop what the sender has not taken yet (beyond its prefetch).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../internal/config/config.js";
import { capturingLogger } from "../../internal/log/testing/capturing_logger.js";
import { notificationMessage } from "../../internal/notification/message.js";
import { MemoryBroker } from "../../internal/queue/memory/memory_broker.js";
import { runAll } from "./all.js";

const QUEUED = 300;

describe("cal_service all stopping on the in-process queue", () => {
  it("delivers every reminder still queued before it stops", async () => {
    const { logger, lines } = capturingLogger();
    const config = loadConfig({
      STORAGE: "memory",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SCHEDULER_PORT: "0",
      SENDER_PORT: "0",
      SENDER_PREFETCH: "1",
    });
    assert.ok(config.ok);
    const broker = new MemoryBroker(logger);
    const receipts: string[] = [];
    broker.onReceipt((receipt) => receipts.push(receipt.messageId));
    const stop = await runAll(config.value, logger, { broker });

    // What a scheduler pass publishes: confirmed by the queue, so marked sent.
    const publisher = await broker.notificationPublisher();
    const start = new Date(Date.now() + 3_600_000);
    for (let i = 0; i < QUEUED; i += 1) {
      await publisher.publish(
        notificationMessage({
          eventId: `event-${i}`,
          userId: "alice",
          title: `Meeting ${i}`,
          startTime: start,
          notifyAt: new Date(start.getTime() - 600_000),
        }),
      );
    }
    await stop();

    const delivered = lines.filter((line) => line.msg === "reminder delivered");
    assert.equal(delivered.length, QUEUED, `delivered ${delivered.length} of ${QUEUED}`);
    assert.equal(receipts.length, QUEUED);
    assert.equal(broker.depth, 0);
  });
});
