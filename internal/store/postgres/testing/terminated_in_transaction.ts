// Run as its own process by postgres_store.integration.test.ts: the
// regression test of patches/postgres+3.4.9.patch (porsager/postgres#1154,
// #1208). Unpatched, postgres.js writes the transaction's ROLLBACK to the
// closed socket from a timer and the process dies of an uncaught TypeError
// (a test runner would claim that exception for itself, hence a process of
// its own); and a connection that survived that kept a stale write timer and
// never sent another byte. Here a pool of one connection on DATABASE_URL has
// its backend terminated inside a transaction, three times; after each, the
// pool must answer again. Prints one JSON line per round; exits 0 when all
// went well, 1 otherwise (and Node's crash, if the defect is back).
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { silentLogger } from "../../../log/logger.js";
import { connectWithRetry, serverPoolOptions } from "../connect.js";
import { isConnectionError } from "../errors.js";

const url = process.env.DATABASE_URL;
if (!url) throw new Error("DATABASE_URL is not set");
const applicationName = `cal_test_terminated_${process.pid}`;
const options = serverPoolOptions(silentLogger(), 1);
const sql = await connectWithRetry(
  url,
  { ...options, connection: { ...options.connection, application_name: applicationName } },
  5_000,
  silentLogger(),
);
const admin = postgres(url, { max: 1, onnotice: () => {} });
let ok = true;
for (let round = 1; round <= 3; round++) {
  const inTransaction = sql
    .begin(async (tx) => {
      await tx`select 1`;
      await tx`select pg_sleep(5)`;
    })
    .then(
      () => new Error("the transaction was not cut off"),
      (error: unknown) => error,
    );
  await sleep(300);
  const [terminated] = await admin<{ n: number }[]>`
    select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
    where application_name = ${applicationName}`;
  const cutOff = isConnectionError(await inTransaction);
  const started = performance.now();
  let answered = false;
  while (!answered && performance.now() - started < 5_000) {
    answered = await sql`select 1 as one`.then(
      ([row]) => row?.one === 1,
      () => false,
    );
    if (!answered) await sleep(50);
  }
  const ms = Math.round(performance.now() - started);
  console.log(JSON.stringify({ round, terminated: terminated?.n, cutOff, answered, ms }));
  ok &&= terminated?.n === 1 && cutOff && answered && ms < 3_000;
}
await sql.end({ timeout: 1 });
await admin.end({ timeout: 1 });
process.exit(ok ? 0 : 1);
