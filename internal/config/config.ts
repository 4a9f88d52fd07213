// Every setting of cal_service comes from an environment variable, read and
// checked once at start against its declaration (settings.ts). A bad value
// stops the process with one line that names the variable and what it
// accepts (see cmd/cal_service.ts). This module is a leaf: the parts it
// configures import their settings' types from here, never the reverse.
import { err, ok, type Result } from "../domain/result.js";
import { ConfigError, type Env, rawValue } from "./env.js";
import { type LOG_FORMATS, type LOG_LEVELS, type SettingName, settings } from "./settings.js";

export { ConfigError, type Env, redactUrl } from "./env.js";
export { settingList, settings } from "./settings.js";

export type LogLevel = (typeof LOG_LEVELS)[number];
/** How log lines look; "auto" is pretty on a terminal, JSON otherwise. */
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Config {
  api: {
    host: string;
    port: number;
    /** How long stopping may take on SIGTERM; in-flight calls get most of it (app/shutdown.ts). */
    shutdownTimeoutMs: number;
    /** How often an idle WatchEvents stream gets a heartbeat. */
    watchHeartbeatMs: number;
  };
  logLevel: LogLevel;
  logFormat: LogFormat;
  storage: StorageConfig;
  queue: QueueConfig;
  scheduler: SchedulerConfig;
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

export interface SchedulerConfig {
  port: number;
  pollIntervalMs: number;
  batchSize: number;
  parallelPasses: number;
  retentionMs: number;
  /** How long deletions are remembered for SyncEvents. */
  tombstoneRetentionMs: number;
  cleanupIntervalMs: number;
  cleanupBatchSize: number;
}

type Settings = typeof settings;
type ValueOf<K extends SettingName> = Settings[K]["parser"] extends {
  parse(value: string): Result<infer T, string>;
}
  ? T
  : never;
/** A setting with a default always has a value; one without may be unset. */
type Read<K extends SettingName> = Settings[K]["default"] extends string
  ? ValueOf<K>
  : ValueOf<K> | undefined;

/** The setting's value from env, else its default; throws ConfigError. */
function read<K extends SettingName>(env: Env, name: K): Read<K> {
  const declaration = settings[name];
  const value = rawValue(env, name) ?? declaration.default;
  if (value === undefined) return undefined as Read<K>;
  const parsed = declaration.parser.parse(value);
  if (!parsed.ok) throw new ConfigError(name, parsed.error);
  return parsed.value as Read<K>;
}

export function loadConfig(env: Env): Result<Config, ConfigError> {
  try {
    const storage: StorageConfig =
      read(env, "STORAGE") === "memory"
        ? { kind: "memory" }
        : {
            kind: "postgres",
            databaseUrl: read(env, "DATABASE_URL"),
            dataDir: read(env, "DATA_DIR"),
            migrateOnStart: read(env, "DB_MIGRATE"),
            connectTimeoutMs: read(env, "DB_CONNECT_TIMEOUT"),
            poolMax: read(env, "DB_POOL_MAX"),
          };
    return ok({
      api: {
        host: read(env, "API_HOST"),
        port: read(env, "API_PORT"),
        shutdownTimeoutMs: read(env, "SHUTDOWN_TIMEOUT"),
        watchHeartbeatMs: read(env, "WATCH_HEARTBEAT"),
      },
      logLevel: read(env, "LOG_LEVEL"),
      logFormat: read(env, "LOG_FORMAT"),
      storage,
      queue: {
        amqpUrl: read(env, "AMQP_URL"),
        names: topologyNames(env),
        connectTimeoutMs: read(env, "AMQP_CONNECT_TIMEOUT"),
        senderPrefetch: read(env, "SENDER_PREFETCH"),
        senderPort: read(env, "SENDER_PORT"),
      },
      scheduler: {
        port: read(env, "SCHEDULER_PORT"),
        pollIntervalMs: read(env, "SCHEDULER_POLL_INTERVAL"),
        batchSize: read(env, "SCHEDULER_BATCH_SIZE"),
        parallelPasses: read(env, "SCHEDULER_CONCURRENCY"),
        retentionMs: read(env, "RETENTION"),
        tombstoneRetentionMs: read(env, "TOMBSTONE_RETENTION"),
        cleanupIntervalMs: read(env, "CLEANUP_INTERVAL"),
        cleanupBatchSize: read(env, "CLEANUP_BATCH_SIZE"),
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) return err(error);
    throw error;
  }
}

function topologyNames(env: Env): TopologyNames {
  const names: TopologyNames = {
    notificationsExchange: read(env, "AMQP_NOTIFICATIONS_EXCHANGE"),
    notificationsQueue: read(env, "AMQP_NOTIFICATIONS_QUEUE"),
    deadLetterExchange: read(env, "AMQP_DEAD_LETTER_EXCHANGE"),
    deadLetterQueue: read(env, "AMQP_DEAD_LETTER_QUEUE"),
    statusExchange: read(env, "AMQP_STATUS_EXCHANGE"),
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
  return names;
}
