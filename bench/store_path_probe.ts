// Probe (not part of npm run bench): the store's reads and single-event
// writes with and without the pool of one-statement calls (so as one
// statement each, or in transactions as on the embedded database), in this
// process, interleaved rounds at concurrency 64: calls/s, this process's
// CPU per call and PostgreSQL's (all its processes on this machine).
//   node --import tsx bench/store_path_probe.ts
//   ROUNDS=4 SECONDS=3 CALLS=CreateEvent,UpdateEvent node --import tsx bench/store_path_probe.ts
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import postgres from "postgres";
import { silentLogger } from "../internal/log/logger.js";
import { serverPoolOptions, statementPoolOptions } from "../internal/store/postgres/connect.js";
import { runMigrations } from "../internal/store/postgres/migrate.js";
import { PostgresEventStore } from "../internal/store/postgres/postgres_store.js";
import { createScratchDatabase } from "../internal/testing/database.js";

const server = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
const db = await createScratchDatabase(server, `cal_probe_${process.pid}`);
const logger = silentLogger();
const sql = postgres(db.url, serverPoolOptions(logger, 10));
const statements = postgres(db.url, statementPoolOptions(serverPoolOptions(logger, 10), 3000));

/** CPU time of every postgres process on this machine so far, in µs. */
function postgresCpuMicros(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).startsWith("postgres"))
        continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10_000; // USER_HZ is 100 on Linux
}
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
    "one statement": new PostgresEventStore(sql, { statements }),
  };
  let created = 0;
  const calls: Record<string, (s: PostgresEventStore, n: number) => Promise<unknown>> = {
    CreateEvent: (s) =>
      s.createEvent(`creator-${++created}`, randomUUID(), {
        title: "probe",
        start: new Date(Date.UTC(2026, 6, 1, 9)),
        durationMs: 3_600_000,
        description: undefined,
        notifyBeforeMs: 600_000,
      }),
    UpdateEvent: (s, n) => {
      // The seeded events of a user are on days 1-10 in order: same day, new title.
      const at = (n * 7919) % ids.length;
      const [user, id] = ids[at] as [string, string];
      return s.updateEvent(
        user,
        id,
        {
          title: `probe ${n}`,
          start: new Date(Date.UTC(2026, 6, 1 + (at % 10), 9)),
          durationMs: 3_600_000,
          description: undefined,
          notifyBeforeMs: undefined,
        },
        undefined,
      );
    },
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
  const only = process.env.CALLS?.split(",");
  const rounds = Number(process.env.ROUNDS ?? 4);
  const seconds = Number(process.env.SECONDS ?? 3);
  for (let round = 0; round < rounds; round++) {
    for (const [callName, call] of Object.entries(calls)) {
      if (only && !only.includes(callName)) continue;
      const order =
        round % 2 === 0
          ? (["transaction", "one statement"] as const)
          : (["one statement", "transaction"] as const);
      for (const kind of order) {
        const store = stores[kind];
        let n = 0;
        const until = performance.now() + seconds * 1000;
        const cpu0 = process.cpuUsage();
        const postgres0 = postgresCpuMicros();
        const started = performance.now();
        await Promise.all(
          Array.from({ length: 64 }, async () => {
            while (performance.now() < until) await call(store, n++);
          }),
        );
        const elapsed = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const postgresCpu = postgresCpuMicros() - postgres0;
        console.log(
          `round ${round} ${callName} ${kind}: ${(n / elapsed).toFixed(0)}/s, ` +
            `${((cpu.user + cpu.system) / n).toFixed(0)} µs CPU/call here, ` +
            `${(postgresCpu / n).toFixed(0)} µs in PostgreSQL`,
        );
      }
    }
  }
} finally {
  await Promise.all([sql.end(), statements.end()]);
  await db.drop();
}
