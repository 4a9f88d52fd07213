// What every part of the benchmark shares: a fresh database per run, the api
// as a child process, a closed-loop load generator and an RSS sampler.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres, { type Sql } from "postgres";
import { silentLogger } from "../internal/log/logger.js";
import { runMigrations } from "../internal/store/postgres/migrate.js";
import { createScratchDatabase } from "../internal/testing/database.js";
import {
  exitOf,
  freePort,
  killOnExit,
  signalChild,
  stopChild,
} from "../internal/testing/process.js";
import { untilFound } from "../internal/testing/wait.js";
import { type CellResult, summarize } from "./stats.js";

export const runId = randomBytes(4).toString("hex");

/** Progress goes to stderr; stdout carries only the table. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface BenchDatabase {
  url: string;
  name: string;
  /** A pool on it for seeding and the raw references (same size as the api's default). */
  sql: Sql;
  drop(): Promise<void>;
}

/** Creates cal_bench_<run>_<suffix>, migrates it, and drops it (with force) on drop(). */
export async function createDatabase(baseUrl: string, suffix: string): Promise<BenchDatabase> {
  const name = `cal_bench_${runId}_${suffix}`;
  const database = await createScratchDatabase(baseUrl, name);
  const sql = postgres(database.url, { max: 10, onnotice: () => {} });
  const drop = async () => {
    await sql.end({ timeout: 2 }).catch(() => {});
    await database.drop();
  };
  try {
    await runMigrations(sql, silentLogger());
  } catch (error) {
    await drop();
    throw error;
  }
  return { url: database.url, name, sql, drop };
}

// ---------------------------------------------------------------------------
// Child processes

export interface ApiProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The NODE_OPTIONS of the Dockerfile's runtime stage, so the api runs as deployed. */
export const DEPLOYED_NODE_OPTIONS =
  /^ENV\s.*\bNODE_OPTIONS=(\S+)/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))?.[1] ?? "";
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
let built = false;

/**
 * `npm run build` (tsconfig.build.json into dist/), then the bench entry with
 * the same options (bench/tsconfig.json: dist/bench/api_server.js, which
 * imports the product's dist/internal/...). Once per run; BENCH_NO_BUILD=1
 * reuses what is in dist/ (repeated runs while profiling).
 */
export function buildOnce(): void {
  if (built || process.env.BENCH_NO_BUILD === "1") return;
  progress("building dist/ (npm run build) and dist/bench/api_server.js");
  for (const project of ["tsconfig.build.json", "bench/tsconfig.json"]) {
    execFileSync(process.execPath, [TSC, "-p", project], { cwd: ROOT, stdio: "inherit" });
  }
  built = true;
}

/**
 * The api as deployed, built and run with plain node (no tsx), in a process
 * of its own so its CPU and memory are apart from the load generator's:
 * dist/bench/api_server.js is `cal_service api` plus the empty Ping RPC
 * (bench/api_server.ts). Its logs go to /dev/null unless BENCH_API_LOG=1; its
 * log level is the service's default (info) unless BENCH_API_LOG_LEVEL; its
 * pools' size is the default (DB_POOL_MAX) unless BENCH_API_DB_POOL_MAX.
 */
export function startApi(databaseUrl: string): Promise<ApiProcess> {
  // BENCH_API_CPU_PROF=<dir>: write a V8 CPU profile of the api there on exit.
  const profile = process.env.BENCH_API_CPU_PROF;
  return startBuilt(
    "api_server.js",
    "api",
    profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : [],
    {
      NODE_ENV: "production",
      DATABASE_URL: databaseUrl,
      API_HOST: "127.0.0.1",
      LOG_LEVEL: process.env.BENCH_API_LOG_LEVEL ?? "info",
      ...(process.env.BENCH_API_DB_POOL_MAX && { DB_POOL_MAX: process.env.BENCH_API_DB_POOL_MAX }),
    },
  );
}

/**
 * The references (bench/reference_server.ts): a plain Fastify route and a
 * minimal Fastify + postgres.js server running the store's SQL, built and
 * run the same way as the api.
 */
export function startReference(databaseUrl: string): Promise<ApiProcess> {
  return startBuilt("reference_server.js", "reference", [], {
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl,
  });
}

/** dist/bench/<entry> with plain node on a free port (API_PORT and PORT), once /readyz answers. */
async function startBuilt(
  entry: string,
  name: string,
  nodeArgs: string[],
  env: Record<string, string>,
): Promise<ApiProcess> {
  buildOnce();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, "dist", "bench", entry)], {
    env: {
      PATH: process.env.PATH ?? "",
      ...env,
      API_PORT: String(port),
      PORT: String(port),
      // As the Dockerfile's runtime image runs it (its ENV NODE_OPTIONS);
      // BENCH_API_NODE_OPTIONS to try other V8/Node flags.
      NODE_OPTIONS: process.env.BENCH_API_NODE_OPTIONS ?? DEPLOYED_NODE_OPTIONS,
    },
    stdio: ["ignore", "ignore", process.env.BENCH_API_LOG === "1" ? "inherit" : "ignore"],
  });
  killOnExit(child);
  const exited = exitOf(child);
  await untilFound(
    () =>
      fetch(`${url}/readyz`).then(
        (response) => (response.ok ? true : undefined),
        () => undefined,
      ),
    `${name} to answer ${url}/readyz (rerun with BENCH_API_LOG=1)`,
    60_000,
    {
      intervalMs: 100,
      gaveUp: () =>
        child.exitCode !== null || child.signalCode !== null
          ? `${name} exited with ${child.exitCode ?? child.signalCode} before ready (rerun with BENCH_API_LOG=1)`
          : undefined,
    },
  ).catch((error: unknown) => {
    signalChild(child, "SIGKILL");
    throw error;
  });
  return {
    url,
    pid: child.pid as number,
    async stop() {
      await stopChild(child, exited, 20_000);
    },
  };
}

/** Peak VmRSS seen while sampling, and the kernel's own high-water mark (VmHWM). */
export class RssSampler {
  peakRssKb = 0;
  #timer: NodeJS.Timeout | undefined;
  constructor(readonly pid: number) {}

  static read(pid: number): { rssKb: number; hwmKb: number } {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1]);
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.peakRssKb = Math.max(this.peakRssKb, RssSampler.read(this.pid).rssKb);
    }, 100);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Cores kept busy on average over an interval (1 = one core all the time). */
export interface CpuCores {
  /** The api process(es), or the reference server in a reference cell. */
  api: number;
  /** This process: the load generator and its clients (and the raw postgres.js pool). */
  bench: number;
  /** Every PostgreSQL server process. */
  postgres: number;
  /** The whole machine, whoever runs (other work on a shared machine included). */
  machine: number;
}

/** Measures CpuCores between start() and stop(), from /proc (Linux). */
export class CpuMeter {
  /** `apiPids`: the api processes a cell loads (or the reference server). */
  constructor(readonly apiPids: number[]) {}

  start(): () => CpuCores {
    const stop = startCoreCount({
      api: this.apiPids,
      bench: [process.pid],
      postgres: "postgres",
    });
    return () => {
      const { api = 0, bench = 0, postgres = 0, machine } = stop();
      return { api, bench, postgres, machine };
    };
  }
}

/**
 * Cores kept busy over an interval by groups of processes, each named by
 * pids or by command name (every process of that name: "postgres",
 * "beam.smp" for RabbitMQ), and by the whole machine.
 */
export function startCoreCount(
  groups: Record<string, number[] | string>,
): () => Record<string, number> & { machine: number } {
  const snapshot = () => {
    const ticks = new Map<string, Map<number, number>>();
    const byName = new Map<string, string>();
    for (const [label, target] of Object.entries(groups)) {
      ticks.set(label, new Map());
      if (typeof target === "string") byName.set(target, label);
      else for (const pid of target) ticks.get(label)?.set(pid, processTicks(pid)?.ticks ?? 0);
    }
    if (byName.size > 0) {
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = processTicks(Number(entry));
        const label = stat && byName.get(stat.comm);
        if (stat && label) ticks.get(label)?.set(Number(entry), stat.ticks);
      }
    }
    return { at: performance.now(), ticks, machine: machineTicks() };
  };
  const before = snapshot();
  return () => {
    const after = snapshot();
    const seconds = (after.at - before.at) / 1000;
    const cores: Record<string, number> = {};
    for (const [label, pids] of after.ticks) {
      // Processes that exited meanwhile are missed; new ones count in full.
      let sum = 0;
      for (const [pid, t] of pids) sum += t - (before.ticks.get(label)?.get(pid) ?? 0);
      cores[label] = sum / CLOCK_TICKS / seconds;
    }
    return { ...cores, machine: (after.machine - before.machine) / CLOCK_TICKS / seconds };
  };
}

function machineTicks(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]?.trim().split(/\s+/) ?? [];
  // user nice system idle iowait irq softirq steal
  const [user, nice, system, , , irq, softirq, steal] = fields.slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, t) => sum + (t ?? 0), 0);
}

/** USER_HZ: the unit of /proc's CPU times, 100 on every Linux we run on. */
const CLOCK_TICKS = 100;

function processTicks(pid: number): { comm: string; ticks: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // gone meanwhile
  }
  // "pid (comm) state ppid ...": comm may hold spaces; utime and stime are
  // fields 14 and 15, i.e. 12th and 13th after the closing parenthesis.
  const close = stat.lastIndexOf(")");
  const rest = stat.slice(close + 2).split(" ");
  return {
    comm: stat.slice(stat.indexOf("(") + 1, close),
    ticks: Number(rest[11]) + Number(rest[12]),
  };
}

// ---------------------------------------------------------------------------
// Load

export interface LoadOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Upper bound on calls in one cell (warm-up included), whatever the duration. */
  maxRequests: number;
}

/**
 * Closed loop: `concurrency` workers each issue one call after another. Calls
 * that start within the measured window (after the warm-up) are timed;
 * requests/s is those completed divided by the window's actual length.
 */
export async function runLoad(
  call: (seq: number) => Promise<unknown>,
  options: LoadOptions,
): Promise<CellResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let seq = 0;
  const begin = performance.now();
  const measureFrom = begin + options.warmupMs;
  const measureTo = measureFrom + options.durationMs;
  let lastEnd = measureFrom;
  const worker = async () => {
    while (seq < options.maxRequests) {
      const started = performance.now();
      if (started >= measureTo) return;
      const n = seq++;
      try {
        await call(n);
        const ended = performance.now();
        if (started >= measureFrom) {
          latencies.push(ended - started);
          lastEnd = Math.max(lastEnd, ended);
        }
      } catch (error) {
        if (started >= measureFrom) {
          errors += 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = Math.max(lastEnd - measureFrom, 1) / 1000;
  const result = summarize(latencies, seconds, errors);
  return firstError === undefined ? result : { ...result, firstError };
}
