// Types shared by the modules that talk to postgres.js.
import type { ISql } from "postgres";

/** postgres.js's type parameter for "no custom types registered". */
// biome-ignore lint/complexity/noBannedTypes: it is postgres.js's own default, {}.
export type NoCustomTypes = {};

/** What our query helpers accept: the pool or a transaction on it. */
export type Db = ISql<NoCustomTypes>;
