import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { exitOf, freePort, OutputLog, stopChild } from "./process.js";

describe("OutputLog", () => {
  it("parses JSON lines split across chunks and keeps plain text in the text only", () => {
    const log = new OutputLog();
    log.add('{"msg":"one"}\n{"msg":');
    log.add('"two"}\nnot json\n');
    assert.deepEqual(log.lines, [{ msg: "one" }, { msg: "two" }]);
    assert.equal(log.text(), '{"msg":"one"}\n{"msg":"two"}\nnot json\n');
  });

  it("tails the last lines and says how many were left out", () => {
    const log = new OutputLog();
    log.add("a\nb\nc\n");
    assert.equal(log.tail(2), "(... 1 earlier lines)\nb\nc");
    assert.equal(log.tail(5), "a\nb\nc");
  });
});

describe("stopChild", () => {
  it("kills a child that ignores SIGTERM once the grace period is over", async () => {
    const child = spawn(
      process.execPath,
      ["-e", "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    const exited = exitOf(child);
    await new Promise((resolve) => child.stdout.once("data", resolve));
    const result = await stopChild(child, exited, 200);
    assert.deepEqual(result, { code: null, signal: "SIGKILL", timedOut: true });
  });

  it("lets a child that stops on SIGTERM stop on its own", async () => {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      stdio: "ignore",
    });
    const result = await stopChild(child, exitOf(child), 30_000);
    assert.deepEqual(result, { code: null, signal: "SIGTERM", timedOut: false });
  });
});

describe("freePort", () => {
  it("gives a port nothing listens on", async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
  });
});
