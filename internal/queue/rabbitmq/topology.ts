// The exchanges and queues, declared (idempotently) on every channel we open,
// so whichever role starts first creates them and a queue deleted by hand is
// back on the next reconnect.
//
// The notifications queue is a quorum queue, not a classic one: RabbitMQ's
// recommended type for data that must not be lost (replicated, fsynced
// before the publisher confirm), with a delivery limit, so a message that
// keeps coming back (a sender that crashes on it, or a receipt that can
// never be confirmed) ends in the dead-letter queue instead of cycling
// forever. Quorum queues are always durable and cannot be exclusive, which
// suits a shared work queue.
import type { Channel } from "amqplib";
import type { TopologyNames } from "../../config/config.js";

/** Routing key from the notifications exchange to the notifications queue. */
export const NOTIFICATION_ROUTING_KEY = "notification";

/**
 * Deliveries of one message before the queue dead-letters it. Counts
 * requeues and messages returned by a lost connection; high enough that
 * broker restarts and short receipt outages never reach it.
 */
export const DELIVERY_LIMIT = 20;

export async function declareTopology(channel: Channel, names: TopologyNames): Promise<void> {
  await channel.assertExchange(names.deadLetterExchange, "fanout", { durable: true });
  await channel.assertQueue(names.deadLetterQueue, {
    durable: true,
    arguments: { "x-queue-type": "quorum" },
  });
  await channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, "");

  await channel.assertExchange(names.notificationsExchange, "direct", { durable: true });
  await channel.assertQueue(names.notificationsQueue, {
    durable: true,
    arguments: {
      "x-queue-type": "quorum",
      "x-dead-letter-exchange": names.deadLetterExchange,
      "x-delivery-limit": DELIVERY_LIMIT,
      // Dead-letter at least once: the message leaves this queue only once
      // the dead-letter queue has it. RabbitMQ requires reject-publish
      // overflow for that; with no length limit set it never triggers.
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
    },
  });
  await channel.bindQueue(
    names.notificationsQueue,
    names.notificationsExchange,
    NOTIFICATION_ROUTING_KEY,
  );

  await channel.assertExchange(names.statusExchange, "fanout", { durable: true });
}
