// The transport the scheduler and sender see. It knows messages, not
// notifications, and not RabbitMQ: internal/queue/rabbitmq and
// internal/queue/memory implement it, and the roles pick one at start.

/** A message to publish: always persistent (it must survive a broker restart). */
export interface OutgoingMessage {
  /**
   * Becomes the AMQP message-id. Give the same id to every attempt at the
   * same message so consumers can tell a duplicate from a new message.
   */
  messageId: string;
  contentType: string;
  body: Buffer;
}

export interface Publisher {
  /**
   * Resolves only once the broker has taken responsibility for the message
   * (publisher confirm). Rejects when it refused it, could not route it,
   * did not confirm in time, or the connection is down: the caller must then
   * treat the message as not sent and try again later. Never waits for a
   * reconnection, so a broker outage cannot hang the caller.
   */
  publish(message: OutgoingMessage): Promise<void>;
}

export interface Delivery {
  /** Undefined when the publisher set none. */
  messageId: string | undefined;
  contentType: string | undefined;
  body: Buffer;
  /** True when this message may have been handled before (at-least-once). */
  redelivered: boolean;
}

/**
 * What to do with a delivery once handled:
 * - "ack": done, remove it from the queue.
 * - "dead-letter": it can never be handled; move it to the dead-letter queue.
 * - "requeue": it failed for a reason that may pass; deliver it again later.
 */
export type Disposition = "ack" | "dead-letter" | "requeue";

export type Handler = (delivery: Delivery) => Promise<Disposition>;

export interface Consumer {
  /**
   * Starts handling deliveries, several at a time (up to the prefetch).
   * Resolves once consuming has begun. A handler that throws counts as
   * "requeue"; handlers should return a disposition instead.
   */
  start(handler: Handler): Promise<void>;
  /** Stops taking new deliveries and waits for the ones in hand to settle. */
  stop(): Promise<void>;
}

export interface Broker {
  /** Publishes to the notifications exchange, which routes to the notifications queue. */
  notificationPublisher(): Promise<Publisher>;
  /** Publishes to the status exchange, for anyone who bound a queue to it. */
  receiptPublisher(): Promise<Publisher>;
  /** Consumes the notifications queue. */
  notificationConsumer(options: { prefetch: number }): Consumer;
  /** False while any connection this broker opened is down (for /healthz). */
  isHealthy(): boolean;
  /** Stops consumers, closes channels and connections. */
  close(): Promise<void>;
}

/** Raised by publish when the message cannot be confirmed; the caller retries later. */
export class PublishError extends Error {
  override readonly name = "PublishError";
}
