// For tests that read what was logged.
import { Writable } from "node:stream";
import pino from "pino";
import type { LogLevel } from "../../config/config.js";
import type { Logger } from "../logger.js";

/** A logger that keeps every line it writes, parsed. */
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
