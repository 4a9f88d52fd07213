// Opening the database: a postgres.js pool on DATABASE_URL, or on the
// embedded PGlite when it is unset. The first connection is retried for a
// while, because in a fresh deployment the database often starts after us.
import { setTimeout as sleep } from "node:timers/promises";
import postgres, { type Options, type Sql } from "postgres";
import type { StorageConfig } from "../../config/config.js";
import { redactUrl } from "../../config/env.js";
import type { Logger } from "../../log/logger.js";
import type { NoCustomTypes } from "./db.js";
import { errorMessage, isConnectionError } from "./errors.js";
import { DEFAULT_CALL_TIMEOUT_MS } from "./postgres_store.js";

export type PostgresStorage = Extract<StorageConfig, { kind: "postgres" }>;

export interface Database {
  sql: Sql;
  /**
   * A pool for the stores' one-statement calls (reads, single-event
   * writes), whose connections carry the call timeout as their
   * statement_timeout (statementPoolOptions). Absent on the embedded
   * database, where they run in transactions on `sql` (its one connection
   * is also the one migrations run on).
   */
  statements?: Sql;
  /** True for the embedded PGlite, which is always migrated on open. */
  embedded: boolean;
  /** Ends the pools, then stops the embedded database if there is one. */
  close(): Promise<void>;
}

// Each attempt to open a connection gives up after this long, so that while
// the database is down a call fails fast (UNAVAILABLE) instead of hanging.
const CONNECT_TIMEOUT_S = 5;

// PGlite needs a few seconds to start; by then its socket is listening, so
// only a genuinely broken embedded database takes longer than this.
const EMBEDDED_CONNECT_TIMEOUT_MS = 10_000;

/** Pool settings for a real server. */
export function serverPoolOptions(logger: Logger, max: number): Options<NoCustomTypes> {
  return {
    max,
    connect_timeout: CONNECT_TIMEOUT_S,
    // Connections idle this long are closed, so the pool shrinks after a burst.
    idle_timeout: 60,
    // postgres.js waits before reopening a connection that failed, growing to
    // 20 s by default. Cap it at about a second: once the database is back,
    // calls should find it at once, not after the last backoff step.
    backoff: (retries) => Math.min(0.05 * 2 ** retries, 1) * (0.5 + Math.random() / 2),
    // "... already exists, skipping" and the like are not worth a log line;
    // postgres.js would print them to the console.
    onnotice: (notice) => logger.debug({ notice: notice.message }, "database notice"),
    connection: { application_name: "cal_service" },
  };
}

/**
 * `options` for a pool of deadline-bounded statements: each connection is
 * opened with statement_timeout set to the call timeout, once, so a read or
 * a single-event write is one statement with no transaction around it
 * (inOneStatement in call_deadline.ts). A pool of its own, because the
 * other users of `sql` (migrations, the scheduler's dispatch and clean-up)
 * have no such bound.
 */
export function statementPoolOptions(
  options: Options<NoCustomTypes>,
  callTimeoutMs: number,
): Options<NoCustomTypes> {
  return {
    ...options,
    connection: { ...options.connection, statement_timeout: callTimeoutMs },
  };
}

/** Pool settings for the embedded database: see embedded.ts for why. */
export function embeddedPoolOptions(logger: Logger): Options<NoCustomTypes> {
  return {
    ...serverPoolOptions(logger, 1),
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
  };
}

export async function openDatabase(storage: PostgresStorage, logger: Logger): Promise<Database> {
  if (storage.databaseUrl !== undefined) {
    const sql = await connectWithRetry(
      storage.databaseUrl,
      serverPoolOptions(logger, storage.poolMax),
      storage.connectTimeoutMs,
      logger,
    );
    // Opens its connections when first used: roles that never call the
    // EventStore (migrate, the scheduler) open none.
    const statements = postgres(
      storage.databaseUrl,
      statementPoolOptions(serverPoolOptions(logger, storage.poolMax), DEFAULT_CALL_TIMEOUT_MS),
    );
    return {
      sql,
      statements,
      embedded: false,
      close: async () => {
        await Promise.all([sql.end({ timeout: 5 }), statements.end({ timeout: 5 })]);
      },
    };
  }

  // Imported here, not above: PGlite is large, and a role on a server
  // (DATABASE_URL) should not load it.
  const { startEmbeddedDatabase } = await import("./embedded.js");
  const embedded = await startEmbeddedDatabase(storage.dataDir, logger);
  let sql: Sql;
  try {
    sql = await connectWithRetry(
      embedded.url,
      embeddedPoolOptions(logger),
      EMBEDDED_CONNECT_TIMEOUT_MS,
      logger,
    );
  } catch (error) {
    await embedded.close();
    throw error;
  }
  return {
    sql,
    embedded: true,
    close: async () => {
      await sql.end({ timeout: 5 });
      await embedded.close();
    },
  };
}

/** Thrown when the first connection could not be made; the message says why. */
export class DatabaseConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseConnectError";
  }
}

/**
 * Creates the pool and proves it works with one query, retrying connection
 * failures with exponential backoff and jitter for up to `timeoutMs`. Other
 * failures (wrong password, no such database) cannot heal by waiting and end
 * the attempt at once. The URL only ever reaches a log line redacted.
 */
export async function connectWithRetry(
  url: string,
  options: Options<NoCustomTypes>,
  timeoutMs: number,
  logger: Logger,
): Promise<Sql> {
  const where = redactUrl(url);
  const deadline = Date.now() + timeoutMs;
  // postgres.js is patched (patches/postgres+3.4.9.patch) so that a server
  // ending a connection inside a transaction fails that transaction's queries
  // instead of throwing from a timer: terminated_in_transaction.ts checks it.
  const sql = postgres(url, options);
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`select 1`;
      logger.info({ url: where, attempt }, "database connected");
      return sql;
    } catch (error) {
      const remainingMs = deadline - Date.now();
      if (!isConnectionError(error) || remainingMs <= 0) {
        await sql.end({ timeout: 0 });
        const why = isConnectionError(error)
          ? `not reachable after ${attempt} attempt(s) in ${Math.round(timeoutMs / 1000)}s`
          : "refused the connection";
        throw new DatabaseConnectError(`database at ${where} ${why}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      const nextRetryMs = Math.round(Math.min(remainingMs, backoffMs(attempt)));
      logger.warn({ url: where, attempt, nextRetryMs, err: error }, "database not reachable yet");
      await sleep(nextRetryMs);
    }
  }
}

/** 250 ms, 500 ms, 1 s, ... capped at 5 s, each scaled by a random 50-100 %. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(250 * 2 ** (attempt - 1), 5_000);
  return ceiling * (0.5 + Math.random() / 2);
}
