// Runs cal_service as a child process from source, the way a user runs it.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("../../cmd/cal_service.ts", import.meta.url));

export interface Started {
  child: ChildProcessWithoutNullStreams;
  /** Every stderr line so far, parsed when it is JSON. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCalService(args: string[], env: Record<string, string>): Started {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRY, ...args], {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", ...env },
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  // A line may arrive split over two chunks: keep the unfinished tail.
  let partial = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        // plain text lines (usage, config errors) stay in stderr only
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  return { child, logs, stderr: () => stderr, exited };
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
  matches: (line: Record<string, unknown>) => boolean,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = started.logs.find(matches);
    if (found) return found;
    if (started.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`log line not seen within ${timeoutMs} ms; stderr:\n${started.stderr()}`);
}
