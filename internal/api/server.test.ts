// The api as a plain HTTP client sees it (curl, browsers, Prometheus), and
// the behaviour of the server around the RPCs: body limits, health, metrics,
// access logs, hidden internals and graceful shutdown.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { capturingLogger } from "../log/testing/capturing_logger.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import { StoreUnavailableError } from "../store/store.js";
import { clientFor, protocols, startTestServer, type TestServer } from "./testing/test_server.js";

const CREATE_URL = "/calendar.v1.CalendarService/CreateEvent";
const grpc = protocols["gRPC over HTTP/2"] as NonNullable<(typeof protocols)[string]>;

/** POSTs like `curl -H 'content-type: application/json' -H 'x-user-id: ...' -d ...` over HTTP/1.1. */
async function postJson(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-user-id": "alice", ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, text, json: safeJson(text) };
}

function safeJson(text: string): { code?: string; message?: string; [key: string]: unknown } {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

const validEvent = (start: string) =>
  JSON.stringify({ event: { title: "Lunch", startTime: start, duration: "3600s" } });

/** Collects every log line a server writes. */
describe("api server over plain HTTP/1.1 JSON", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("creates an event from a curl-style JSON request", async () => {
    const response = await postJson(server.url, CREATE_URL, validEvent("2026-07-01T12:00:00Z"));
    assert.equal(response.status, 200, response.text);
    const event = response.json.event as Record<string, unknown>;
    assert.equal(event.title, "Lunch");
    assert.equal(event.startTime, "2026-07-01T12:00:00Z");
    assert.equal(event.duration, "3600s");
    assert.equal(event.userId, "alice");
    assert.equal(event.version, 1);
  });

  it("answers malformed JSON with invalid_argument", async () => {
    const response = await postJson(server.url, CREATE_URL, '{"event": {"title": ');
    assert.equal(response.status, 400);
    assert.equal(response.json.code, "invalid_argument");
  });

  it("answers fields of the wrong type with invalid_argument", async () => {
    for (const body of [
      '{"event": {"title": 5, "startTime": "2026-07-01T12:00:00Z", "duration": "60s"}}',
      '{"event": {"title": "x", "startTime": "yesterday", "duration": "60s"}}',
      '{"event": {"title": "x", "startTime": "2026-07-01T12:00:00Z", "duration": 60}}',
      '{"event": "not an object"}',
      '{"unknownField": 1}',
    ]) {
      const response = await postJson(server.url, CREATE_URL, body);
      assert.equal(response.status, 400, body);
      assert.equal(response.json.code, "invalid_argument", body);
    }
  });

  it("names the field for a rule broken in JSON", async () => {
    const response = await postJson(
      server.url,
      CREATE_URL,
      JSON.stringify({
        event: { title: "t".repeat(256), startTime: "2026-07-02T12:00:00Z", duration: "60s" },
      }),
    );
    assert.equal(response.json.code, "invalid_argument");
    assert.match(String(response.json.message), /^event\.title: must be 1 to 255 characters/);
  });

  it("answers a missing x-user-id with unauthenticated", async () => {
    const response = await fetch(server.url + CREATE_URL, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: validEvent("2026-07-03T12:00:00Z"),
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { code: string }).code, "unauthenticated");
  });

  it("refuses a body over 1 MiB with resource_exhausted and keeps serving", async () => {
    const huge = JSON.stringify({
      event: { title: "x", description: "d".repeat(2 * 1024 * 1024) },
    });
    const response = await postJson(server.url, CREATE_URL, huge);
    assert.equal(response.json.code, "resource_exhausted", response.text);
    const after = await postJson(server.url, CREATE_URL, validEvent("2026-07-04T12:00:00Z"));
    assert.equal(after.status, 200);
  });

  it("serves health checks and Prometheus metrics with RPC counts by method and code", async () => {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: "ok" });
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    await postJson(
      server.url,
      "/calendar.v1.CalendarService/GetEvent",
      JSON.stringify({ id: randomUUID() }),
    );
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      metrics,
      /rpc_requests_total\{service="calendar\.v1\.CalendarService",method="GetEvent",code="not_found"\} 1/,
    );
    assert.match(
      metrics,
      /rpc_duration_seconds_bucket\{le="0\.005",service="calendar\.v1\.CalendarService",method="GetEvent",code="not_found"\}/,
    );
    assert.match(metrics, /process_cpu_user_seconds_total/);
    assert.match(metrics, /http_request_duration_seconds/);
    // RPCs are timed once, by rpc_duration_seconds, not again per HTTP route.
    assert.doesNotMatch(metrics, /http_request_duration_seconds\w*\{[^}]*calendar\.v1/);
  });
});

describe("api server over HTTP/2", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("answers grpc.health.v1 Check with SERVING, and NOT_FOUND for an unknown service", async () => {
    const health = clientFor(Health, grpc, server.url, undefined);
    assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal(
      (await health.check({ service: "calendar.v1.CalendarService" })).status,
      HealthCheckResponse_ServingStatus.SERVING,
    );
    await assert.rejects(
      health.check({ service: "nope.v1.Nope" }),
      (e) => ConnectError.from(e).code === Code.NotFound,
    );
  });

  it("serves plain HTTP endpoints to HTTP/2 clients with prior knowledge", async () => {
    const session = http2.connect(server.url);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":path": "/healthz" });
        let data = "";
        stream.on("data", (chunk) => {
          data += chunk;
        });
        stream.on("end", () => resolve(data));
        stream.on("error", reject);
      });
      assert.deepEqual(JSON.parse(body), { status: "ok" });
    } finally {
      session.close();
    }
  });
});

describe("api server errors and lifecycle", () => {
  it("answers an unexpected failure with INTERNAL, logs the detail, and leaks nothing", async () => {
    const store = new MemoryEventStore();
    store.getEvent = async () => {
      throw new Error("relation events_secret does not exist at 10.1.2.3");
    };
    const { logger, lines } = capturingLogger();
    const server = await startTestServer({ store, logger });
    try {
      const client = clientFor(CalendarService, grpc, server.url, "alice");
      const error = await client.getEvent({ id: randomUUID() }).then(
        () => assert.fail("expected INTERNAL"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(error.code, Code.Internal);
      assert.equal(error.rawMessage, "internal error");
      const logged = lines.find((line) => line.msg === "unexpected error in handler");
      assert.match(JSON.stringify(logged), /events_secret/);
    } finally {
      await server.close();
    }
  });

  it("answers a database outage with UNAVAILABLE and reports not ready", async () => {
    const store = new MemoryEventStore();
    const down = async () => {
      throw new StoreUnavailableError("connect ECONNREFUSED 127.0.0.1:5432");
    };
    store.listEvents = down;
    store.ping = down;
    const server = await startTestServer({ store });
    try {
      const client = clientFor(CalendarService, grpc, server.url, "alice");
      await assert.rejects(client.listDayEvents({ date: "2026-07-01" }), (e) => {
        const error = ConnectError.from(e);
        return error.code === Code.Unavailable && !error.rawMessage.includes("ECONNREFUSED");
      });
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 503);
      const health = clientFor(Health, grpc, server.url, undefined);
      assert.equal((await health.check({})).status, HealthCheckResponse_ServingStatus.NOT_SERVING);
    } finally {
      await server.close();
    }
  });

  it("logs one line per RPC with method, protocol, code, duration, user, peer and user agent", async () => {
    const { logger, lines } = capturingLogger();
    const server = await startTestServer({ logger });
    try {
      await postJson(
        server.url,
        "/calendar.v1.CalendarService/GetEvent",
        JSON.stringify({ id: randomUUID() }),
        {
          "user-agent": "curl/8.0",
        },
      );
      await postJson(server.url, CREATE_URL, "{not json");
      const rpcLines = lines.filter((line) => String(line.msg).startsWith("rpc"));
      assert.equal(rpcLines.length, 2, JSON.stringify(lines));
      const [get, malformed] = rpcLines;
      assert.equal(get?.method, "calendar.v1.CalendarService/GetEvent");
      assert.equal(get?.protocol, "connect");
      assert.equal(get?.code, "not_found");
      assert.equal(get?.userId, "alice");
      assert.equal(get?.userAgent, "curl/8.0");
      assert.equal(get?.peer, "127.0.0.1");
      assert.equal(typeof get?.durationMs, "number");
      assert.equal(malformed?.method, "calendar.v1.CalendarService/CreateEvent");
      assert.equal(malformed?.code, "invalid_argument");
    } finally {
      await server.close();
    }
  });

  it("lets an in-flight call finish when the server closes", async () => {
    const store = new MemoryEventStore();
    const realGet = store.getEvent.bind(store);
    let startedCall!: () => void;
    const callStarted = new Promise<void>((resolve) => {
      startedCall = resolve;
    });
    store.getEvent = async (userId, id) => {
      startedCall();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return realGet(userId, id);
    };
    const server = await startTestServer({ store, shutdownTimeoutMs: 5000 });
    const client = clientFor(CalendarService, grpc, server.url, "alice");
    const inFlight = client
      .getEvent({ id: randomUUID() })
      .catch((e: unknown) => ConnectError.from(e));
    await callStarted;
    await server.close();
    const outcome = await inFlight;
    // NOT_FOUND is the handler's real answer: the call ran to completion.
    assert.ok(outcome instanceof ConnectError);
    assert.equal(outcome.code, Code.NotFound);
  });
});
