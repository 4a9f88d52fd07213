// A TCP proxy for outage tests: put it between a client and a database, then
// stop() it to cut every connection and refuse new ones, and start() it again
// on the same port to end the outage.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** The port it listens on (chosen by the OS on the first start). */
  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    if (this.#server) throw new Error("proxy already running");
    const server = createServer((client) => this.#forward(client));
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
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #forward(client: Socket): void {
    const upstream = tcpConnect(this.#target.port, this.#target.host);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      // Either side failing ends both; the errors themselves are expected here.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
