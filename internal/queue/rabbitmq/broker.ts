// The Broker on RabbitMQ. Publishing and consuming use separate connections,
// as RabbitMQ advises: when a resource alarm blocks a connection that
// publishes, the acks of a consumer on that same connection would stall too.
import type { ConfirmChannel } from "amqplib";
import type { TopologyNames } from "../../config/config.js";
import type { Logger } from "../../log/logger.js";
import type { Broker, Consumer, Publisher } from "../queue.js";
import { AmqpConnection, type BackoffOptions } from "./connection.js";
import { RabbitConsumer } from "./consumer.js";
import { ManagedChannel } from "./managed_channel.js";
import { RabbitPublisher, trackReturns } from "./publisher.js";
import { declareTopology, NOTIFICATION_ROUTING_KEY } from "./topology.js";

export interface RabbitBrokerOptions {
  url: string;
  names: TopologyNames;
  logger: Logger;
  /** How long the first connection and channel may take before startup fails. */
  connectTimeoutMs: number;
  /** A publish whose confirm has not arrived by then rejects. Default 10 s. */
  confirmTimeoutMs?: number;
  /** Shown in RabbitMQ's connection list, e.g. "cal_service sender". */
  connectionName?: string;
  backoff?: BackoffOptions;
}

export class RabbitBroker implements Broker {
  private publishConnection: Promise<AmqpConnection> | undefined;
  private consumeConnection: Promise<AmqpConnection> | undefined;
  private publishChannel: Promise<ManagedChannel<ConfirmChannel>> | undefined;
  private readonly connections: AmqpConnection[] = [];
  private readonly channels: ManagedChannel<ConfirmChannel>[] = [];
  private readonly consumers: RabbitConsumer[] = [];

  constructor(private readonly options: RabbitBrokerOptions) {}

  async notificationPublisher(): Promise<Publisher> {
    return new RabbitPublisher(await this.confirmChannel(), {
      exchange: this.options.names.notificationsExchange,
      routingKey: NOTIFICATION_ROUTING_KEY,
      mandatory: true,
      confirmTimeoutMs: this.options.confirmTimeoutMs ?? 10_000,
    });
  }

  async receiptPublisher(): Promise<Publisher> {
    return new RabbitPublisher(await this.confirmChannel(), {
      exchange: this.options.names.statusExchange,
      routingKey: "",
      // Nobody listening for receipts is normal.
      mandatory: false,
      confirmTimeoutMs: this.options.confirmTimeoutMs ?? 10_000,
    });
  }

  notificationConsumer(options: { prefetch: number }): Consumer {
    const consumer = new RabbitConsumer({
      connect: () => this.connection("consume"),
      names: this.options.names,
      prefetch: options.prefetch,
      logger: this.options.logger,
      readyTimeoutMs: this.options.connectTimeoutMs,
    });
    this.consumers.push(consumer);
    return consumer;
  }

  isHealthy(): boolean {
    return (
      this.connections.every((c) => c.isConnected()) &&
      this.channels.every((c) => c.current() !== undefined) &&
      this.consumers.every((c) => c.isHealthy())
    );
  }

  /** Also after a failed start: connections keep retrying until closed. */
  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    await Promise.all(this.channels.map((c) => c.close()));
    await Promise.all(this.connections.map((c) => c.close()));
  }

  private confirmChannel(): Promise<ManagedChannel<ConfirmChannel>> {
    this.publishChannel ??= (async () => {
      const channel = new ManagedChannel<ConfirmChannel>({
        connection: await this.connection("publish"),
        purpose: "publish",
        logger: this.options.logger,
        create: (model) => model.createConfirmChannel(),
        prepare: async (ch) => {
          trackReturns(ch);
          await declareTopology(ch, this.options.names);
        },
      });
      try {
        await channel.ready(this.options.connectTimeoutMs);
      } catch (error) {
        await channel.close();
        throw error;
      }
      this.channels.push(channel);
      return channel;
    })();
    // A failed start may be retried by calling again.
    this.publishChannel.catch(() => {
      this.publishChannel = undefined;
    });
    return this.publishChannel;
  }

  private connection(purpose: "publish" | "consume"): Promise<AmqpConnection> {
    const open = async () => {
      const connection = await AmqpConnection.open({
        url: this.options.url,
        name: `${this.options.connectionName ?? "cal_service"} (${purpose})`,
        logger: this.options.logger,
        backoff: this.options.backoff,
      });
      this.connections.push(connection);
      return connection;
    };
    if (purpose === "publish") {
      this.publishConnection ??= open();
      return this.publishConnection;
    }
    this.consumeConnection ??= open();
    return this.consumeConnection;
  }
}
