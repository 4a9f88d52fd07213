// `cal_service migrate`: applies pending migrations to DATABASE_URL and
// exits. Loads postgres.js only: no Fastify, no amqplib.
import { assertRequirements } from "../../internal/app/requirements.js";
import type { Config } from "../../internal/config/config.js";
import type { Logger } from "../../internal/log/logger.js";
import { migrateDatabase } from "../../internal/store/open.js";

export async function runMigrate(config: Config, logger: Logger): Promise<void> {
  assertRequirements("migrate", config);
  if (config.storage.kind !== "postgres") return;
  await migrateDatabase(config.storage, logger);
}
