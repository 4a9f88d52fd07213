// Reading environment variables: each reader returns the parsed value or
// throws a ConfigError naming the variable and what it accepts. Config
// loaders turn that back into a value, which keeps every reader one line long.

/** One documented variable: its name, default and the words that describe it. */
export interface VariableDoc {
  name: string;
  default: string;
  description: string;
}

export class ConfigError {
  constructor(
    readonly variable: string,
    readonly message: string,
  ) {}
  toString(): string {
    return `${this.variable} ${this.message}`;
  }
}

export type Env = Record<string, string | undefined>;

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

export function postgresUrl(env: Env, name: string): string | undefined {
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

/** An http(s) URL without query or fragment, returned without a trailing slash. */
export function httpUrl(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      name,
      `must be a URL such as https://calendar.example.com (got "${value}")`,
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new ConfigError(
      name,
      `must be an http:// or https:// URL without ?query or #fragment (got "${value}")`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

/** A secret of at least `minLength` characters, or undefined when unset. Never echoed. */
export function secretKey(env: Env, name: string, minLength: number): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && value.length < minLength) {
    throw new ConfigError(name, `must be at least ${minLength} characters long when set`);
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
