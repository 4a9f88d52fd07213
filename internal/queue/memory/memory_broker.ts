// The queue inside one process, for `cal_service all` without AMQP_URL and
// for tests. Same contract as RabbitMQ, checked against both by
// internal/queue/testing/broker_contract.ts: publish resolves once the
// message is queued (this process's memory is the "broker"), deliveries are
// at least once, dead-lettered messages are kept, receipts go to in-process
// subscribers. Nothing survives the process.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../log/logger.js";
import {
  type Broker,
  type Consumer,
  type Delivery,
  type Disposition,
  type Handler,
  type OutgoingMessage,
  PublishError,
  type Publisher,
} from "../queue.js";

interface Queued {
  message: OutgoingMessage;
  redelivered: boolean;
}

export interface Settled {
  messageId: string;
  disposition: Disposition;
}

// The histories below are for tests and debugging; in a long-running `all`
// process they keep only the most recent entries so memory stays flat.
const HISTORY_LIMIT = 1000;

function remember<T>(history: T[], item: T): void {
  history.push(item);
  if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
}

export class MemoryBroker implements Broker {
  /** Messages dead-lettered by a consumer, oldest first (the last 1000). */
  readonly deadLetters: OutgoingMessage[] = [];
  /** Receipts published, oldest first (the last 1000). */
  readonly receipts: OutgoingMessage[] = [];
  /** Dispositions handlers returned, oldest first (the last 1000). */
  readonly settled: Settled[] = [];

  private readonly pending: Queued[] = [];
  private readonly consumers = new Set<MemoryConsumer>();
  private readonly receiptListeners = new Set<(receipt: OutgoingMessage) => void>();
  private closed = false;

  constructor(private readonly logger?: Logger) {}

  async notificationPublisher(): Promise<Publisher> {
    return { publish: (message) => this.accept(message, (m) => this.enqueue(m, false)) };
  }

  async receiptPublisher(): Promise<Publisher> {
    return {
      publish: (message) =>
        this.accept(message, (m) => {
          remember(this.receipts, m);
          for (const listener of this.receiptListeners) listener(m);
        }),
    };
  }

  notificationConsumer(options: { prefetch: number }): Consumer {
    return new MemoryConsumer(this, options.prefetch);
  }

  /** Calls `listener` with every receipt published from now on; returns an unsubscribe. */
  onReceipt(listener: (receipt: OutgoingMessage) => void): () => void {
    this.receiptListeners.add(listener);
    return () => this.receiptListeners.delete(listener);
  }

  /** Messages queued and not yet handed to a consumer. */
  get depth(): number {
    return this.pending.length;
  }

  /**
   * Resolves once every queued message has been delivered and settled by the
   * attached consumers, or after `timeoutMs`, with how many were not. What
   * this queue holds dies with the process: `all` drains it before it stops.
   */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.unsettled() > 0 && Date.now() < deadline) await sleep(5);
    return this.unsettled();
  }

  private unsettled(): number {
    let inHand = 0;
    for (const consumer of this.consumers) inHand += consumer.inHand;
    return this.pending.length + inHand;
  }

  isHealthy(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
  }

  private async accept(
    message: OutgoingMessage,
    store: (message: OutgoingMessage) => void,
  ): Promise<void> {
    if (this.closed) throw new PublishError("in-process broker is closed");
    // A copy, as a real broker would hold: the caller may reuse its buffer.
    store({ ...message, body: Buffer.from(message.body) });
  }

  // Consumers call these.

  attach(consumer: MemoryConsumer): void {
    this.consumers.add(consumer);
    this.dispatchSoon();
  }

  detach(consumer: MemoryConsumer): void {
    this.consumers.delete(consumer);
  }

  settle(queued: Queued, disposition: Disposition): void {
    remember(this.settled, { messageId: queued.message.messageId, disposition });
    if (disposition === "dead-letter") remember(this.deadLetters, queued.message);
    if (disposition === "requeue") this.enqueue(queued.message, true);
    else this.dispatchSoon();
  }

  warn(error: unknown, messageId: string): void {
    this.logger?.warn({ err: error, messageId }, "handler threw: requeueing the message");
  }

  private enqueue(message: OutgoingMessage, redelivered: boolean): void {
    this.pending.push({ message, redelivered });
    this.dispatchSoon();
  }

  private dispatchScheduled = false;

  // Deliver on a later turn, as a network would: publish resolves before
  // the consumer sees the message, and a requeue loop cannot recurse.
  private dispatchSoon(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const consumer of this.consumers) {
      while (this.pending.length > 0 && consumer.hasRoom()) {
        const queued = this.pending.shift();
        if (queued) consumer.deliver(queued);
      }
    }
  }
}

class MemoryConsumer implements Consumer {
  private handler: Handler | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly broker: MemoryBroker,
    private readonly prefetch: number,
  ) {}

  async start(handler: Handler): Promise<void> {
    if (this.handler) throw new Error("consumer already started");
    this.handler = handler;
    this.broker.attach(this);
  }

  async stop(): Promise<void> {
    this.broker.detach(this);
    await Promise.all(this.inFlight);
  }

  get inHand(): number {
    return this.inFlight.size;
  }

  hasRoom(): boolean {
    return this.inFlight.size < this.prefetch;
  }

  deliver(queued: Queued): void {
    const handler = this.handler;
    if (!handler) return;
    const delivery: Delivery = {
      messageId: queued.message.messageId,
      contentType: queued.message.contentType,
      body: Buffer.from(queued.message.body),
      redelivered: queued.redelivered,
    };
    const done = Promise.resolve()
      .then(() => handler(delivery))
      .catch((error: unknown): Disposition => {
        this.broker.warn(error, queued.message.messageId);
        return "requeue";
      })
      .then((disposition) => {
        this.inFlight.delete(done);
        this.broker.settle(queued, disposition);
      });
    this.inFlight.add(done);
  }
}
