// The environment as config reads it, the error a bad value produces, and
// the one helper other modules need to log a URL.

export type Env = Record<string, string | undefined>;

/** A variable the process cannot start with: its name and what it accepts. */
export class ConfigError {
  constructor(
    readonly variable: string,
    readonly message: string,
  ) {}
  toString(): string {
    return `${this.variable} ${this.message}`;
  }
}

/** The variable's value, trimmed; unset and blank are the same. */
export function rawValue(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === "" ? undefined : value;
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
