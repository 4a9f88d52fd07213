import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../log/logger.js";
import { DataDirInUseError, lockDataDir } from "./dir_lock.js";

const logger = silentLogger();
// A pid no process can have (above Linux's pid_max): the lock of a process
// that died.
const DEAD_PID = 999_999_999;

interface Outcome {
  round: number;
  won?: boolean;
  error?: string;
}

/** A dir_lock_racer.ts process, with its answers by round. */
function startRacer(): {
  child: ChildProcessWithoutNullStreams;
  next(round: number): Promise<Outcome>;
} {
  const script = fileURLToPath(new URL("./testing/dir_lock_racer.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script]);
  const waiting = new Map<number, (outcome: Outcome) => void>();
  const arrived = new Map<number, Outcome>();
  createInterface({ input: child.stdout }).on("line", (line) => {
    const outcome = JSON.parse(line) as Outcome;
    const resolve = waiting.get(outcome.round);
    if (resolve) resolve(outcome);
    else arrived.set(outcome.round, outcome);
  });
  return {
    child,
    next: (round) =>
      new Promise((resolve) => {
        const outcome = arrived.get(round);
        if (outcome) resolve(outcome);
        else waiting.set(round, resolve);
      }),
  };
}

describe("embedded data dir lock", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cal_service-lock-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lets exactly one of two processes starting at once have it, with or without a stale lock", async () => {
    const rounds = 150;
    const racers = [startRacer(), startRacer()];
    try {
      for (let round = 0; round < rounds; round++) {
        const lockPath = join(dir, `race-${round}.lock`);
        // Every other round starts over the lock of a process that died,
        // which both take for stale at the same time.
        if (round % 2 === 1) await writeFile(lockPath, `${DEAD_PID}\n`);
        for (const racer of racers) racer.child.stdin.write(`${round} ${lockPath}\n`);
        const outcomes = await Promise.all(racers.map((racer) => racer.next(round)));
        for (const outcome of outcomes) assert.equal(outcome.error, undefined, outcome.error);
        const winners = outcomes.filter((outcome) => outcome.won).length;
        assert.equal(
          winners,
          1,
          `round ${round}${round % 2 ? " (stale lock)" : ""}: ${winners} winners`,
        );
        // The winner's pid is in the file, complete.
        const holder = Number.parseInt(await readFile(lockPath, "utf8"), 10);
        const winner = racers[outcomes.findIndex((outcome) => outcome.won)];
        assert.equal(holder, winner?.child.pid);
      }
    } finally {
      for (const racer of racers) racer.child.kill();
    }
  });

  it("refuses a second holder in the same process, and is free again once released", async () => {
    const lockPath = join(dir, "same-process.lock");
    const lock = await lockDataDir(lockPath, logger);
    await assert.rejects(lockDataDir(lockPath, logger), DataDirInUseError);
    await lock.release();
    const again = await lockDataDir(lockPath, logger);
    await again.release();
  });

  it("takes over a lock whose file a crash left empty", async () => {
    const lockPath = join(dir, "empty.lock");
    await writeFile(lockPath, "");
    const lock = await lockDataDir(lockPath, logger);
    assert.equal(await readFile(lockPath, "utf8"), `${process.pid}\n`);
    await lock.release();
  });
});
