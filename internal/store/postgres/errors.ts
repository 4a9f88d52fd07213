// Telling "the database is unreachable" apart from every other failure, so
// the API can answer UNAVAILABLE (retry later) only when retrying can help.
import { StoreUnavailableError } from "../store.js";

/** SQLSTATEs the store reacts to. */
export const SqlState = {
  uniqueViolation: "23505",
  exclusionViolation: "23P01",
  serializationFailure: "40001",
  deadlockDetected: "40P01",
  /** Also what statement_timeout raises. */
  queryCanceled: "57014",
  /** The server ended a transaction left idle past idle_in_transaction_session_timeout. */
  idleInTransactionTimeout: "25P03",
} as const;

// Socket errors from node:net and the pseudo-codes postgres.js gives its own
// connection errors.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECTION_CLOSED",
  "CONNECT_TIMEOUT",
]);

// Server-side SQLSTATEs that mean "this server cannot serve you right now".
const UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, recovering)
  "53300", // too_many_connections
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

export function hasSqlState(error: unknown, state: string): boolean {
  return error instanceof Error && error.name === "PostgresError" && codeOf(error) === state;
}

/** True when the error means the database could not be reached or went away. */
export function isConnectionError(error: unknown): boolean {
  // node:net reports a host that resolves to several addresses (localhost:
  // ::1 and 127.0.0.1) as an AggregateError of one error per address.
  if (error instanceof AggregateError) return error.errors.some(isConnectionError);
  const code = codeOf(error);
  if (code === undefined) return false;
  if (CONNECTION_CODES.has(code)) return true;
  if (error instanceof Error && error.name === "PostgresError") {
    return code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code);
  }
  return false;
}

/** Runs `operation`, rethrowing connection failures as StoreUnavailableError. */
export async function unlessUnavailable<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isConnectionError(error)) {
      throw new StoreUnavailableError(`database unavailable (${what}): ${errorMessage(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(errorMessage).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}
