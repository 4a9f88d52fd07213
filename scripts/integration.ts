// The compose stack without Docker: builds, then runs `migrate` and the
// `api`, `scheduler` and `sender` roles as separate OS processes from the
// built executable, with the environment compose.yaml gives each service,
// and runs the stack-level suite (`npm run test:stack`: tests/integration/stack/)
// against them.
//
//   DATABASE_URL=postgres://root@127.0.0.1:5432/test \
//   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 node --import tsx scripts/integration.ts
//
// (`npx tsx scripts/integration.ts` works too, but on Ctrl-C the tsx CLI
// SIGKILLs its child unless it acknowledges the signal within 30 ms, which a
// busy runner can miss: then the roles and the database are left behind.)
//
// DATABASE_URL names the local PostgreSQL server (the role must be allowed to
// CREATE DATABASE; its database part is not used): the run gets a fresh
// database cal_it_<random>, dropped at the end. AMQP_URL is the local
// RabbitMQ (default amqp://guest:guest@127.0.0.1:5672).
//
// Each service's environment is taken from compose.yaml (COMPOSE_FILE to read
// another file) and changed only where the machine differs from the compose
// network, each change printed:
//   - a postgres:// URL on a compose service host -> the run's database;
//   - an amqp:// URL on a compose service host    -> AMQP_URL;
//   - API_PORT, SCHEDULER_PORT, SENDER_PORT        -> free ports (in compose every
//     container has its own network namespace; here 8080-8082 may be taken);
//   - a URL naming one of our services (the suite's API_URL) -> 127.0.0.1 and
//     the port chosen for it.
// Everything else is passed verbatim, on top of the runtime image's own ENV
// (Dockerfile) and PATH: nothing else leaks in from this shell.
//
// The roles use the names compose gives them (cal.notifications, ...), so two
// runs at once on one broker would share the notification queue: each sender
// would deliver some of the other's reminders, and a suite could miss
// receipts. Runs in CI are sequential; locally, do not run two at once.
//
// Exit code: the suite's; 1 when the stack failed to start or a role did not
// exit 0 on SIGTERM. Logs of every role are printed when anything failed.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { settings } from "../internal/config/settings.js";
import {
  createScratchDatabase,
  databaseUrl as databaseUrlFor,
  type ScratchDatabase,
} from "../internal/testing/database.js";
import {
  type Exit,
  exitOf,
  freePort,
  killOnExit,
  killTracked,
  OutputLog,
  signalChild,
  stopChild,
} from "../internal/testing/process.js";
import { untilFound } from "../internal/testing/wait.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXECUTABLE = join(ROOT, "dist", "cmd", "cal_service.js");
/** The stack-level suite, as compose's `tests` service runs it (package.json lists its files). */
const SUITE = ["npm", "run", "test:stack"] as const;
const ROLES = ["api", "scheduler", "sender"] as const;
type Role = (typeof ROLES)[number];

/** Compose's service ports that become free local ports, and the service that listens on each. */
const PORT_VARIABLES: Record<string, Role> = {
  API_PORT: "api",
  SCHEDULER_PORT: "scheduler",
  SENDER_PORT: "sender",
};
/** Defaults of the service (its settings declarations) for what compose leaves unset. */
const DEFAULT_PORTS: Record<Role, [variable: string, port: string]> = {
  api: ["API_PORT", settings.API_PORT.default],
  scheduler: ["SCHEDULER_PORT", settings.SCHEDULER_PORT.default],
  sender: ["SENDER_PORT", settings.SENDER_PORT.default],
};
const DEFAULT_STATUS_EXCHANGE = settings.AMQP_STATUS_EXCHANGE.default;
/** The roles stop within SHUTDOWN_TIMEOUT (10s by default); the rest is slack. */
const STOP_GRACE_MS = 20_000;
const START_TIMEOUT_MS = 90_000;
const LOG_LINES_SHOWN = 300;

// ---------------------------------------------------------------------------
// Output

const started = Date.now();
const timings: [string, number][] = [];
function say(message: string): void {
  process.stdout.write(
    `[integration +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`,
  );
}
async function phase<T>(name: string, run: () => Promise<T>): Promise<T> {
  const at = Date.now();
  say(`${name} ...`);
  try {
    return await run();
  } finally {
    timings.push([name, Date.now() - at]);
  }
}

// ---------------------------------------------------------------------------
// compose.yaml and the Dockerfile

interface ComposeService {
  image?: string;
  build?: string | { context?: string; target?: string; dockerfile?: string };
  environment?: Record<string, unknown> | string[];
}

function readCompose(path: string): Record<string, ComposeService> {
  const compose = parse(readFileSync(path, "utf8"), { merge: true }) as {
    services?: Record<string, ComposeService>;
  };
  if (!compose?.services) throw new Error(`${path}: no services`);
  return compose.services;
}

function environmentOf(
  services: Record<string, ComposeService>,
  name: string,
): Record<string, string> {
  const service = services[name];
  if (!service) throw new Error(`compose.yaml has no service "${name}"`);
  const raw = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((item) => {
        const [key, ...value] = String(item).split("=");
        return [key ?? "", value.length > 0 ? value.join("=") : undefined];
      })
    : Object.entries(raw);
  const env: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (value === undefined || value === null) {
      throw new Error(
        `${name}: ${key} takes its value from the host's environment; not supported here`,
      );
    }
    const text = String(value);
    if (text.includes("$")) {
      throw new Error(`${name}: ${key}=${text} uses interpolation; not supported here`);
    }
    env[key] = text;
  }
  return env;
}

/**
 * The ENV instructions of the Dockerfile stage the roles run from: part of
 * their environment in a container (compose adds its `environment` on top).
 */
function imageEnv(services: Record<string, ComposeService>): Record<string, string> {
  const build = services.api?.build;
  const target = typeof build === "object" ? build.target : undefined;
  const dockerfile = join(ROOT, (typeof build === "object" && build.dockerfile) || "Dockerfile");
  const lines = readFileSync(dockerfile, "utf8")
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim());
  const stages: { name: string | undefined; lines: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stages.push({ name: from[1], lines: [] });
    else stages.at(-1)?.lines.push(line);
  }
  const stage = target ? stages.find((s) => s.name === target) : stages.at(-1);
  if (!stage) throw new Error(`${dockerfile}: no stage "${target}"`);
  const env: Record<string, string> = {};
  for (const line of stage.lines) {
    const instruction = /^ENV\s+(.*)$/i.exec(line);
    if (!instruction) continue;
    const pairs = instruction[1]?.trim().split(/\s+/) ?? [];
    if (pairs.length === 2 && !pairs[0]?.includes("=")) {
      env[pairs[0] ?? ""] = pairs[1] ?? ""; // legacy "ENV key value"
      continue;
    }
    for (const pair of pairs) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=([^"'$]*)$/.exec(pair);
      if (!match) throw new Error(`${dockerfile}: cannot read "${line}" (only plain key=value)`);
      env[match[1] ?? ""] = match[2] ?? "";
    }
  }
  return env;
}

// ---------------------------------------------------------------------------
// Rewriting compose's environment for this machine

interface Rewrite {
  service: string;
  variable: string;
  from: string;
  to: string;
  why: string;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

interface Plan {
  /** Per service: the environment it runs with (without the image's and PATH). */
  env: Record<string, Record<string, string>>;
  rewrites: Rewrite[];
  /** Where each role answers, from this machine. */
  ports: Record<Role, number>;
}

async function plan(
  services: Record<string, ComposeService>,
  names: string[],
  local: { databaseUrl: string; amqpUrl: string },
): Promise<Plan> {
  const serviceNames = new Set(Object.keys(services));
  const isImage = (name: string, prefix: string) =>
    services[name]?.image?.startsWith(prefix) === true;
  const rewrites: Rewrite[] = [];
  const env: Record<string, Record<string, string>> = {};

  // Ports first: the suite's API_URL needs them.
  const ports = {} as Record<Role, number>;
  /** "api:8080" -> "127.0.0.1:41234": where a compose address is reached from here. */
  const addresses = new Map<string, string>();
  for (const role of ROLES) {
    const [variable, fallback] = DEFAULT_PORTS[role];
    const composePort = environmentOf(services, role)[variable] ?? fallback;
    const port = await freePort("0.0.0.0");
    ports[role] = port;
    addresses.set(`${role}:${composePort}`, `127.0.0.1:${port}`);
  }

  for (const name of names) {
    const source = environmentOf(services, name);
    const result: Record<string, string> = {};
    for (const [variable, value] of Object.entries(source)) {
      let to = value;
      let why: string | undefined;
      const role = PORT_VARIABLES[variable];
      if (role !== undefined) {
        to = String(ports[role]);
        why = `${value} may be taken here; in compose each container has ports of its own`;
      } else {
        let url: URL | undefined;
        try {
          url = new URL(value);
        } catch {
          url = undefined;
        }
        if (url && serviceNames.has(url.hostname)) {
          const host = url.hostname;
          if (/^postgres(ql)?:$/.test(url.protocol) && isImage(host, "postgres")) {
            to = local.databaseUrl;
            why = "the local PostgreSQL, in this run's own database";
          } else if (/^amqps?:$/.test(url.protocol) && isImage(host, "rabbitmq")) {
            to = local.amqpUrl;
            why = "the local RabbitMQ (AMQP_URL)";
          } else {
            const address = addresses.get(`${host}:${url.port || "80"}`);
            if (!address) {
              throw new Error(
                `${name}: ${variable}=${value} names compose service "${host}"; no local equivalent`,
              );
            }
            url.host = address;
            to = url.toString().replace(/\/$/, value.endsWith("/") ? "/" : "");
            why = `the local ${host}`;
          }
        }
      }
      if (why !== undefined) rewrites.push({ service: name, variable, from: value, to, why });
      result[variable] = to;
    }
    env[name] = result;
  }
  return { env, rewrites, ports };
}

// ---------------------------------------------------------------------------
// Processes

class RoleProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly #output = new OutputLog();
  #exit: Exit | undefined;

  constructor(
    readonly name: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, [EXECUTABLE, name], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // a process group of its own: signals reach it only from us
    });
    killOnExit(this.child, { group: true });
    const collect = (chunk: string) => this.#output.add(chunk);
    this.child.stdout?.setEncoding("utf8").on("data", collect);
    this.child.stderr?.setEncoding("utf8").on("data", collect);
    this.child.on("error", (error) => collect(`spawn failed: ${error.message}\n`));
    this.exited = exitOf(this.child).then((exit) => {
      this.#exit = exit;
      return exit;
    });
  }

  alive(): boolean {
    return this.#exit === undefined;
  }

  exit() {
    return this.#exit;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive()) signalChild(this.child, signal, true);
  }

  /** SIGTERM; SIGKILL after `graceMs`. */
  async stop(graceMs: number) {
    if (!this.alive()) return { ...(this.#exit ?? { code: null, signal: null }), timedOut: false };
    return await stopChild(this.child, this.exited, graceMs, true);
  }

  log(lines = LOG_LINES_SHOWN): string {
    return this.#output.tail(lines);
  }
}

const processes: RoleProcess[] = [];
/** Process groups of the helper commands running now (build, suite). */
const helpers = new Set<number>();
function killAll(): void {
  killTracked("SIGKILL");
  for (const pid of helpers) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}
process.on("exit", killAll); // the roles are killed on exit by killOnExit too

/**
 * Runs a command to completion with our stdout/stderr; resolves with its exit
 * code. A process group of its own, so that a kill reaches what it spawned
 * (tsc under npm, the test file's process under node --test).
 */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: "inherit", detached: true });
    if (child.pid !== undefined) helpers.add(child.pid);
    child.on("error", (error) => {
      say(`${command} failed to start: ${error.message}`);
      resolve(127);
    });
    child.on("exit", (code, signal) => {
      if (child.pid !== undefined) helpers.delete(child.pid);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/** Polls GET url until it answers 200; fails early when the process exits. */
async function waitHealthy(p: RoleProcess, url: string): Promise<void> {
  let last = "no answer yet";
  await untilFound(
    async () => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        last = `${response.status} ${await response.text()}`;
        return response.status === 200 ? true : undefined;
      } catch (error) {
        last = String((error as Error).cause ?? error);
        return undefined;
      }
    },
    () => `${url} to answer 200 (last: ${last})`,
    START_TIMEOUT_MS,
    {
      intervalMs: 200,
      gaveUp: () =>
        p.alive()
          ? undefined
          : `${p.name} exited (${JSON.stringify(p.exit())}) before ${url} answered 200`,
    },
  );
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    say(
      "DATABASE_URL is not set: it names the local PostgreSQL server where this run creates its " +
        "database, e.g. DATABASE_URL=postgres://root@127.0.0.1:5432/test",
    );
    return 2;
  }
  const amqpUrl = process.env.AMQP_URL || "amqp://guest:guest@127.0.0.1:5672";
  const composeFile = resolve(ROOT, process.env.COMPOSE_FILE || "compose.yaml");

  const services = readCompose(composeFile);
  const image = imageEnv(services);
  const runId = randomBytes(4).toString("hex");
  const databaseName = `cal_it_${runId}`;
  const databaseUrl = databaseUrlFor(baseUrl, databaseName);
  const { env, rewrites, ports } = await plan(services, ["migrate", ...ROLES, "tests"], {
    databaseUrl,
    amqpUrl,
  });

  // The suite watches the exchange the sender publishes to: compose must give both the same.
  const senderExchange = env.sender?.AMQP_STATUS_EXCHANGE ?? DEFAULT_STATUS_EXCHANGE;
  const suiteExchange = env.tests?.AMQP_STATUS_EXCHANGE ?? DEFAULT_STATUS_EXCHANGE;
  if (senderExchange !== suiteExchange) {
    say(
      `compose.yaml: the sender publishes receipts to "${senderExchange}" but the tests service ` +
        `watches "${suiteExchange}": set AMQP_STATUS_EXCHANGE for both`,
    );
    return 2;
  }

  say(`compose file ${composeFile}; run ${runId}; database ${databaseName}`);
  say(`image environment (Dockerfile): ${JSON.stringify(image)}`);
  for (const r of rewrites) {
    say(`  ${r.service}: ${r.variable} ${redact(r.from)} -> ${redact(r.to)} (${r.why})`);
  }
  say("  everything else as compose.yaml sets it");

  const base = {
    PATH: process.env.PATH ?? "",
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
  };
  const roleEnv = (name: string) => ({ ...base, ...image, ...env[name] });

  /** The CREATE DATABASE once sent: a signal during it must wait for it, then drop. */
  let creating: Promise<ScratchDatabase> | undefined;
  let failed = false;
  let suiteCode = 1;

  // Interrupted (Ctrl-C, a CI timeout): everything we started dies at once
  // (its logs are lost with it), and the database goes too. The signal often
  // arrives twice (from the terminal and relayed by npx/tsx): repeats are
  // ignored, and the cleanup gives up after 5 s.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: killing the stack and the suite`);
    killAll();
    const drop =
      creating === undefined
        ? Promise.resolve()
        : creating
            .then((database) => database.drop())
            .then(() => say(`dropped ${databaseName}`))
            .catch(() => say(`could not drop ${databaseName}`));
    void Promise.race([drop, sleep(5000)]).finally(() =>
      process.exit(signal === "SIGINT" ? 130 : 143),
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const built = await phase("npm run build", () => run("npm", ["run", "build"], process.env));
    if (built !== 0) {
      say(`npm run build failed (exit ${built})`);
      return 1;
    }

    await phase(`create database ${databaseName}`, async () => {
      creating = createScratchDatabase(baseUrl, databaseName);
      await creating;
    });

    await phase("migrate", async () => {
      const migrate = new RoleProcess("migrate", roleEnv("migrate"));
      processes.push(migrate);
      const timeout = sleep(START_TIMEOUT_MS, "timeout" as const, { ref: false });
      const result = await Promise.race([migrate.exited, timeout]);
      if (result === "timeout" || result.code !== 0) {
        migrate.signal("SIGKILL");
        throw new Error(`cal_service migrate did not exit 0: ${JSON.stringify(result)}`);
      }
    });

    await phase("start api, scheduler, sender", async () => {
      const roles = ROLES.map((role) => {
        const p = new RoleProcess(role, roleEnv(role));
        processes.push(p);
        return p;
      });
      await Promise.all(
        roles.map((p) =>
          waitHealthy(
            p,
            `http://127.0.0.1:${ports[p.name as Role]}/${p.name === "api" ? "readyz" : "healthz"}`,
          ),
        ),
      );
      for (const p of roles) say(`  ${p.name} pid ${p.child.pid} on port ${ports[p.name as Role]}`);
    });

    suiteCode = await phase(`suite (${SUITE.join(" ")})`, () =>
      run(SUITE[0], SUITE.slice(1), {
        ...base,
        ...env.tests,
        AMQP_STATUS_EXCHANGE: suiteExchange,
      }),
    );
    if (suiteCode !== 0) {
      failed = true;
      if (!interrupted) say(`the suite failed (exit ${suiteCode})`);
    }
  } catch (error) {
    failed = true;
    suiteCode = suiteCode === 0 ? 1 : suiteCode;
    if (!interrupted) say(`FAILED: ${(error as Error).message}`);
  } finally {
    if (interrupted) await new Promise<never>(() => {}); // the signal handler finishes
    await phase("stop (SIGTERM)", async () => {
      const running = processes.filter((p) => p.name !== "migrate");
      const results = await Promise.all(running.map((p) => p.stop(STOP_GRACE_MS)));
      running.forEach((p, i) => {
        const r = results[i];
        if (!r) return;
        const clean = r.code === 0 && r.signal === null && !r.timedOut;
        say(
          `  ${p.name}: ${clean ? "exited 0" : `did NOT exit cleanly: code ${r.code}, signal ${r.signal}${r.timedOut ? `, killed after ${STOP_GRACE_MS} ms` : ""}`}`,
        );
        if (!clean) {
          failed = true;
          if (suiteCode === 0) suiteCode = 1;
        }
      });
    });
    if (failed) {
      for (const p of processes) {
        process.stdout.write(`\n----- ${p.name} (pid ${p.child.pid}) output -----\n${p.log()}\n`);
      }
      process.stdout.write("----- end of role output -----\n\n");
    }
    const database = await creating?.catch(() => undefined);
    if (database) {
      await phase(`drop database ${databaseName}`, () => database.drop()).catch(
        (error: unknown) => {
          say(`could not drop ${databaseName}: ${(error as Error).message}`);
        },
      );
    }
  }

  say(`timings: ${timings.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}s`).join(", ")}`);
  say(`${suiteCode === 0 ? "PASSED" : "FAILED"} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return suiteCode;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    say(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAll();
    process.exitCode = 1;
  },
);
