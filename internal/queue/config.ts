// The queue's environment variables. Kept next to the queue code until the
// lead merges them into internal/config: readQueueConfig throws ConfigError
// like the readers there, so it can be called inside loadConfig's try.
import { ConfigError, duration, integer, text, type VariableDoc } from "../config/env.js";
import { err, ok, type Result } from "../domain/result.js";

export interface TopologyNames {
  /** Direct exchange the scheduler publishes to. */
  notificationsExchange: string;
  /** Durable queue the sender consumes. */
  notificationsQueue: string;
  /** Fanout exchange rejected and over-delivered notifications go to. */
  deadLetterExchange: string;
  deadLetterQueue: string;
  /** Fanout exchange for delivery receipts; consumers bind their own queues. */
  statusExchange: string;
}

export interface QueueConfig {
  /** Unset: the in-process queue (only `all` can use it: nothing leaves the process). */
  amqpUrl: string | undefined;
  names: TopologyNames;
  /** How long to retry the first connection before giving up. */
  connectTimeoutMs: number;
  senderPrefetch: number;
  /** Port of the sender's /metrics and /healthz. */
  senderPort: number;
}

export const defaultNames: TopologyNames = {
  notificationsExchange: "cal.notifications",
  notificationsQueue: "cal.notifications",
  deadLetterExchange: "cal.dead-letter",
  deadLetterQueue: "cal.notifications.dead",
  statusExchange: "cal.status",
};

export const queueVariables: VariableDoc[] = [
  {
    name: "AMQP_URL",
    default: "(unset)",
    description:
      "amqp:// or amqps:// URL of RabbitMQ. Unset: `all` uses an in-process queue (lost on exit).",
  },
  {
    name: "AMQP_CONNECT_TIMEOUT",
    default: "60s",
    description: "How long to retry the first RabbitMQ connection (later ones: forever).",
  },
  {
    name: "AMQP_NOTIFICATIONS_EXCHANGE",
    default: defaultNames.notificationsExchange,
    description: "Direct exchange the scheduler publishes reminders to.",
  },
  {
    name: "AMQP_NOTIFICATIONS_QUEUE",
    default: defaultNames.notificationsQueue,
    description: "Quorum queue the sender consumes reminders from.",
  },
  {
    name: "AMQP_DEAD_LETTER_EXCHANGE",
    default: defaultNames.deadLetterExchange,
    description: "Fanout exchange for messages the sender cannot deliver.",
  },
  {
    name: "AMQP_DEAD_LETTER_QUEUE",
    default: defaultNames.deadLetterQueue,
    description: "Queue keeping dead-lettered messages for inspection.",
  },
  {
    name: "AMQP_STATUS_EXCHANGE",
    default: defaultNames.statusExchange,
    description: "Fanout exchange the sender publishes delivery receipts to.",
  },
  {
    name: "SENDER_PREFETCH",
    default: "200",
    description: "Most reminders the sender holds unacknowledged at once.",
  },
  {
    name: "SENDER_PORT",
    default: "8082",
    description: "Port for the sender's /metrics and /healthz.",
  },
];

type Env = Record<string, string | undefined>;

export function loadQueueConfig(env: Env): Result<QueueConfig, ConfigError> {
  try {
    return ok(readQueueConfig(env));
  } catch (error) {
    if (error instanceof ConfigError) return err(error);
    throw error;
  }
}

/** Throws ConfigError naming the first bad variable. */
export function readQueueConfig(env: Env): QueueConfig {
  const names: TopologyNames = {
    notificationsExchange: name(
      env,
      "AMQP_NOTIFICATIONS_EXCHANGE",
      defaultNames.notificationsExchange,
    ),
    notificationsQueue: name(env, "AMQP_NOTIFICATIONS_QUEUE", defaultNames.notificationsQueue),
    deadLetterExchange: name(env, "AMQP_DEAD_LETTER_EXCHANGE", defaultNames.deadLetterExchange),
    deadLetterQueue: name(env, "AMQP_DEAD_LETTER_QUEUE", defaultNames.deadLetterQueue),
    statusExchange: name(env, "AMQP_STATUS_EXCHANGE", defaultNames.statusExchange),
  };
  // One exchange doing two jobs would route receipts or dead letters back
  // into the notifications queue; one queue doing two would loop forever.
  if (names.deadLetterExchange === names.notificationsExchange) {
    throw new ConfigError(
      "AMQP_DEAD_LETTER_EXCHANGE",
      "must differ from AMQP_NOTIFICATIONS_EXCHANGE",
    );
  }
  if (
    names.statusExchange === names.notificationsExchange ||
    names.statusExchange === names.deadLetterExchange
  ) {
    throw new ConfigError(
      "AMQP_STATUS_EXCHANGE",
      "must differ from AMQP_NOTIFICATIONS_EXCHANGE and AMQP_DEAD_LETTER_EXCHANGE",
    );
  }
  if (names.deadLetterQueue === names.notificationsQueue) {
    throw new ConfigError("AMQP_DEAD_LETTER_QUEUE", "must differ from AMQP_NOTIFICATIONS_QUEUE");
  }
  return {
    amqpUrl: amqpUrl(env, "AMQP_URL"),
    names,
    connectTimeoutMs: duration(env, "AMQP_CONNECT_TIMEOUT", "60s"),
    senderPrefetch: integer(env, "SENDER_PREFETCH", 200, 1, 65535),
    senderPort: integer(env, "SENDER_PORT", 8082, 0, 65535),
  };
}

function amqpUrl(env: Env, variable: string): string | undefined {
  const value = text(env, variable, "");
  if (value === "") return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(variable, "must be a URL such as amqp://user:password@host:5672/vhost");
  }
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
    throw new ConfigError(
      variable,
      `must start with amqp:// or amqps:// (got "${url.protocol}//")`,
    );
  }
  if (url.hostname === "") throw new ConfigError(variable, "must name a host");
  return value;
}

// AMQP names are short strings (at most 255 bytes); "amq." is reserved for the broker.
function name(env: Env, variable: string, fallback: string): string {
  const value = text(env, variable, fallback);
  if (Buffer.byteLength(value, "utf8") > 255) {
    throw new ConfigError(variable, "must be at most 255 bytes");
  }
  if (value.startsWith("amq.")) {
    throw new ConfigError(
      variable,
      `must not start with "amq." (reserved by RabbitMQ; got "${value}")`,
    );
  }
  if (!/^[A-Za-z0-9._:-]+$/.test(value)) {
    throw new ConfigError(variable, `must use only letters, digits and . _ : - (got "${value}")`);
  }
  return value;
}
