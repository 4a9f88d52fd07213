// A server pool for tests that work in a schema of their own: its
// connections look in `schema` first, then in public, where btree_gist lives.
// With `readsTimeoutMs`, it is a pool of reads as the store opens one: its
// connections carry that timeout as their statement_timeout.
import postgres, { type Sql } from "postgres";
import { silentLogger } from "../../../log/logger.js";
import { readPoolOptions, serverPoolOptions } from "../connect.js";

export function schemaPool(url: string, schema: string, max: number, readsTimeoutMs?: number): Sql {
  const server = serverPoolOptions(silentLogger(), max);
  const options = readsTimeoutMs === undefined ? server : readPoolOptions(server, readsTimeoutMs);
  return postgres(url, {
    ...options,
    connection: { ...options.connection, search_path: `${schema},public` },
  });
}
