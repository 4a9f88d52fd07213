// `cal_service api`: the calendar API over gRPC, gRPC-Web and Connect, with
// /metrics and /healthz, on the store STORAGE names. Loads Fastify and the
// store; nothing of the reminder pipeline.
import { type ApiServerOptions, createApiServer } from "../../internal/api/server.js";
import { inFlightGraceMs } from "../../internal/app/shutdown.js";
import { type Stop, stopInOrder } from "../../internal/app/stop.js";
import { changeAnnouncer, listenChangeFeed } from "../../internal/changes/postgres_feed.js";
import { publishingStore } from "../../internal/changes/publishing_store.js";
import type { Config } from "../../internal/config/config.js";
import type { Logger } from "../../internal/log/logger.js";
import { type OpenedStore, openEventStore } from "../../internal/store/open.js";

export type ApiExtras = Pick<ApiServerOptions, "extraRoutes">;

/** `extras.extraRoutes`: more services on the api (the benchmark's empty RPC). */
export async function runApi(
  config: Config,
  logger: Logger,
  extras: ApiExtras = {},
): Promise<Stop> {
  const opened = await openEventStore(config.storage, logger);
  try {
    return stopInOrder([await startApi(config, logger, opened, extras), () => opened.close()]);
  } catch (error) {
    await opened.close();
    throw error;
  }
}

/** The api on a store opened by the caller (`all` shares it with the scheduler). */
export async function startApi(
  config: Config,
  logger: Logger,
  opened: OpenedStore,
  extras: ApiExtras = {},
): Promise<Stop> {
  // Other replicas may write a shared database: every api announces its
  // writes with NOTIFY and LISTENs for everyone's. Otherwise the api's own
  // writes are all there is, and the server wakes its watchers in process.
  const shared = opened.sharedSql;
  const changes = shared ? await listenChangeFeed(shared, logger) : undefined;
  try {
    const server = await createApiServer({
      ...extras,
      store: shared ? publishingStore(opened.store, changeAnnouncer(shared, logger)) : opened.store,
      changes,
      logger,
      shutdownTimeoutMs: inFlightGraceMs(config.api.shutdownTimeoutMs),
      watchHeartbeatMs: config.api.watchHeartbeatMs,
    });
    const url = await server.listen(config.api.host, config.api.port);
    logger.info({ url, storage: config.storage.kind }, "api listening");
    return stopInOrder([() => server.close(), async () => changes?.close()]);
  } catch (error) {
    await changes?.close();
    throw error;
  }
}
