// Logs on stderr (stdout stays free for command output): JSON lines for
// machines, or pino-pretty's readable lines for a person at a terminal.
import { createRequire } from "node:module";
import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";
import type { LogFormat, LogLevel } from "../config/config.js";

export type { Logger };

/**
 * "auto" is pretty when stderr is a terminal, JSON otherwise: containers, CI
 * and log shippers read from a pipe or a file, so they keep JSON lines.
 */
export function resolveLogFormat(
  format: LogFormat,
  stderrIsTerminal: boolean,
): Exclude<LogFormat, "auto"> {
  if (format !== "auto") return format;
  return stderrIsTerminal ? "pretty" : "json";
}

export function createLogger(
  level: LogLevel,
  format: LogFormat = "json",
  options: { name?: string; batched?: boolean } = {},
): Logger {
  const { name = "cal_service", batched = false } = options;
  const pinoOptions: LoggerOptions = {
    name,
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const pretty = resolveLogFormat(format, process.stderr.isTTY === true) === "pretty";
  if (pretty) return pino(pinoOptions, prettyStderr());
  return pino(
    pinoOptions,
    pino.destination({ dest: 2, ...(batched ? BATCHED_LINES : { sync: true }) }),
  );
}

/**
 * `batched`: JSON lines leave in batches rather than one write(2) each. For
 * the api, which logs every RPC: a system call on this VM costs a tenth of a
 * whole call's CPU (issue 17: the access log's synchronous write was 3-6% of
 * the api's busy time). A line waits until 4 KiB are pending or for at most
 * 100 ms; pino flushes what is pending synchronously when the process exits
 * (process.exit, a signal's handler, a fatal error), so only a SIGKILL can
 * lose the last 100 ms of lines. If stderr stops draining, lines past 16 MiB
 * pending are dropped rather than growing the heap. Not for a role whose
 * line is its work: the sender acks a reminder once its delivery line is
 * written, which only a synchronous write tells it.
 */
const BATCHED_LINES = {
  sync: false,
  minLength: 4096,
  periodicFlush: 100,
  maxLength: 16 * 1024 * 1024,
};

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org). */
export function prettyStderr(
  colorize = process.stderr.isTTY === true && !process.env.NO_COLOR,
): DestinationStream {
  // Loaded only when asked for, so that JSON-logging processes (every
  // container) never pay for it.
  const build: typeof import("pino-pretty").build = createRequire(import.meta.url)("pino-pretty");
  return build({
    destination: 2,
    sync: true,
    colorize,
    translateTime: "SYS:HH:MM:ss.l",
    // The role leads the message: "api: listening" reads better than a field.
    messageFormat: "{if role}{role}: {end}{msg}",
    ignore: "pid,hostname,name,role",
  });
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
