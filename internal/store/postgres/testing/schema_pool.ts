// A server pool for tests that work in a schema of their own: its
// connections look in `schema` first, then in public, where btree_gist lives.
// With `statementTimeoutMs`, it is a pool of one-statement calls as the
// store opens one: its connections carry that timeout as their
// statement_timeout.
import postgres, { type Sql } from "postgres";
import { silentLogger } from "../../../log/logger.js";
import { serverPoolOptions, statementPoolOptions } from "../connect.js";

export function schemaPool(
  url: string,
  schema: string,
  max: number,
  statementTimeoutMs?: number,
): Sql {
  const server = serverPoolOptions(silentLogger(), max);
  const options =
    statementTimeoutMs === undefined ? server : statementPoolOptions(server, statementTimeoutMs);
  return postgres(url, {
    ...options,
    connection: { ...options.connection, search_path: `${schema},public` },
  });
}
