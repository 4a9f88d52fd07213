// compose.yaml on a real Docker engine: `npm run test:compose`.
//
//   1. build the image (once, for every role) and the test stage;
//   2. `up -d`, and wait until every service is healthy and migrate exited 0;
//   3. the `tests` profile: the API-level suite against the stack;
//   4. a reminder: create an event whose reminder falls due within a minute,
//      and find it in the sender's log;
//   5. scaled (`up -d --scale scheduler=2 --scale sender=2`): many reminders
//      again, counting each one's deliveries over both senders (duplicates
//      and missing ones: 0 expected);
//   6. stop the roles: each must exit 0;
//   7. `down -v`, always, also after a failure or Ctrl-C.
//
// Needs a Docker daemon and the base images (node:20-bookworm-slim,
// postgres:17, rabbitmq:4.1-management: pulled, or built locally as
// ../shared/docker does), and Compose: `docker compose` (v2) if it answers,
// else `docker-compose` (v1; with DOCKER_BUILDKIT=0 unless set).
// COMPOSE="docker-compose" picks one.
//
// It never touches another stack: its own project name (COMPOSE_PROJECT_NAME,
// default caltest<random>), its own image tag (cal_service:compose-test, kept
// so the next run reuses its layers), and host ports it picks free (the api's
// and the RabbitMQ UI's; the scheduler's and sender's are Docker's choice).
//
// Exit code: 0 when every step passed, 1 when one failed (the logs of every
// service are printed), 2 when there is no Docker daemon or no Compose.
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { untilFound } from "../internal/testing/wait.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PROJECT = process.env.COMPOSE_PROJECT_NAME ?? `caltest${randomBytes(4).toString("hex")}`;
const IMAGE = "cal_service:compose-test";
const ROLES = ["api", "scheduler", "sender"] as const;
const HEALTHY_WITHIN_MS = 240_000;
const DELIVERED_WITHIN_MS = 120_000;
const SCALED_REMINDERS = 60;

// ---------------------------------------------------------------------------
// Output

const started = Date.now();
function say(message: string): void {
  const at = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`[test:compose +${at}s] ${message}\n`);
}
const summary: [string, string][] = [];
function record(what: string, value: string): void {
  summary.push([what, value]);
  say(`${what}: ${value}`);
}

class StepFailed extends Error {}

/** Set once `down -v` has begun (after the run, or on SIGINT/SIGTERM). */
let cleaning: Promise<void> | undefined;

// ---------------------------------------------------------------------------
// Commands

interface Ran {
  code: number;
  output: string;
}

/**
 * Runs a command, collecting stdout and stderr; `show` picks the lines
 * printed as they come (progress), the rest stay in `output`.
 */
function run(
  command: string[],
  options: { env?: NodeJS.ProcessEnv; show?: (line: string) => boolean } = {},
): Promise<Ran> {
  const [file = "", ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: ROOT, env: options.env ?? process.env });
    let output = "";
    let partial = "";
    const take = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (options.show?.(line)) process.stdout.write(`    ${line}\n`);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (error) => resolve({ code: 127, output: `${output}${error.message}\n` }));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

const docker = (...args: string[]) => run(["docker", ...args]);

interface Compose {
  name: string;
  run: (args: string[], show?: (line: string) => boolean) => Promise<Ran>;
}

async function findCompose(): Promise<Compose | undefined> {
  const candidates = process.env.COMPOSE
    ? [process.env.COMPOSE.split(" ")]
    : [["docker", "compose"], ["docker-compose"]];
  for (const command of candidates) {
    const version = await run([...command, "version", "--short"]);
    if (version.code !== 0) continue;
    const v1 = command.join(" ") === "docker-compose" && version.output.trim().startsWith("1.");
    // Compose v1 builds with Docker's classic builder, unless
    // COMPOSE_DOCKER_CLI_BUILD=1 sends it through the docker CLI, which then
    // uses BuildKit and needs the buildx plugin: keep it classic.
    const buildkit =
      v1 && process.env.DOCKER_BUILDKIT === undefined ? { DOCKER_BUILDKIT: "0" } : {};
    return {
      name: `${command.join(" ")} ${version.output.trim()}`,
      run: (args, show) =>
        run([...command, "-p", PROJECT, "-f", "compose.yaml", ...args], {
          env: { ...process.env, ...hostPorts, CAL_IMAGE: IMAGE, ...buildkit },
          ...(show ? { show } : {}),
        }),
    };
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `find` until it returns a value; a look that failed (Docker busy) counts as "not yet". */
function poll<T>(
  what: string,
  find: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs: number,
): Promise<T> {
  const look = async () => {
    try {
      return await find();
    } catch {
      return undefined;
    }
  };
  return untilFound(look, what, timeoutMs, { intervalMs });
}

// ---------------------------------------------------------------------------
// The project's containers, as Docker sees them (the same labels in v1 and v2)

interface Container {
  id: string;
  name: string;
  service: string;
  image: string;
  state: string;
  health: string | undefined;
  exitCode: number;
}

async function containers(): Promise<Container[]> {
  const ids = await docker(
    "ps",
    "-aq",
    "--filter",
    `label=com.docker.compose.project=${PROJECT}`,
    "--filter",
    "label=com.docker.compose.oneoff=False",
  );
  const list = ids.output.split("\n").filter(Boolean);
  if (list.length === 0) return [];
  const inspected = await docker("inspect", ...list);
  if (inspected.code !== 0) throw new Error(`docker inspect: ${inspected.output}`);
  return (
    JSON.parse(inspected.output) as {
      Id: string;
      Name: string;
      Image: string;
      Config: { Labels: Record<string, string> };
      State: { Status: string; ExitCode: number; Health?: { Status: string } };
    }[]
  )
    .map((c) => ({
      id: c.Id,
      name: c.Name.replace(/^\//, ""),
      service: c.Config.Labels["com.docker.compose.service"] ?? "?",
      image: c.Image,
      state: c.State.Status,
      health: c.State.Health?.Status,
      exitCode: c.State.ExitCode,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const describeContainer = (c: Container) =>
  `${c.name} ${c.state}${c.health ? `/${c.health}` : ""}${c.state === "exited" ? ` (exit ${c.exitCode})` : ""}`;

/** Every long-running service healthy (with `replicas` of each), migrate exited 0. */
async function waitHealthy(replicas: Record<string, number>): Promise<Container[]> {
  let shown = "";
  // A failure ends the wait at once: the check returns it rather than throw
  // (poll takes a throw for "not up yet").
  const outcome = await poll(
    "every service healthy",
    async (): Promise<Container[] | StepFailed | undefined> => {
      if (cleaning) return new StepFailed("interrupted");
      const all = await containers();
      const status = all.map(describeContainer).join(", ");
      if (status !== shown) say(`  ${status || "(no containers yet)"}`);
      shown = status;
      const migrate = all.find((c) => c.service === "migrate");
      if (migrate?.state === "exited" && migrate.exitCode !== 0)
        return new StepFailed(`migrate exited ${migrate.exitCode}`);
      const failed = all.find((c) => c.health === "unhealthy" || c.state === "dead");
      if (failed) return new StepFailed(`${failed.name} is ${failed.health ?? failed.state}`);
      for (const [service, count] of Object.entries(replicas)) {
        const running = all.filter((c) => c.service === service);
        if (running.length !== count || running.some((c) => c.health !== "healthy")) return;
      }
      return migrate?.state === "exited" ? all : undefined;
    },
    HEALTHY_WITHIN_MS,
    1000,
  ).catch((error: Error) => new StepFailed(error.message));
  if (outcome instanceof StepFailed) throw outcome;
  return outcome;
}

// ---------------------------------------------------------------------------
// Reminders

let apiUrl = "";

/** An event whose reminder falls due `dueInMs` from now (its start a minute later). */
async function createEventDueIn(user: string, dueInMs: number): Promise<string> {
  const id = randomUUID();
  const start = new Date(Date.now() + dueInMs + 60_000);
  start.setUTCMilliseconds(0);
  const response = await fetch(`${apiUrl}/calendar.v1.CalendarService/CreateEvent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-user-id": user },
    body: JSON.stringify({
      event: {
        id,
        title: "compose reminder check",
        startTime: start.toISOString(),
        duration: "60s",
        notifyBefore: "60s",
      },
    }),
  });
  const body = await response.text();
  if (!response.ok) throw new StepFailed(`CreateEvent: ${response.status} ${body}`);
  return id;
}

interface Delivery {
  container: string;
  eventId: string;
  latenessMs: number;
}

/** Every "reminder delivered" line in the logs of the sender containers. */
async function deliveries(): Promise<Delivery[]> {
  const senders = (await containers()).filter((c) => c.service === "sender");
  const found: Delivery[] = [];
  for (const sender of senders) {
    const logs = await docker("logs", sender.id);
    for (const line of logs.output.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as { msg?: string; eventId?: string; latenessMs?: number };
        if (entry.msg === "reminder delivered" && entry.eventId) {
          found.push({
            container: sender.name,
            eventId: entry.eventId,
            latenessMs: entry.latenessMs ?? Number.NaN,
          });
        }
      } catch {
        // not a log line of ours
      }
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// The steps

/** compose.yaml's published host ports, moved to free ones. */
const hostPorts: Record<string, string> = {};

async function main(compose: Compose): Promise<void> {
  const apiPort = await freePort();
  hostPorts.CAL_API_PORT = String(apiPort);
  hostPorts.CAL_RABBITMQ_UI_PORT = String(await freePort());
  apiUrl = `http://127.0.0.1:${apiPort}`;
  say(`project ${PROJECT}, image ${IMAGE}, api on ${apiUrl}, ${compose.name}`);

  const step = async (what: string, args: string[], show?: (line: string) => boolean) => {
    say(`${what}: ${args.join(" ")}`);
    const t0 = Date.now();
    const result = await compose.run(args, show);
    if (result.code !== 0) {
      process.stdout.write(result.output.split("\n").slice(-60).join("\n"));
      throw new StepFailed(`${what}: exit ${result.code}`);
    }
    return { ...result, seconds: (Date.now() - t0) / 1000 };
  };

  // 1. Build: the roles' image from one service (they share its name and
  // build section), and the test stage.
  const buildProgress = (line: string) =>
    /^(Step \d+\/\d+ :|#\d+ \[|Successfully tagged|Building \w+|.*ERROR|npm error)/.test(line);
  const build = await step(
    "build",
    ["--profile", "test", "build", "migrate", "tests"],
    buildProgress,
  );
  record("build (roles' image and test stage)", `${build.seconds.toFixed(0)} s`);

  // 2. Up (Compose v1 waits for the health conditions itself, v2 with --wait only).
  const t0 = Date.now();
  const up = await step("up", ["up", "-d"], (line) => line.trim() !== "");
  if (/Building|Step 1\//.test(up.output)) throw new StepFailed("up built the image again");
  say("waiting until every service is healthy");
  const running = await waitHealthy({ postgres: 1, rabbitmq: 1, api: 1, scheduler: 1, sender: 1 });
  record("up -d until all healthy", `${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (running.some((c) => c.service === "tests")) throw new StepFailed("up started the tests");
  const roleImages = new Set(
    running.filter((c) => [...ROLES, "migrate"].includes(c.service)).map((c) => c.image),
  );
  if (roleImages.size !== 1) throw new StepFailed(`roles run ${roleImages.size} images`);
  record("image of migrate, api, scheduler, sender", [...roleImages][0]?.slice(7, 19) ?? "?");

  // 3. The tests profile.
  const tap = (line: string) =>
    /^(not ok|ok) \d+|^# (tests|pass|fail|cancelled|skipped|duration_ms) /.test(line.trim()) &&
    !/^\s{4}/.test(line);
  say("tests profile: run --rm tests");
  const suite = await compose.run(["--profile", "test", "run", "--rm", "tests"], tap);
  const counts = Object.fromEntries(
    [...suite.output.matchAll(/^# (tests|pass|fail|skipped) (\d+)/gm)].map((m) => [m[1], m[2]]),
  );
  record(
    "tests profile (npm run test:stack)",
    `exit ${suite.code}; tests ${counts.tests}, pass ${counts.pass}, fail ${counts.fail}, skipped ${counts.skipped}`,
  );
  if (suite.code !== 0) {
    process.stdout.write(suite.output.split("\n").slice(-150).join("\n"));
    throw new StepFailed(`the tests profile exited ${suite.code}`);
  }

  // 4. One reminder, end to end.
  const eventId = await createEventDueIn("compose-check", 5_000);
  say(`event ${eventId}: reminder due in 5 s; looking for it in the sender's log`);
  const delivered = await poll(
    "the reminder in the sender's log",
    async () => (await deliveries()).find((d) => d.eventId === eventId),
    DELIVERED_WITHIN_MS,
    1000,
  ).catch((error: Error) => {
    throw new StepFailed(error.message);
  });
  record("reminder delivered", `by ${delivered.container}, ${delivered.latenessMs} ms after due`);

  // 5. Scaled: two schedulers and two senders, counting duplicates.
  await step(
    "scale",
    ["up", "-d", "--scale", "scheduler=2", "--scale", "sender=2"],
    (l) => l.trim() !== "",
  );
  await waitHealthy({ postgres: 1, rabbitmq: 1, api: 1, scheduler: 2, sender: 2 });
  const before = new Set((await deliveries()).map((d) => d.eventId));
  // Due over 10 s from 5 s on; one event per user (a user's events may not overlap).
  const ids = await Promise.all(
    Array.from({ length: SCALED_REMINDERS }, (_, i) =>
      createEventDueIn(`compose-scale-${i}`, 5_000 + (i * 10_000) / SCALED_REMINDERS),
    ),
  );
  say(`${ids.length} reminders due over the next 15 s, two schedulers and two senders`);
  const wanted = new Set(ids);
  await poll(
    "every scaled reminder delivered",
    async () => {
      const seen = new Set(
        (await deliveries()).map((d) => d.eventId).filter((id) => wanted.has(id)),
      );
      return seen.size === wanted.size ? true : undefined;
    },
    DELIVERED_WITHIN_MS,
    2000,
  ).catch((error: Error) => say(error.message));
  // A duplicate would come within a scheduler poll or a requeue: wait a little.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const ours = (await deliveries()).filter((d) => wanted.has(d.eventId) && !before.has(d.eventId));
  const perEvent = new Map<string, number>();
  for (const d of ours) perEvent.set(d.eventId, (perEvent.get(d.eventId) ?? 0) + 1);
  const duplicates = ours.length - perEvent.size;
  const missing = ids.length - perEvent.size;
  const bySender = new Map<string, number>();
  for (const d of ours) bySender.set(d.container, (bySender.get(d.container) ?? 0) + 1);
  const lateness = ours.map((d) => d.latenessMs).sort((a, b) => a - b);
  const at = (q: number) =>
    lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))];
  record(
    "scaled run (scheduler=2, sender=2)",
    `${ids.length} reminders, ${ours.length} deliveries, ${duplicates} duplicates, ${missing} missing`,
  );
  record(
    "deliveries per sender",
    [...bySender].map(([name, count]) => `${name} ${count}`).join(", "),
  );
  record("lateness p50 / max", `${at(0.5)} / ${lateness.at(-1)} ms`);
  const stats = await docker(
    "stats",
    "--no-stream",
    "--format",
    "{{.Name}} {{.MemUsage}} {{.CPUPerc}}",
    ...(await containers()).filter((c) => c.state === "running").map((c) => c.id),
  );
  for (const line of stats.output.split("\n").filter(Boolean)) say(`  stats: ${line}`);
  if (duplicates > 0 || missing > 0) {
    throw new StepFailed(`scaled run: ${duplicates} duplicates, ${missing} missing`);
  }

  // 6. Stop the roles: each must exit 0 (graceful shutdown on SIGTERM).
  const stop = await step("stop the roles", ["stop", ...ROLES], (l) => l.trim() !== "");
  const stopped = (await containers()).filter((c) =>
    [...ROLES, "migrate"].includes(c.service as never),
  );
  record(
    `stop (${stop.seconds.toFixed(0)} s), exit codes`,
    stopped.map((c) => `${c.name} ${c.exitCode}`).join(", "),
  );
  const bad = stopped.filter((c) => c.state !== "exited" || c.exitCode !== 0);
  if (bad.length > 0) throw new StepFailed(`did not exit 0: ${bad.map(describeContainer)}`);
}

async function printLogs(compose: Compose): Promise<void> {
  const logs = await compose.run(["logs", "--no-color", "--tail", "200"]);
  process.stdout.write(`\n--- logs of every service (last 200 lines each)\n${logs.output}\n`);
}

async function down(compose: Compose): Promise<void> {
  say("down -v");
  const result = await compose.run(["--profile", "test", "down", "-v", "--remove-orphans"]);
  if (result.code !== 0) say(`down -v exited ${result.code}:\n${result.output}`);
  const left = await containers().catch(() => []);
  if (left.length > 0) say(`left behind: ${left.map((c) => c.name).join(", ")}`);
}

const info = await docker("info", "--format", "{{.ServerVersion}}");
if (info.code !== 0) {
  console.error(`test:compose: no Docker daemon answers (docker info: ${info.output.trim()})`);
  process.exit(2);
}
const compose = await findCompose();
if (!compose) {
  console.error("test:compose: neither `docker compose` (v2) nor `docker-compose` (v1) answers");
  process.exit(2);
}

const cleanUp = () => {
  cleaning ??= down(compose);
  return cleaning;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  await main(compose);
} catch (error) {
  exitCode = 1;
  say(`FAILED: ${error instanceof StepFailed ? error.message : String(error)}`);
  await printLogs(compose);
} finally {
  await cleanUp();
}
process.stdout.write("\nSummary\n");
for (const [what, value] of summary) process.stdout.write(`  ${what.padEnd(42)} ${value}\n`);
process.stdout.write(`  ${"result".padEnd(42)} ${exitCode === 0 ? "passed" : "FAILED"}\n`);
process.exit(exitCode);
