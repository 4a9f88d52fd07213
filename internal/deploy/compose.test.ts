// compose.yaml and the Dockerfile against what the service actually reads and
// does: no Docker engine needed, so this runs in `npm test`. A variable
// compose sets that the service does not read, a required one left out, a
// port or health check that points elsewhere than the role listens, or a
// start order that lets a role start before what it needs, fails here
// rather than in someone's `docker compose up`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { parse } from "yaml";
import { runAll } from "../../cmd/all/all.js";
import { unmetRequirement } from "../app/requirements.js";
import { type Config, loadConfig, settingList, settings } from "../config/config.js";
import { findRunningRole, healthUrls, isRole, probe, probeHost, type Role } from "./healthcheck.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");

// ---------------------------------------------------------------- compose.yaml

interface Service {
  image?: string;
  build?: string | { context?: string; target?: string };
  command?: string | string[];
  environment?: Record<string, unknown> | string[];
  ports?: (string | number | { target: number | string; published?: number | string })[];
  healthcheck?: {
    test?: string | string[];
    disable?: boolean;
    interval?: string;
    timeout?: string;
    retries?: number;
    start_period?: string;
  };
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string;
  profiles?: string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  stop_grace_period?: string;
  hostname?: string;
}

const compose = parse(read("compose.yaml"), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
};
const services = compose.services;

/** Built from ./Dockerfile: the cal_service image (or its test stage). */
const ours = Object.entries(services).filter(([, s]) => buildOf(s)?.context === ".");
const roleServices = ours.filter(([name]) => name !== "tests");

/** Variables the integration suite reads besides the service's own (tests service only). */
const SUITE_VARIABLES = new Set([
  "API_URL", // where the suite finds the running api
]);

// What each role needs, from cmd/<role>/: api, scheduler and
// migrate open the database (without DATABASE_URL, an embedded one inside
// the container: private to it and lost with it); scheduler and sender use
// the broker (without AMQP_URL they refuse to start: internal/app/requirements.ts).
const DATABASE_ROLES: Role[] = ["api", "scheduler", "migrate"];
const BROKER_ROLES: Role[] = ["scheduler", "sender"];
const LONG_RUNNING_ROLES: Role[] = ["api", "scheduler", "sender"];

const HEALTHCHECK_SCRIPT = "/app/dist/cmd/healthcheck.js";

function buildOf(service: Service): { context?: string; target?: string } | undefined {
  return typeof service.build === "string" ? { context: service.build } : service.build;
}

function envOf(name: string): Record<string, string> {
  const environment = services[name]?.environment ?? {};
  assert.ok(!Array.isArray(environment), `${name}: write environment as a map`);
  for (const [key, value] of Object.entries(environment)) {
    // Unquoted 8080 or false would be a YAML number or boolean.
    assert.equal(typeof value, "string", `${name}: ${key} must be a quoted string`);
  }
  return environment as Record<string, string>;
}

function configOf(name: string): Config {
  const config = loadConfig(envOf(name));
  assert.ok(
    config.ok,
    `${name}: the service would refuse this environment: ${String(config.ok || config.error)}`,
  );
  return config.value;
}

function roleOf(name: string): Role {
  const command = services[name]?.command;
  assert.ok(Array.isArray(command), `${name}: command must be a list (exec form)`);
  assert.equal(command.length, 1, `${name}: the command is the role alone, e.g. ["api"]`);
  const role = command[0] ?? "";
  assert.ok(isRole(role), `${name}: "${role}" is not a cal_service role`);
  return role;
}

function dependenciesOf(name: string): Record<string, string> {
  const dependsOn = services[name]?.depends_on ?? {};
  if (Array.isArray(dependsOn))
    return Object.fromEntries(dependsOn.map((d) => [d, "service_started"]));
  return Object.fromEntries(
    Object.entries(dependsOn).map(([d, { condition }]) => [d, condition ?? "service_started"]),
  );
}

/** Container ports, and the host ports they are published on. */
function portsOf(name: string): { target: number; published: number | undefined }[] {
  return (services[name]?.ports ?? []).map((port) => {
    if (typeof port === "object") {
      return {
        target: Number(port.target),
        published: port.published === undefined ? undefined : Number(port.published),
      };
    }
    // [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]
    const parts = String(port).split("/")[0]?.split(":") ?? [];
    const target = Number(parts.at(-1));
    return { target, published: parts.length > 1 ? Number(parts.at(-2)) : undefined };
  });
}

/** "20s", "1m30s", "500ms" in milliseconds. */
function composeDuration(value: string | undefined): number {
  assert.ok(value !== undefined, "duration missing");
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h)/g)];
  assert.equal(parts.map((p) => p[0]).join(""), value, `"${value}" is not a duration`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? ""] ?? Number.NaN), 0);
}

/** Named volumes mounted by a service: target path → volume name. */
function namedVolumesOf(name: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const volume of services[name]?.volumes ?? []) {
    const [source, target] =
      typeof volume === "string" ? volume.split(":") : [volume.source, volume.target];
    if (source && target && !source.startsWith(".") && !source.startsWith("/")) {
      mounts.set(target, source);
    }
  }
  return mounts;
}

function serviceWithImage(prefix: string): [string, Service] {
  const found = Object.entries(services).filter(([, s]) => s.image?.startsWith(prefix));
  assert.equal(found.length, 1, `exactly one service runs the ${prefix} image`);
  return found[0] as [string, Service];
}

describe("compose.yaml", () => {
  it("follows the Compose specification: no version key, services and volumes only", () => {
    assert.equal("version" in compose, false, "the Compose specification has no version key");
    for (const key of Object.keys(compose)) {
      assert.ok(
        ["name", "services", "volumes", "networks", "configs", "secrets"].includes(key) ||
          key.startsWith("x-"),
        `unexpected top-level key ${key}`,
      );
    }
  });

  it("runs every role from our image, plus the test runner", () => {
    assert.deepEqual(ours.map(([name]) => name).sort(), [
      "api",
      "migrate",
      "scheduler",
      "sender",
      "tests",
    ]);
    for (const [name] of roleServices) {
      assert.equal(roleOf(name), name, `${name}: runs the role it is named after`);
      assert.equal(
        buildOf(services[name] ?? {})?.target,
        "runtime",
        `${name}: the production stage`,
      );
    }
  });

  it("sets only variables the service reads, as strings it accepts", () => {
    const known = new Set<string>(settingList.map((s) => s.name));
    for (const [name] of ours) {
      for (const key of Object.keys(envOf(name))) {
        const allowed = known.has(key) || (name === "tests" && SUITE_VARIABLES.has(key));
        assert.ok(
          allowed,
          `${name}: ${key} is not a variable cal_service reads (README, Configuration)`,
        );
      }
      configOf(name);
    }
  });

  it("gives each role the database and broker it needs", () => {
    for (const [name] of roleServices) {
      const role = roleOf(name);
      const config = configOf(name);
      const unmet = unmetRequirement(role, config);
      assert.equal(unmet, undefined, `${name}: cal_service ${role} would refuse: ${unmet}`);
      if (DATABASE_ROLES.includes(role)) {
        assert.ok(
          config.storage.kind === "postgres" && config.storage.databaseUrl !== undefined,
          `${name}: needs DATABASE_URL (else an embedded database private to the container)`,
        );
      }
      if (BROKER_ROLES.includes(role)) {
        assert.ok(config.queue.amqpUrl !== undefined, `${name}: needs AMQP_URL`);
      }
    }
    // The suite talks to the same stack.
    const tests = envOf("tests");
    assert.equal(tests.DATABASE_URL, envOf("api").DATABASE_URL);
    assert.equal(tests.AMQP_URL, envOf("scheduler").AMQP_URL);
    assert.ok(tests.API_URL, "tests: API_URL names the api");
    const apiUrl = new URL(tests.API_URL);
    assert.equal(apiUrl.hostname, "api");
    assert.equal(Number(apiUrl.port), configOf("api").api.port);
  });

  it("uses the credentials, host and port the PostgreSQL and RabbitMQ services are set up with", () => {
    const [pgName, pg] = serviceWithImage("postgres:");
    const [mqName, mq] = serviceWithImage("rabbitmq:");
    const pgEnv = envOf(pgName);
    const mqEnv = envOf(mqName);
    let checked = 0;
    for (const [name] of ours) {
      const env = envOf(name);
      if (env.DATABASE_URL) {
        const url = new URL(env.DATABASE_URL);
        assert.equal(url.hostname, pgName, `${name}: DATABASE_URL host`);
        assert.equal(url.port || "5432", "5432", `${name}: DATABASE_URL port`);
        assert.equal(decodeURIComponent(url.username), pgEnv.POSTGRES_USER, `${name}: user`);
        assert.equal(
          decodeURIComponent(url.password),
          pgEnv.POSTGRES_PASSWORD,
          `${name}: password`,
        );
        assert.equal(url.pathname.slice(1), pgEnv.POSTGRES_DB, `${name}: database`);
        checked++;
      }
      if (env.AMQP_URL) {
        const url = new URL(env.AMQP_URL);
        assert.equal(url.hostname, mqName, `${name}: AMQP_URL host`);
        assert.equal(url.port || "5672", "5672", `${name}: AMQP_URL port`);
        assert.equal(
          decodeURIComponent(url.username),
          mqEnv.RABBITMQ_DEFAULT_USER,
          `${name}: user`,
        );
        assert.equal(
          decodeURIComponent(url.password),
          mqEnv.RABBITMQ_DEFAULT_PASS,
          `${name}: password`,
        );
        const vhost = decodeURIComponent(url.pathname.slice(1)) || "/";
        assert.equal(vhost, mqEnv.RABBITMQ_DEFAULT_VHOST ?? "/", `${name}: vhost`);
        checked++;
      }
    }
    assert.ok(checked >= 6, "the services' URLs were all looked at");
    assert.ok(pg.healthcheck && mq.healthcheck);
  });

  it("publishes the api's port, and the ports it maps are the ones the roles listen on", () => {
    const listening = (name: string): number => {
      const config = configOf(name);
      return {
        api: config.api.port,
        scheduler: config.scheduler.port,
        sender: config.queue.senderPort,
      }[roleOf(name) as "api" | "scheduler" | "sender"];
    };
    assert.ok(
      portsOf("api").some((p) => p.published === 8080 && p.target === listening("api")),
      "api: host port 8080 maps to API_PORT",
    );
    for (const name of ["api", "scheduler", "sender"]) {
      for (const { target } of portsOf(name)) {
        assert.equal(target, listening(name), `${name}: maps a port it does not listen on`);
      }
    }
    for (const name of ["migrate", "tests"])
      assert.deepEqual(portsOf(name), [], `${name} serves nothing`);
  });

  it("health-checks each long-running role on the port it listens on", () => {
    for (const [name] of roleServices) {
      const role = roleOf(name);
      const healthcheck = services[name]?.healthcheck;
      if (!LONG_RUNNING_ROLES.includes(role)) {
        assert.equal(healthcheck?.disable, true, `${name}: a one-shot has nothing to check`);
        continue;
      }
      assert.deepEqual(healthcheck?.test, ["CMD", "node", HEALTHCHECK_SCRIPT, role], name);
      const config = configOf(name);
      const ports = healthUrls(role, config).map((url) => Number(new URL(url).port));
      const expected = {
        api: config.api.port,
        scheduler: config.scheduler.port,
        sender: config.queue.senderPort,
      };
      assert.deepEqual(ports, [expected[role as keyof typeof expected]], name);
      // The role listens only once its connections are up (each retried for
      // up to 60s): failures before then must not count.
      const connecting = Math.max(
        DATABASE_ROLES.includes(role) && config.storage.kind === "postgres"
          ? config.storage.connectTimeoutMs
          : 0,
        BROKER_ROLES.includes(role) ? config.queue.connectTimeoutMs : 0,
      );
      assert.ok(composeDuration(healthcheck?.start_period) >= connecting, `${name}: start_period`);
      assert.ok(
        composeDuration(healthcheck?.timeout) >= 2500,
        `${name}: timeout leaves the probe its 2s`,
      );
    }
  });

  it("checks PostgreSQL with pg_isready as its own user and database, and RabbitMQ's listener", () => {
    const [pgName, pg] = serviceWithImage("postgres:");
    const test = pg.healthcheck?.test;
    assert.ok(Array.isArray(test) && test.includes("pg_isready"), "postgres: pg_isready");
    const pgEnv = envOf(pgName);
    assert.equal(test[test.indexOf("-U") + 1], pgEnv.POSTGRES_USER);
    assert.equal(test[test.indexOf("-d") + 1], pgEnv.POSTGRES_DB);
    const [, mq] = serviceWithImage("rabbitmq:");
    assert.ok(
      String(mq.healthcheck?.test).includes("rabbitmq-diagnostics"),
      "rabbitmq: diagnostics",
    );
  });

  it("starts each service only after what it needs is healthy or done", () => {
    const [pgName] = serviceWithImage("postgres:");
    const [mqName] = serviceWithImage("rabbitmq:");
    const migrators = roleServices.filter(([name]) => roleOf(name) === "migrate").map(([n]) => n);
    assert.deepEqual(migrators, ["migrate"]);
    for (const [name] of roleServices) {
      const role = roleOf(name);
      const deps = dependenciesOf(name);
      if (DATABASE_ROLES.includes(role))
        assert.equal(deps[pgName], "service_healthy", `${name} → postgres`);
      if (BROKER_ROLES.includes(role))
        assert.equal(deps[mqName], "service_healthy", `${name} → rabbitmq`);
      if (DATABASE_ROLES.includes(role) && role !== "migrate") {
        assert.equal(
          deps.migrate,
          "service_completed_successfully",
          `${name}: after the migrations`,
        );
      }
    }
    const tests = dependenciesOf("tests");
    for (const name of LONG_RUNNING_ROLES)
      assert.equal(tests[name], "service_healthy", `tests → ${name}`);

    // Every condition can be met: service_healthy needs a health check,
    // service_completed_successfully a one-shot that is not restarted.
    for (const [name] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependenciesOf(name))) {
        const target = services[dep];
        assert.ok(target, `${name} depends on ${dep}, which is not a service`);
        if (condition === "service_healthy") {
          assert.ok(
            target.healthcheck?.test && !target.healthcheck.disable,
            `${dep} has a health check`,
          );
        } else if (condition === "service_completed_successfully") {
          assert.ok([undefined, "no"].includes(target.restart), `${dep} must not restart`);
        } else {
          assert.fail(`${name} → ${dep}: ${condition}; wait for healthy or completed instead`);
        }
      }
    }
  });

  it("restarts long-running services, not one-shots, and gives them time to shut down", () => {
    for (const [name, service] of Object.entries(services)) {
      const oneShot =
        name === "tests" || (ours.some(([n]) => n === name) && roleOf(name) === "migrate");
      if (oneShot) {
        assert.ok([undefined, "no"].includes(service.restart), `${name}: restart "no"`);
      } else {
        assert.ok(["always", "unless-stopped"].includes(service.restart ?? ""), `${name}: restart`);
      }
    }
    for (const name of LONG_RUNNING_ROLES) {
      // Docker's SIGKILL must not come before SHUTDOWN_TIMEOUT has run out.
      const grace = composeDuration(services[name]?.stop_grace_period ?? "10s");
      assert.ok(grace > configOf(name).api.shutdownTimeoutMs, `${name}: stop_grace_period`);
    }
  });

  it("keeps PostgreSQL's and RabbitMQ's data in named volumes that `down -v` removes", () => {
    const declared = Object.keys(compose.volumes ?? {});
    const [pgName] = serviceWithImage("postgres:");
    const [mqName, mq] = serviceWithImage("rabbitmq:");
    const pgVolume = namedVolumesOf(pgName).get("/var/lib/postgresql/data");
    const mqVolume = namedVolumesOf(mqName).get("/var/lib/rabbitmq");
    assert.ok(pgVolume && declared.includes(pgVolume), "postgres: a declared named volume");
    assert.ok(mqVolume && declared.includes(mqVolume), "rabbitmq: a declared named volume");
    // RabbitMQ names its data directory after the node, and the node after
    // the host name: a random container host name would start empty each time.
    assert.ok(mq.hostname, "rabbitmq: a fixed hostname");
  });

  it("runs the integration suite only under the test profile, from the test stage", () => {
    const tests = services.tests ?? {};
    assert.deepEqual(tests.profiles, ["test"]);
    assert.equal(buildOf(tests)?.target, "test");
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    assert.deepEqual(tests.command, ["npm", "run", "test:stack"]);
    assert.ok(pkg.scripts["test:stack"], "package.json has the script the service runs");
    for (const [name, service] of Object.entries(services)) {
      if (name !== "tests")
        assert.equal(service.profiles, undefined, `${name}: starts with plain \`up\``);
    }
  });
});

// ------------------------------------------------------------------ Dockerfile

interface Stage {
  name: string;
  from: string;
  instructions: { keyword: string; args: string }[];
}

function dockerfileStages(): { args: Record<string, string>; stages: Stage[] } {
  const lines = read("Dockerfile")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = "", rest = ""] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === "FROM") {
      const [, from = "", name = ""] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest) ?? [];
      const image = from.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => args[arg] ?? "");
      stages.push({ name, from: image, instructions: [] });
    } else if (upper === "ARG" && stages.length === 0) {
      const [key = "", value = ""] = rest.split("=");
      args[key] = value;
    } else {
      stages.at(-1)?.instructions.push({ keyword: upper, args: rest.replace(/\s+/g, " ") });
    }
  }
  return { args, stages };
}

describe("Dockerfile", () => {
  const { stages } = dockerfileStages();
  const stage = (name: string) => {
    const found = stages.find((s) => s.name === name);
    assert.ok(found, `stage ${name}`);
    return found;
  };
  const runtime = stage("runtime");
  const last = (s: Stage, keyword: string) =>
    s.instructions.filter((i) => i.keyword === keyword).at(-1);
  const pkg = JSON.parse(read("package.json")) as {
    bin: Record<string, string>;
    engines: { node: string };
    scripts: Record<string, string>;
  };

  it("builds the runtime by default, on the Node.js major the service targets", () => {
    assert.equal(stages.at(-1)?.name, "runtime", "a plain `docker build` gives the runtime image");
    const major = /(\d+)/.exec(pkg.engines.node)?.[1];
    assert.match(runtime.from, new RegExp(`^node:${major}-bookworm-slim$`));
    for (const target of ours.map(([, s]) => buildOf(s)?.target)) stage(target ?? "");
  });

  it("runs the cal_service executable as an unprivileged user, the role as the command", () => {
    const user = last(runtime, "USER")?.args;
    assert.ok(user && !["root", "0"].includes(user.split(":")[0] ?? ""), "USER is not root");
    assert.deepEqual(JSON.parse(last(runtime, "ENTRYPOINT")?.args ?? "null"), [
      "node",
      `/app/${pkg.bin.cal_service}`,
    ]);
    assert.deepEqual(JSON.parse(last(runtime, "CMD")?.args ?? "null"), ["api"]);
    assert.ok(
      runtime.instructions.some(
        (i) => i.keyword === "COPY" && i.args === "--from=build /app/dist dist",
      ),
      "the compiled dist/ from the build stage",
    );
  });

  it("ships production dependencies only, and no test files", () => {
    const copied = runtime.instructions
      .filter((i) => i.keyword === "COPY" && i.args.includes("node_modules"))
      .map((i) => /--from=(\S+)/.exec(i.args)?.[1]);
    assert.equal(copied.length, 1, "node_modules comes from one stage");
    const deps = stage(copied[0] ?? "");
    assert.ok(
      deps.instructions.some((i) => i.keyword === "RUN" && /npm ci\b.*--omit=dev/.test(i.args)),
      `${deps.name}: npm ci --omit=dev`,
    );
    assert.ok(
      !runtime.instructions.some((i) => i.keyword === "RUN" && /npm (ci|install)/.test(i.args)),
    );
    // dist/ comes from `npm run build`, whose tsconfig leaves the tests out.
    assert.match(pkg.scripts.build ?? "", /-p tsconfig\.build\.json/);
    const buildConfig = JSON.parse(read("tsconfig.build.json")) as { exclude: string[] };
    assert.ok(buildConfig.exclude.includes("**/*.test.ts"));
    assert.ok(
      stage("build").instructions.some((i) => i.keyword === "RUN" && i.args === "npm run build"),
    );
  });

  it("ships the dependencies patched under patches/ with their patches applied", () => {
    const build = stage("build");
    const install = build.instructions.findIndex(
      (i) => i.keyword === "RUN" && /^npm ci\b/.test(i.args),
    );
    const copiesPatches = build.instructions.findIndex(
      (i) => i.keyword === "COPY" && i.args === "patches patches",
    );
    assert.ok(copiesPatches >= 0 && copiesPatches < install, "build: patches/ before npm ci");
    assert.equal(pkg.scripts.postinstall, "patch-package", "npm ci applies patches/");
    // prod-deps installs with --ignore-scripts and without patch-package:
    // each patched package must come from the build stage, after its npm ci.
    const deps = stage("prod-deps");
    const depsInstall = deps.instructions.findIndex(
      (i) => i.keyword === "RUN" && /^npm ci\b/.test(i.args),
    );
    const patched = readdirSync(join(root, "patches")).map(
      (file) => /^(.+)\+[^+]+\.patch$/.exec(file)?.[1]?.replace(/\+/g, "/") ?? file,
    );
    assert.ok(patched.length > 0, "patches/ holds at least the postgres.js patch");
    for (const name of patched) {
      const copied = deps.instructions.findIndex(
        (i) =>
          i.keyword === "COPY" &&
          i.args === `--from=build /app/node_modules/${name} node_modules/${name}`,
      );
      assert.ok(copied > depsInstall, `prod-deps: ${name} as patched in the build stage`);
    }
  });

  it("health-checks with the script compose uses, built from cmd/healthcheck.ts", () => {
    const healthcheck = last(runtime, "HEALTHCHECK")?.args ?? "";
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD") + 3)) as string[];
    assert.deepEqual(command, ["node", HEALTHCHECK_SCRIPT]);
    assert.ok(
      existsSync(join(root, "cmd/healthcheck.ts")),
      "dist/cmd/healthcheck.js is built from it",
    );
    const exposed = (last(runtime, "EXPOSE")?.args ?? "").split(" ").map(Number);
    const defaults = [settings.API_PORT, settings.SCHEDULER_PORT, settings.SENDER_PORT].map((s) =>
      Number(s.default),
    );
    assert.deepEqual(exposed, defaults);
  });

  it("keeps the host's node_modules, dist/ and .git out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((line) => line.trim());
    for (const path of ["node_modules", "dist", ".git", "data"])
      assert.ok(ignored.includes(path), path);
  });
});

// ----------------------------------------------------------------- healthcheck

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Runs cmd/healthcheck.ts the way Docker runs the built one. */
function runHealthcheck(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(root, "cmd/healthcheck.ts"), ...args],
      { cwd: root, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

describe("healthcheck", () => {
  it("finds the role in the command line of the cal_service process, also under an init", () => {
    const proc = mkdtempSync(join(tmpdir(), "cal-proc-"));
    after(() => rmSync(proc, { recursive: true, force: true }));
    const write = (pid: number, args: string[]) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), "cmdline"), `${args.join("\0")}\0`);
    };
    assert.equal(findRunningRole(proc), undefined);
    write(1, ["/sbin/docker-init", "--"]);
    write(12, ["node", "/app/dist/cmd/healthcheck.js"]);
    assert.equal(findRunningRole(proc), undefined);
    write(7, ["node", "/app/dist/cmd/cal_service.js", "scheduler"]);
    assert.equal(findRunningRole(proc), "scheduler");
    write(1, ["node", "/app/dist/cmd/cal_service.js", "sender"]);
    assert.equal(findRunningRole(proc), "sender", "the lowest pid first");
    write(1, ["node", "/app/dist/cmd/cal_service.js", "--help"]);
    assert.equal(findRunningRole(proc), "scheduler", "not a role: looks further");
    assert.equal(findRunningRole(join(proc, "missing")), undefined);
  });

  it("reaches a wildcard address through loopback, any other as it is", () => {
    assert.equal(probeHost("0.0.0.0"), "127.0.0.1");
    assert.equal(probeHost("::"), "127.0.0.1");
    assert.equal(probeHost("10.1.2.3"), "10.1.2.3");
    assert.equal(probeHost("fd00::1"), "[fd00::1]");
  });

  it("counts only a 2xx answer in time as healthy, on any port", async (t) => {
    let answer: (res: ServerResponse) => void = () => {};
    const server = createHttpServer((_req, res) => answer(res));
    // 10080 is on fetch's "bad ports" list, which a role may be given.
    const port = await new Promise<number>((resolve) => {
      server.once("error", () => server.listen(0, "127.0.0.1", () => resolve(0)));
      server.listen(10080, "127.0.0.1", () => resolve(10080));
    });
    after(() => {
      server.closeAllConnections();
      server.close();
    });
    if (port === 0) t.diagnostic("port 10080 is taken here: the bad-port case is not exercised");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;

    answer = (res) => res.end('{"status":"ok"}');
    assert.deepEqual(await probe(url, 1000), { url, healthy: true, detail: '200 {"status":"ok"}' });
    answer = (res) => {
      res.statusCode = 503;
      res.end('{"status":"unhealthy","reason":"message broker unavailable"}');
    };
    const unhealthy = await probe(url, 1000);
    assert.equal(unhealthy.healthy, false);
    assert.match(unhealthy.detail, /^503 .*message broker unavailable/);
    answer = () => {}; // never answers
    assert.deepEqual(await probe(url, 200), {
      url,
      healthy: false,
      detail: "no answer within 200ms",
    });
  });

  it("probes exactly the ports the roles listen on, and fails once they stop", async () => {
    const [apiPort, schedulerPort, senderPort] = await freePorts(3);
    const env = {
      STORAGE: "memory",
      API_HOST: "0.0.0.0",
      API_PORT: String(apiPort),
      SCHEDULER_PORT: String(schedulerPort),
      SENDER_PORT: String(senderPort),
      LOG_LEVEL: "info",
    };
    const config = loadConfig(env);
    assert.ok(config.ok);
    // Where the roles say they listen, from their own log lines.
    const listening = new Map<string, number>();
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split("\n").filter(Boolean)) {
            // "api listening", "scheduler metrics and health listening", ...
            const { msg = "", url } = JSON.parse(line) as { msg?: string; url?: string };
            const role = /^(api|scheduler|sender) .*listening$/.exec(msg)?.[1];
            if (role && url) listening.set(role, Number(new URL(url).port));
          }
          done();
        },
      }),
    );
    const stop = await runAll(config.value, logger);
    let stopped = false;
    after(async () => {
      if (!stopped) await stop();
    });

    for (const role of ["api", "scheduler", "sender"] as const) {
      const urls = healthUrls(role, config.value);
      assert.deepEqual(
        urls.map((url) => Number(new URL(url).port)),
        [listening.get(role)],
        role,
      );
      for (const url of urls) assert.equal((await probe(url, 2000)).healthy, true, url);
    }
    assert.equal(healthUrls("all", config.value).length, 3);

    const healthy = await runHealthcheck(["all"], env);
    assert.equal(healthy.code, 0, healthy.output);
    assert.equal(healthy.output.match(/ healthy: 200/g)?.length, 3, healthy.output);

    await stop();
    stopped = true;
    const down = await runHealthcheck(["api"], env);
    assert.equal(down.code, 1, down.output);
    assert.match(down.output, /UNHEALTHY: ECONNREFUSED/);
  });

  it("passes for migrate, which serves nothing, and fails on a bad role or configuration", async () => {
    const migrate = await runHealthcheck(["migrate"], {});
    assert.equal(migrate.code, 0, migrate.output);
    const unknown = await runHealthcheck(["worker"], {});
    assert.equal(unknown.code, 1);
    assert.match(unknown.output, /unknown role "worker"/);
    const invalid = await runHealthcheck(["api"], { API_PORT: "eighty" });
    assert.equal(invalid.code, 1);
    assert.match(invalid.output, /API_PORT/);
  });
});
