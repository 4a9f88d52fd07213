// Picks the transport: RabbitMQ when AMQP_URL is set, else the in-process
// queue. Open one broker per process and share it between scheduler and
// sender: with the in-process queue, that is what connects them.

import type { QueueConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import { MemoryBroker } from "./memory/memory_broker.js";
import type { Broker } from "./queue.js";
import { RabbitBroker } from "./rabbitmq/broker.js";

export function openBroker(
  config: QueueConfig,
  logger: Logger,
  options: { connectionName?: string } = {},
): Broker {
  if (config.amqpUrl === undefined) {
    logger.info("AMQP_URL unset: reminders use an in-process queue (lost on exit)");
    return new MemoryBroker(logger);
  }
  return new RabbitBroker({
    url: config.amqpUrl,
    names: config.names,
    logger,
    connectTimeoutMs: config.connectTimeoutMs,
    connectionName: options.connectionName,
  });
}
