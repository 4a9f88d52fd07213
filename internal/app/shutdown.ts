// SIGTERM/SIGINT: stop accepting work, let what is in flight finish, exit 0.
// The whole stop has SHUTDOWN_TIMEOUT: in-flight calls get most of it, the
// rest is kept for closing the broker and the database. A second signal, or
// a stop that outlasts the deadline anyway, exits 1 at once.
import type { Logger } from "../log/logger.js";

/** What closing the broker and the store may take after the last call ended. */
const CLOSE_RESERVE_MS = 2000;

/** Of SHUTDOWN_TIMEOUT, how long in-flight calls may run on. */
export function inFlightGraceMs(shutdownTimeoutMs: number): number {
  return shutdownTimeoutMs - Math.min(CLOSE_RESERVE_MS, shutdownTimeoutMs / 2);
}

export function onShutdownSignal(
  logger: Logger,
  deadlineMs: number,
  stop: () => Promise<void>,
): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, deadlineMs }, "shutting down: finishing in-flight work");
    const deadline = setTimeout(() => {
      logger.error({ deadlineMs }, "shutdown took too long: exiting anyway");
      process.exit(1);
    }, deadlineMs);
    deadline.unref();
    stop().then(
      () => {
        logger.info("stopped cleanly");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", handle);
  process.on("SIGINT", handle);
}
