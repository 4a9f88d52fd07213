// Probe (not part of npm run bench): the store's reads with and without the
// pool of one-statement reads, in this process, interleaved rounds at
// concurrency 64: calls/s and this process's CPU per call.
//   node --import tsx bench/read_path_probe.ts
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { silentLogger } from "../internal/log/logger.js";
import { readPoolOptions, serverPoolOptions } from "../internal/store/postgres/connect.js";
import { runMigrations } from "../internal/store/postgres/migrate.js";
import { PostgresEventStore } from "../internal/store/postgres/postgres_store.js";
import { createScratchDatabase } from "../internal/testing/database.js";

const server = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
const db = await createScratchDatabase(server, `cal_probe_${process.pid}`);
const logger = silentLogger();
const sql = postgres(db.url, serverPoolOptions(logger, 10));
const reads = postgres(db.url, readPoolOptions(serverPoolOptions(logger, 10), 3000));
try {
  await runMigrations(sql, logger);
  const users = Array.from({ length: 100 }, (_, i) => `user-${i}`);
  const ids: [string, string][] = [];
  const seed = new PostgresEventStore(sql);
  for (const user of users) {
    for (let d = 0; d < 10; d++) {
      const id = randomUUID();
      const r = await seed.createEvent(user, id, {
        title: "probe",
        start: new Date(Date.UTC(2026, 6, 1 + d, 9)),
        durationMs: 3_600_000,
        description: undefined,
        notifyBeforeMs: undefined,
      });
      if (!r.ok) throw new Error("seed failed");
      ids.push([user, id]);
    }
  }
  const stores = {
    transaction: new PostgresEventStore(sql),
    "one statement": new PostgresEventStore(sql, { reads }),
  };
  const calls = {
    GetEvent: (s: PostgresEventStore, n: number) => {
      const [user, id] = ids[n % ids.length] as [string, string];
      return s.getEvent(user, id);
    },
    ListDay: (s: PostgresEventStore, n: number) =>
      s.listEvents(
        users[n % users.length] as string,
        {
          start: new Date(Date.UTC(2026, 6, 1 + (n % 10))),
          end: new Date(Date.UTC(2026, 6, 2 + (n % 10))),
        },
        1000,
      ),
  };
  const rounds = Number(process.env.ROUNDS ?? 4);
  const seconds = Number(process.env.SECONDS ?? 3);
  for (let round = 0; round < rounds; round++) {
    for (const [callName, call] of Object.entries(calls)) {
      const order =
        round % 2 === 0
          ? (["transaction", "one statement"] as const)
          : (["one statement", "transaction"] as const);
      for (const kind of order) {
        const store = stores[kind];
        let n = 0;
        const until = performance.now() + seconds * 1000;
        const cpu0 = process.cpuUsage();
        const started = performance.now();
        await Promise.all(
          Array.from({ length: 64 }, async () => {
            while (performance.now() < until) await call(store, n++);
          }),
        );
        const elapsed = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpu0);
        console.log(
          `round ${round} ${callName} ${kind}: ${(n / elapsed).toFixed(0)}/s, ${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU/call`,
        );
      }
    }
  }
} finally {
  await Promise.all([sql.end(), reads.end()]);
  await db.drop();
}
