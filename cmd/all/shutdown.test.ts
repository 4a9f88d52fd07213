// Stopping `cal_service all`: its parts stop together, slow or silent
// clients cannot hold it, and under load it exits 0 within SHUTDOWN_TIMEOUT.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadConfig } from "../../internal/config/config.js";
import { probe } from "../../internal/deploy/healthcheck.js";
import { capturingLogger } from "../../internal/log/testing/capturing_logger.js";
import { startCalService, waitForLog } from "../../internal/testing/process.js";
import { runAll } from "./all.js";

function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.on("error", reject);
  });
}

function createEvent(apiUrl: string, user: string, event: Record<string, unknown>) {
  return fetch(`${apiUrl}/calendar.v1.CalendarService/CreateEvent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-user-id": user },
    body: JSON.stringify({ event }),
  });
}

describe("stopping cal_service all", () => {
  it("stops the scheduler and sender while the api still waits for a slow client, and cuts that client at the deadline", {
    timeout: 30_000,
  }, async (t) => {
    const { logger, lines } = capturingLogger();
    const config = loadConfig({
      STORAGE: "memory",
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SCHEDULER_PORT: "0",
      SENDER_PORT: "0",
      SHUTDOWN_TIMEOUT: "8s",
    });
    assert.ok(config.ok);
    const stop = await runAll(config.value, logger);
    const urlOf = (msg: string) => String(lines.find((line) => line.msg === msg)?.url);
    const apiUrl = urlOf("api listening");
    const schedulerHealth = `${urlOf("scheduler metrics and health listening")}/healthz`;
    const senderHealth = `${urlOf("sender metrics and health listening")}/healthz`;

    // A call whose body never finishes arriving, and a client that never speaks.
    const slow = await openSocket(apiUrl);
    slow.write(
      "POST /calendar.v1.CalendarService/ListDayEvents HTTP/1.1\r\nhost: x\r\n" +
        "content-type: application/json\r\nx-user-id: alice\r\ncontent-length: 100\r\n\r\n{",
    );
    const silent = await openSocket(apiUrl);
    const cut = Promise.all(
      [slow, silent].map((socket) => new Promise((resolve) => socket.once("close", resolve))),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    let stopped = false;
    const started = performance.now();
    const stopping = stop().finally(() => {
      stopped = true;
    });
    // The reminder pipeline does not wait for the api's grace period.
    let pipelineDown = false;
    while (!stopped) {
      const [scheduler, sender] = await Promise.all([
        probe(schedulerHealth, 500),
        probe(senderHealth, 500),
      ]);
      if (scheduler.detail === "ECONNREFUSED" && sender.detail === "ECONNREFUSED") {
        pipelineDown = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(pipelineDown, "scheduler and sender were still up when the api had stopped");
    assert.equal(stopped, false, "the api was still giving its slow client the grace period");

    await stopping;
    await cut;
    const elapsedMs = performance.now() - started;
    t.diagnostic(`stopped in ${Math.round(elapsedMs)} ms (grace for calls: 6000 ms)`);
    assert.ok(elapsedMs < 8000, `stopping took ${Math.round(elapsedMs)} ms, past SHUTDOWN_TIMEOUT`);
  });

  it("exits 0 within SHUTDOWN_TIMEOUT when stopped under load (embedded database)", {
    timeout: 120_000,
  }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "cal-shutdown-"));
    after(() => rmSync(dataDir, { recursive: true, force: true }));
    const shutdownTimeoutMs = 10_000;
    const all = startCalService(["all"], {
      DATA_DIR: dataDir,
      API_HOST: "127.0.0.1",
      API_PORT: "0",
      SCHEDULER_PORT: "0",
      SENDER_PORT: "0",
      SHUTDOWN_TIMEOUT: `${shutdownTimeoutMs}ms`,
      // Busy everywhere: frequent polls, one reminder per pass, and a
      // cleanup that deletes one old event per statement.
      SCHEDULER_POLL_INTERVAL: "10ms",
      SCHEDULER_BATCH_SIZE: "1",
      CLEANUP_INTERVAL: "1s",
      CLEANUP_BATCH_SIZE: "1",
    });
    try {
      const apiUrl = String((await waitForLog(all, (l) => l.msg === "api listening", 60_000)).url);
      await waitForLog(all, (l) => l.msg === "sender metrics and health listening");

      // Clients creating events without pause: some with a reminder due at
      // once, some that ended two years ago (the cleanup's work).
      let running = true;
      let created = 0;
      const client = async (id: number) => {
        for (let i = 0; running; i++) {
          const user = `user-${id}-${i}`;
          const start =
            i % 2 === 0
              ? new Date(Date.now() + 120_000)
              : new Date(Date.now() - 2 * 365 * 86_400_000);
          try {
            const response = await createEvent(apiUrl, user, {
              title: "load",
              startTime: start.toISOString(),
              duration: "600s",
              notifyBefore: "300s",
            });
            if (response.status === 200) created += 1;
            await response.arrayBuffer();
          } catch {
            // The server went away mid-call: expected once it stops.
          }
        }
      };
      const clients = Array.from({ length: 6 }, (_, id) => client(id));
      while (created < 60) await new Promise((resolve) => setTimeout(resolve, 20));

      const signalled = performance.now();
      all.child.kill("SIGTERM");
      const exited = await all.exited;
      const elapsedMs = performance.now() - signalled;
      running = false;
      await Promise.all(clients);
      t.diagnostic(`${created} events created; exited ${Math.round(elapsedMs)} ms after SIGTERM`);

      assert.deepEqual(exited, { code: 0, signal: null }, all.stderr().slice(-2000));
      assert.ok(all.logs.some((l) => l.msg === "stopped cleanly"));
      assert.ok(
        elapsedMs < shutdownTimeoutMs,
        `exited ${Math.round(elapsedMs)} ms after SIGTERM; SHUTDOWN_TIMEOUT is ${shutdownTimeoutMs} ms`,
      );
      assert.ok(
        all.logs.some((l) => l.msg === "reminder delivered"),
        "the load included reminders",
      );
    } finally {
      all.child.kill("SIGKILL");
    }
  });
});
