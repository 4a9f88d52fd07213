// What each role needs beyond valid values. A role started without it
// would run but do the wrong thing quietly: a scheduler without AMQP_URL
// would publish reminders into an in-process queue nobody consumes, mark
// them sent and report healthy. So it refuses to start instead (exit 2,
// like any bad setting). The in-process queue belongs to `all` alone.
import { type Config, ConfigError } from "../config/config.js";

export function unmetRequirement(role: string, config: Config): ConfigError | undefined {
  const sharedDatabase = config.storage.kind === "postgres" && config.storage.databaseUrl;
  switch (role) {
    case "scheduler":
      if (!sharedDatabase) {
        return new ConfigError(
          "DATABASE_URL",
          "must be set for the scheduler: on its own it must share the api's database (use `all` to run everything in one process)",
        );
      }
      return needsBroker("scheduler", config);
    case "sender":
      return needsBroker("sender", config);
    case "migrate":
      if (config.storage.kind !== "postgres") {
        return new ConfigError("STORAGE", "must be postgres for migrate (memory has no schema)");
      }
      return undefined;
    default:
      return undefined;
  }
}

function needsBroker(role: string, config: Config): ConfigError | undefined {
  if (config.queue.amqpUrl !== undefined) return undefined;
  return new ConfigError(
    "AMQP_URL",
    `must be set for the ${role}: without RabbitMQ its reminders would reach no other process (the in-process queue is for \`all\` alone)`,
  );
}

/** For callers other than the executable: an unmet requirement is a bug there. */
export function assertRequirements(role: string, config: Config): void {
  const unmet = unmetRequirement(role, config);
  if (unmet) throw new Error(`cal_service ${role}: ${unmet}`);
}
