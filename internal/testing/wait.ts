// Waiting for something outside the test to happen: a service to come up, a
// log line to appear, a container to turn healthy.
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions {
  timeoutMs: number;
  /** Pause between checks. */
  intervalMs?: number;
}

/**
 * Calls `check` until it returns something other than undefined, and returns
 * that; throws once `timeoutMs` has passed, naming `what` and the last
 * error `check` threw (a check may throw while the thing is still coming up).
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs, intervalMs = 250 }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const why = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
  throw new Error(`${what}: not within ${timeoutMs} ms${why}`);
}
