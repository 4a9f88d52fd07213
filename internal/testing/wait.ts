// Waiting in tests, harnesses and scripts: one polling loop for all of them.
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Polls `condition` every `intervalMs` until it holds; throws after
 * `timeoutMs` naming `what` (a function when the message needs the latest state).
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs: number,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    }
    await sleep(intervalMs);
  }
}

/**
 * Polls `find` until it returns a value; throws after `timeoutMs`, or at once
 * when `gaveUp` returns a reason (say, the process being watched has exited).
 */
export async function untilFound<T>(
  find: () => T | undefined | Promise<T | undefined>,
  what: string | (() => string),
  timeoutMs: number,
  options: { intervalMs?: number; gaveUp?: () => string | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    const reason = options.gaveUp?.();
    if (reason !== undefined) throw new Error(reason);
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    }
    await sleep(options.intervalMs ?? 25);
  }
}

/** Sleeps until the wall clock reaches `at` (ms since the epoch). */
export async function sleepUntil(at: number): Promise<void> {
  const wait = at - Date.now();
  if (wait > 0) await sleep(wait);
}
