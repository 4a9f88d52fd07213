// Run as its own process by postgres_store.test.ts: opens the embedded
// database in the directory given as argv[2], prints how many
// uncaughtException listeners there were before and after, then throws from
// a timer. Node must end the process on that exception (exit code 1 and
// the stack on stderr): the store installs no handler that would keep it
// running on in an unknown state.
import { silentLogger } from "../../../log/logger.js";
import { openDatabase } from "../connect.js";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: uncaught_after_open.ts DATA_DIR");
const listenersBefore = process.listenerCount("uncaughtException");
await openDatabase(
  {
    kind: "postgres",
    databaseUrl: undefined,
    dataDir,
    migrateOnStart: false,
    connectTimeoutMs: 10_000,
    poolMax: 1,
  },
  silentLogger(),
);
const listenersAfter = process.listenerCount("uncaughtException");
console.log(JSON.stringify({ listenersBefore, listenersAfter }));
setImmediate(() => {
  throw new Error("a bug nobody caught");
});
