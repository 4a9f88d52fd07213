// One of the processes dir_lock.test.ts races against each other: for every
// line "<round> <lockPath>" on stdin it tries lockDataDir(lockPath) at once
// and prints {"round", "won"} (or "error" for anything but "in use"). A lock
// won is held until the process exits, as a running service holds it.
import { createInterface } from "node:readline";
import { silentLogger } from "../../../log/logger.js";
import { DataDirInUseError, lockDataDir } from "../dir_lock.js";

const logger = silentLogger();
for await (const line of createInterface({ input: process.stdin })) {
  const [round, lockPath] = line.split(" ");
  if (!lockPath) continue;
  try {
    await lockDataDir(lockPath, logger);
    console.log(JSON.stringify({ round: Number(round), won: true }));
  } catch (error) {
    console.log(
      JSON.stringify(
        error instanceof DataDirInUseError
          ? { round: Number(round), won: false }
          : { round: Number(round), error: String(error) },
      ),
    );
  }
}
