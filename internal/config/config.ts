// Every setting of cal_service comes from an environment variable, read and
// checked once at start. A bad value stops the process with one line that
// names the variable and what it accepts (see cmd/cal_service.ts).
import { err, ok, type Result } from "../domain/result.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  api: {
    host: string;
    port: number;
    /** In-flight calls get this long to finish on SIGTERM before we exit anyway. */
    shutdownTimeoutMs: number;
  };
  logLevel: LogLevel;
  storage: StorageConfig;
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

/** One documented variable: its name, default and the words that describe it. */
export interface VariableDoc {
  name: string;
  default: string;
  description: string;
}

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
];

export class ConfigError {
  constructor(
    readonly variable: string,
    readonly message: string,
  ) {}
  toString(): string {
    return `${this.variable} ${this.message}`;
  }
}

type Env = Record<string, string | undefined>;

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
    return ok({
      api: {
        host: text(env, "API_HOST", "0.0.0.0"),
        port: integer(env, "API_PORT", 8080, 0, 65535),
        shutdownTimeoutMs: duration(env, "SHUTDOWN_TIMEOUT", "10s"),
      },
      logLevel: oneOf(
        env,
        "LOG_LEVEL",
        ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
        "info",
      ),
      storage,
    });
  } catch (error) {
    if (error instanceof ConfigError) return err(error);
    throw error;
  }
}

// Each reader returns the parsed value or throws a ConfigError, which
// loadConfig turns back into a value: it keeps every reader one line long.

function raw(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === "" ? undefined : value;
}

export function text(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= min && parsed <= max)) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${value}")`);
  }
  return parsed;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new ConfigError(name, `must be true or false (got "${value}")`);
}

export function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(name, `must be one of ${allowed.join(", ")} (got "${value}")`);
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "250ms", "30s", "5m", "2h", "365d". */
export function duration(env: Env, name: string, fallback: string): number {
  const value = raw(env, name) ?? fallback;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (!match) {
    throw new ConfigError(
      name,
      `must be a duration such as 500ms, 30s, 5m, 2h or 365d (got "${value}")`,
    );
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

function postgresUrl(env: Env, name: string): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      name,
      "must be a URL such as postgres://user:password@host:5432/database",
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new ConfigError(
      name,
      `must start with postgres:// or postgresql:// (got "${url.protocol}//")`,
    );
  }
  return value;
}

/** The URL with its password masked, for log lines. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable URL)";
  }
}
