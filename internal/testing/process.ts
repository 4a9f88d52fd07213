// Child processes for tests, harnesses, scripts and the bench: spawning
// cal_service, collecting its log lines, stopping it within a grace period,
// and killing whatever is left when the parent exits.
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { untilFound } from "./wait.js";

const ENTRY = fileURLToPath(new URL("../../cmd/cal_service.ts", import.meta.url));

export type LogLine = Record<string, unknown>;
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The text a process writes, and the JSON log lines in it. */
export class OutputLog {
  readonly lines: LogLine[] = [];
  #text = "";
  // A line may arrive split over two chunks: keep the unfinished tail.
  #partial = "";

  add(chunk: string): void {
    this.#text += chunk;
    const lines = (this.#partial + chunk).split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed !== null && typeof parsed === "object") this.lines.push(parsed as LogLine);
      } catch {
        // plain text lines (usage, config errors, stack traces) stay in the text only
      }
    }
  }

  text(): string {
    return this.#text;
  }

  /** The last `count` lines of text, for failure reports. */
  tail(count = 60): string {
    const all = this.#text.split("\n");
    if (all.at(-1) === "") all.pop();
    const shown = all.slice(-count);
    const skipped = all.length - shown.length;
    return `${skipped > 0 ? `(... ${skipped} earlier lines)\n` : ""}${shown.join("\n")}`;
  }
}

// ---------------------------------------------------------------------------
// Nothing outlives its parent

/** Children to kill when this process exits; `group` ones lead a process group. */
const tracked = new Map<ChildProcess, { group: boolean }>();

/** Kills `child` (its whole group when spawned `detached`) if this process exits first. */
export function killOnExit(child: ChildProcess, options: { group?: boolean } = {}): void {
  if (tracked.size === 0) process.on("exit", () => killTracked("SIGKILL"));
  tracked.set(child, { group: options.group ?? false });
  child.once("exit", () => tracked.delete(child));
}

/** Signals every child still tracked. */
export function killTracked(signal: NodeJS.Signals): void {
  for (const [child, { group }] of tracked) signalChild(child, signal, group);
}

/** Signals a child (or its process group); a child already gone is no error. */
export function signalChild(child: ChildProcess, signal: NodeJS.Signals, group = false): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (group) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
export async function stopChild(
  child: ChildProcess,
  exited: Promise<Exit>,
  graceMs: number,
  group = false,
): Promise<Exit & { timedOut: boolean }> {
  let timedOut = false;
  signalChild(child, "SIGTERM", group);
  const timer = setTimeout(() => {
    timedOut = true;
    signalChild(child, "SIGKILL", group);
  }, graceMs);
  try {
    return { ...(await exited), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when `child` exits (or fails to spawn: code and signal null). */
export function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });
}

/** A port free on `host` right now (the OS's pick). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// cal_service from source

export interface Started {
  child: ChildProcessWithoutNullStreams;
  /** Every stderr line so far, parsed when it is JSON. */
  logs: LogLine[];
  stderr: () => string;
  exited: Promise<Exit>;
}

/** Runs `cal_service <args>` from source with tsx, the way a user runs it. */
export function startCalService(args: string[], env: Record<string, string>): Started {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRY, ...args], {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", ...env },
  });
  const output = new OutputLog();
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => output.add(chunk));
  const exited = exitOf(child);
  return { child, logs: output.lines, stderr: () => output.text(), exited };
}

export async function runCalService(args: string[], env: Record<string, string> = {}) {
  const started = startCalService(args, env);
  let stdout = "";
  started.child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  const { code } = await started.exited;
  return { code, stdout, stderr: started.stderr() };
}

/** Resolves with the first log line that matches, or rejects after `timeoutMs`. */
export async function waitForLog(
  started: Started,
  matches: (line: LogLine) => boolean,
  timeoutMs = 30_000,
): Promise<LogLine> {
  return await untilFound(() => started.logs.find(matches), "a matching log line", timeoutMs, {
    intervalMs: 50,
    gaveUp: () =>
      started.child.exitCode !== null || started.child.signalCode !== null
        ? "cal_service exited before logging a matching line"
        : undefined,
  }).catch((error: Error) => {
    throw new Error(`${error.message}; stderr:\n${started.stderr()}`);
  });
}
