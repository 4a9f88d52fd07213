// `cal_service sender`: delivers reminders from RabbitMQ. Loads amqplib and
// its /metrics and /healthz port (node:http); no store, so neither Fastify,
// postgres.js nor PGlite (cmd/roles_load.test.ts checks it).
import { assertRequirements } from "../../internal/app/requirements.js";
import { type Stop, stopInOrder } from "../../internal/app/stop.js";
import type { Config } from "../../internal/config/config.js";
import type { Logger } from "../../internal/log/logger.js";
import { openBroker } from "../../internal/queue/open.js";
import type { Broker } from "../../internal/queue/queue.js";
import { startSenderRole } from "../../internal/sender/role.js";

export async function runSender(config: Config, logger: Logger): Promise<Stop> {
  assertRequirements("sender", config);
  const broker = openBroker(config.queue, logger, { connectionName: "cal_service sender" });
  try {
    return stopInOrder([await startSender(config, logger, broker), () => broker.close()]);
  } catch (error) {
    await broker.close();
    throw error;
  }
}

/** The sender on a broker opened by the caller (`all` shares it with the scheduler). */
export async function startSender(config: Config, logger: Logger, broker: Broker): Promise<Stop> {
  const sender = await startSenderRole({
    broker,
    prefetch: config.queue.senderPrefetch,
    host: config.api.host,
    port: config.queue.senderPort,
    logger,
  });
  return () => sender.stop();
}
