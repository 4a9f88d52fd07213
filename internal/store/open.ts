// Turns the STORAGE settings into a ready EventStore: memory, a Postgres
// server (DATABASE_URL), or the embedded PGlite under DATA_DIR. The roles in
// internal/app use this and nothing below it.
import type { Sql } from "postgres";
import type { StorageConfig } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { FeedStore } from "./feed_store.js";
import { MemoryFeedStore } from "./memory/memory_feed_store.js";
import { MemoryEventStore } from "./memory/memory_store.js";
import { openDatabase, type PostgresStorage } from "./postgres/connect.js";
import { PostgresFeedStore } from "./postgres/feed_store.js";
import { runMigrations } from "./postgres/migrate.js";
import { PostgresEventStore } from "./postgres/postgres_store.js";
import { type Clock, type EventStore, type ReminderStore, systemClock } from "./store.js";
import type { TombstoneStore } from "./sync.js";

export interface OpenedStore {
  store: EventStore;
  /** The scheduler's view of the same data. */
  reminders: ReminderStore;
  /** The iCalendar feed's credentials, in the same database. */
  feeds: FeedStore;
  /** The sync tombstones, purged by the scheduler's cleanup. */
  tombstones: TombstoneStore;
  /**
   * Set when other processes may write the same database (a PostgreSQL
   * server): the api then LISTENs on it to learn of their changes.
   */
  sharedSql?: Sql;
  /** The pool behind a Postgres store, for other parts that need the database. */
  sql?: Sql;
  /** Releases everything opened here: the pool and the embedded database. */
  close(): Promise<void>;
}

export async function openEventStore(
  storage: StorageConfig,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<OpenedStore> {
  if (storage.kind === "memory") {
    const store = new MemoryEventStore({ clock });
    logger.warn("events are kept in memory and lost when the process exits (STORAGE=memory)");
    return {
      store,
      reminders: store,
      feeds: new MemoryFeedStore(),
      tombstones: store,
      close: () => store.close(),
    };
  }

  const database = await openDatabase(storage, logger);
  try {
    // The embedded database belongs to this process alone, so nobody else
    // could migrate it: always bring it up to date.
    if (database.embedded || storage.migrateOnStart) {
      await runMigrations(database.sql, logger);
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  // A server ends a transaction left idle past its call's deadline; the
  // embedded database's one session is every client's, so it is left alone.
  const store = new PostgresEventStore(database.sql, {
    clock,
    endIdleTransactions: !database.embedded,
    ...(database.statements && { statements: database.statements }),
  });
  return {
    store,
    reminders: store,
    feeds: new PostgresFeedStore(database.sql, {
      endIdleTransactions: !database.embedded,
      ...(database.statements && { statements: database.statements }),
    }),
    tombstones: store,
    sql: database.sql,
    sharedSql: database.embedded ? undefined : database.sql,
    close: () => database.close(),
  };
}

/** The `migrate` role: apply pending migrations, then let go of the database. */
export async function migrateDatabase(
  storage: PostgresStorage,
  logger: Logger,
): Promise<{ applied: string[] }> {
  const database = await openDatabase({ ...storage, poolMax: 1 }, logger);
  try {
    const result = await runMigrations(database.sql, logger);
    logger.info(
      { applied: result.applied },
      result.applied.length > 0 ? "migrations applied" : "database already up to date",
    );
    return result;
  } finally {
    await database.close();
  }
}
