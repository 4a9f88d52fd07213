// One process at a time per embedded data directory. PGlite does not check:
// two processes (say the api and a `migrate` run) would both open the files
// and corrupt them. The lock is a file holding the holder's pid.
//
// Every step that two starting processes could interleave is one atomic
// filesystem operation, so that exactly one of them wins:
// - claiming: the pid is written to a file of our own, then hard-linked to
//   the lock's name; link() fails if the name exists. Nobody ever sees the
//   lock without its pid (a file created, then written, could be read empty
//   in between and taken for stale).
// - taking over a stale lock (its holder is gone): the file is renamed away,
//   which only one process can do to one file, and checked to be the stale
//   one; a live claim moved away by mistake (made just after we read the
//   stale pid) is linked back. Then the claim is tried again.
// A third process claiming in the instant a live claim is moved away could
// still slip in; the embedded database is one process on one machine, and
// that needs three starts within a millisecond over a stale lock.
import { randomBytes } from "node:crypto";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import type { Logger } from "../../log/logger.js";

export interface DirLock {
  release(): Promise<void>;
}

export class DataDirInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataDirInUseError";
  }
}

// Lock files this process holds: a file naming our own pid is only ours if
// it is listed here; otherwise an earlier process with the same pid left it
// (containers restart as pid 1 again and again).
const heldHere = new Set<string>();

// Claims and takeovers that keep losing to other processes give up after
// this many tries, naming whoever holds the lock then.
const MAX_ATTEMPTS = 5;

export async function lockDataDir(lockPath: string, logger: Logger): Promise<DirLock> {
  if (heldHere.has(lockPath)) throw inUse(lockPath, process.pid);
  for (let attempt = 1; !(await claim(lockPath)); attempt++) {
    const content = await readFile(lockPath, "utf8").catch(missingAs(undefined));
    if (content === undefined) continue; // released in the meantime: claim again
    const holder = pidIn(content);
    if (isRunning(holder) || attempt >= MAX_ATTEMPTS) throw inUse(lockPath, holder);
    // The holder is gone (a crash, a killed container): take the lock over.
    logger.warn({ lockPath, stalePid: holder }, "removing a stale embedded database lock");
    await removeIfStill(lockPath, content);
  }
  heldHere.add(lockPath);
  return {
    release: async () => {
      if (!heldHere.delete(lockPath)) return;
      await unlink(lockPath).catch(missingAs(undefined));
    },
  };
}

/** Links a file with our pid to `lockPath`; false when the lock exists already. */
async function claim(lockPath: string): Promise<boolean> {
  const mine = uniqueSibling(lockPath, "claim");
  await writeFile(mine, `${process.pid}\n`, { flag: "wx" });
  try {
    await link(mine, lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(mine).catch(missingAs(undefined));
  }
}

/** Removes the lock if it still holds `staleContent`; leaves any newer claim in place. */
async function removeIfStill(lockPath: string, staleContent: string): Promise<void> {
  const moved = uniqueSibling(lockPath, "stale");
  try {
    await rename(lockPath, moved);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // another process took it over
    throw error;
  }
  try {
    const content = await readFile(moved, "utf8");
    if (content !== staleContent) {
      // A live claim, made after we read the stale one: put it back.
      await link(moved, lockPath).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
    }
  } finally {
    await unlink(moved).catch(missingAs(undefined));
  }
}

function uniqueSibling(lockPath: string, purpose: string): string {
  return `${lockPath}.${purpose}.${process.pid}.${randomBytes(6).toString("hex")}`;
}

function pidIn(content: string): number {
  return Number.parseInt(content, 10);
}

function isRunning(pid: number): boolean {
  // Our own pid, but not in heldHere: a leftover, see above.
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user; still running.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function inUse(lockPath: string, pid: number): DataDirInUseError {
  return new DataDirInUseError(
    `the embedded database is in use by process ${Number.isNaN(pid) ? "(unknown)" : pid} ` +
      `(lock file ${lockPath}); stop that process first, or give this one another DATA_DIR`,
  );
}

/** A catch handler: a missing file gives `value`, any other error is rethrown. */
function missingAs<T>(value: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    return value;
  };
}
