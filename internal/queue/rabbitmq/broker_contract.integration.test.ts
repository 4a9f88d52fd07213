// The Broker contract (internal/queue/testing/broker_contract.ts) against a
// real RabbitMQ at AMQP_URL (npm run test:integration). Each test gets
// exchanges and queues of its own, deleted after it.
import { randomUUID } from "node:crypto";
import amqp from "amqplib";
import type { TopologyNames } from "../../config/config.js";
import { silentLogger } from "../../log/logger.js";
import { runBrokerContract } from "../testing/broker_contract.js";
import { RabbitBroker } from "./broker.js";

const url = process.env.AMQP_URL;
if (!url) {
  throw new Error("AMQP_URL is not set, e.g. AMQP_URL=amqp://guest:guest@127.0.0.1:5672");
}

async function deleteTopology(names: TopologyNames): Promise<void> {
  const connection = await amqp.connect(url as string);
  try {
    const channel = await connection.createChannel();
    for (const queue of [names.notificationsQueue, names.deadLetterQueue]) {
      await channel.deleteQueue(queue);
    }
    for (const exchange of [
      names.notificationsExchange,
      names.deadLetterExchange,
      names.statusExchange,
    ]) {
      await channel.deleteExchange(exchange);
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

runBrokerContract("RabbitMQ", async () => {
  const prefix = `test.contract.${randomUUID().slice(0, 8)}`;
  const names: TopologyNames = {
    notificationsExchange: `${prefix}.notifications`,
    notificationsQueue: `${prefix}.notifications`,
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.notifications.dead`,
    statusExchange: `${prefix}.status`,
  };
  const broker = new RabbitBroker({
    url: url as string,
    names,
    logger: silentLogger(),
    connectTimeoutMs: 10_000,
    confirmTimeoutMs: 3_000,
    connectionName: `cal_service contract ${prefix}`,
  });
  // Declares the topology, so that the first publish has a queue to go to.
  await broker.notificationPublisher();
  return {
    broker,
    dispose: async () => {
      await broker.close();
      await deleteTopology(names);
    },
  };
});
