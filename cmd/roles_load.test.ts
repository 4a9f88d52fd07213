// Each role loads only what it uses: cal_service.ts imports a role's entry
// point (cmd/<role>/) when that role runs, so a sender never loads Fastify,
// postgres.js or PGlite, and a scheduler on a database server no PGlite.
// The role is spawned with a module hook that records every module it loads
// (internal/testing/record_loads.mjs); the dependencies it must not reach
// are unreachable, so it gets as far as it can and is stopped.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startCalService, waitForLog } from "../internal/testing/process.js";

const RECORDER = fileURLToPath(new URL("../internal/testing/record_loads.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "cal-roles-load-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// Nothing listens on port 1: connections are refused at once.
const NO_DATABASE = "postgres://cal@127.0.0.1:1/cal";
const NO_BROKER = "amqp://guest:guest@127.0.0.1:1";

/** The packages under node_modules a role loaded, once its first own log line is out. */
async function packagesLoaded(role: string, env: Record<string, string>): Promise<Set<string>> {
  const file = join(dir, `${role}.txt`);
  const started = startCalService([role], {
    ...env,
    RECORD_LOADS_TO: file,
    NODE_OPTIONS: `--import ${RECORDER}`,
  });
  try {
    // The role's modules are all loaded before it logs (its entry point is
    // imported whole, then run), and a role that fails exits after logging.
    await waitForLog(started, (line) => line.role === role);
  } finally {
    started.child.kill("SIGKILL");
    await started.exited;
  }
  const packages = new Set<string>();
  for (const url of readFileSync(file, "utf8").split("\n")) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match?.[1]) packages.add(match[1]);
  }
  return packages;
}

function assertLoads(role: string, packages: Set<string>, loads: string[], skips: string[]) {
  for (const name of loads) assert.ok(packages.has(name), `${role} should load ${name}`);
  for (const name of skips) {
    assert.ok(!packages.has(name), `${role} loaded ${name}: ${[...packages].join(", ")}`);
  }
}

describe("each role loads only what it uses", () => {
  it("sender: amqplib, and no Fastify, postgres.js or PGlite", async () => {
    const packages = await packagesLoaded("sender", { AMQP_URL: NO_BROKER, SENDER_PORT: "0" });
    assertLoads("sender", packages, ["amqplib"], ["fastify", "postgres", "@electric-sql/pglite"]);
  });

  it("scheduler: postgres.js and amqplib, and no Fastify or PGlite", async () => {
    const packages = await packagesLoaded("scheduler", {
      DATABASE_URL: NO_DATABASE,
      DB_CONNECT_TIMEOUT: "1s",
      AMQP_URL: NO_BROKER,
      SCHEDULER_PORT: "0",
    });
    assertLoads(
      "scheduler",
      packages,
      ["postgres", "amqplib"],
      ["fastify", "@electric-sql/pglite"],
    );
  });

  it("migrate: postgres.js, and no Fastify, amqplib or PGlite", async () => {
    const packages = await packagesLoaded("migrate", {
      DATABASE_URL: NO_DATABASE,
      DB_CONNECT_TIMEOUT: "1s",
    });
    assertLoads("migrate", packages, ["postgres"], ["fastify", "amqplib", "@electric-sql/pglite"]);
  });

  it("api: Fastify, and no amqplib or PGlite", async () => {
    const packages = await packagesLoaded("api", {
      STORAGE: "memory",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
    });
    assertLoads("api", packages, ["fastify"], ["amqplib", "@electric-sql/pglite"]);
  });
});
