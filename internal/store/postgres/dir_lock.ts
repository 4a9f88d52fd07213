// One process at a time per embedded data directory. PGlite does not check:
// two processes (say the api and a `migrate` run) would both open the files
// and corrupt them. A pid file claimed with O_EXCL is enough here, since the
// embedded database is meant for one process on one machine. (Two processes
// starting in the same instant over a stale lock could both take it over;
// that window is accepted.)
import { open, readFile, unlink } from "node:fs/promises";
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

export async function lockDataDir(lockPath: string, logger: Logger): Promise<DirLock> {
  if (heldHere.has(lockPath)) throw inUse(lockPath, process.pid);
  if (!(await claim(lockPath))) {
    const holder = await holderOf(lockPath);
    if (isRunning(holder)) throw inUse(lockPath, holder);
    // The holder is gone (a crash, a killed container): take the lock over.
    logger.warn({ lockPath, stalePid: holder }, "removing a stale embedded database lock");
    await unlink(lockPath).catch(ignoreMissing);
    if (!(await claim(lockPath))) throw inUse(lockPath, await holderOf(lockPath));
  }
  heldHere.add(lockPath);
  return {
    release: async () => {
      if (!heldHere.delete(lockPath)) return;
      await unlink(lockPath).catch(ignoreMissing);
    },
  };
}

/** Creates the lock file with our pid; false when it exists already. */
async function claim(lockPath: string): Promise<boolean> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(lockPath, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await file.writeFile(`${process.pid}\n`);
  } finally {
    await file.close();
  }
  return true;
}

async function holderOf(lockPath: string): Promise<number> {
  const text = await readFile(lockPath, "utf8").catch(() => "");
  return Number.parseInt(text, 10);
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

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
}
