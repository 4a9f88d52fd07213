// The stack-level suite: retention (shared setup and helpers in ./stack.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import {
  CLEANUP_WAIT_MS,
  client,
  createOk,
  env,
  expectError,
  expectStored,
  HOUR,
  RUN,
  rowOf,
  tsMs,
  until,
  user,
  useStack,
} from "./stack.js";

useStack();

describe(`cal_service stack at ${env.API_URL} (run ${RUN}): retention`, {
  concurrency: true,
}, () => {
  it("an event that ended more than a year ago disappears; one that ended 11 months ago stays", {
    timeout: CLEANUP_WAIT_MS + 30_000,
  }, async (t) => {
    const u = user("retention");
    const c = client(u);
    const monthsAgo = (months: number) => {
      const at = new Date();
      at.setUTCMonth(at.getUTCMonth() - months);
      return at.getTime();
    };
    // The recent one first: once the old one is gone, a cleanup pass has
    // run after both existed.
    const recentEnd = monthsAgo(11);
    const recent = await createOk(c, {
      title: "11 months ago",
      start: recentEnd - HOUR,
      durationMs: HOUR,
    });
    await expectStored(u, recent);
    const oldEnd = monthsAgo(13);
    const old = await createOk(c, {
      title: "13 months ago",
      start: oldEnd - HOUR,
      durationMs: HOUR,
    });
    // Not checked in the database: a cleanup pass may already have removed it.
    assert.equal(tsMs(old.startTime), oldEnd - HOUR);

    const started = Date.now();
    await until(
      async () => (await rowOf(u, old.id)) === undefined,
      () =>
        `the event that ended 13 months ago (${new Date(oldEnd).toISOString()}) is still stored after ${CLEANUP_WAIT_MS} ms. ` +
        "The scheduler deletes old events at start and then every CLEANUP_INTERVAL (default 1h): " +
        "the stack under test must run it with a short one (compose.yaml, scheduler environment).",
      CLEANUP_WAIT_MS,
      250,
    );
    t.diagnostic(`old event deleted ${Date.now() - started} ms after it was created`);
    await expectError(c.getEvent({ id: old.id }), Code.NotFound, /not found/);
    await expectStored(u, recent);
    const { event: stillThere } = await c.getEvent({ id: recent.id });
    assert.deepEqual(stillThere, recent);
  });
});
