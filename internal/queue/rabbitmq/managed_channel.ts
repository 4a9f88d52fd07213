// A channel that is reopened (and prepared again: topology, prefetch,
// consume) whenever it is lost: with its connection, which AmqpConnection
// brings back, or on its own, which RabbitMQ does on a channel-level error
// such as publishing to an exchange someone deleted.
import type { Channel, ChannelModel } from "amqplib";
import type { Logger } from "../../log/logger.js";
import { type AmqpConnection, isPermanent } from "./connection.js";

export interface ManagedChannelOptions<C extends Channel> {
  connection: AmqpConnection;
  /** "publish" or "consume", for log lines. */
  purpose: string;
  create: (model: ChannelModel) => Promise<C>;
  /** Runs on every new channel before it is used. */
  prepare: (channel: C) => Promise<void>;
  logger: Logger;
}

const REOPEN_INITIAL_MS = 250;
const REOPEN_MAX_MS = 10_000;

export class ManagedChannel<C extends Channel> {
  private channel: C | undefined;
  private openingFor: ChannelModel | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private lastError: Error | undefined;
  private readonly unsubscribe: () => void;
  private readonly firstOpen = deferred();

  constructor(private readonly options: ManagedChannelOptions<C>) {
    // Nobody may be awaiting ready() when a permanent error arrives.
    this.firstOpen.promise.catch(() => {});
    this.unsubscribe = options.connection.onConnect((model) => this.open(model));
    const model = options.connection.current;
    if (model) this.open(model);
  }

  /** The open, prepared channel; undefined while it is being (re)opened. */
  current(): C | undefined {
    return this.channel;
  }

  /**
   * Resolves once the channel has been open and prepared for the first time.
   * Rejects after `timeoutMs`, or at once when RabbitMQ refused the topology
   * or the credentials: retrying cannot fix those.
   */
  async ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const why = this.lastError ?? this.options.connection.lastError;
        reject(
          new Error(
            `RabbitMQ at ${this.options.connection.safeUrl} not ready within ${timeoutMs} ms` +
              (why ? `: ${why.message}` : ""),
          ),
        );
      }, timeoutMs);
    });
    try {
      await Promise.race([this.firstOpen.promise, this.options.connection.firstConnect, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    clearTimeout(this.retryTimer);
    const channel = this.channel;
    this.channel = undefined;
    this.firstOpen.reject(new Error("channel closed before it was ready"));
    await channel?.close().catch(() => {});
  }

  private open(model: ChannelModel): void {
    if (this.closed || this.openingFor === model) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.openingFor = model;
    this.openOn(model).finally(() => {
      if (this.openingFor === model) this.openingFor = undefined;
    });
  }

  private async openOn(model: ChannelModel): Promise<void> {
    const { logger, purpose } = this.options;
    let channel: C | undefined;
    try {
      channel = await this.options.create(model);
      const opened = channel;
      // Without an "error" listener a channel error would crash the process;
      // the "close" that always follows is what we act on.
      opened.on("error", (error: Error) => {
        this.lastError = error;
        logger.warn({ purpose, err: error.message }, "RabbitMQ closed a channel");
      });
      opened.on("close", () => this.onClose(opened, model));
      await this.options.prepare(opened);
      if (this.closed || this.options.connection.current !== model) {
        await opened.close().catch(() => {});
        return;
      }
      this.channel = opened;
      this.failures = 0;
      this.firstOpen.resolve();
    } catch (error) {
      this.lastError = error as Error;
      await channel?.close().catch(() => {});
      if (!this.closed && isPermanent(error)) this.firstOpen.reject(error);
      logger.warn({ purpose, err: (error as Error).message }, "could not open a RabbitMQ channel");
      this.retry(model);
    }
  }

  private onClose(channel: C, model: ChannelModel): void {
    if (this.channel === channel) this.channel = undefined;
    this.retry(model);
  }

  // Only while the connection it was for is still the live one: after a
  // connection loss, the reconnect calls open() itself.
  private retry(model: ChannelModel): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const base = Math.min(REOPEN_MAX_MS, REOPEN_INITIAL_MS * 2 ** this.failures);
    this.failures += 1;
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && !this.channel && this.options.connection.current === model) {
        this.open(model);
      }
    }, delay);
  }
}

// Promise.withResolvers arrived in Node 22; we support 20.
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve: () => void = () => {};
  let reject: (e: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
