// Typed clients for the concurrency and load files: the generated
// CalendarService client over each protocol the api speaks, each with a
// transport (and so connections) of its own, and every answer read back as
// "ok" or "failed with this code" so callers can classify it.

import type { Client } from "@connectrpc/connect";
import {
  type CallOptions,
  Code,
  ConnectError,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { REQUEST_TIMEOUT_MS } from "./harness.js";

export type Calendar = Client<typeof CalendarService>;

export interface Protocol {
  name: string;
  transport(baseUrl: string): Transport;
}

/**
 * Every way a client reaches the api: Connect (JSON and binary, HTTP/1.1
 * and HTTP/2), gRPC (HTTP/2 cleartext) and gRPC-Web (binary, HTTP/1.1).
 * HTTP/1.1 transports use Node's global agent (keep-alive, as any Node
 * client does); each HTTP/2 transport holds a session of its own.
 */
export const PROTOCOLS: readonly Protocol[] = [
  {
    name: "Connect JSON/HTTP1.1",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  },
  {
    name: "gRPC/h2c",
    transport: (baseUrl) => createGrpcTransport({ baseUrl }),
  },
  {
    name: "Connect binary/h2c",
    transport: (baseUrl) =>
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
  },
  {
    name: "gRPC-Web/HTTP1.1",
    transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  },
  {
    name: "Connect binary/HTTP1.1",
    transport: (baseUrl) =>
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
  },
  {
    name: "Connect JSON/h2c",
    transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }),
  },
];

/** The i-th client of a crowd: protocols taken in turn, a transport of its own. */
export function crowdClient(baseUrl: string, i: number): { client: Calendar; protocol: string } {
  const protocol = PROTOCOLS[i % PROTOCOLS.length] as Protocol;
  return {
    client: createClient(CalendarService, protocol.transport(baseUrl)),
    protocol: protocol.name,
  };
}

/** Call options for `userId` (no x-user-id header when undefined), with the suite's deadline. */
export function as(userId: string | undefined): CallOptions {
  return {
    headers: userId === undefined ? {} : { "x-user-id": userId },
    timeoutMs: REQUEST_TIMEOUT_MS,
  };
}

export type Answer<T> =
  | { ok: true; value: T }
  | { ok: false; code: Code; message: string; error: ConnectError };

/** The call's result, or the code it failed with; never throws. */
export async function answer<T>(call: Promise<T>): Promise<Answer<T>> {
  try {
    return { ok: true, value: await call };
  } catch (thrown) {
    const error = ConnectError.from(thrown);
    return { ok: false, code: error.code, message: error.rawMessage, error };
  }
}

/** "ABORTED", "FAILED_PRECONDITION", ... as gRPC spells them; "OK" for success. */
export function codeName(code: Code | "ok"): string {
  if (code === "ok") return "OK";
  return (Code[code] ?? `code ${code}`).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** How an answer reads in a report: "OK" or "ABORTED: message". */
export function describeAnswer(result: Answer<unknown>): string {
  return result.ok ? "OK" : `${codeName(result.code)}: ${result.message.slice(0, 200)}`;
}
