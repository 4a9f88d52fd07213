// `cal_service all` on the in-process queue, end to end: an event created
// through the API with its reminder 2 s away is delivered by the sender
// (one log line) once due and its receipt is published. How late reminders
// arrive is measured by the bench (bench/reminders.ts), not here.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../internal/config/config.js";
import { capturingLogger } from "../../internal/log/testing/capturing_logger.js";
import { decodeReceipt } from "../../internal/notification/receipt.js";
import { MemoryBroker } from "../../internal/queue/memory/memory_broker.js";
import { runAll } from "./all.js";

describe("cal_service all (in-process queue)", () => {
  it("delivers a reminder once due, with its log line and receipt", async () => {
    const { logger, lines } = capturingLogger();
    const config = loadConfig({
      STORAGE: "memory",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SCHEDULER_PORT: "0",
      SENDER_PORT: "0",
    });
    assert.ok(config.ok);
    const broker = new MemoryBroker(logger);
    const receipts: unknown[] = [];
    broker.onReceipt((message) => receipts.push(decodeReceipt(message.body)));

    const stop = await runAll(config.value, logger, { broker });
    try {
      const apiUrl = String(lines.find((line) => line.msg === "api listening")?.url);
      const start = new Date(Date.now() + 62_000);
      const response = await fetch(`${apiUrl}/calendar.v1.CalendarService/CreateEvent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-user-id": "alice" },
        body: JSON.stringify({
          event: {
            title: "Call Bob",
            startTime: start.toISOString(),
            duration: "600s",
            notifyBefore: "60s",
          },
        }),
      });
      assert.equal(response.status, 200, await response.clone().text());
      const { event } = (await response.json()) as { event: { id: string } };
      const notifyAt = new Date(start.getTime() - 60_000);

      const deadline = Date.now() + 10_000;
      while (receipts.length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      const delivered = lines.filter((line) => line.msg === "reminder delivered");
      assert.equal(delivered.length, 1, JSON.stringify(lines));
      const line = delivered[0] ?? {};
      assert.equal(line.eventId, event.id);
      assert.equal(line.userId, "alice");
      assert.equal(line.title, "Call Bob");
      assert.equal(line.startTime, start.toISOString());
      assert.equal(line.notifyAt, notifyAt.toISOString());
      // Not before it was due.
      assert.ok(Number(line.latenessMs) >= 0, `lateness ${line.latenessMs}`);
      assert.equal(receipts.length, 1);
      const receipt = receipts[0] as {
        ok: boolean;
        value: { eventId: string; notificationId: string };
      };
      assert.ok(receipt.ok);
      assert.equal(receipt.value.eventId, event.id);
      assert.equal(receipt.value.notificationId, line.notificationId);
    } finally {
      await stop();
    }
  });
});
