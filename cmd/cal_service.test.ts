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
      [{ SHUTDOWN_TIMEOUT: "soon" }, /SHUTDOWN_TIMEOUT must be a duration such as/],
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
    assert.equal(code, 1);
    assert.match(stderr, /the scheduler role needs DATABASE_URL/);
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
