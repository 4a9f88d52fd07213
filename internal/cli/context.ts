// Everything a verb needs, read once from the global flags and environment:
// the API client, whose events, the time zone, and how to print.
import { userInfo } from "node:os";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../gen/calendar/v1/sync_pb.js";
import { UsageError } from "./errors.js";
import { resolveTimeZone } from "./time.js";

export interface GlobalOptions {
  url?: string;
  user?: string;
  tz?: string;
  json?: boolean;
}

export interface Output {
  /** Data: tables, JSON, ids. */
  out(text: string): void;
  /** Questions and notes for the person, never data. */
  err(text: string): void;
  /** Whether colour codes may be written to stdout. */
  colour: boolean;
  /** Whether a person can answer a question on stdin. */
  interactive: boolean;
}

export interface CliContext {
  url: string;
  user: string;
  timeZone: string;
  json: boolean;
  calendar: Client<typeof CalendarService>;
  sync: Client<typeof CalendarSyncService>;
  output: Output;
}

export const DEFAULT_URL = "http://localhost:8080";
const CALL_TIMEOUT_MS = 15_000;

export function terminalOutput(env: NodeJS.ProcessEnv): Output {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    // no-color.org: any non-empty NO_COLOR turns colour off.
    colour: process.stdout.isTTY === true && !env.NO_COLOR,
    interactive: process.stdin.isTTY === true,
  };
}

function loginName(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to what the shell says.
    return env.USER ?? env.LOGNAME;
  }
}

export function resolveUrl(options: GlobalOptions, env: NodeJS.ProcessEnv): string {
  const url = options.url ?? env.CAL_URL ?? DEFAULT_URL;
  const source = options.url !== undefined ? "--url" : "CAL_URL";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${source}: "${url}" is not a URL; e.g. http://localhost:8080`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`${source}: "${url}" must start with http:// or https://`);
  }
  return url.replace(/\/+$/, "");
}

export function createContext(
  options: GlobalOptions,
  env: NodeJS.ProcessEnv,
  output: Output,
): CliContext {
  const url = resolveUrl(options, env);
  const user = options.user ?? (env.CAL_USER || loginName(env));
  if (!user) {
    throw new UsageError("no user: set CAL_USER or pass --user NAME");
  }
  const asUser: Interceptor = (next) => (req) => {
    req.header.set("x-user-id", user);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    defaultTimeoutMs: CALL_TIMEOUT_MS,
    interceptors: [asUser],
  });
  return {
    url,
    user,
    timeZone: resolveTimeZone(options.tz, env),
    json: options.json === true,
    calendar: createClient(CalendarService, transport),
    sync: createClient(CalendarSyncService, transport),
    output,
  };
}
