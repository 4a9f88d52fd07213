import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../log/logger.js";
import { encodeNotification, JSON_CONTENT_TYPE } from "../notification/codec.js";
import { idOf } from "../notification/notification.js";
import { MemoryBroker } from "../queue/memory/memory_broker.js";
import { FaultyBroker } from "../queue/testing/faulty_broker.js";
import { startSenderRole } from "./role.js";

describe("startSenderRole", () => {
  it("delivers from the broker and reports it on /metrics and /healthz", async () => {
    const broker = new MemoryBroker();
    const faulty = new FaultyBroker(broker);
    const role = await startSenderRole({
      broker: faulty,
      prefetch: 10,
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger(),
    });
    try {
      const n = {
        eventId: "e1",
        userId: "alice",
        title: "Standup",
        startTime: new Date("2026-12-01T09:00:00Z"),
        notifyAt: new Date("2026-12-01T08:55:00Z"),
      };
      await (await broker.notificationPublisher()).publish({
        messageId: idOf(n),
        contentType: JSON_CONTENT_TYPE,
        body: encodeNotification(n),
      });
      const deadline = Date.now() + 2000;
      while (broker.receipts.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(broker.receipts.length, 1);

      const metrics = await (await fetch(`${role.url}/metrics`)).text();
      assert.match(metrics, /^reminders_delivered_total 1$/m);
      assert.match(metrics, /^reminder_lateness_seconds_count 1$/m);
      assert.match(metrics, /^process_cpu_user_seconds_total /m);

      assert.equal((await fetch(`${role.url}/healthz`)).status, 200);
      faulty.setHealthy(false);
      const res = await fetch(`${role.url}/healthz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), {
        status: "unhealthy",
        reason: "message broker unavailable",
      });
    } finally {
      await role.stop();
      await broker.close();
    }
  });
});
