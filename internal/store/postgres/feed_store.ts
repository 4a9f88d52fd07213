// The FeedStore on Postgres (table feed_secrets, migration 0005). Each call
// is one statement or one transaction, within the same deadline as the
// EventStore's calls.
import { randomBytes } from "node:crypto";
import type { Sql } from "postgres";
import type { FeedRecord, FeedStore } from "../feed_store.js";
import { unlessUnavailable, withinDeadline } from "./errors.js";
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
  readonly #sql: Sql;
  readonly #callTimeoutMs: number;

  constructor(sql: Sql, options: { callTimeoutMs?: number } = {}) {
    this.#sql = sql;
    this.#callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  #call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    return withinDeadline(what, this.#callTimeoutMs, () => unlessUnavailable(what, operation));
  }

  storedFeedKey(): Promise<Buffer> {
    return this.#call("read feed key", async () => {
      // Two replicas starting together both insert; the loser's row is
      // dropped by "on conflict" and it reads the winner's.
      await this.#sql`
        insert into feed_key (singleton, key) values (true, ${randomBytes(32)})
        on conflict (singleton) do nothing`;
      const [row] = await this.#sql<{ key: Buffer }[]>`select key from feed_key`;
      if (!row) throw new Error("feed_key is empty right after inserting into it");
      return row.key;
    });
  }

  getFeed(userId: string): Promise<FeedRecord | undefined> {
    return this.#call("get feed", async () => {
      const [row] = await this.#sql<FeedRow[]>`
        select ${feedColumns(this.#sql)} from feed_secrets where user_id = ${userId}`;
      return row && toFeed(row);
    });
  }

  putFeed(
    userId: string,
    credential: { nonce: Buffer; secretHash: Buffer },
    now: Date,
    replace: boolean,
  ): Promise<FeedRecord> {
    return this.#call("store feed secret", async () => {
      const at = instant(this.#sql, now);
      const [row] = replace
        ? await this.#sql<FeedRow[]>`
            insert into feed_secrets (user_id, nonce, secret_hash, created_at, etag, changed_at)
            values (${userId}, ${credential.nonce}, ${credential.secretHash}, ${at}, null, ${at})
            on conflict (user_id) do update set
              nonce = excluded.nonce, secret_hash = excluded.secret_hash,
              created_at = excluded.created_at, etag = null, changed_at = excluded.changed_at
            returning ${feedColumns(this.#sql)}`
        : await this.#sql<FeedRow[]>`
            with inserted as (
              insert into feed_secrets (user_id, nonce, secret_hash, created_at, etag, changed_at)
              values (${userId}, ${credential.nonce}, ${credential.secretHash}, ${at}, null, ${at})
              on conflict (user_id) do nothing
              returning ${feedColumns(this.#sql)})
            select * from inserted
            union all
            select ${feedColumns(this.#sql)} from feed_secrets
            where user_id = ${userId} and not exists (select 1 from inserted)`;
      if (row) return toFeed(row);
      // Lost a race to a first call that committed after this statement's
      // snapshot: its row is visible to a new statement.
      const [winner] = await this.#sql<FeedRow[]>`
        select ${feedColumns(this.#sql)} from feed_secrets where user_id = ${userId}`;
      if (!winner) throw new Error("storing a feed secret returned no row");
      return toFeed(winner);
    });
  }

  findFeedBySecretHash(secretHash: Buffer): Promise<FeedRecord | undefined> {
    return this.#call("find feed", async () => {
      const [row] = await this.#sql<FeedRow[]>`
        select ${feedColumns(this.#sql)} from feed_secrets where secret_hash = ${secretHash}`;
      return row && toFeed(row);
    });
  }

  noteServedFeed(userId: string, etag: string, now: Date): Promise<Date> {
    return this.#call("note served feed", async () => {
      // Writes only when the feed changed, so a calendar app polling an
      // unchanged feed costs one read.
      const [row] = await this.#sql<{ changed_ms: number }[]>`
        with updated as (
          update feed_secrets set etag = ${etag}, changed_at = ${instant(this.#sql, now)}
          where user_id = ${userId} and etag is distinct from ${etag}
          returning changed_at)
        select round(extract(epoch from changed_at) * 1000)::float8 as changed_ms from updated
        union all
        select round(extract(epoch from changed_at) * 1000)::float8 from feed_secrets
        where user_id = ${userId} and not exists (select 1 from updated)`;
      return row ? new Date(row.changed_ms) : new Date(now);
    });
  }
}

function feedColumns(sql: Sql) {
  return sql`user_id, nonce, secret_hash, etag,
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
