// SIGTERM/SIGINT: stop accepting work, let what is in flight finish, exit 0.
// A second signal, or a stop that outlasts its deadline, exits at once.
import type { Logger } from "../log/logger.js";

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
