// Every setting of cal_service comes from an environment variable, read and
// checked once at start. A bad value stops the process with one line that
// names the variable and what it accepts (see cmd/cal_service.ts).
import { err, ok, type Result } from "../domain/result.js";
import {
  bool,
  ConfigError,
  duration,
  type Env,
  httpUrl,
  integer,
  oneOf,
  postgresUrl,
  secretKey,
  text,
  type VariableDoc,
} from "./env.js";

export { ConfigError, redactUrl, type VariableDoc } from "./env.js";

import { type QueueConfig, queueVariables, readQueueConfig } from "../queue/config.js";
import type { SchedulerSettings } from "../scheduler/role.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  api: {
    host: string;
    port: number;
    /** In-flight calls get this long to finish on SIGTERM before we exit anyway. */
    shutdownTimeoutMs: number;
  };
  feed: FeedSettings;
  logLevel: LogLevel;
  storage: StorageConfig;
  queue: QueueConfig;
  scheduler: SchedulerSettings;
}

/** The iCalendar subscription feed. */
export interface FeedSettings {
  /** Base of the feed URLs handed out: what calendar apps reach the api at. */
  publicUrl: string;
  /** The feed holds events that ended less than this long ago, and all later ones. */
  pastMs: number;
  /** Key feed secrets are derived with; undefined: a key kept in the database. */
  key: string | undefined;
}

export type StorageConfig =
  | { kind: "memory" }
  | {
      kind: "postgres";
      /** Unset: an embedded PGlite database under dataDir. */
      databaseUrl: string | undefined;
      dataDir: string;
      /** Apply pending migrations when the api starts (embedded: always). */
      migrateOnStart: boolean;
      /** How long to keep retrying the first connection before giving up. */
      connectTimeoutMs: number;
      poolMax: number;
    };

export const variables: VariableDoc[] = [
  { name: "API_HOST", default: "0.0.0.0", description: "Address the api listens on." },
  {
    name: "API_PORT",
    default: "8080",
    description: "Port for gRPC, gRPC-Web, Connect, /metrics and health checks.",
  },
  {
    name: "SHUTDOWN_TIMEOUT",
    default: "10s",
    description: "Grace period for in-flight calls on SIGTERM/SIGINT.",
  },
  {
    name: "PUBLIC_URL",
    default: "http://localhost:<API_PORT>",
    description:
      "Base URL calendar apps reach the api at (behind a proxy: its public https URL); feed URLs start with it.",
  },
  {
    name: "FEED_PAST",
    default: "90d",
    description:
      "The iCalendar feed holds events that ended less than this long ago, and every later one.",
  },
  {
    name: "FEED_KEY",
    default: "(unset)",
    description:
      "At least 32 characters; feed URL secrets are derived with it. Unset: a random key kept in the database (then a copy of the database is enough to rebuild feed URLs).",
  },
  {
    name: "LOG_LEVEL",
    default: "info",
    description: "fatal, error, warn, info, debug, trace or silent.",
  },
  {
    name: "STORAGE",
    default: "postgres",
    description: "`postgres` (real or embedded) or `memory` (lost on exit).",
  },
  {
    name: "DATABASE_URL",
    default: "(unset)",
    description: "postgres:// URL. Unset: embedded PGlite under DATA_DIR.",
  },
  {
    name: "DATA_DIR",
    default: "./data",
    description: "Where the embedded database keeps its files.",
  },
  {
    name: "DB_MIGRATE",
    default: "false",
    description: "`true`: the api applies pending migrations at start.",
  },
  {
    name: "DB_CONNECT_TIMEOUT",
    default: "60s",
    description: "How long to retry the first database connection.",
  },
  {
    name: "DB_POOL_MAX",
    default: "10",
    description: "Most connections the api opens to Postgres.",
  },
  ...queueVariables,
  {
    name: "SCHEDULER_PORT",
    default: "8081",
    description: "Port of the scheduler's /metrics and /healthz.",
  },
  {
    name: "SCHEDULER_POLL_INTERVAL",
    default: "250ms",
    description: "How often the scheduler looks for due reminders.",
  },
  {
    name: "SCHEDULER_BATCH_SIZE",
    default: "500",
    description: "Most reminders one scheduler pass claims.",
  },
  {
    name: "SCHEDULER_CONCURRENCY",
    default: "4",
    description:
      "Most scheduler passes at once while reminders are backlogged (each holds a database connection while it publishes).",
  },
  {
    name: "RETENTION",
    default: "365d",
    description: "Events that ended longer ago than this are deleted.",
  },
  {
    name: "CLEANUP_INTERVAL",
    default: "1h",
    description: "How often the scheduler deletes old events.",
  },
  {
    name: "CLEANUP_BATCH_SIZE",
    default: "1000",
    description: "Most events one cleanup statement deletes.",
  },
];

export function loadConfig(env: Env): Result<Config, ConfigError> {
  try {
    const storageKind = oneOf(env, "STORAGE", ["postgres", "memory"], "postgres");
    const storage: StorageConfig =
      storageKind === "memory"
        ? { kind: "memory" }
        : {
            kind: "postgres",
            databaseUrl: postgresUrl(env, "DATABASE_URL"),
            dataDir: text(env, "DATA_DIR", "./data"),
            migrateOnStart: bool(env, "DB_MIGRATE", false),
            connectTimeoutMs: duration(env, "DB_CONNECT_TIMEOUT", "60s"),
            poolMax: integer(env, "DB_POOL_MAX", 10, 1, 1000),
          };
    const port = integer(env, "API_PORT", 8080, 0, 65535);
    return ok({
      api: {
        host: text(env, "API_HOST", "0.0.0.0"),
        port,
        shutdownTimeoutMs: duration(env, "SHUTDOWN_TIMEOUT", "10s"),
      },
      feed: {
        publicUrl: httpUrl(env, "PUBLIC_URL", `http://localhost:${port}`),
        pastMs: duration(env, "FEED_PAST", "90d"),
        key: secretKey(env, "FEED_KEY", 32),
      },
      logLevel: oneOf(
        env,
        "LOG_LEVEL",
        ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
        "info",
      ),
      storage,
      queue: readQueueConfig(env),
      scheduler: {
        port: integer(env, "SCHEDULER_PORT", 8081, 0, 65535),
        pollIntervalMs: duration(env, "SCHEDULER_POLL_INTERVAL", "250ms"),
        batchSize: integer(env, "SCHEDULER_BATCH_SIZE", 500, 1, 10_000),
        parallelPasses: integer(env, "SCHEDULER_CONCURRENCY", 4, 1, 64),
        retentionMs: duration(env, "RETENTION", "365d"),
        cleanupIntervalMs: duration(env, "CLEANUP_INTERVAL", "1h"),
        cleanupBatchSize: integer(env, "CLEANUP_BATCH_SIZE", 1000, 1, 100_000),
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) return err(error);
    throw error;
  }
}
