// System calls per call, the api against the references (issue 17): on this
// VM a system call on a loopback socket costs tens of microseconds (the
// kernel runs the receiving side's TCP stack in the sender's call), so how
// many each call makes bounds a server as much as its JavaScript does.
// strace -c counts the calls of one server process for a few seconds of
// closed-loop load (strace slows the process: the counts matter, not the
// rate), and each row divides them by the calls answered meanwhile.
//
//   node --import tsx bench/syscalls.ts [--seconds 3] [--concurrency 64]
//
// Needs strace, the local PostgreSQL, and a build (npm run build; this
// script builds dist/bench like the bench does).
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { BenchService, PlainService } from "./bench_service.js";
import {
  leanConnectJsonClient,
  leanGrpcClient,
  type UnaryCall,
  unaryMethod,
} from "./lean_client.js";
import * as setup from "./setup.js";

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64" },
  },
});
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://root@127.0.0.1:5432/postgres";
const PING = unaryMethod(BenchService, "Ping");
const CREATE = unaryMethod(CalendarService, "CreateEvent");
const GET = unaryMethod(CalendarService, "GetEvent");
/** The reference's plain Fastify route. */
const PLAIN = unaryMethod(PlainService, "Ping");

/** Runs strace -c on `pid` until `stop` resolves; the syscall counts by name. */
function countSyscalls(pid: number, stop: Promise<unknown>): Promise<Map<string, number>> {
  const strace = spawn("strace", ["-c", "-f", "-p", String(pid)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let report = "";
  strace.stderr.on("data", (chunk: Buffer) => {
    report += chunk.toString();
  });
  void stop.then(() => strace.kill("SIGINT"));
  return new Promise((resolve, reject) => {
    strace.on("error", reject);
    strace.on("close", () => {
      const counts = new Map<string, number>();
      // % time, seconds, usecs/call, calls, [errors,] syscall
      for (const line of report.split("\n")) {
        const cols = line.trim().split(/\s+/);
        const name = cols.at(-1);
        if (cols.length < 5 || !name || !/^\d/.test(cols[0] ?? "") || name === "total") continue;
        counts.set(name, Number(cols[3]));
      }
      resolve(counts);
    });
  });
}

async function main() {
  const seconds = Number(flags.seconds);
  const concurrency = Number(flags.concurrency);
  const db = await setup.createDatabase(DATABASE_URL, "sys");
  const api = await setup.startApi(db.url);
  const reference = await setup.startReference(db.url);
  const events = await db.sql<{ userId: string; id: string }[]>`
    insert into events (user_id, id, title, start_time, end_time, created_at, updated_at, version)
    select 'sys' || g, gen_random_uuid(), 'seeded',
           timestamptz '2026-12-01 09:00Z', timestamptz '2026-12-01 10:00Z', now(), now(), 1
    from generate_series(1, 1000) g
    returning user_id as "userId", id`;
  const as = (userId: string) => ({ "x-user-id": userId });
  let users = 0;
  const event = {
    title: "sys",
    startTime: timestampFromMs(Date.UTC(2026, 11, 1, 9)),
    duration: durationFromMs(3_600_000),
    notifyBefore: durationFromMs(600_000),
  };
  const cells: [string, string, number, (call: UnaryCall) => (seq: number) => Promise<unknown>][] =
    [];
  for (const [protocol, server] of [
    ["gRPC h2", api],
    ["Connect JSON h1", api],
    ["minimal (JSON h1)", reference],
  ] as const) {
    const ping = server === reference ? PLAIN : PING;
    cells.push([protocol, "empty", server.pid, (call) => () => call(ping, {}, {})]);
    cells.push([
      protocol,
      "GetEvent",
      server.pid,
      (call) => (seq) => {
        const e = events[seq % events.length] as { userId: string; id: string };
        return call(GET, { id: e.id }, as(e.userId));
      },
    ]);
    cells.push([
      protocol,
      "CreateEvent",
      server.pid,
      (call) => {
        const prefix = `sysc${++users}_`;
        return (seq) => call(CREATE, { event }, as(`${prefix}${seq}`));
      },
    ]);
  }
  const rows: string[] = [];
  try {
    for (const [protocol, method, pid, calls] of cells) {
      const url = pid === api.pid ? api.url : reference.url;
      const client = protocol === "gRPC h2" ? leanGrpcClient(url) : leanConnectJsonClient(url);
      // Warm up without strace, then count over a closed loop (fresh users
      // for each loop: a CreateEvent cell's users are its own).
      await setup.runLoad(calls(client.call), {
        concurrency,
        warmupMs: 0,
        durationMs: 1000,
        maxRequests: 1e6,
      });
      let done: () => void = () => {};
      const stopped = new Promise<void>((resolve) => {
        done = resolve;
      });
      const counting = countSyscalls(pid, stopped);
      await new Promise((resolve) => setTimeout(resolve, 300)); // strace attached
      const result = await setup.runLoad(calls(client.call), {
        concurrency,
        warmupMs: 0,
        durationMs: seconds * 1000,
        maxRequests: 1e6,
      });
      done();
      const counts = await counting;
      client.close();
      const answered = result.rps * seconds;
      const per = (names: string[]) =>
        (names.reduce((sum, name) => sum + (counts.get(name) ?? 0), 0) / answered).toFixed(2);
      const total = [...counts.values()].reduce((a, b) => a + b, 0) / answered;
      setup.progress(
        `${protocol} ${method}: ${answered.toFixed(0)} calls, ${total.toFixed(2)}/call, errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}`,
      );
      if (answered === 0) throw new Error(`${protocol} ${method}: no call succeeded`);
      rows.push(
        [
          protocol.padEnd(18),
          method.padEnd(12),
          total.toFixed(2).padStart(6),
          per(["write", "writev", "sendto", "sendmsg"]).padStart(6),
          per(["read", "readv", "recvfrom", "recvmsg"]).padStart(6),
          per(["epoll_wait", "epoll_pwait", "epoll_ctl"]).padStart(6),
          per(["futex"]).padStart(6),
          [...counts]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 4)
            .map(([name, n]) => `${name} ${(n / answered).toFixed(2)}`)
            .join(", "),
        ].join("  "),
      );
    }
  } finally {
    await Promise.all([api.stop(), reference.stop()]);
    await db.drop();
  }
  process.stdout.write(
    `system calls per call (strace -c -f on the serving process, c=${concurrency}, ${seconds} s per cell)\n` +
      `${["server".padEnd(18), "call".padEnd(12), "all".padStart(6), "writes".padStart(6), "reads".padStart(6), "epoll".padStart(6), "futex".padStart(6), "most frequent"].join("  ")}\n` +
      `${rows.join("\n")}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
