// The feed across api replicas: PostgreSQL LISTEN/NOTIFY. The 0004_sync
// trigger NOTIFYs calendar_event_changes with the user id in the writing
// transaction, so the wake-up is sent at commit and only if it commits,
// whichever process (api replica, scheduler cleanup) wrote. Every api
// replica LISTENs on one connection and fans the wake-up out to its own
// watchers in process.
//
// Why not a RabbitMQ fanout exchange: the notification would be published
// after the commit by the writer, so a writer that dies in between loses it,
// and the scheduler's cleanup would need a broker publisher for deletions.
// NOTIFY is part of the transaction and needs nothing the stack does not
// already run. Its payload is only a wake-up; watchers read the change log.
import type { Sql } from "postgres";
import type { Logger } from "../log/logger.js";
import { type ChangeFeed, LocalChangeFeed } from "./feed.js";

export const CHANGES_CHANNEL = "calendar_event_changes";

export async function listenChangeFeed(sql: Sql, logger: Logger): Promise<ChangeFeed> {
  const local = new LocalChangeFeed();
  let connectedBefore = false;
  const listening = await sql.listen(
    CHANGES_CHANNEL,
    (userId) => local.publish(userId),
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
