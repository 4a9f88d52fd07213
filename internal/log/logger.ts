// Structured JSON logs on stderr (stdout stays free for command output).
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
