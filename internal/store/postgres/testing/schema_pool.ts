// A server pool for tests that work in a schema of their own: its
// connections look in `schema` first, then in public, where btree_gist lives.
import postgres, { type Sql } from "postgres";
import { silentLogger } from "../../../log/logger.js";
import { serverPoolOptions } from "../connect.js";

export function schemaPool(url: string, schema: string, max: number): Sql {
  const options = serverPoolOptions(silentLogger(), max);
  return postgres(url, {
    ...options,
    connection: { ...options.connection, search_path: `${schema},public` },
  });
}
