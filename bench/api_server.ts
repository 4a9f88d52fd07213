// The api role as `cal_service api` runs it (internal/app/roles.ts), plus one
// bench-only RPC, bench.v1.Bench/Ping, that does nothing: the framework's
// floor on the same Fastify app. Prints {"url": ...} on stdout once listening.
//
// The Ping service is registered as a second Connect plugin on the app that
// createApiServer returns, so it shares the server, HTTP/1.1+HTTP/2 port and
// Fastify hooks, but not the CalendarService's interceptors (logging,
// metrics, x-user-id). An `extraRoutes` option on createApiServer, called
// inside its `routes`, would put it behind them too.
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import { createApiServer } from "../internal/api/server.js";
import { loadConfig } from "../internal/config/config.js";
import { createLogger } from "../internal/log/logger.js";
import { openEventStore } from "../internal/store/open.js";
import { BenchService } from "./bench_service.js";

async function main() {
  // Never fall back to the embedded database under ./data.
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL must be set");
  const config = loadConfig(process.env);
  if (!config.ok) throw config.error;
  const logger = createLogger(config.value.logLevel).child({ role: "api" });
  const opened = await openEventStore(config.value.storage, logger);
  const server = await createApiServer({
    store: opened.store,
    logger,
    shutdownTimeoutMs: config.value.api.shutdownTimeoutMs,
  });
  await server.app.register(fastifyConnectPlugin, {
    routes: (router) => {
      router.service(BenchService, { ping: () => ({}) });
    },
  });
  const url = await server.listen(config.value.api.host, config.value.api.port);
  process.stdout.write(`${JSON.stringify({ url })}\n`);
  const stop = async () => {
    await server.close();
    await opened.close();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((error) => {
  process.stderr.write(`bench api failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
