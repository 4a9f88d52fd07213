// What each `cal_service <role>` runs. Every role returns a stop function
// that the shutdown handler calls; cmd/cal_service.ts only picks the role.
import { createApiServer } from "../api/server.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import { migrateDatabase, openEventStore } from "../store/open.js";

export type Stop = () => Promise<void>;

export async function runApi(config: Config, logger: Logger): Promise<Stop> {
  const opened = await openEventStore(config.storage, logger);
  const server = await createApiServer({
    store: opened.store,
    logger,
    shutdownTimeoutMs: config.api.shutdownTimeoutMs,
  });
  const url = await server.listen(config.api.host, config.api.port);
  logger.info({ url, storage: config.storage.kind }, "api listening");
  return async () => {
    await server.close();
    await opened.close();
  };
}

export async function runMigrate(config: Config, logger: Logger): Promise<void> {
  if (config.storage.kind !== "postgres") {
    throw new Error("migrate needs STORAGE=postgres (the memory store has no schema)");
  }
  await migrateDatabase(config.storage, logger);
}
