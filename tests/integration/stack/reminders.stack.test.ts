// The stack-level suite: reminders (shared setup and helpers in ./stack.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { notificationId } from "../../../internal/notification/notification.js";
import { untilFound } from "../../../internal/testing/wait.js";
import {
  type CalendarClient,
  client,
  createOk,
  edited,
  env,
  expectNoRow,
  expectStored,
  HOUR,
  MINUTE,
  ON_TIME_MS,
  QUIET_MS,
  RUN,
  receipts,
  rowOf,
  type SeenReceipt,
  tsMs,
  until,
  user,
  useStack,
} from "./stack.js";

useStack();

describe(`cal_service stack at ${env.API_URL} (run ${RUN}): reminders`, {
  concurrency: true,
}, () => {
  /** An event starting in an hour, whose reminder is due `inMs` from now. */
  const remindIn = async (c: CalendarClient, inMs: number) => {
    const now = Date.now();
    const start = Math.ceil(now / MINUTE) * MINUTE + HOUR;
    const notifyAt = now + inMs;
    const event = await createOk(c, {
      title: `reminder due ${new Date(notifyAt).toISOString()}`,
      start,
      durationMs: 30 * MINUTE,
      notifyBeforeMs: start - notifyAt,
    });
    return { event, notifyAt };
  };

  const waitForReceipts = async (eventId: string, count: number, dueAt: number) => {
    await until(
      () => receipts().forEvent(eventId).length >= count,
      () =>
        `receipt ${count} for event ${eventId} (due ${new Date(dueAt).toISOString()}); ` +
        `seen: ${JSON.stringify(
          receipts()
            .forEvent(eventId)
            .map((r) => r.body),
        )}`,
      Math.max(0, dueAt - Date.now()) + 15_000,
    );
    const seen = receipts().forEvent(eventId)[count - 1];
    assert.ok(seen);
    return seen;
  };

  const assertReceipt = (seen: SeenReceipt, userId: string, eventId: string, notifyAt: number) => {
    const id = notificationId(userId, eventId, new Date(notifyAt));
    assert.deepEqual(Object.keys(seen.body).sort(), [
      "deliveredAt",
      "eventId",
      "notificationId",
      "userId",
    ]);
    assert.equal(seen.body.notificationId, id);
    assert.equal(seen.body.eventId, eventId);
    assert.equal(seen.body.userId, userId);
    assert.equal(seen.messageId, id, "the AMQP message-id is the notification id");
    assert.equal(seen.contentType, "application/json");
    assert.equal(typeof seen.body.deliveredAt, "string");
    const deliveredAt = Date.parse(String(seen.body.deliveredAt));
    assert.equal(new Date(deliveredAt).toISOString(), seen.body.deliveredAt, "an ISO instant");
    assert.ok(
      deliveredAt >= notifyAt,
      `delivered early: due ${new Date(notifyAt).toISOString()}, delivered ${seen.body.deliveredAt}`,
    );
    assert.ok(
      seen.receivedAt <= notifyAt + ON_TIME_MS,
      `late: due ${new Date(notifyAt).toISOString()}, receipt seen ${seen.receivedAt - notifyAt} ms after (allowed ${ON_TIME_MS})`,
    );
  };

  it("a reminder a few seconds away produces one receipt with the right fields", {
    timeout: 40_000,
  }, async (t) => {
    const u = user("reminder");
    const c = client(u);
    const { event, notifyAt } = await remindIn(c, 3000);
    const before = await expectStored(u, event);
    assert.equal(before.notify_at_ms, notifyAt);
    assert.equal(before.reminder_due_ms, notifyAt, "pending");

    const seen = await waitForReceipts(event.id, 1, notifyAt);
    assertReceipt(seen, u, event.id, notifyAt);
    t.diagnostic(`receipt seen ${seen.receivedAt - notifyAt} ms after notify_at`);

    // The scheduler marks the reminder after RabbitMQ's confirm, which can
    // come after the sender's receipt: wait for the mark, do not race it.
    const sent = await untilFound(
      async () => {
        const row = await rowOf(u, event.id);
        return row && row.reminder_due_ms === null ? row : undefined;
      },
      `event ${event.id} marked sent in the database`,
      5000,
    );
    assert.equal(sent.version, 1, "sending is not an update");

    // A change that does not move the reminder leaves it sent.
    const { event: renamed } = await c.updateEvent({
      event: edited(event, { title: "Renamed" }),
    });
    assert.ok(renamed);
    const afterRename = await expectStored(u, renamed);
    assert.equal(afterRename.reminder_due_ms, null, "still sent");

    await sleep(QUIET_MS);
    assert.equal(receipts().forEvent(event.id).length, 1, "delivered more than once");
    assert.deepEqual(receipts().malformed, []);
  });

  it("moving the event re-arms its reminder: a second receipt, for the new time", {
    timeout: 60_000,
  }, async () => {
    const u = user("re-arm");
    const c = client(u);
    const { event, notifyAt } = await remindIn(c, 2000);
    assertReceipt(await waitForReceipts(event.id, 1, notifyAt), u, event.id, notifyAt);
    await until(
      async () => (await rowOf(u, event.id))?.reminder_due_ms === null,
      () => `event ${event.id} marked sent`,
      5000,
    );

    const start = tsMs(event.startTime) + HOUR;
    const newNotifyAt = Date.now() + 2000;
    const { event: moved } = await c.updateEvent({
      event: edited(event, {
        startTime: timestampFromMs(start),
        notifyBefore: durationFromMs(start - newNotifyAt),
      }),
      expectedVersion: 1,
    });
    assert.ok(moved);
    const rearmed = await expectStored(u, moved);
    assert.equal(rearmed.reminder_due_ms, newNotifyAt, "re-armed");
    assert.equal(rearmed.notify_at_ms, newNotifyAt);

    assertReceipt(await waitForReceipts(event.id, 2, newNotifyAt), u, event.id, newNotifyAt);
    await sleep(QUIET_MS);
    assert.equal(receipts().forEvent(event.id).length, 2);
  });

  it("a deleted event's reminder never goes out", { timeout: 30_000 }, async () => {
    const u = user("cancelled");
    const c = client(u);
    const { event, notifyAt } = await remindIn(c, 2000);
    await c.deleteEvent({ id: event.id });
    await expectNoRow(u, event.id);
    await sleep(Math.max(0, notifyAt - Date.now()) + QUIET_MS);
    assert.deepEqual(receipts().forEvent(event.id), []);
  });
});
