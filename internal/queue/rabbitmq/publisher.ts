// Publishing with publisher confirms: publish() resolves on the broker's ack,
// which for a quorum queue means a majority of nodes wrote the message.
import type { ConfirmChannel, Message } from "amqplib";
import { type OutgoingMessage, PublishError, type Publisher } from "../queue.js";
import type { ManagedChannel } from "./managed_channel.js";

export interface PublisherOptions {
  exchange: string;
  routingKey: string;
  /**
   * Ask the broker to return a message no queue takes, and treat that as a
   * failure. Without it an unroutable message is acked and silently dropped.
   */
  mandatory: boolean;
  /** A confirm that has not arrived by then rejects the publish. */
  confirmTimeoutMs: number;
}

/** Message-ids the broker returned as unroutable, per channel, until their confirm arrives. */
const returnedIds = new WeakMap<ConfirmChannel, Set<string>>();

/** Part of preparing a publishing channel: remember what the broker returns. */
export function trackReturns(channel: ConfirmChannel): void {
  const returned = new Set<string>();
  returnedIds.set(channel, returned);
  channel.on("return", (message: Message) => {
    const id = message.properties.messageId;
    if (typeof id === "string") returned.add(id);
  });
}

export class RabbitPublisher implements Publisher {
  constructor(
    private readonly channel: ManagedChannel<ConfirmChannel>,
    private readonly options: PublisherOptions,
  ) {}

  publish(message: OutgoingMessage): Promise<void> {
    const channel = this.channel.current();
    // Fail now rather than wait for a reconnect: the caller keeps the
    // message and retries, and an outage cannot pile up waiting publishes.
    if (!channel) return Promise.reject(new PublishError("not connected to RabbitMQ"));
    const { exchange, routingKey, mandatory, confirmTimeoutMs } = this.options;
    const returned = returnedIds.get(channel);

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new PublishError(`RabbitMQ did not confirm within ${confirmTimeoutMs} ms`)),
        confirmTimeoutMs,
      );
      try {
        channel.publish(
          exchange,
          routingKey,
          message.body,
          {
            persistent: true,
            messageId: message.messageId,
            contentType: message.contentType,
            mandatory,
          },
          (error: unknown) => {
            // RabbitMQ sends basic.return before the ack of the same message.
            const wasReturned = returned?.delete(message.messageId) ?? false;
            if (error) {
              finish(new PublishError(`RabbitMQ did not confirm: ${(error as Error).message}`));
            } else if (wasReturned) {
              finish(new PublishError(`no queue is bound to ${exchange} for "${routingKey}"`));
            } else {
              finish();
            }
          },
        );
      } catch (error) {
        // The channel closed under us.
        finish(new PublishError(`could not publish: ${(error as Error).message}`));
      }
    });
  }
}
