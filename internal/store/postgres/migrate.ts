// Applies the schema migrations in ./migrations, in order, once each.
//
// A runner of our own, about sixty lines, instead of a library: none of the
// installed dependencies ships one, and the maintained tools either bring
// their own driver (node-pg-migrate, graphile-migrate: `pg`), or a CLI and
// config of their own, while we want one SQL path (postgres.js) for both the
// real database and embedded PGlite.
//
// Guarantees:
// - each migration runs in its own transaction, together with the row that
//   records it, so a failed one leaves the schema as it was;
// - every transaction first takes a transaction-scoped advisory lock, so any
//   number of processes may migrate at once: the others wait, then see the
//   version recorded and skip it. (Transaction-scoped, not session-scoped:
//   it cannot outlive a dropped connection, which matters for PGlite, where
//   every client shares one backend session.)
// - an applied migration whose SQL has changed since is refused, by checksum.
import { createHash } from "node:crypto";
import type { Sql } from "postgres";
import type { Logger } from "../../log/logger.js";
import { migrations as allMigrations } from "./migrations/index.js";

export interface Migration {
  /** Applied in ascending order; the number in the file name. */
  version: number;
  /** The module's file name without extension, e.g. "0001_events". */
  name: string;
  /** One or more statements; run with the simple protocol, in one transaction. */
  sql: string;
}

/** Thrown when a migration cannot be applied; the message names its file. */
export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MigrationError";
  }
}

// An arbitrary constant that only this runner uses as a lock key.
const MIGRATION_LOCK_KEY = 7_193_505_412_860_337;

export async function runMigrations(
  sql: Sql,
  logger: Logger,
  migrations: readonly Migration[] = allMigrations,
): Promise<{ applied: string[] }> {
  checkOrder(migrations);
  const applied: string[] = [];
  for (const migration of migrations) {
    const started = performance.now();
    const didApply = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::int8)`;
      await tx`
        create table if not exists schema_migrations (
          version    integer     primary key,
          name       text        not null,
          checksum   text        not null,
          applied_at timestamptz not null default now()
        )`;
      const [recorded] = await tx<{ name: string; checksum: string }[]>`
        select name, checksum from schema_migrations where version = ${migration.version}`;
      if (recorded) {
        if (recorded.checksum !== checksum(migration)) {
          throw new MigrationError(
            `migration ${fileOf(migration)} was changed after it was applied (as "${recorded.name}"); ` +
              "add a new migration instead of editing an applied one",
          );
        }
        return false;
      }
      try {
        // Static SQL from our own source tree, never user data; .simple()
        // because a migration may hold several statements.
        await tx.unsafe(migration.sql).simple();
      } catch (error) {
        throw new MigrationError(
          `migration ${fileOf(migration)} failed, nothing of it was applied: ${messageOf(error)}`,
          { cause: error },
        );
      }
      await tx`
        insert into schema_migrations (version, name, checksum)
        values (${migration.version}, ${migration.name}, ${checksum(migration)})`;
      return true;
    });
    if (didApply) {
      applied.push(migration.name);
      logger.info(
        { migration: migration.name, ms: Math.round(performance.now() - started) },
        "migration applied",
      );
    }
  }
  await warnAboutUnknownVersions(sql, logger, migrations);
  return { applied };
}

/**
 * A database migrated by a newer release still works with this one as long
 * as the newer migrations were additive, which is the rule; say so, do not fail.
 */
async function warnAboutUnknownVersions(
  sql: Sql,
  logger: Logger,
  migrations: readonly Migration[],
): Promise<void> {
  const known = migrations.map((m) => m.version);
  const unknown = await sql<{ name: string }[]>`
    select name from schema_migrations
    where not (version = any(${sql.array(known, 23)}::int4[])) order by version`;
  if (unknown.length > 0) {
    logger.warn(
      { migrations: unknown.map((row) => row.name) },
      "database has migrations this release does not know (applied by a newer release?)",
    );
  }
}

function checkOrder(migrations: readonly Migration[]): void {
  for (let i = 1; i < migrations.length; i++) {
    const previous = migrations[i - 1];
    const current = migrations[i];
    if (previous && current && !(current.version > previous.version)) {
      throw new MigrationError(
        `migrations out of order: ${fileOf(current)} comes after ${fileOf(previous)}`,
      );
    }
  }
}

function checksum(migration: Migration): string {
  return createHash("sha256").update(migration.sql).digest("hex");
}

function fileOf(migration: Migration): string {
  return `migrations/${migration.name}.ts`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
