// What the reliability suite needs around the service under test: the api as
// a child process on a real Postgres store (embedded PGlite in a temporary
// DATA_DIR, or a fresh database on DATABASE_URL), raw HTTP/1.1 and h2c
// requests with a hard timeout, the child's RSS, and a tally of cases.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import path from "node:path";
import { createScratchDatabase } from "../../internal/testing/database.js";
import {
  type Started,
  startCalService,
  stopChild,
  waitForLog,
} from "../../internal/testing/process.js";

/**
 * Asserts, and tallies, that the api logged nothing at error level (nor an
 * unexpected handler error) and wrote nothing but JSON lines to stderr.
 */
export function assertNoServerErrors(svc: ServiceUnderTest, tally: Tally): void {
  const errors = svc.started.logs.filter(
    (line) =>
      (typeof line.level === "number" && line.level >= 50) ||
      line.msg === "unexpected error in handler",
  );
  const plain = svc.started
    .stderr()
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("{"));
  tally.record("server logged no errors", errors.length === 0 && plain.length === 0);
  assert.deepEqual(errors.slice(0, 5), [], "the server logged errors");
  assert.deepEqual(plain.slice(0, 10), [], "the server wrote non-JSON lines to stderr");
}

/** A whole-number setting from the environment: `fallback` when unset, at least `min`. */
export function wholeNumberFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number of ${min} or more, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Runs per property: FUZZ_RUNS (default 200). */
export function fuzzRuns(): number {
  return wholeNumberFromEnv("FUZZ_RUNS", 200, 1);
}

/** Every request gets this long to be answered; longer counts as a hang. */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface ServiceUnderTest {
  url: string;
  pid: number;
  started: Started;
  /** "embedded PGlite" or "PostgreSQL database <name>". */
  storage: string;
  stop(): Promise<void>;
}

/** Starts `cal_service api` from source on a Postgres store of its own. */
export async function startService(): Promise<ServiceUnderTest> {
  const env: Record<string, string> = {
    API_HOST: "127.0.0.1",
    API_PORT: "0",
    LOG_LEVEL: "info",
    SHUTDOWN_TIMEOUT: "2s",
  };
  const cleanups: (() => Promise<void>)[] = [];
  let storage: string;
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    // A fresh database on the given server, dropped afterwards.
    const database = await createScratchDatabase(
      serverUrl,
      `cal_fuzz_${randomBytes(6).toString("hex")}`,
    );
    env.DATABASE_URL = database.url;
    env.DB_MIGRATE = "true";
    storage = `PostgreSQL database ${database.name}`;
    cleanups.push(database.drop);
  } else {
    const dir = await mkdtemp(path.join(tmpdir(), "cal-fuzz-"));
    env.DATA_DIR = path.join(dir, "data");
    storage = "embedded PGlite";
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }

  const started = startCalService(["api"], env);
  const stop = async () => {
    await stopChild(started.child, started.exited, 10_000);
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const line = await waitForLog(started, (l) => l.msg === "api listening", 90_000);
    const pid = started.child.pid;
    if (pid === undefined) throw new Error("child has no pid");
    return { url: String(line.url), pid, started, storage, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The child's resident set size in bytes, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------
// Raw requests

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  trailers: Record<string, string>;
}

/** The request never got a complete answer: reset, closed, or timed out. */
export class NoAnswer extends Error {
  override name = "NoAnswer";
  /** HTTP/1.1: the request went out on a kept-alive socket the server may have closed. */
  reusedSocket = false;
}

function flatten(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || key.startsWith(":")) continue;
    out[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return out;
}

const h1Agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/**
 * One POST over HTTP/1.1 (keep-alive). A kept-alive socket the server closed
 * just as we reused it (its keep-alive timeout) fails with ECONNRESET or
 * "socket hang up" before the server saw the request; as Node's docs advise,
 * that is tried once more on a fresh socket. A fresh socket failing counts.
 */
export async function h1Post(
  baseUrl: string,
  pathname: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<RawResponse> {
  try {
    return await h1PostOnce(baseUrl, pathname, headers, body, h1Agent);
  } catch (error) {
    if (!(error instanceof NoAnswer) || !error.reusedSocket) throw error;
    return h1PostOnce(baseUrl, pathname, headers, body, false);
  }
}

function h1PostOnce(
  baseUrl: string,
  pathname: string,
  headers: Record<string, string>,
  body: Uint8Array,
  agent: http.Agent | false,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const url = new URL(pathname, baseUrl);
    const req = http.request(url, {
      method: "POST",
      agent,
      headers: { ...headers, "content-length": String(body.byteLength) },
    });
    const timer = setTimeout(() => {
      req.destroy(new NoAnswer(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    req.on("error", (error) => {
      clearTimeout(timer);
      if (error instanceof NoAnswer) return reject(error);
      const noAnswer = new NoAnswer(`HTTP/1.1: ${error.message}`);
      noAnswer.reusedSocket = req.reusedSocket;
      reject(noAnswer);
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (error) => {
        clearTimeout(timer);
        reject(new NoAnswer(`HTTP/1.1 response: ${error.message}`));
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: flatten(res.headers),
          body: Buffer.concat(chunks),
          trailers: flatten(res.trailers),
        });
      });
    });
    req.end(body);
  });
}

/** A reused h2c connection (prior knowledge), reopened if it goes away. */
export class H2Client {
  #session: http2.ClientHttp2Session | undefined;
  /** Sessions that ended with an error: the server dropped a connection. */
  readonly sessionErrors: string[] = [];

  /** Reset a stream the server answered before reading all of it (what clients do). */
  cancelUnsent = true;

  constructor(readonly baseUrl: string) {}

  #open(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = http2.connect(this.baseUrl);
    session.on("error", (error) => this.sessionErrors.push(error.message));
    session.on("goaway", (code) => {
      if (code !== http2.constants.NGHTTP2_NO_ERROR) this.sessionErrors.push(`GOAWAY ${code}`);
    });
    this.#session = session;
    return session;
  }

  async post(
    pathname: string,
    headers: Record<string, string>,
    body: Uint8Array,
  ): Promise<RawResponse> {
    if (body.byteLength <= 256 * 1024) return this.#post(this.#open(), pathname, headers, body);
    // Node's HTTP/2 *client* keeps about 1 MiB of session memory for every
    // large request body the server answered early and we cancelled, until
    // its own 10 MB limit makes it fail every later stream of the session
    // with ENHANCE_YOUR_CALM. That is the client's accounting, not the
    // server's (a client with maxSessionMemory 200 fails after ~200), so
    // large bodies get a session of their own.
    const session = http2.connect(this.baseUrl);
    session.on("error", (error) => this.sessionErrors.push(error.message));
    try {
      return await this.#post(session, pathname, headers, body);
    } finally {
      // destroy, not close: a session garbage-collected while nghttp2 still
      // holds the unsent rest of a cancelled body aborts this process
      // (Node 20: "Assertion failed: (current_nghttp2_memory_) == (0)").
      session.destroy();
    }
  }

  #post(
    session: http2.ClientHttp2Session,
    pathname: string,
    headers: Record<string, string>,
    body: Uint8Array,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": pathname,
        ...headers,
      });
      let settled = false;
      let status = 0;
      let responseHeaders: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        settled = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(
          new NoAnswer(
            `no answer within ${REQUEST_TIMEOUT_MS} ms (${status === 0 ? "no response headers" : `HTTP ${status} headers, body not ended`})`,
          ),
        );
      }, REQUEST_TIMEOUT_MS);
      stream.on("response", (h) => {
        status = Number(h[":status"] ?? 0);
        responseHeaders = flatten(h);
      });
      stream.on("trailers", (t) => {
        trailers = flatten(t);
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new NoAnswer(`h2 stream: ${error.message}`));
      });
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), trailers });
        // The server may have answered without reading all we sent; the
        // answer is complete, so stop sending.
        if (this.cancelUnsent && !stream.closed && !stream.writableFinished)
          stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      // The answer is complete when the server ends its side, whatever
      // became of the rest of our body.
      stream.on("end", () => {
        if (status !== 0) finish();
      });
      stream.on("close", () => {
        if (settled) return;
        clearTimeout(timer);
        if (status === 0) {
          settled = true;
          reject(new NoAnswer(`h2 stream closed without a response (rst ${stream.rstCode})`));
          return;
        }
        const rst = stream.rstCode ?? 0;
        if (
          rst !== http2.constants.NGHTTP2_NO_ERROR &&
          !("grpc-status" in trailers) &&
          !("grpc-status" in responseHeaders) &&
          chunks.length === 0
        ) {
          settled = true;
          reject(new NoAnswer(`h2 stream reset with code ${rst} after the headers`));
          return;
        }
        finish();
      });
      // The server may answer before it read the whole body and reset the
      // rest: writing then fails, which is not a missing answer by itself.
      stream.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  close(): void {
    this.#session?.close();
  }
}

/** Plain GET over HTTP/1.1, for health checks. */
export async function h1Get(baseUrl: string, pathname: string): Promise<number> {
  const res = await fetch(new URL(pathname, baseUrl), {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  await res.arrayBuffer();
  return res.status;
}

// ---------------------------------------------------------------------------
// Tally: what was tried and what held, printed as a table at the end of each
// file and, through scripts/reliability.ts, as one table for the whole suite.

/** One line of the summary. `lost` and `duplicated` exist for fault cases only. */
export interface TallyRow {
  file: string;
  name: string;
  tried: number;
  passed: number;
  lost?: number;
  duplicated?: number;
  notes: string[];
}

/** Reminders of one fault case, counted Jepsen-style. */
export interface ReminderAccount {
  /** Reminders that fell due during the case. */
  due: number;
  /** Distinct reminders the sender delivered. */
  delivered: number;
  /** Due but never delivered. */
  lost: number;
  /** Deliveries beyond the first, summed over reminders. */
  duplicated: number;
}

export class Tally {
  readonly #rows = new Map<string, TallyRow>();

  /** `file` names the suite file in the combined summary. */
  constructor(readonly file = "") {}

  #row(name: string): TallyRow {
    let row = this.#rows.get(name);
    if (!row) {
      row = { file: this.file, name, tried: 0, passed: 0, notes: [] };
      this.#rows.set(name, row);
    }
    return row;
  }

  record(name: string, passed: boolean, note?: string): void {
    const row = this.#row(name);
    row.tried++;
    if (passed) row.passed++;
    if (note) this.note(name, note);
  }

  /**
   * A fault case: one try per due reminder, passed when delivered. Lost and
   * duplicated are reported as counted; whether they fail the case is the
   * test's assertion, not the tally's.
   */
  account(name: string, account: ReminderAccount, note?: string): void {
    const row = this.#row(name);
    row.tried += account.due;
    row.passed += account.delivered;
    row.lost = (row.lost ?? 0) + account.lost;
    row.duplicated = (row.duplicated ?? 0) + account.duplicated;
    if (note) this.note(name, note);
  }

  note(name: string, note: string): void {
    const row = this.#rows.get(name);
    if (row && row.notes.length < 5 && !row.notes.includes(note)) row.notes.push(note);
  }

  rows(): TallyRow[] {
    return [...this.#rows.values()];
  }

  table(): string {
    return summaryTable(this.rows());
  }

  /**
   * Prints this file's table and, when RELIABILITY_SUMMARY_FILE is set (as
   * scripts/reliability.ts does), appends the rows to it as JSON lines.
   */
  publish(heading: string): void {
    console.log(`\n# ${heading}\n${this.table()}\n`);
    const file = process.env.RELIABILITY_SUMMARY_FILE;
    if (file) {
      appendFileSync(
        file,
        this.rows()
          .map((row) => `${JSON.stringify(row)}\n`)
          .join(""),
      );
    }
  }
}

/** Rows as a fixed-width table with a total line. */
export function summaryTable(rows: readonly TallyRow[]): string {
  const width = Math.max(4, ...rows.map((row) => row.name.length));
  const faults = rows.some((row) => row.lost !== undefined);
  const num = (n: number | undefined) => (n === undefined ? "" : String(n)).padStart(7);
  const line = (name: string, cells: (number | undefined)[]) =>
    `${name.padEnd(width)}  ${cells.map(num).join("  ")}`.trimEnd();
  const heads = faults ? ["tried", "passed", "lost", "dup"] : ["tried", "passed"];
  const lines = [
    `${"case".padEnd(width)}  ${heads.map((h) => h.padStart(7)).join("  ")}`,
    `${"-".repeat(width)}  ${heads.map(() => "-".repeat(7)).join("  ")}`,
  ];
  const total = { tried: 0, passed: 0, lost: 0, duplicated: 0 };
  for (const row of rows) {
    total.tried += row.tried;
    total.passed += row.passed;
    total.lost += row.lost ?? 0;
    total.duplicated += row.duplicated ?? 0;
    const cells: (number | undefined)[] = [row.tried, row.passed];
    if (faults) cells.push(row.lost, row.duplicated);
    lines.push(line(row.name, cells));
    for (const note of row.notes) lines.push(`    ${note}`);
  }
  const totals: (number | undefined)[] = [total.tried, total.passed];
  if (faults) totals.push(total.lost, total.duplicated);
  lines.push(line("total", totals));
  return lines.join("\n");
}
