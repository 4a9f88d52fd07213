// A TCP proxy that counts round trips: how many times a client had to wait
// for the database's answer before it could send more. It forwards what the
// client sends at once, but holds the server's answers and hands them over
// only once the connection has been quiet (nothing either way) for QUIET_MS.
// Everything a client sends without waiting (a pipeline, however many
// writes it takes) therefore arrives as one burst, and every burst after
// the first was sent in answer to something: rounds = bursts. Each round
// costs QUIET_MS, so keep what is measured short.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

const QUIET_MS = 30;

export class RoundTripProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;
  #rounds = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  get port(): number {
    return this.#port;
  }

  /** Client bursts since the last reset(), on every connection. */
  get rounds(): number {
    return this.#rounds;
  }

  reset(): void {
    this.#rounds = 0;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("expected a TCP address");
    this.#port = address.port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const upstream = tcpConnect(this.#target.port, this.#target.host);
    this.#sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on("error", end);
      socket.on("close", end);
    }
    let inBurst = false;
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const deliverWhenQuiet = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (held.length === 0) return;
        client.write(Buffer.concat(held));
        held = [];
        inBurst = false;
      }, QUIET_MS);
    };
    client.on("data", (data: Buffer) => {
      if (!inBurst) this.#rounds += 1;
      inBurst = true;
      upstream.write(data);
      deliverWhenQuiet();
    });
    upstream.on("data", (data: Buffer) => {
      held.push(data);
      deliverWhenQuiet();
    });
  }
}
