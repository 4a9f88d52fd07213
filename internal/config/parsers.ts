// Parsers for setting values. Each knows what it accepts, in words that end
// up both in the error a bad value gets ("must be <accepts>") and in the
// README's settings table, so the two cannot say different things.
import { err, ok, type Result } from "../domain/result.js";

export interface Parser<T> {
  /** What a valid value looks like, e.g. "an integer from 1 to 64". */
  accepts: string;
  /** The parsed value, or what is wrong with it (without the variable's name). */
  parse(value: string): Result<T, string>;
}

const got = (value: string) => `(got "${value}")`;

/** Any non-empty text. */
export function text(accepts = "any text"): Parser<string> {
  return { accepts, parse: (value) => ok(value) };
}

export function integer(min: number, max: number): Parser<number> {
  const accepts = `an integer from ${min} to ${max}`;
  return {
    accepts,
    parse(value) {
      const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      return parsed >= min && parsed <= max ? ok(parsed) : err(`must be ${accepts} ${got(value)}`);
    },
  };
}

export const port = (): Parser<number> => integer(0, 65535);

export function bool(): Parser<boolean> {
  return {
    accepts: "true or false",
    parse(value) {
      const lower = value.toLowerCase();
      if (lower === "true" || lower === "1") return ok(true);
      if (lower === "false" || lower === "0") return ok(false);
      return err(`must be true or false ${got(value)}`);
    },
  };
}

export function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  const accepts = `one of ${allowed.join(", ")}`;
  return {
    accepts,
    parse: (value) =>
      (allowed as readonly string[]).includes(value)
        ? ok(value as T)
        : err(`must be ${accepts} ${got(value)}`),
  };
}

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;

/**
 * Node fires a timer set longer than this after 1 ms (with a warning), so a
 * duration used as a timer must stay at or below it (about 24.8 days).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds as the largest unit that divides them: 3600000 → "1h". */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * "250ms", "30s", "5m", "2h", "365d" in milliseconds, from `min` to `max`.
 * A duration that is not a timer's (a retention age) says so with
 * `usedAsTimer: false`; every other one is capped at MAX_TIMER_MS.
 */
export function duration(
  minMs: number,
  maxMs: number,
  { usedAsTimer = true }: { usedAsTimer?: boolean } = {},
): Parser<number> {
  if (usedAsTimer && maxMs > MAX_TIMER_MS) {
    throw new Error(`a timer's duration cannot exceed ${MAX_TIMER_MS} ms (got max ${maxMs})`);
  }
  const accepts = `a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  return {
    accepts,
    parse(value) {
      const match = /^(\d+)(ms|s|m|h|d)$/.exec(value);
      if (!match) return err(`must be ${accepts}, such as 500ms, 30s, 5m, 2h or 7d ${got(value)}`);
      const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
      if (!(ms >= minMs && ms <= maxMs)) return err(`must be ${accepts} ${got(value)}`);
      return ok(ms);
    },
  };
}

/** A URL with one of the given schemes (without "://"), e.g. ["amqp", "amqps"]. */
export function url(
  schemes: readonly string[],
  example: string,
  { hostRequired }: { hostRequired: boolean },
): Parser<string> {
  const prefixes = schemes.map((scheme) => `${scheme}://`);
  const listed = `${prefixes.slice(0, -1).join(", ")} or ${prefixes.at(-1)}`;
  return {
    accepts: `a URL starting with ${listed}`,
    parse(value) {
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        return err(`must be a URL such as ${example}`);
      }
      if (!schemes.includes(parsed.protocol.slice(0, -1))) {
        return err(`must start with ${listed} (got "${parsed.protocol}//")`);
      }
      if (hostRequired && parsed.hostname === "") return err("must name a host");
      return ok(value);
    },
  };
}

/** An AMQP exchange or queue name: a short string, not in RabbitMQ's "amq." namespace. */
export function amqpName(): Parser<string> {
  return {
    accepts: 'letters, digits and . _ : - (at most 255; not starting with "amq.")',
    parse(value) {
      if (Buffer.byteLength(value, "utf8") > 255) return err("must be at most 255 bytes");
      if (value.startsWith("amq.")) {
        return err(`must not start with "amq." (reserved by RabbitMQ; got "${value}")`);
      }
      if (!/^[A-Za-z0-9._:-]+$/.test(value)) {
        return err(`must use only letters, digits and . _ : - ${got(value)}`);
      }
      return ok(value);
    },
  };
}
