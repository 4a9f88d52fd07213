// A postgres.js pool that replaces itself when postgres.js hits its own
// "write on a closed connection" defect, so the process lives on with a
// working pool instead of crashing or running on a poisoned one.
//
// The defect (postgres 3.4.9, porsager/postgres#1154 and #1208; fixes
// proposed in PRs #1168, #1176, #1209, none released yet): when the server
// ends a connection inside a transaction (pg_terminate_backend, a restart, a
// failover), sql.begin() sends its ROLLBACK on the connection after its
// socket is gone. The write is deferred with setImmediate and then throws
//   TypeError: Cannot read properties of null (reading 'write')
//       at Immediate.nextWrite (postgres/src/connection.js)
// from a timer, where no caller can catch it: the process dies. Swallowing it
// is not enough: the connection keeps a stale write timer and never sends
// another byte (every later use times out connecting). So on that error the
// pool is swapped for a fresh one and the old one ended: queries in flight on
// it get a second to finish (the server has just ended connections, so few
// survive anyway), then fail as connection errors (UNAVAILABLE at the API).
import postgres, { type Options, type Sql } from "postgres";
import type { Logger } from "../../log/logger.js";
import type { NoCustomTypes } from "./db.js";

interface Recyclable {
  recycle(): void;
}

const livePools = new Set<Recyclable>();
let guardInstalled = false;

/** The uncaught TypeError of postgres.js's deferred write on a closed socket. */
export function isClosedSocketWriteDefect(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  if (!error.message.includes("reading 'write'")) return false;
  const stack = error.stack ?? "";
  return /postgres[\\/]src[\\/]connection\.js/.test(stack) && stack.includes("nextWrite");
}

/**
 * Recycles every live pool on the postgres.js defect. Any other uncaught
 * exception keeps Node's meaning, fatal, unless someone else (a test runner)
 * listens for them too and decides.
 */
function installGuard(logger: Logger): void {
  if (guardInstalled) return;
  guardInstalled = true;
  process.on("uncaughtException", (error) => {
    if (isClosedSocketWriteDefect(error)) {
      logger.warn(
        { err: error, pools: livePools.size },
        "postgres.js wrote to a closed connection (porsager/postgres#1208): replacing the database pool",
      );
      for (const pool of livePools) pool.recycle();
      return;
    }
    if (process.listenerCount("uncaughtException") > 1) return;
    process.stderr.write(
      `${JSON.stringify({ level: "fatal", msg: "uncaught exception", err: String(error?.stack ?? error) })}\n`,
    );
    process.exit(1);
  });
}

/**
 * A pool on `url` that behaves as postgres(url, options) and is swapped for
 * a fresh one whenever the defect strikes. end() ends the current pool and
 * stops any further swap.
 */
export function recyclingPool(url: string, options: Options<NoCustomTypes>, logger: Logger): Sql {
  let current: Sql = postgres(url, options);
  let ended = false;
  const pool: Recyclable = {
    recycle() {
      if (ended) return;
      const old = current;
      current = postgres(url, options);
      // A query sent just before the defect struck may sit on the poisoned
      // connection: the old pool gets a second to finish, then is cut.
      old.end({ timeout: 1 }).catch(() => {});
    },
  };
  livePools.add(pool);
  installGuard(logger);

  const end = async (endOptions?: { timeout?: number }) => {
    ended = true;
    livePools.delete(pool);
    await current.end(endOptions);
  };
  // An arrow function as the target: it has no own non-configurable
  // properties (no `prototype`) that the proxy would have to report as is.
  const target = (() => {}) as unknown as Sql;
  return new Proxy(target, {
    apply: (_target, _this, args: unknown[]) =>
      (current as unknown as (...a: unknown[]) => unknown)(...args),
    get: (_target, property) => {
      if (property === "end") return end;
      const value: unknown = Reflect.get(current, property, current);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}
