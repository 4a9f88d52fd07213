// The FeedStore on Postgres (tables feed_secrets and feed_key, migration
// 0005). Each call runs within the same deadline as the EventStore's calls
// (call_deadline.ts): reads as one statement on the pool of one-statement
// calls (or, on the embedded database, in a limited read-only transaction),
// writes in one transaction limited statement by statement.
import { randomBytes } from "node:crypto";
import type { Sql } from "postgres";
import type { FeedRecord, FeedStore } from "../feed_store.js";
import {
  type CallDeadline,
  inTransaction,
  readOnce,
  type StorePools,
  withinDeadline,
} from "./call_deadline.js";
import type { Db } from "./db.js";
import { unlessUnavailable } from "./errors.js";
import { DEFAULT_CALL_TIMEOUT_MS } from "./postgres_store.js";
import { instant } from "./rows.js";

interface FeedRow {
  user_id: string;
  nonce: Buffer;
  secret_hash: Buffer;
  etag: string | null;
  changed_ms: number;
}

export class PostgresFeedStore implements FeedStore {
  readonly #pools: StorePools;
  readonly #callTimeoutMs: number;
  readonly #endIdleTransactions: boolean;

  constructor(
    sql: Sql,
    options: {
      callTimeoutMs?: number;
      /** False on the embedded database: see DeadlineOptions. */
      endIdleTransactions?: boolean;
      /** The pool of one-statement calls: see PostgresEventStore. */
      statements?: Sql;
    } = {},
  ) {
    this.#pools = { sql, statements: options.statements };
    this.#callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.#endIdleTransactions = options.endIdleTransactions ?? true;
  }

  #call<T>(what: string, operation: (deadline: CallDeadline) => Promise<T>): Promise<T> {
    return withinDeadline(
      what,
      this.#callTimeoutMs,
      { endIdleTransactions: this.#endIdleTransactions },
      (deadline) => unlessUnavailable(what, () => operation(deadline)),
    );
  }

  storedFeedKey(): Promise<Buffer> {
    return this.#call("read feed key", (deadline) =>
      inTransaction(this.#pools.sql, deadline, async (tx) => {
        // Two replicas starting together both insert; the loser's row is
        // dropped by "on conflict" and it reads the winner's.
        deadline.limit(tx);
        await tx`
          insert into feed_key (singleton, key) values (true, ${randomBytes(32)})
          on conflict (singleton) do nothing`;
        deadline.limit(tx);
        const [row] = await tx<{ key: Buffer }[]>`select key from feed_key`;
        if (!row) throw new Error("feed_key is empty right after inserting into it");
        return Buffer.from(row.key);
      }),
    );
  }

  getFeed(userId: string): Promise<FeedRecord | undefined> {
    return this.#call("get feed", async (deadline) => {
      const [row] = await readOnce(
        this.#pools,
        deadline,
        (db) => db<FeedRow[]>`
          select ${feedColumns(db)} from feed_secrets where user_id = ${userId}`,
      );
      return row && toFeed(row);
    });
  }

  putFeed(
    userId: string,
    credential: { nonce: Buffer; secretHash: Buffer },
    now: Date,
    replace: boolean,
  ): Promise<FeedRecord> {
    return this.#call("store feed secret", (deadline) =>
      inTransaction(this.#pools.sql, deadline, async (tx) => {
        const at = instant(tx, now);
        deadline.limit(tx);
        const [row] = replace
          ? await tx<FeedRow[]>`
              insert into feed_secrets (user_id, nonce, secret_hash, created_at, etag, changed_at)
              values (${userId}, ${credential.nonce}, ${credential.secretHash}, ${at}, null, ${at})
              on conflict (user_id) do update set
                nonce = excluded.nonce, secret_hash = excluded.secret_hash,
                created_at = excluded.created_at, etag = null, changed_at = excluded.changed_at
              returning ${feedColumns(tx)}`
          : await tx<FeedRow[]>`
              insert into feed_secrets (user_id, nonce, secret_hash, created_at, etag, changed_at)
              values (${userId}, ${credential.nonce}, ${credential.secretHash}, ${at}, null, ${at})
              on conflict (user_id) do nothing
              returning ${feedColumns(tx)}`;
        if (row) return toFeed(row);
        // The user already has a credential (perhaps committed a moment ago
        // by a concurrent first call): a new statement sees it.
        deadline.limit(tx);
        const [existing] = await tx<FeedRow[]>`
          select ${feedColumns(tx)} from feed_secrets where user_id = ${userId}`;
        if (!existing) throw new Error("storing a feed secret left no row");
        return toFeed(existing);
      }),
    );
  }

  findFeedBySecretHash(secretHash: Buffer): Promise<FeedRecord | undefined> {
    return this.#call("find feed", async (deadline) => {
      const [row] = await readOnce(
        this.#pools,
        deadline,
        (db) => db<FeedRow[]>`
          select ${feedColumns(db)} from feed_secrets where secret_hash = ${secretHash}`,
      );
      return row && toFeed(row);
    });
  }

  noteServedFeed(userId: string, etag: string, now: Date): Promise<Date> {
    return this.#call("note served feed", (deadline) =>
      inTransaction(this.#pools.sql, deadline, async (tx) => {
        // Writes only when the feed changed, so a calendar app polling an
        // unchanged feed costs no write.
        deadline.limit(tx);
        await tx`
          update feed_secrets set etag = ${etag}, changed_at = ${instant(tx, now)}
          where user_id = ${userId} and etag is distinct from ${etag}`;
        deadline.limit(tx);
        const [row] = await tx<{ changed_ms: number }[]>`
          select round(extract(epoch from changed_at) * 1000)::float8 as changed_ms
          from feed_secrets where user_id = ${userId}`;
        return row ? new Date(row.changed_ms) : new Date(now);
      }),
    );
  }
}

function feedColumns(db: Db) {
  return db`user_id, nonce, secret_hash, etag,
    round(extract(epoch from changed_at) * 1000)::float8 as changed_ms`;
}

function toFeed(row: FeedRow): FeedRecord {
  return {
    userId: row.user_id,
    nonce: Buffer.from(row.nonce),
    secretHash: Buffer.from(row.secret_hash),
    etag: row.etag ?? undefined,
    changedAt: new Date(row.changed_ms),
  };
}
