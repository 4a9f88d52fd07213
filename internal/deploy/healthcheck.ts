// The container health check (cmd/healthcheck.ts): GET /healthz on each port
// the running role listens on. Docker runs it inside the container with the
// container's environment, so it reads the same variables the role read and
// finds the same ports, whatever they were set to.
import { readdirSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import type { Config } from "../config/config.js";

/** The roles of `cal_service <role>`; only migrate serves nothing. */
export const ROLES = ["api", "scheduler", "sender", "all", "migrate"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * The liveness URLs of a role: where cmd/<role>/ makes it listen. The api's
 * /healthz (not /readyz): a container whose database is down is not broken,
 * and it reports UNAVAILABLE to callers on its own.
 */
export function healthUrls(role: Role, config: Config): string[] {
  const at = (port: number) => `http://${probeHost(config.api.host)}:${port}/healthz`;
  switch (role) {
    case "api":
      return [at(config.api.port)];
    case "scheduler":
      return [at(config.scheduler.port)];
    case "sender":
      return [at(config.queue.senderPort)];
    case "all":
      return [at(config.api.port), at(config.scheduler.port), at(config.queue.senderPort)];
    case "migrate":
      return [];
  }
}

/** Every role binds API_HOST; a wildcard address is reached through loopback. */
export function probeHost(bound: string): string {
  if (bound === "" || bound === "0.0.0.0" || bound === "::" || bound === "[::]") {
    return "127.0.0.1";
  }
  return bound.includes(":") && !bound.startsWith("[") ? `[${bound}]` : bound;
}

/**
 * The role of the cal_service process running in this container: the
 * argument after the executable in its command line. Looks at every process,
 * not only PID 1, so that it also works under an init (`docker run --init`).
 */
export function findRunningRole(procDir = "/proc"): Role | undefined {
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return undefined;
  }
  const pids = entries.filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(a) - Number(b));
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(join(procDir, pid, "cmdline"), "utf8").split("\0");
    } catch {
      continue; // the process ended while we looked
    }
    const executable = args.findIndex((arg) => /(^|\/)cal_service(\.[cm]?[jt]s)?$/.test(arg));
    const role = executable >= 0 ? args[executable + 1] : undefined;
    if (role !== undefined && isRole(role)) return role;
  }
  return undefined;
}

export interface Probe {
  url: string;
  healthy: boolean;
  /** The status code, or why there was none. */
  detail: string;
}

// node:http rather than fetch: fetch refuses ports on the WHATWG "bad
// ports" list (6000, 5060, 2049, ...), which a role may well be given.
export function probe(url: string, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve) => {
    const request = get(url, { timeout: timeoutMs }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < 200) body += chunk;
      });
      response.on("end", () => {
        const status = response.statusCode ?? 0;
        resolve({
          url,
          healthy: status >= 200 && status < 300,
          detail: `${status} ${body.slice(0, 200)}`.trim(),
        });
      });
      response.on("error", (error) => resolve({ url, healthy: false, detail: error.message }));
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    request.on("error", (error: NodeJS.ErrnoException) =>
      resolve({ url, healthy: false, detail: error.code ?? error.message }),
    );
  });
}
