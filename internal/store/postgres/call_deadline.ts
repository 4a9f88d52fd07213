// The time budget of one EventStore call (3 s by default), kept by the
// database as well as by us. Answering UNAVAILABLE at the deadline is not
// enough: a query left running holds its connection and, for a write, the
// user's advisory lock (that user's next writes queue behind it), and a
// create could still commit after its caller was told it failed.
//
// Most calls are one statement (writeOnce, readOnce): a read, or a single
// event's create, update or delete, which takes the user's lock inside the
// statement if it is free (sql/lock_user.ts; if not, the write takes the
// full path below). They run on a pool of their own whose connections
// carry the call timeout as statement_timeout, with no transaction around
// them (inOneStatement): at the deadline the caller cancels the statement
// (or drops it, still queued in the pool), which ends it within
// milliseconds while the server answers; if the server cannot be reached,
// the statement_timeout ends it. A statement outside a transaction commits
// as it ends, so nothing is left open behind it. Measured as one statement
// (docs/BENCHMARKS.md, issue 17; bench/store_path_probe.ts): a read costs
// the store about half the CPU of the read-only transaction of four
// statements it was; a create costs PostgreSQL a fifth to a quarter less
// CPU than the same statement in a transaction (begin, timeout, it,
// commit; it was five, with the lock apart), and this process 0.55-0.65.
//
// The rest (series, occurrences, and the full paths that read before they
// write) run in a transaction (inTransaction), where every statement has
// the time left as its statement_timeout (set just before the statement,
// in the same round trip), and so does idle_in_transaction_session_timeout:
// a client that went silent (a network black hole) has its transaction
// rolled back by the server at the deadline, and its locks released.
// Nothing is committed once the deadline has passed. The embedded database
// has no pool of one-statement calls (its one connection also runs the
// migrations), so there the one-statement calls run in a transaction too
// (inReadTransaction, inPipelinedTransaction).
//
// The caller is answered when the work has ended, which is a few
// milliseconds after the deadline while the server is reachable; if it is
// not, the answer comes GRACE_MS later and the outcome of a write is
// ambiguous (the server ends it by itself: see above).
import type { Sql } from "postgres";
import { StoreUnavailableError } from "../store.js";
import type { Db } from "./db.js";
import { hasSqlState, SqlState } from "./errors.js";

// How long past the deadline the caller waits for the database to end the
// call's work, before it is answered anyway.
export const GRACE_MS = 500;

/** Thrown inside a call whose deadline has passed, so its transaction rolls back. */
export class DeadlineExpiredError extends Error {
  constructor() {
    super("the call's deadline has passed");
    this.name = "DeadlineExpiredError";
  }
}

export interface DeadlineOptions {
  /**
   * Whether the server should also end a transaction left idle past the
   * deadline. Off for the embedded database: there, a session ended ends
   * every client's, and no network can swallow the client's next message.
   */
  endIdleTransactions: boolean;
}

export class CallDeadline {
  readonly #endsAt: number;
  readonly #endIdleTransactions: boolean;
  #expired = false;
  #onExpire: (() => void)[] | undefined;

  constructor(timeoutMs: number, options: DeadlineOptions) {
    this.#endsAt = performance.now() + timeoutMs;
    this.#endIdleTransactions = options.endIdleTransactions;
  }

  /** Called when the caller stops waiting: nothing more is started or committed. */
  expire(): void {
    this.#expired = true;
    const callbacks = this.#onExpire;
    this.#onExpire = undefined;
    for (const callback of callbacks ?? []) callback();
  }

  /** Runs `callback` if the deadline expires before the returned function is called. */
  onExpire(callback: () => void): () => void {
    this.#onExpire ??= [];
    this.#onExpire.push(callback);
    return () => {
      const at = this.#onExpire?.indexOf(callback) ?? -1;
      if (at >= 0) this.#onExpire?.splice(at, 1);
    };
  }

  /** Throws DeadlineExpiredError once the budget is spent. */
  throwIfExpired(): void {
    if (this.#expired || performance.now() >= this.#endsAt) {
      this.#expired = true;
      throw new DeadlineExpiredError();
    }
  }

  /**
   * Limits the next statement sent on `tx` (a transaction) to the time left:
   * a setting sent ahead of it on the same connection, without waiting for
   * its answer. Call it right before each statement.
   */
  limit(tx: Db): void {
    this.throwIfExpired();
    const leftMs = String(Math.max(1, Math.ceil(this.#endsAt - performance.now())));
    const idleMs = this.#endIdleTransactions ? leftMs : "0";
    tx`select
        set_config('statement_timeout', ${leftMs}, true),
        set_config('idle_in_transaction_session_timeout', ${idleMs}, true)`.catch(() => {
      // Its failure fails the statement sent after it, which reports it.
    });
  }
}

/**
 * A write: `work` in one transaction that commits only within the deadline.
 * `work` calls deadline.limit(tx) before each of its statements.
 */
export function inTransaction<T>(
  sql: Sql,
  deadline: CallDeadline,
  work: (tx: Db) => Promise<T>,
): Promise<T> {
  return sql.begin(async (tx) => {
    const result = await work(tx);
    deadline.throwIfExpired(); // rather roll back than commit unseen
    return result;
  }) as Promise<T>;
}

/**
 * A read: the query `read` returns, in a read-only transaction limited to
 * the time left. The four statements (begin, limit, the query, rollback) go
 * out together in one round trip, as one statement would. `read` must return
 * the postgres.js query itself, not a promise made from it: a query starts
 * when its then() is called, and they must start in this order.
 */
export function inReadTransaction<R>(
  sql: Sql,
  deadline: CallDeadline,
  read: (db: Db) => PromiseLike<R>,
): Promise<R> {
  return inOneRoundTrip(sql, deadline, "read", read);
}

/**
 * A write sent whole in one round trip: begin, limit, the statements `write`
 * starts (in order, with query.execute(), returning what the call answers),
 * commit. postgres.js pipelines them on one reserved connection without
 * waiting for each answer, so the call waits for the database once instead
 * of once per statement (on the embedded database, a single-event write:
 * writeOnce). Every statement runs under the statement_timeout the limit set,
 * so the server ends the work at the deadline and the commit, sent ahead,
 * then finds an aborted transaction and rolls back. When a statement fails,
 * those after it fail too ("transaction is aborted"): `write` must report
 * the first failure (Promise.all over its statements does, as the answers
 * arrive in order).
 *
 * For what can be decided without reading first: a statement that has to
 * see the answer of an earlier one before it is sent belongs in inTransaction.
 */
export function inPipelinedTransaction<R>(
  sql: Sql,
  deadline: CallDeadline,
  write: (db: Db) => PromiseLike<R>,
): Promise<R> {
  return inOneRoundTrip(sql, deadline, "write", write);
}

async function inOneRoundTrip<R>(
  sql: Sql,
  deadline: CallDeadline,
  kind: "read" | "write",
  work: (db: Db) => PromiseLike<R>,
): Promise<R> {
  const reserved = await sql.reserve();
  try {
    deadline.throwIfExpired();
    const begun = kind === "read" ? reserved`begin read only` : reserved`begin`;
    begun.catch(() => {
      // Reported by the statements after it.
    });
    deadline.limit(reserved);
    const outcome = work(reserved).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    // A read keeps nothing; a write's commit rolls back if a statement failed.
    const ended = (kind === "read" ? reserved`rollback` : reserved`commit`).execute();
    const [result] = await Promise.all([outcome, ended]);
    if (!result.ok) throw result.error;
    return result.value;
  } finally {
    reserved.release();
  }
}

/** A postgres.js query not yet started: it can still be cancelled. */
type CancellableQuery<R> = PromiseLike<R> & { cancel(): unknown };

/**
 * The pools a store's calls run on: `sql` for everything, and `statements`
 * for one-statement calls (a pool made with statementPoolOptions in
 * connect.ts), absent on the embedded database.
 */
export interface StorePools {
  sql: Sql;
  statements: Sql | undefined;
}

/**
 * One statement, on a pool whose connections carry a statement_timeout of
 * the call timeout (statementPoolOptions in connect.ts): no transaction
 * around it, so it is one statement in one round trip, where a transaction
 * sends four or five and holds a connection to itself while they run, and
 * postgres.js can pipeline it with other statements on a connection.
 *
 * What ends it on the server: at the deadline, the caller cancels it (a
 * query still queued in the pool is dropped, one running is cancelled over a
 * connection of its own), which ends it within milliseconds while the server
 * answers; if the server cannot be reached, its statement_timeout ends it at
 * most one call timeout after it started. A statement outside a transaction
 * leaves nothing open behind it, so there is no idle transaction to end.
 */
export async function inOneStatement<R>(
  statements: Sql,
  deadline: CallDeadline,
  run: (db: Db) => CancellableQuery<R>,
): Promise<R> {
  deadline.throwIfExpired();
  const query = run(statements);
  const forget = deadline.onExpire(() => {
    Promise.resolve(query.cancel()).catch(() => {
      // Unreachable: the statement_timeout ends it.
    });
  });
  try {
    return await query;
  } finally {
    forget();
  }
}

/**
 * One read of a call: as one statement on `statements` when there is that
 * pool, else in a read-only transaction on `sql` (the embedded database).
 */
export function readOnce<R>(
  pools: StorePools,
  deadline: CallDeadline,
  read: (db: Db) => CancellableQuery<R>,
): Promise<R> {
  return once(pools, deadline, "read", read);
}

/**
 * One write of a call that is a single statement (sql/insert_single.ts and
 * its siblings): as one statement on `statements` when there is that pool,
 * else in a transaction of one round trip on `sql` (the embedded database).
 * Such a statement must not wait for a lock that may be held for long (the
 * user's: lock_user.ts): postgres.js sends other calls' statements on the
 * same connection behind it.
 */
export function writeOnce<R>(
  pools: StorePools,
  deadline: CallDeadline,
  write: (db: Db) => CancellableQuery<R>,
): Promise<R> {
  return once(pools, deadline, "write", write);
}

function once<R>(
  pools: StorePools,
  deadline: CallDeadline,
  kind: "read" | "write",
  run: (db: Db) => CancellableQuery<R>,
): Promise<R> {
  if (pools.statements) return inOneStatement(pools.statements, deadline, run);
  return kind === "read"
    ? inReadTransaction(pools.sql, deadline, run)
    : inPipelinedTransaction(pools.sql, deadline, run);
}

/**
 * Runs `operation` with a deadline of `timeoutMs`. Past it, `operation` is
 * told (the deadline expires) and given GRACE_MS to end; an operation that
 * ended in error then, or not at all, is answered StoreUnavailableError. A
 * result that arrives within the grace is returned: it happened.
 */
export async function withinDeadline<T>(
  what: string,
  timeoutMs: number,
  options: DeadlineOptions,
  operation: (deadline: CallDeadline) => Promise<T>,
): Promise<T> {
  const deadline = new CallDeadline(timeoutMs, options);
  const running = operation(deadline);
  let timer: NodeJS.Timeout | undefined;
  const elapsed = (ms: number) =>
    new Promise<"elapsed">((resolve) => {
      timer = setTimeout(() => resolve("elapsed"), ms);
    });
  const unavailable = (cause?: unknown) =>
    new StoreUnavailableError(`database unavailable (${what}): no answer within ${timeoutMs} ms`, {
      cause,
    });
  const settled = running.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  try {
    const first = await Promise.race([settled, elapsed(timeoutMs)]);
    if (first !== "elapsed") {
      if (first.ok) return first.value;
      // The server may end a statement, or a transaction left idle, at the
      // deadline a moment before our timer fires (a busy process runs its
      // timers late): that is the deadline too.
      if (
        first.error instanceof DeadlineExpiredError ||
        hasSqlState(first.error, SqlState.queryCanceled) ||
        hasSqlState(first.error, SqlState.idleInTransactionTimeout)
      ) {
        throw unavailable(first.error);
      }
      throw first.error;
    }
    deadline.expire();
    clearTimeout(timer);
    const late = await Promise.race([settled, elapsed(GRACE_MS)]);
    if (late !== "elapsed" && late.ok) return late.value;
    throw unavailable(late === "elapsed" ? undefined : late.error);
  } finally {
    clearTimeout(timer);
  }
}
