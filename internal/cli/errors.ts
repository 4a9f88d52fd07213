// What calctl tells the shell: 0 done, 1 the server or the network said no,
// 2 the command line itself was wrong (nothing was sent).
import { Code, ConnectError } from "@connectrpc/connect";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake on the command line: a bad flag value, a missing argument. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** "NotFound" -> "not_found": the code as the Connect protocol spells it. */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/** One line for stderr, and the exit code, for anything a verb threw. */
export function describeFailure(error: unknown, url: string): { line: string; exitCode: number } {
  if (error instanceof UsageError) return { line: error.message, exitCode: EXIT_USAGE };
  if (error instanceof ConnectError) {
    const unreachable =
      error.code === Code.Unavailable &&
      /fetch failed|ECONN|ENOTFOUND|EAI_AGAIN|socket/i.test(
        `${error.rawMessage} ${String(error.cause ?? "")}`,
      );
    const message = unreachable
      ? `cannot reach ${url}: ${causeOf(error) ?? error.rawMessage}`
      : error.rawMessage;
    return { line: `${message} (${codeName(error.code)})`, exitCode: EXIT_FAILED };
  }
  return {
    line: error instanceof Error ? error.message : String(error),
    exitCode: EXIT_FAILED,
  };
}

/** The innermost system error's message, e.g. "connect ECONNREFUSED 127.0.0.1:8080". */
function causeOf(error: unknown): string | undefined {
  let cause: unknown = (error as { cause?: unknown }).cause;
  let found: string | undefined;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    found = cause.message;
    cause = (cause as { cause?: unknown }).cause;
  }
  return found;
}
