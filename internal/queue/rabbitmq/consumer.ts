// Consuming with manual acks and a prefetch. Each delivery is settled on the
// channel it came from; if that channel died meanwhile, RabbitMQ has already
// put the message back and will deliver it again (at least once).
import type { Channel, ConsumeMessage } from "amqplib";
import type { TopologyNames } from "../../config/config.js";
import type { Logger } from "../../log/logger.js";
import type { Consumer, Delivery, Disposition, Handler } from "../queue.js";
import type { AmqpConnection } from "./connection.js";
import { ManagedChannel } from "./managed_channel.js";
import { declareTopology } from "./topology.js";

export interface RabbitConsumerOptions {
  /** Opened on start, not before: a consumer nobody starts needs no connection. */
  connect: () => Promise<AmqpConnection>;
  names: TopologyNames;
  prefetch: number;
  logger: Logger;
  /** How long start() waits for the first subscription. */
  readyTimeoutMs: number;
}

export class RabbitConsumer implements Consumer {
  private channel: ManagedChannel<Channel> | undefined;
  private readonly consumerTags = new WeakMap<Channel, string>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly options: RabbitConsumerOptions) {}

  async start(handler: Handler): Promise<void> {
    if (this.channel) throw new Error("consumer already started");
    const { names, prefetch, logger } = this.options;
    this.channel = new ManagedChannel<Channel>({
      connection: await this.options.connect(),
      purpose: "consume",
      logger,
      create: (model) => model.createChannel(),
      prepare: async (channel) => {
        await declareTopology(channel, names);
        await channel.prefetch(prefetch);
        const { consumerTag } = await channel.consume(
          names.notificationsQueue,
          (message) => this.onMessage(channel, handler, message),
          { noAck: false },
        );
        this.consumerTags.set(channel, consumerTag);
        logger.info({ queue: names.notificationsQueue, prefetch }, "consuming from RabbitMQ");
      },
    });
    try {
      await this.channel.ready(this.options.readyTimeoutMs);
    } catch (error) {
      await this.channel.close();
      this.channel = undefined;
      throw error;
    }
  }

  /** Not started counts as healthy: there is nothing to be down. */
  isHealthy(): boolean {
    return this.channel === undefined || this.channel.current() !== undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const channel = this.channel?.current();
    const tag = channel && this.consumerTags.get(channel);
    if (channel && tag) await channel.cancel(tag).catch(() => {});
    await Promise.all(this.inFlight);
    await this.channel?.close();
  }

  private onMessage(channel: Channel, handler: Handler, message: ConsumeMessage | null): void {
    if (message === null) {
      // RabbitMQ cancelled us (the queue was deleted). Closing the channel
      // makes ManagedChannel open a new one, declare the queue and consume again.
      if (!this.stopping) {
        this.options.logger.warn("RabbitMQ cancelled the consumer: subscribing again");
        channel.close().catch(() => {});
      }
      return;
    }
    const { properties } = message;
    const delivery: Delivery = {
      messageId: typeof properties.messageId === "string" ? properties.messageId : undefined,
      contentType: typeof properties.contentType === "string" ? properties.contentType : undefined,
      body: message.content,
      redelivered: message.fields.redelivered,
    };
    const done = Promise.resolve()
      .then(() => handler(delivery))
      .catch((error: unknown): Disposition => {
        this.options.logger.error(
          { err: error, messageId: delivery.messageId },
          "handler threw: requeueing the message",
        );
        return "requeue";
      })
      .then((disposition) => {
        this.inFlight.delete(done);
        this.settle(channel, message, disposition);
      });
    this.inFlight.add(done);
  }

  private settle(channel: Channel, message: ConsumeMessage, disposition: Disposition): void {
    try {
      if (disposition === "ack") channel.ack(message);
      // No requeue: the queue's dead-letter exchange takes it.
      else if (disposition === "dead-letter") channel.nack(message, false, false);
      else channel.nack(message, false, true);
    } catch (error) {
      this.options.logger.warn(
        { err: (error as Error).message, messageId: message.properties.messageId, disposition },
        "channel closed before the message was settled: RabbitMQ will deliver it again",
      );
    }
  }
}
