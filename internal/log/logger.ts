// Structured JSON logs on stderr (stdout stays free for command output).
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import type { LogLevel } from "../config/config.js";

export type { Logger };

export function createLogger(level: LogLevel, name = "cal_service"): Logger {
  return pino(
    {
      name,
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/** A logger that keeps every line it writes, parsed, for tests that read logs. */
export function capturingLogger(level: LogLevel = "info"): {
  logger: Logger;
  lines: Record<string, unknown>[];
} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
