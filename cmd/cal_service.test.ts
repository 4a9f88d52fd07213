// The executable as an operator meets it: roles, flags, config errors,
// startup and a clean stop on SIGTERM.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { runCalService, startCalService, waitForLog } from "../internal/testing/process.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

describe("cal_service executable", () => {
  it("prints its version", async () => {
    const { code, stdout } = await runCalService(["--version"]);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), pkg.version);
  });

  it("prints usage with every role and variable", async () => {
    const { code, stdout } = await runCalService(["--help"]);
    assert.equal(code, 0);
    for (const word of [
      "api",
      "scheduler",
      "sender",
      "all",
      "migrate",
      "API_PORT",
      "DATABASE_URL",
    ]) {
      assert.ok(stdout.includes(word), word);
    }
  });

  it("refuses an unknown role with usage and exit code 2", async () => {
    const { code, stderr } = await runCalService(["frobnicate"]);
    assert.equal(code, 2);
    assert.match(stderr, /unknown role "frobnicate"/);
  });

  it("names a bad variable and what it accepts in one line, exit code 2", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ API_PORT: "eighty" }, /API_PORT must be an integer from 0 to 65535 \(got "eighty"\)/],
      [{ API_PORT: "70000" }, /API_PORT must be an integer/],
      [
        { LOG_LEVEL: "loud" },
        /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/,
      ],
      [{ STORAGE: "floppy" }, /STORAGE must be one of postgres, memory/],
      [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL must start with postgres:\/\//],
      [{ SHUTDOWN_TIMEOUT: "soon" }, /SHUTDOWN_TIMEOUT must be a duration from 1s to 10m/],
      // Beyond what Node's timers hold (2^31-1 ms), or a poll that would spin.
      [
        { SHUTDOWN_TIMEOUT: "30d" },
        /SHUTDOWN_TIMEOUT must be a duration from 1s to 10m \(got "30d"\)/,
      ],
      [
        { CLEANUP_INTERVAL: "30d" },
        /CLEANUP_INTERVAL must be a duration from 1s to 1d \(got "30d"\)/,
      ],
      [
        { SCHEDULER_POLL_INTERVAL: "0ms" },
        /SCHEDULER_POLL_INTERVAL must be a duration from 10ms to 30s \(got "0ms"\)/,
      ],
    ];
    for (const [env, message] of cases) {
      const { code, stderr } = await runCalService(["api"], env);
      assert.equal(code, 2, JSON.stringify(env));
      assert.match(stderr, message);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
  });

  it("refuses to run the scheduler without a shared database", async () => {
    const { code, stderr } = await runCalService(["scheduler"], { STORAGE: "memory" });
    assert.equal(code, 2);
    assert.match(stderr, /DATABASE_URL must be set for the scheduler/);
  });

  // Without RabbitMQ the scheduler would publish into an in-process queue
  // that nothing in its process consumes, mark every reminder sent and lose it.
  it("refuses to run the scheduler or the sender without AMQP_URL, exit code 2", async () => {
    for (const role of ["scheduler", "sender"]) {
      const started = startCalService([role], {
        DATABASE_URL: "postgres://cal@127.0.0.1:1/cal",
        DB_CONNECT_TIMEOUT: "1s",
        SCHEDULER_PORT: "0",
        SENDER_PORT: "0",
      });
      // A role that does start would run until stopped: give it 20 s.
      const running = setTimeout(() => started.child.kill("SIGKILL"), 20_000);
      const { code } = await started.exited;
      clearTimeout(running);
      const stderr = started.stderr();
      assert.equal(code, 2, `${role}: ${stderr}`);
      assert.match(stderr, new RegExp(`AMQP_URL must be set for the ${role}`));
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
  });

  it("serves the api and stops cleanly with exit code 0 on SIGTERM", async () => {
    const api = startCalService(["api"], {
      STORAGE: "memory",
      API_PORT: "0",
      API_HOST: "127.0.0.1",
    });
    try {
      const listening = await waitForLog(api, (line) => line.msg === "api listening");
      const url = String(listening.url);
      const response = await fetch(`${url}/calendar.v1.CalendarService/ListDayEvents`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-user-id": "alice" },
        body: JSON.stringify({ date: "2026-01-01" }),
      });
      assert.equal(response.status, 200);
      api.child.kill("SIGTERM");
      assert.deepEqual(await api.exited, { code: 0, signal: null });
    } finally {
      api.child.kill("SIGKILL");
    }
  });
});
