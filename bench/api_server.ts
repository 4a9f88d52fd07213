// `cal_service api` for the benchmark: the same runApi that
// cmd/cal_service.ts calls, plus one service, bench.v1.Bench/Ping, an RPC
// that does nothing. Ping goes through createApiServer's `extraRoutes`, so it
// is served on the same port, by the same Connect routes, body checks and
// interceptors (access log, metrics) as CalendarService: its throughput is
// what the server costs per call before any handler or SQL.
//
// bench/setup.ts compiles this with the product's build options
// (bench/tsconfig.json, into dist/bench/) and runs it with plain node, as
// the Dockerfile runs dist/cmd/cal_service.js.
import { runApi } from "../cmd/api/api.js";
import { onShutdownSignal } from "../internal/app/shutdown.js";
import { loadConfig } from "../internal/config/config.js";
import { createLogger } from "../internal/log/logger.js";
import { BenchService } from "./bench_service.js";

async function main() {
  // Never fall back to the embedded database under ./data.
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL must be set");
  const config = loadConfig(process.env);
  if (!config.ok) throw config.error;
  const logger = createLogger(config.value.logLevel, "json", { batched: true }).child({
    role: "api",
  });
  const stop = await runApi(config.value, logger, {
    extraRoutes: (router) => router.service(BenchService, { ping: () => ({}) }),
  });
  onShutdownSignal(logger, config.value.api.shutdownTimeoutMs, stop);
}

main().catch((error) => {
  process.stderr.write(`bench api failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
