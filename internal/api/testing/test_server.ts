// Starts a real api server on an ephemeral port for tests, and builds
// clients for each protocol the server speaks.
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { type Logger, silentLogger } from "../../log/logger.js";
import { MemoryEventStore } from "../../store/memory/memory_store.js";
import type { EventStore } from "../../store/store.js";
import { createApiServer } from "../server.js";
import type { WatchSettings } from "../watch.js";

export interface TestServer {
  url: string;
  store: EventStore;
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    store?: EventStore;
    logger?: Logger;
    shutdownTimeoutMs?: number;
    watch?: Partial<WatchSettings>;
  } = {},
): Promise<TestServer> {
  const store = options.store ?? new MemoryEventStore();
  const server = await createApiServer({
    store,
    logger: options.logger ?? silentLogger(),
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 2000,
    watch: options.watch,
  });
  const url = await server.listen("127.0.0.1", 0);
  return { url, store, close: () => server.close() };
}

/** Every way a client can talk to the api, by a name that shows in test titles. */
export const protocols: Record<
  string,
  (baseUrl: string, interceptors: Interceptor[]) => Transport
> = {
  "Connect JSON over HTTP/1.1": (baseUrl, interceptors) =>
    createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors }),
  "Connect binary over HTTP/2": (baseUrl, interceptors) =>
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors }),
  "gRPC over HTTP/2": (baseUrl, interceptors) => createGrpcTransport({ baseUrl, interceptors }),
  "gRPC-Web over HTTP/1.1": (baseUrl, interceptors) =>
    createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
};

/** A client that sends `x-user-id: userId` (or no header when userId is undefined). */
export function clientFor<S extends DescService>(
  service: S,
  transport: (baseUrl: string, interceptors: Interceptor[]) => Transport,
  baseUrl: string,
  userId: string | undefined,
): Client<S> {
  const asUser: Interceptor = (next) => (req) => {
    if (userId !== undefined) req.header.set("x-user-id", userId);
    return next(req);
  };
  return createClient(service, transport(baseUrl, [asUser]));
}
