// calctl as the image ships it: the compiled dist/cmd/calctl.js run by plain
// node (no TypeScript tooling), against api, scheduler and sender on the real
// PostgreSQL and RabbitMQ. `npm run test:integration` builds dist/ first.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Harness, startHarness, until } from "./harness.js";

const BUILT_CALCTL = fileURLToPath(new URL("../../dist/cmd/calctl.js", import.meta.url));

function calctl(apiUrl: string, args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BUILT_CALCTL, ...args],
      { env: { PATH: process.env.PATH ?? "", CAL_URL: apiUrl, CAL_USER: "ops", TZ: "Asia/Tokyo" } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("built calctl against the stack", () => {
  let stack: Harness;
  before(async () => {
    if (!existsSync(BUILT_CALCTL)) {
      throw new Error(`${BUILT_CALCTL} is missing: run \`npm run build\` first`);
    }
    stack = await startHarness();
  });
  after(() => stack?.close());

  it("adds, lists, shows and removes events stored in PostgreSQL", async () => {
    const added = await calctl(stack.apiUrl, [
      "add",
      "Quarterly",
      "review",
      "--at",
      "2030-04-01 10:00",
      "--for",
      "1h30m",
      "--json",
    ]);
    assert.equal(added.code, 0, added.stderr);
    const id: string = JSON.parse(added.stdout).event.id;
    const [row] = await stack.sql`SELECT title, start_time FROM events WHERE id = ${id}`;
    assert.ok(row, `event ${id} is not in the database`);
    assert.equal(row.title, "Quarterly review");
    assert.equal((row.start_time as Date).toISOString(), "2030-04-01T01:00:00.000Z"); // JST is UTC+9

    const month = await calctl(stack.apiUrl, ["month", "2030-04-01"]);
    assert.equal(month.stdout, `Mon 1 Apr 2030\n  10:00-11:30  Quarterly review  ${id}\n`);
    const removed = await calctl(stack.apiUrl, ["rm", id]);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await calctl(stack.apiUrl, ["show", id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /\(not_found\)/);
  });

  it("an event added with --remind is reminded through the scheduler and sender", async () => {
    // Its reminder time is already past, its start still ahead: it goes out at once.
    const start = new Date(Date.now() + 120_000).toISOString();
    const added = await calctl(stack.apiUrl, [
      "add",
      "Soon",
      "--at",
      start,
      "--for",
      "15m",
      "--remind",
      "5m",
      "--json",
    ]);
    assert.equal(added.code, 0, added.stderr);
    const id: string = JSON.parse(added.stdout).event.id;
    await until(
      () => stack.receipts.receipts.some((r) => r.eventId === id && r.userId === "ops"),
      () => `a receipt for ${id}\n${stack.report()}`,
      30_000,
    );
  });
});
