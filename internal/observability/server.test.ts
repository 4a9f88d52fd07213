import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import client from "prom-client";
import { silentLogger } from "../log/logger.js";
import { createReminderMetrics, createRoleRegistry } from "./metrics.js";
import { type HealthResult, startObservabilityServer } from "./server.js";

describe("observability server", async () => {
  const registry = new client.Registry();
  const metrics = createReminderMetrics(registry);
  let health: () => HealthResult | Promise<HealthResult> = () => true;
  const server = await startObservabilityServer({
    host: "127.0.0.1",
    port: 0,
    registry,
    health: () => health(),
    logger: silentLogger(),
    healthTimeoutMs: 100,
  });
  after(() => server.close());

  it("/healthz is 200 while healthy and 503 with the reason when not", async () => {
    health = () => true;
    let res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });

    health = () => ({ healthy: false, reason: "RabbitMQ connection down" });
    res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: "unhealthy", reason: "RabbitMQ connection down" });
  });

  it("/healthz is 503 when the check throws or hangs", async () => {
    health = async () => {
      throw new Error("db down");
    };
    assert.equal((await fetch(`${server.url}/healthz`)).status, 503);
    health = () => new Promise(() => {});
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: "unhealthy", reason: "health check timed out" });
  });

  it("/metrics serves the reminder metrics in Prometheus text format", async () => {
    metrics.delivered.inc();
    metrics.deadLettered.inc({ reason: "malformed" });
    metrics.lateness.observe(1.5);
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await res.text();
    for (const name of [
      "reminders_published_total 0",
      "reminders_confirmed_total 0",
      "reminders_delivered_total 1",
      'reminders_dead_lettered_total{reason="malformed"} 1',
      "reminders_requeued_total 0",
      "scheduler_scan_duration_seconds_count 0",
      "reminder_lateness_seconds_count 1",
    ]) {
      assert.ok(text.includes(name), `missing "${name}" in:\n${text}`);
    }
  });

  it("answers 404 elsewhere", async () => {
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
  });
});

describe("createReminderMetrics", () => {
  it("can be called twice on one registry, and once per registry", () => {
    const registry = createRoleRegistry();
    const first = createReminderMetrics(registry);
    assert.equal(createReminderMetrics(registry).delivered, first.delivered);
    assert.notEqual(createReminderMetrics(createRoleRegistry()).delivered, first.delivered);
  });
});
