// The sender role: takes reminders off the queue and delivers them. Delivery
// is one JSON log line on stderr per reminder; a receipt on the status
// exchange tells tests and operators it happened.
//
// Order per message: log, publish receipt, ack. A crash or failure anywhere
// before the ack leaves the message on the queue, so a reminder can be
// delivered twice but never lost. A message that can never be delivered
// (not a valid notification) is dead-lettered at once, never requeued.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/logger.js";
import { decodeNotification, JSON_CONTENT_TYPE } from "../notification/codec.js";
import { idOf } from "../notification/notification.js";
import { encodeReceipt } from "../notification/receipt.js";
import type { ReminderMetrics } from "../observability/metrics.js";
import type { Consumer, Delivery, Disposition, Handler, Publisher } from "../queue/queue.js";

export interface SenderOptions {
  consumer: Consumer;
  /** Publishes to the status exchange. */
  receipts: Publisher;
  logger: Logger;
  clock?: () => Date;
  metrics?: ReminderMetrics;
  /**
   * How long to hold a reminder whose receipt failed before requeueing it:
   * without a pause the broker would hand it straight back, in a tight loop.
   */
  requeueDelayMs?: number;
}

export interface Sender {
  /** Stops taking reminders; resolves once those in hand are settled. */
  stop(): Promise<void>;
}

export async function runSender(options: SenderOptions): Promise<Sender> {
  await options.consumer.start(deliveryHandler(options));
  options.logger.info("sender consuming reminders");
  return { stop: () => options.consumer.stop() };
}

const BODY_PREVIEW_BYTES = 256;

export function deliveryHandler(options: SenderOptions): Handler {
  const { receipts, logger, metrics } = options;
  const clock = options.clock ?? (() => new Date());
  const requeueDelayMs = options.requeueDelayMs ?? 1000;

  const deadLetter = (delivery: Delivery, error: string): Disposition => {
    logger.error(
      {
        messageId: delivery.messageId,
        contentType: delivery.contentType,
        redelivered: delivery.redelivered,
        error,
        bodyBytes: delivery.body.length,
        bodyPreview: delivery.body.subarray(0, BODY_PREVIEW_BYTES).toString("utf8"),
      },
      "malformed notification: dead-lettering it",
    );
    metrics?.deadLettered.inc({ reason: "malformed" });
    return "dead-letter";
  };

  return async (delivery) => {
    if (delivery.contentType !== undefined && !isJson(delivery.contentType)) {
      return deadLetter(
        delivery,
        `content-type: must be ${JSON_CONTENT_TYPE} (got "${delivery.contentType}")`,
      );
    }
    const decoded = decodeNotification(delivery.body);
    if (!decoded.ok) return deadLetter(delivery, decoded.error);

    const n = decoded.value;
    const notificationId = idOf(n);
    const deliveredAt = clock();
    const latenessMs = deliveredAt.getTime() - n.notifyAt.getTime();
    // The sender's logger writes synchronously (cmd/cal_service.ts batches
    // the api's lines only), so when info() returns the line is out and the
    // message may be acked.
    logger.info(
      {
        notificationId,
        eventId: n.eventId,
        title: n.title,
        startTime: n.startTime.toISOString(),
        userId: n.userId,
        notifyAt: n.notifyAt.toISOString(),
        ...(n.recurringEventId === undefined ? {} : { recurringEventId: n.recurringEventId }),
        ...(n.originalStart === undefined ? {} : { originalStart: n.originalStart.toISOString() }),
        latenessMs,
        redelivered: delivery.redelivered,
      },
      "reminder delivered",
    );
    metrics?.delivered.inc();
    metrics?.lateness.observe(Math.max(0, latenessMs) / 1000);

    try {
      await receipts.publish({
        messageId: notificationId,
        contentType: JSON_CONTENT_TYPE,
        body: encodeReceipt({ notificationId, eventId: n.eventId, userId: n.userId, deliveredAt }),
      });
    } catch (error) {
      // Unacked, the reminder goes back on the queue and is delivered
      // again: a duplicate line for the user beats a delivery nobody can see.
      logger.warn(
        { err: error, notificationId, requeueDelayMs },
        "receipt not confirmed: requeueing the reminder",
      );
      metrics?.requeued.inc();
      await sleep(requeueDelayMs);
      return "requeue";
    }
    return "ack";
  };
}

function isJson(contentType: string): boolean {
  return contentType.split(";")[0]?.trim().toLowerCase() === JSON_CONTENT_TYPE;
}
