// The feed across api replicas: PostgreSQL LISTEN/NOTIFY on one channel.
//
// Each api announces the users it wrote for after its writes commit
// (`announcer`), batched into one NOTIFY per round trip; every api replica
// LISTENs on one connection and wakes its own watchers of those users.
// Why not NOTIFY inside the write (a trigger): a transaction that NOTIFYs
// holds a cluster-wide lock through its commit, which serialised every
// write (see migrations/0004_sync.ts). Why not a RabbitMQ fanout exchange:
// NOTIFY needs nothing the api does not already hold (its database), and
// the api role runs without RabbitMQ.
//
// A wake-up can be lost (the writer dies between commit and NOTIFY; the
// scheduler's cleanup deletes without announcing; the LISTEN connection
// drops): watchers then catch up at their next heartbeat, when they read
// the change log anyway. The change log is the truth; NOTIFY only cuts the
// wait.
import type { Sql } from "postgres";
import type { Logger } from "../log/logger.js";
import { type ChangeFeed, LocalChangeFeed } from "./feed.js";

export const CHANGES_CHANNEL = "calendar_event_changes";
// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD = 7000;

export async function listenChangeFeed(sql: Sql, logger: Logger): Promise<ChangeFeed> {
  const local = new LocalChangeFeed();
  let connectedBefore = false;
  const listening = await sql.listen(
    CHANGES_CHANNEL,
    (payload) => {
      let users: unknown;
      try {
        users = JSON.parse(payload);
      } catch {
        users = undefined;
      }
      if (!Array.isArray(users)) return local.publishAll();
      for (const user of users) if (typeof user === "string") local.publish(user);
    },
    () => {
      // postgres.js calls this on every (re)connection of the LISTEN
      // connection. NOTIFYs sent while it was down are lost: wake everyone
      // so each watcher reads what it may have missed.
      if (connectedBefore) {
        logger.info("change notifications reconnected; waking every watcher");
        local.publishAll();
      }
      connectedBefore = true;
    },
  );
  return {
    subscribe: (userId, wake) => local.subscribe(userId, wake),
    generation: (userId) => local.generation(userId),
    async close() {
      await listening.unlisten().catch(() => {});
      await local.close();
    },
  };
}

/**
 * Announces committed writes to every replica: the users written for since
 * the last NOTIFY go out together in one, as soon as the previous one is
 * done. A failed NOTIFY is logged and dropped (watchers catch up at their
 * heartbeat).
 */
export function changeAnnouncer(sql: Sql, logger: Logger): { publish(userId: string): void } {
  let pending = new Set<string>();
  let sending = false;
  const flush = async () => {
    sending = true;
    try {
      while (pending.size > 0) {
        const users = [...pending];
        pending = new Set();
        for (const batch of batches(users)) {
          await sql`select pg_notify(${CHANGES_CHANNEL}, ${JSON.stringify(batch)})`.catch(
            (error: unknown) =>
              logger.warn({ err: error }, "could not announce changes to watchers"),
          );
        }
      }
    } finally {
      sending = false;
    }
  };
  return {
    publish(userId) {
      pending.add(userId);
      if (!sending) void flush();
    },
  };
}

function* batches(users: string[]): Generator<string[]> {
  let batch: string[] = [];
  let size = 2;
  for (const user of users) {
    const cost = JSON.stringify(user).length + 1;
    if (batch.length > 0 && size + cost > MAX_PAYLOAD) {
      yield batch;
      batch = [];
      size = 2;
    }
    batch.push(user);
    size += cost;
  }
  if (batch.length > 0) yield batch;
}
