// One RabbitMQ connection that comes back by itself. amqplib 2.x has real
// connection recovery (reconnects with exponential backoff and jitter,
// forever); this adds logging of each attempt and remembers why the last
// one failed. Channels do not survive a reconnect: ManagedChannel reopens them.
import amqp, { type ChannelModel, type RecoveringChannelModel } from "amqplib";
import { redactUrl } from "../../config/env.js";
import type { Logger } from "../../log/logger.js";

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

export const defaultBackoff: BackoffOptions = { initialDelayMs: 250, maxDelayMs: 15_000 };

export class AmqpConnection {
  /** The live connection, or undefined while (re)connecting. */
  current: ChannelModel | undefined;
  /** Why the last attempt failed or the last connection dropped. */
  lastError: Error | undefined;

  /**
   * Never resolves; rejects when the very first attempts fail for a reason
   * retrying cannot fix (bad credentials, no access to the vhost), so startup
   * fails at once instead of at its deadline.
   */
  readonly firstConnect: Promise<never>;
  private refuseFirstConnect: (error: Error) => void = () => {};

  private readonly listeners = new Set<(model: ChannelModel) => void>();

  private constructor(
    private readonly recovering: RecoveringChannelModel,
    readonly safeUrl: string,
  ) {
    this.firstConnect = new Promise<never>((_, reject) => {
      this.refuseFirstConnect = reject;
    });
    this.firstConnect.catch(() => {});
  }

  static async open(options: {
    url: string;
    /** Shown in the management UI's connection list. */
    name: string;
    logger: Logger;
    backoff?: BackoffOptions;
  }): Promise<AmqpConnection> {
    const { logger } = options;
    const safeUrl = redactUrl(options.url);
    const backoff = options.backoff ?? defaultBackoff;
    const recovering = await amqp.connect(options.url, {
      clientProperties: { connection_name: options.name },
      recovery: {
        initialDelay: backoff.initialDelayMs,
        maxDelay: backoff.maxDelayMs,
        factor: 2,
        jitter: 0.2,
        maxRetries: Number.POSITIVE_INFINITY,
        // Return at once: callers wait for their channels instead, with a deadline.
        waitForConnect: false,
      },
    });
    const connection = new AmqpConnection(recovering, safeUrl);
    let everConnected = false;

    recovering.on("connect", (model: ChannelModel) => {
      connection.current = model;
      logger.info(
        { url: safeUrl, connection: options.name },
        everConnected ? "reconnected to RabbitMQ" : "connected to RabbitMQ",
      );
      everConnected = true;
      for (const listener of connection.listeners) listener(model);
    });
    recovering.on("disconnect", (error: Error) => {
      connection.current = undefined;
      connection.lastError = error;
      logger.warn(
        { url: safeUrl, connection: options.name, err: error.message },
        "lost the RabbitMQ connection",
      );
    });
    recovering.on("connect-failed", (error: Error) => {
      connection.lastError = error;
      if (!everConnected && isPermanent(error)) connection.refuseFirstConnect(error);
    });
    recovering.on(
      "reconnect-scheduled",
      ({ attempt, delay, error }: { attempt: number; delay: number; error: Error }) => {
        logger.warn(
          { url: safeUrl, connection: options.name, attempt, delayMs: delay, err: error.message },
          "RabbitMQ unavailable: retrying",
        );
      },
    );
    // An "error" event without a listener would crash the process; the
    // disconnect that follows it is what matters, and is logged above.
    recovering.on("error", (error: Error) => {
      connection.lastError = error;
    });
    recovering.on("blocked", (reason: string) => {
      logger.warn(
        { url: safeUrl, connection: options.name, reason },
        "RabbitMQ blocked publishing",
      );
    });
    recovering.on("unblocked", () => {
      logger.info({ url: safeUrl, connection: options.name }, "RabbitMQ unblocked publishing");
    });
    return connection;
  }

  /** Calls `listener` with every new connection, including the first. */
  onConnect(listener: (model: ChannelModel) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isConnected(): boolean {
    return this.current !== undefined;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.current = undefined;
    await this.recovering.close();
  }
}

/** Errors that no amount of retrying fixes: wrong credentials or a clashing declaration. */
export function isPermanent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (code === 403 || code === 406) return true;
  return /ACCESS[-_]REFUSED|PRECONDITION[-_]FAILED/.test(String((error as Error).message));
}
