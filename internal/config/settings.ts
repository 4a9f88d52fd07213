// Every setting of cal_service, declared once: its variable name (the key),
// the default as it would be written in the environment, what it accepts
// (the parser, with its bounds) and one line of documentation. Loading
// (config.ts), the README's settings table, `cal_service --help` and the
// compose.yaml check all read this table.
import {
  amqpName,
  baseUrl,
  bool,
  duration,
  integer,
  oneOf,
  type Parser,
  port,
  secret,
  text,
  url,
} from "./parsers.js";

export interface Declaration<T> {
  /** As written in the environment; undefined: unset unless given. */
  default: string | undefined;
  parser: Parser<T>;
  /** One line for the README and --help. */
  doc: string;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;

export const settings = {
  API_HOST: {
    default: "0.0.0.0",
    parser: text("an IP address or host name"),
    doc: "Address the api (and the scheduler's and sender's /metrics) listens on.",
  },
  API_PORT: {
    default: "8080",
    parser: port(),
    doc: "Port for gRPC, gRPC-Web, Connect, /metrics and health checks.",
  },
  // Below a second the parts cannot even close their connections; above ten
  // minutes an orchestrator would long have killed the process.
  SHUTDOWN_TIMEOUT: {
    default: "10s",
    parser: duration(1 * SECOND, 10 * MINUTE),
    doc: "On SIGTERM/SIGINT, how long stopping may take: in-flight calls get all of it but the last 2s (half, below 4s), kept for closing connections.",
  },
  PUBLIC_URL: {
    default: undefined,
    parser: baseUrl("https://calendar.example.com"),
    doc: "Base URL calendar apps reach the api at (behind a proxy: its public https URL); feed URLs start with it. Unset: http://localhost:<API_PORT>.",
  },
  // An age compared with timestamps, never a timer.
  FEED_PAST: {
    default: "90d",
    parser: duration(1 * HOUR, 3650 * DAY, { usedAsTimer: false }),
    doc: "The iCalendar feed holds events that ended less than this long ago, and every later one.",
  },
  FEED_KEY: {
    default: undefined,
    parser: secret(32),
    doc: "Key feed URL secrets are derived with. Unset: a random key kept in the database (then a copy of the database is enough to rebuild feed URLs).",
  },
  // Below 1 s idle streams would cost a read and a message per second each.
  WATCH_HEARTBEAT: {
    default: "15s",
    parser: duration(1 * SECOND, 10 * MINUTE),
    doc: "How often an idle WatchEvents stream gets a heartbeat message (and re-reads the change log).",
  },
  LOG_LEVEL: {
    default: "info",
    parser: oneOf(LOG_LEVELS),
    doc: "Least severe level logged.",
  },
  LOG_FORMAT: {
    default: "auto",
    parser: oneOf(LOG_FORMATS),
    doc: "`json` (one JSON object per line), `pretty` (readable lines) or `auto`: pretty when stderr is a terminal, JSON otherwise.",
  },
  STORAGE: {
    default: "postgres",
    parser: oneOf(["postgres", "memory"] as const),
    doc: "`postgres` (real or embedded) or `memory` (lost on exit).",
  },
  DATABASE_URL: {
    default: undefined,
    parser: url(["postgres", "postgresql"], "postgres://user:password@host:5432/database", {
      hostRequired: false,
    }),
    doc: "PostgreSQL server. Unset: embedded PGlite under DATA_DIR.",
  },
  DATA_DIR: {
    default: "./data",
    parser: text("a directory path"),
    doc: "Where the embedded database keeps its files.",
  },
  DB_MIGRATE: {
    default: "false",
    parser: bool(),
    doc: "`true`: the api applies pending migrations at start.",
  },
  DB_CONNECT_TIMEOUT: {
    default: "60s",
    parser: duration(1 * SECOND, 1 * HOUR),
    doc: "How long to retry the first database connection.",
  },
  DB_POOL_MAX: {
    default: "10",
    parser: integer(1, 1000),
    doc: "Most connections in each of the api's two Postgres pools (one-statement calls; everything else): up to twice this in all.",
  },
  AMQP_URL: {
    default: undefined,
    parser: url(["amqp", "amqps"], "amqp://user:password@host:5672/vhost", {
      hostRequired: true,
    }),
    doc: "RabbitMQ; required by `scheduler` and `sender`. Unset: `all` uses an in-process queue (lost on exit).",
  },
  AMQP_CONNECT_TIMEOUT: {
    default: "60s",
    parser: duration(1 * SECOND, 1 * HOUR),
    doc: "How long to retry the first RabbitMQ connection (later ones: forever).",
  },
  AMQP_NOTIFICATIONS_EXCHANGE: {
    default: "cal.notifications",
    parser: amqpName(),
    doc: "Direct exchange the scheduler publishes reminders to.",
  },
  AMQP_NOTIFICATIONS_QUEUE: {
    default: "cal.notifications",
    parser: amqpName(),
    doc: "Quorum queue the sender consumes reminders from.",
  },
  AMQP_DEAD_LETTER_EXCHANGE: {
    default: "cal.dead-letter",
    parser: amqpName(),
    doc: "Fanout exchange for messages the sender cannot deliver.",
  },
  AMQP_DEAD_LETTER_QUEUE: {
    default: "cal.notifications.dead",
    parser: amqpName(),
    doc: "Queue keeping dead-lettered messages for inspection.",
  },
  AMQP_STATUS_EXCHANGE: {
    default: "cal.status",
    parser: amqpName(),
    doc: "Fanout exchange the sender publishes delivery receipts to.",
  },
  SENDER_PREFETCH: {
    default: "200",
    parser: integer(1, 65535),
    doc: "Most reminders the sender holds unacknowledged at once.",
  },
  SENDER_PORT: {
    default: "8082",
    parser: port(),
    doc: "Port for the sender's /metrics and /healthz.",
  },
  SCHEDULER_PORT: {
    default: "8081",
    parser: port(),
    doc: "Port for the scheduler's /metrics and /healthz.",
  },
  // Each poll is one indexed query: below 10ms it is a busy loop. A reminder
  // whose event has started is skipped once a minute has passed since its
  // notify_at (REMINDER_GRACE_MS in internal/domain/event.ts), so polls must
  // come well inside that minute.
  SCHEDULER_POLL_INTERVAL: {
    default: "250ms",
    parser: duration(10, 30 * SECOND),
    doc: "How often the scheduler looks for due reminders.",
  },
  SCHEDULER_BATCH_SIZE: {
    default: "500",
    parser: integer(1, 10_000),
    doc: "Most reminders one scheduler pass claims.",
  },
  SCHEDULER_CONCURRENCY: {
    default: "4",
    parser: integer(1, 64),
    doc: "Most scheduler passes at once while reminders are backlogged (each holds a database connection while it publishes).",
  },
  // An age compared with timestamps, never a timer: a day at least (events
  // are not deleted while people may still look at them), a century at most.
  RETENTION: {
    default: "365d",
    parser: duration(1 * DAY, 36_500 * DAY, { usedAsTimer: false }),
    doc: "Events that ended longer ago than this are deleted.",
  },
  // An age compared with timestamps, like RETENTION: at least an hour, so
  // a client that syncs now and then is not sent back to a full sync.
  TOMBSTONE_RETENTION: {
    default: "30d",
    parser: duration(1 * HOUR, 36_500 * DAY, { usedAsTimer: false }),
    doc: "How long deletions are remembered for SyncEvents; older sync tokens get SYNC_TOKEN_EXPIRED.",
  },
  CLEANUP_INTERVAL: {
    default: "1h",
    parser: duration(1 * SECOND, 1 * DAY),
    doc: "How often the scheduler deletes old events.",
  },
  CLEANUP_BATCH_SIZE: {
    default: "1000",
    parser: integer(1, 100_000),
    doc: "Most events one cleanup statement deletes.",
  },
} satisfies Record<string, Declaration<unknown>>;

export type SettingName = keyof typeof settings;

/** The declarations in table order, with their names. */
export const settingList: ({ name: SettingName } & Declaration<unknown>)[] = Object.entries(
  settings,
).map(([name, declaration]) => ({ name: name as SettingName, ...declaration }));
