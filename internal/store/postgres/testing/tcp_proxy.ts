// A TCP proxy for outage tests: put it between a client and a database, then
// stop() it to cut every connection and refuse new ones, and start() it again
// on the same port to end the outage. Or blackhole() it: connections stay
// open and new ones are accepted, but nothing is forwarded either way, as
// when a network path silently drops packets; heal() forwards again,
// including what was sent meanwhile, as TCP does once a partition ends.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/** One proxied connection; `upstream` is missing for one accepted while black-holing. */
interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<Pair>();
  #server: Server | undefined;
  #port = 0;
  #blackholed = false;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** The port it listens on (chosen by the OS on the first start). */
  get port(): number {
    return this.#port;
  }

  /** Connections open through the proxy right now (black-holed ones included). */
  get connections(): number {
    return this.#pairs.size;
  }

  async start(): Promise<void> {
    if (this.#server) throw new Error("proxy already running");
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("expected a TCP address");
    this.#port = address.port;
    this.#server = server;
  }

  /** Destroys every proxied connection and stops listening. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#blackholed = false;
    for (const pair of this.#pairs) this.#destroy(pair);
    this.#pairs.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Stops forwarding in both directions without closing anything: open
   * connections go silent, new ones are accepted and never answered.
   */
  blackhole(): void {
    this.#blackholed = true;
    for (const { client, upstream } of this.#pairs) {
      client.unpipe();
      client.pause();
      upstream?.unpipe();
      upstream?.pause();
    }
  }

  /** Forwards again on every connection, delivering what waited meanwhile. */
  heal(): void {
    this.#blackholed = false;
    for (const pair of this.#pairs) this.#pipe(pair);
  }

  #accept(client: Socket): void {
    const pair: Pair = { client, upstream: undefined };
    this.#pairs.add(pair);
    // Either side going away ends both; the errors themselves are expected here.
    client.on("error", () => this.#destroy(pair));
    client.on("close", () => this.#destroy(pair));
    if (this.#blackholed) {
      client.pause();
      return;
    }
    this.#pipe(pair);
  }

  #pipe(pair: Pair): void {
    if (pair.client.destroyed) return;
    if (!pair.upstream) {
      const upstream = tcpConnect(this.#target.port, this.#target.host);
      upstream.on("error", () => this.#destroy(pair));
      upstream.on("close", () => this.#destroy(pair));
      pair.upstream = upstream;
    }
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  }

  #destroy(pair: Pair): void {
    this.#pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
