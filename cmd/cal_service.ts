#!/usr/bin/env node
// cal_service <role>: one executable, one role per process. This file only
// reads the role and its configuration; the role's start-up is in
// cmd/<role>/, loaded on demand, so that a process loads only what its role
// uses (a sender has no Fastify, postgres.js or PGlite: roles_load.test.ts).
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { unmetRequirement } from "../internal/app/requirements.js";
import { onShutdownSignal } from "../internal/app/shutdown.js";
import type { Stop } from "../internal/app/stop.js";
import { type Config, loadConfig, settingList } from "../internal/config/config.js";
import { createLogger, type Logger } from "../internal/log/logger.js";

/** Starts a role; resolves with its stop, or with nothing once a one-shot role is done. */
type Start = (config: Config, logger: Logger) => Promise<Stop | undefined>;

/** Each role's entry point, imported only when that role runs. */
const ROLES: Record<string, () => Promise<Start>> = {
  api: async () => (await import("./api/api.js")).runApi,
  scheduler: async () => (await import("./scheduler/scheduler.js")).runScheduler,
  sender: async () => (await import("./sender/sender.js")).runSender,
  all: async () => (await import("./all/all.js")).runAll,
  migrate: async () => {
    const { runMigrate } = await import("./migrate/migrate.js");
    return async (config, logger) => {
      await runMigrate(config, logger);
      return undefined;
    };
  },
};

const USAGE = `Usage: cal_service <role>

Roles:
  api        serve the calendar API (gRPC, gRPC-Web, Connect) with metrics and health checks
  scheduler  publish due reminders to RabbitMQ and delete old events
  sender     deliver reminders from RabbitMQ
  all        every role in one process (the default for \`npm start\`)
  migrate    apply pending database migrations and exit

Options:
  --help     show this text
  --version  print the version

Configuration comes from environment variables:
${settingList.map((s) => `  ${s.name.padEnd(28)} ${s.doc} Default: ${s.default ?? "unset"}.`).join("\n")}
`;

function version(): string {
  // From source this file is cmd/cal_service.ts; built, dist/cmd/cal_service.js.
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")).version;
    } catch {}
  }
  return "unknown";
}

async function main(argv: string[]): Promise<number> {
  const [role, ...rest] = argv;
  if (role === undefined || role === "--help" || role === "-h" || role === "help") {
    process.stdout.write(USAGE);
    return role === undefined ? 2 : 0;
  }
  if (role === "--version" || role === "-v") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (rest.length > 0) {
    process.stderr.write(`cal_service: unexpected arguments after "${role}": ${rest.join(" ")}\n`);
    return 2;
  }
  const loadRole = Object.hasOwn(ROLES, role) ? ROLES[role] : undefined;
  if (!loadRole) {
    process.stderr.write(`cal_service: unknown role "${role}"\n\n${USAGE}`);
    return 2;
  }

  const config = loadConfig(process.env);
  if (!config.ok) {
    process.stderr.write(`cal_service: invalid configuration: ${config.error}\n`);
    return 2;
  }
  const unmet = unmetRequirement(role, config.value);
  if (unmet) {
    process.stderr.write(`cal_service: invalid configuration: ${unmet}\n`);
    return 2;
  }
  // Only the api batches its lines (an access log, one line per call); the
  // sender's delivery line is its work and must be written before the ack,
  // and `all` runs a sender too.
  const logger = createLogger(config.value.logLevel, config.value.logFormat, {
    batched: role === "api",
  }).child({ role });

  const start = await loadRole();
  const leaveStartup = exitOnSignalDuringStartup(logger);
  const stop = await start(config.value, logger);
  leaveStartup();
  if (!stop) return 0;
  onShutdownSignal(logger, config.value.api.shutdownTimeoutMs, stop);
  return -1; // keep running until a signal
}

/**
 * Until the role has started (connected, listening), a stop signal ends the
 * process at once: nothing is served yet, and nothing is half-written (a
 * migration's transaction rolls back). Without a handler, a process that is
 * PID 1 in a container ignores SIGTERM, so a stop during start-up (a
 * database still unreachable) waited for the orchestrator's SIGKILL.
 * Returns the function that hands the signals over to the role's own stop.
 */
function exitOnSignalDuringStartup(logger: Logger): () => void {
  const exit = (signal: NodeJS.Signals) => {
    logger.warn({ signal }, "stopped during start-up");
    process.exit(128 + constants.signals[signal]);
  };
  process.once("SIGTERM", exit);
  process.once("SIGINT", exit);
  return () => {
    process.off("SIGTERM", exit);
    process.off("SIGINT", exit);
  };
}

// A rejection nobody handled is a bug; log it where operators look, then let
// the process die and be restarted rather than run on in an unknown state.
process.on("unhandledRejection", (reason) => {
  process.stderr.write(
    `${JSON.stringify({ level: "fatal", msg: "unhandled rejection", err: String((reason as Error)?.stack ?? reason) })}\n`,
  );
  process.exit(1);
});

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `cal_service: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
