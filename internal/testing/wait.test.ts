import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { waitUntil } from "./wait.js";

describe("waitUntil", () => {
  it("returns the first value the check gives, checking again until then", async () => {
    let calls = 0;
    const value = await waitUntil("the third call", () => (++calls === 3 ? "done" : undefined), {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    assert.equal(value, "done");
    assert.equal(calls, 3);
  });

  it("keeps checking through errors, and names what and why when time runs out", async () => {
    let calls = 0;
    await assert.rejects(
      waitUntil(
        "the broker",
        () => {
          calls++;
          throw new Error("ECONNREFUSED");
        },
        { timeoutMs: 50, intervalMs: 5 },
      ),
      /^Error: the broker: not within 50 ms; last error: ECONNREFUSED$/,
    );
    assert.ok(calls > 1, "checked more than once");
  });

  it("treats falsy values other than undefined as an answer", async () => {
    assert.equal(await waitUntil("zero", () => 0, { timeoutMs: 10 }), 0);
    assert.equal(await waitUntil("false", async () => false, { timeoutMs: 10 }), false);
  });
});
