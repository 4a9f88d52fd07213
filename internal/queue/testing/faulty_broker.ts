// A Broker whose faults a test switches on and off: publishes that fail, a
// connection reported down. Wraps a real one (usually the MemoryBroker),
// which is left as it is in production.
import type { Broker, Consumer, Publisher } from "../queue.js";

export class FaultyBroker implements Broker {
  #publishFailure: Error | undefined;
  #healthy = true;

  constructor(private readonly inner: Broker) {}

  /** Makes every publish reject with `error` until called again without one. */
  failPublishes(error: Error | undefined): void {
    this.#publishFailure = error;
  }

  /** Makes isHealthy report false (or the inner broker's answer again). */
  setHealthy(healthy: boolean): void {
    this.#healthy = healthy;
  }

  async notificationPublisher(): Promise<Publisher> {
    return this.#failing(await this.inner.notificationPublisher());
  }

  async receiptPublisher(): Promise<Publisher> {
    return this.#failing(await this.inner.receiptPublisher());
  }

  notificationConsumer(options: { prefetch: number }): Consumer {
    return this.inner.notificationConsumer(options);
  }

  isHealthy(): boolean {
    return this.#healthy && this.inner.isHealthy();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  #failing(publisher: Publisher): Publisher {
    return {
      publish: async (message) => {
        if (this.#publishFailure) throw this.#publishFailure;
        return publisher.publish(message);
      },
    };
  }
}
