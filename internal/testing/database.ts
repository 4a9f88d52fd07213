// A database of its own for one test run, harness or benchmark, on a shared
// PostgreSQL server, dropped (with force: a killed child may still hold
// connections) when the run ends.
import postgres from "postgres";

export interface ScratchDatabase {
  name: string;
  /** The server's URL with this database as its path. */
  url: string;
  /** Drops the database and closes the admin connection; safe to call twice. */
  drop(): Promise<void>;
}

/** `serverUrl` with `name` as its database. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Creates database `name` on the server of `serverUrl` (its role must be
 * allowed to CREATE DATABASE; the database part of the URL is not used).
 */
export async function createScratchDatabase(
  serverUrl: string,
  name: string,
): Promise<ScratchDatabase> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`create database ${admin(name)}`;
  } catch (error) {
    await admin.end({ timeout: 2 });
    throw error;
  }
  let dropping: Promise<void> | undefined;
  const drop = () => {
    dropping ??= (async () => {
      try {
        await admin`drop database if exists ${admin(name)} with (force)`;
      } finally {
        await admin.end({ timeout: 2 });
      }
    })();
    return dropping;
  };
  return { name, url: databaseUrl(serverUrl, name), drop };
}
