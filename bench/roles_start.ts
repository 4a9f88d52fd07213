// Start time and memory of each role, two builds side by side: by default
// the `main` branch (git archive into a temporary directory) and this
// checkout. Each is built with tsconfig.build.json and run as the Dockerfile
// runs it (plain node, the runtime stage's NODE_OPTIONS), against the local
// PostgreSQL and RabbitMQ on a database and queues of its own. Runs
// alternate between the builds so that load on the machine hits both alike.
//
//   npm run bench:roles -- [--runs 5] [--baseline main] [--roles api,sender]
//
// Per role and build: milliseconds from spawn to the first log line and to
// "ready" (the role's last start-up line; migrate: its exit), and the
// resident memory (VmRSS) at ready (migrate: the peak, VmHWM). Medians, with
// the range, on stdout; progress on stderr.
import { execFileSync, execSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createDatabase, DEPLOYED_NODE_OPTIONS, progress } from "./setup.js";

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    baseline: { type: "string", default: "main" },
    roles: { type: "string", default: "api,scheduler,sender,all,migrate" },
  },
});
const RUNS = Number(flags.runs);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
// The same local services as `npm run bench`.
const BASE_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/test";
const AMQP_URL = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** The line after which a role serves: its last start-up line. */
const READY: Record<string, (line: Record<string, unknown>) => boolean> = {
  api: (line) => line.msg === "api listening",
  scheduler: (line) => line.msg === "scheduler metrics and health listening",
  sender: (line) => line.msg === "sender metrics and health listening",
  all: (line) => line.msg === "sender metrics and health listening",
};

interface Sample {
  firstLogMs: number;
  readyMs: number;
  rssMb: number;
}

function build(tree: string): void {
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    { cwd: tree, stdio: "inherit" },
  );
}

function checkout(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cal-roles-${ref.replace(/\W/g, "_")}-`));
  execSync(`git archive ${ref} | tar -x -C ${dir}`, { cwd: ROOT });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

function memoryKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

function runOnce(tree: string, role: string, env: Record<string, string>): Promise<Sample> {
  const began = performance.now();
  const child = spawn(process.execPath, [join(tree, "dist/cmd/cal_service.js"), role], {
    cwd: tree,
    env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: DEPLOYED_NODE_OPTIONS, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const pid = child.pid ?? -1;
  let firstLogMs = Number.NaN;
  let peakKb = 0;
  let stderr = "";
  let ready: Sample | undefined;
  // migrate exits when done: follow its peak while it runs.
  const sampler = setInterval(() => {
    peakKb = Math.max(peakKb, memoryKb(pid, "VmHWM") || 0);
  }, 5);
  return new Promise((resolve, reject) => {
    let partial = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const text of lines) {
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        if (Number.isNaN(firstLogMs)) firstLogMs = performance.now() - began;
        if (READY[role]?.(line)) {
          const readyMs = performance.now() - began;
          const rssMb = memoryKb(pid, "VmRSS") / 1024;
          ready = { firstLogMs, readyMs, rssMb };
          clearInterval(sampler);
          // Its stop is not what is measured: it may not even have its
          // signal handler yet (the ready line comes just before).
          child.kill("SIGKILL");
        }
      }
    });
    child.once("exit", (code) => {
      clearInterval(sampler);
      if (READY[role]) {
        if (ready) resolve(ready);
        else reject(new Error(`${role} exited ${code} before ready:\n${stderr}`));
        return;
      }
      if (code !== 0) return reject(new Error(`${role} exited ${code}:\n${stderr}`));
      resolve({ firstLogMs, readyMs: performance.now() - began, rssMb: peakKb / 1024 });
    });
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const range = (values: number[], digits = 0) =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;

async function main() {
  const roles = flags.roles.split(",");
  progress(`checking out ${flags.baseline} and building both`);
  const baseline = checkout(flags.baseline);
  const builds = [
    { name: flags.baseline, tree: baseline },
    { name: "this", tree: ROOT },
  ];
  for (const { tree } of builds) build(tree);

  const database = await createDatabase(BASE_DATABASE_URL, "roles");
  const suffix = `roles_bench_${process.pid}`;
  const dataDirs = builds.map(() => mkdtempSync(join(tmpdir(), "cal-roles-data-")));
  const env = (role: string, i: number): Record<string, string> => {
    const common = {
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SCHEDULER_PORT: "0",
      SENDER_PORT: "0",
      LOG_LEVEL: "info",
    };
    // `all` as on a laptop: embedded database, in-process queue.
    if (role === "all") return { ...common, DATA_DIR: dataDirs[i] ?? "" };
    return {
      ...common,
      DATABASE_URL: database.url,
      AMQP_URL,
      AMQP_NOTIFICATIONS_EXCHANGE: `${suffix}.notifications`,
      AMQP_NOTIFICATIONS_QUEUE: `${suffix}.notifications`,
      AMQP_DEAD_LETTER_EXCHANGE: `${suffix}.dead`,
      AMQP_DEAD_LETTER_QUEUE: `${suffix}.dead`,
      AMQP_STATUS_EXCHANGE: `${suffix}.status`,
    };
  };

  const results = new Map<string, Sample[]>();
  try {
    for (const role of roles) {
      // One run each not counted: the first PGlite start creates its data
      // directory, and the first run of anything fills the file cache.
      for (const [i, { tree }] of builds.entries()) await runOnce(tree, role, env(role, i));
      for (let run = 1; run <= RUNS; run += 1) {
        for (const [i, { name, tree }] of builds.entries()) {
          const sample = await runOnce(tree, role, env(role, i));
          const key = `${role} ${name}`;
          results.set(key, [...(results.get(key) ?? []), sample]);
          progress(
            `${role} ${name} run ${run}/${RUNS}: first log ${sample.firstLogMs.toFixed(0)} ms, ready ${sample.readyMs.toFixed(0)} ms, ${sample.rssMb.toFixed(1)} MB`,
          );
        }
      }
    }
  } finally {
    await database.drop();
    for (const dir of [baseline, ...dataDirs]) rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `Start of each role, ${RUNS} runs each (median, range); node ${process.version}, ${DEPLOYED_NODE_OPTIONS}`,
  );
  console.log("role       build      first log ms       ready ms           RSS MB (migrate: peak)");
  for (const role of roles) {
    for (const { name } of builds) {
      const samples = results.get(`${role} ${name}`) ?? [];
      const first = samples.map((s) => s.firstLogMs);
      const ready = samples.map((s) => s.readyMs);
      const rss = samples.map((s) => s.rssMb);
      console.log(
        [
          role.padEnd(10),
          name.padEnd(10),
          `${median(first).toFixed(0)} (${range(first)})`.padEnd(18),
          `${median(ready).toFixed(0)} (${range(ready)})`.padEnd(18),
          `${median(rss).toFixed(1)} (${range(rss, 1)})`,
        ].join(" "),
      );
    }
  }
}

main().catch((error) => {
  process.stderr.write(`roles bench failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
