// What every part of the benchmark shares: a fresh database per run, the api
// as a child process, a closed-loop load generator and an RSS sampler.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import postgres, { type Sql } from "postgres";
import { silentLogger } from "../internal/log/logger.js";
import { runMigrations } from "../internal/store/postgres/migrate.js";
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
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin`create database ${admin(name)}`;
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const sql = postgres(url.toString(), { max: 10, onnotice: () => {} });
  const drop = async () => {
    await sql.end({ timeout: 2 }).catch(() => {});
    await admin`drop database if exists ${admin(name)} with (force)`;
    await admin.end({ timeout: 2 });
  };
  try {
    await runMigrations(sql, silentLogger());
  } catch (error) {
    await drop();
    throw error;
  }
  return { url: url.toString(), name, sql, drop };
}

// ---------------------------------------------------------------------------
// Child processes

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface ApiProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * The api from source in a process of its own (bench/api_server.ts: the api
 * role plus an empty RPC), so its CPU and memory are apart from the load
 * generator's. Its logs go to /dev/null unless BENCH_API_LOG=1; its log
 * level is the default (info: one line per RPC) unless BENCH_API_LOG_LEVEL.
 */
export async function startApi(databaseUrl: string): Promise<ApiProcess> {
  const entry = fileURLToPath(new URL("./api_server.ts", import.meta.url));
  // BENCH_API_CPU_PROF=<dir>: write a V8 CPU profile of the api there on exit.
  const profile = process.env.BENCH_API_CPU_PROF;
  const profiling = profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : [];
  const child = spawn(process.execPath, [...profiling, "--import", "tsx", entry], {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: databaseUrl,
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      LOG_LEVEL: process.env.BENCH_API_LOG_LEVEL ?? "info",
    },
    stdio: ["ignore", "pipe", process.env.BENCH_API_LOG === "1" ? "inherit" : "ignore"],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => live.delete(child));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => resolve(JSON.parse(line).url));
    child.once("exit", (code) =>
      reject(new Error(`api exited with ${code} before listening (rerun with BENCH_API_LOG=1)`)),
    );
  });
  return {
    url,
    pid: child.pid as number,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
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
