#!/usr/bin/env node
// healthcheck [role]: exits 0 when the cal_service role running in this
// container answers GET /healthz on every port it listens on, 1 otherwise.
// The image's HEALTHCHECK (the image has no curl). Without a role argument it
// finds the running one; the ports come from the same environment variables
// the role read (API_PORT, SCHEDULER_PORT, SENDER_PORT, API_HOST).
import { loadConfig } from "../internal/config/config.js";
import { findRunningRole, healthUrls, isRole, probe } from "../internal/deploy/healthcheck.js";

// Docker kills a check that outlives its --timeout (3s in the Dockerfile);
// answering first leaves a reason in `docker inspect`.
const TIMEOUT_MS = 2000;

async function main(argv: string[]): Promise<number> {
  const role = argv[0] ?? findRunningRole();
  if (role === undefined || !isRole(role)) {
    process.stderr.write(
      `healthcheck: ${role === undefined ? "no cal_service process found" : `unknown role "${role}"`}\n`,
    );
    return 1;
  }
  const config = loadConfig(process.env);
  if (!config.ok) {
    process.stderr.write(`healthcheck: invalid configuration: ${config.error}\n`);
    return 1;
  }
  const urls = healthUrls(role, config.value);
  if (urls.length === 0) {
    process.stdout.write(`${role}: serves no health endpoint; nothing to check\n`);
    return 0;
  }
  const probes = await Promise.all(urls.map((url) => probe(url, TIMEOUT_MS)));
  for (const p of probes) {
    process.stdout.write(`${role}: ${p.url} ${p.healthy ? "healthy" : "UNHEALTHY"}: ${p.detail}\n`);
  }
  return probes.every((p) => p.healthy) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `healthcheck: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
