import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { until, untilFound } from "./wait.js";

describe("until", () => {
  it("returns once the condition holds", async () => {
    let calls = 0;
    await until(() => ++calls >= 3, "three calls", 5_000, 1);
    assert.equal(calls, 3);
  });

  it("fails after the timeout, naming what it waited for", async () => {
    await assert.rejects(
      until(() => false, "the moon", 30, 5),
      {
        message: "timed out after 30 ms waiting for the moon",
      },
    );
  });
});

describe("untilFound", () => {
  it("resolves with the first value found", async () => {
    let calls = 0;
    const found = await untilFound(() => (++calls === 2 ? "here" : undefined), "a value", 5_000, {
      intervalMs: 1,
    });
    assert.equal(found, "here");
  });

  it("gives up at once with the reason, not after the timeout", async () => {
    const started = Date.now();
    await assert.rejects(
      untilFound(() => undefined, "a value", 60_000, { gaveUp: () => "the process exited" }),
      { message: "the process exited" },
    );
    assert.ok(Date.now() - started < 30_000);
  });
});
