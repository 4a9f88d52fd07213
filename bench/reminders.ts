// The reminder pipeline on the real PostgreSQL and RabbitMQ: scheduler and
// sender as `cal_service` child processes run from the built executable
// (dist/, with the Dockerfile's NODE_OPTIONS, as deployed; default settings), with AMQP names
// of this run's own. (1) N reminders due at once, drained to the sender,
// beside a raw amqplib loop on the same broker; (2) a steady rate, lateness
// read off the sender's "reminder delivered" log lines; (3) scale-out: a
// second scheduler and a second sender join, N more fall due at once, and
// the deliveries are counted by event across both senders (duplicates: 0
// expected in normal operation).
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import type { Sql } from "postgres";
import {
  buildOnce,
  createDatabase,
  DEPLOYED_NODE_OPTIONS,
  progress,
  runId,
  startCoreCount,
} from "./setup.js";
import { percentile, sortedCopy } from "./stats.js";

export interface RemindersReport {
  reminders: number;
  drainPerSecond: number;
  rawPerSecond: number;
  steadyRate: number;
  steadySeconds: number;
  lateness: { count: number; p50Ms: number; p99Ms: number; maxMs: number };
  /** Longest time without a steady delivery, once they had begun: a stall shows here. */
  longestGapMs: number;
  /** The least time any second's steady reminders were committed before they fell due. */
  steadyMinLeadMs: number;
  /** warn/error log lines of the scheduler and sender (first 20), to explain a stall. */
  warnings: string[];
  /** Cores kept busy during the raw loop and during the drain, by process group. */
  rawCores: Record<string, number>;
  drainCores: Record<string, number>;
  /** The same drain with two schedulers and two senders. */
  replicated: {
    drainPerSecond: number;
    /** Deliveries beyond the first for the same event, across both senders. */
    duplicates: number;
    /** Events delivered at least once (of `reminders`). */
    delivered: number;
    cores: Record<string, number>;
  };
}

/** The services both loops lean on, by command name. */
const SERVICES = { rabbitmq: "beam.smp", postgres: "postgres" };

export function formatCores(cores: Record<string, number>): string {
  return Object.entries(cores)
    .map(([label, n]) => `${label} ${n.toFixed(2)}`)
    .join(", ");
}

const warnings: string[] = [];
const ENTRY = fileURLToPath(new URL("../dist/cmd/cal_service.js", import.meta.url));

/** Due at `notifyAt(g)`, events starting 2 h later; one user per 10,000 rows, no overlaps. */
async function insertReminders(
  sql: Sql,
  count: number,
  title: string,
  firstMs: number,
  stepMs: number,
  users = title,
) {
  await sql`
    insert into events (user_id, id, title, start_time, end_time, notify_before_ms, notify_at,
                        created_at, updated_at, version)
    select ${users} || (g % 10000), gen_random_uuid(), ${title},
           n + interval '2 hours' + (g / 10000) * interval '1 hour',
           n + interval '2 hours 30 minutes' + (g / 10000) * interval '1 hour',
           extract(epoch from interval '2 hours' + (g / 10000) * interval '1 hour')::int8 * 1000,
           n, now(), now(), 1
    from generate_series(0, ${count - 1}) g,
         lateral (select timestamptz 'epoch' + (${firstMs}::int8 + (g * ${stepMs})::int8) * interval '1 millisecond' as n) t`;
}

interface Role {
  child: ChildProcess;
  url: Promise<string>;
  onDelivered: (line: string) => void;
}

function startRole(
  role: "scheduler" | "sender",
  env: Record<string, string>,
  onLine?: (line: string) => void,
): Role {
  buildOnce();
  const child = spawn(process.execPath, [ENTRY, role], {
    env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: DEPLOYED_NODE_OPTIONS, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  process.on("exit", () => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  const url = new Promise<string>((resolve, reject) => {
    lines.on("line", (line) => {
      onLine?.(line);
      if (/"level":"(warn|error|fatal)"/.test(line) && warnings.length < 20) warnings.push(line);
      if (line.includes("metrics and health listening")) resolve(JSON.parse(line).url);
    });
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
  return { child, url, onDelivered: () => {} };
}

async function delivered(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return Number(/^reminders_delivered_total (\S+)/m.exec(text)?.[1] ?? 0);
}

/** The deliveries of one group of reminders, by event, as the senders log them. */
class Deliveries {
  readonly #byEvent = new Map<string, number>();
  /** performance.now() when the last event got its first delivery. */
  lastFirstAt = 0;

  record(eventId: string): void {
    const before = this.#byEvent.get(eventId) ?? 0;
    this.#byEvent.set(eventId, before + 1);
    if (before === 0) this.lastFirstAt = performance.now();
  }

  /** Events delivered at least once. */
  get size(): number {
    return this.#byEvent.size;
  }

  /** Deliveries beyond the first of each event. */
  duplicates(): number {
    let extra = 0;
    for (const n of this.#byEvent.values()) extra += n - 1;
    return extra;
  }
}

/** Publish with confirms (persistent, up to 500 unconfirmed) and consume with acks (prefetch 50). */
async function rawLoop(url: string, queue: string, count: number): Promise<number> {
  const pub = await amqp.connect(url);
  const sub = await amqp.connect(url);
  try {
    const ch = await pub.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
    const consumer = await sub.createChannel();
    await consumer.prefetch(50);
    let acked = 0;
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    await consumer.consume(queue, (m) => {
      if (!m) return;
      consumer.ack(m);
      if (++acked === count) resolveDone();
    });
    const body = Buffer.from(
      JSON.stringify({
        eventId: "x".repeat(36),
        userId: "u",
        title: "raw",
        startTime: new Date().toISOString(),
        notifyAt: new Date().toISOString(),
      }),
    );
    const started = performance.now();
    let inFlight = 0;
    for (let i = 0; i < count; i++) {
      while (inFlight >= 500) await sleep(1);
      inFlight += 1;
      ch.publish(
        "",
        queue,
        body,
        { persistent: true, messageId: String(i), contentType: "application/json" },
        () => {
          inFlight -= 1;
        },
      );
    }
    await done;
    const seconds = (performance.now() - started) / 1000;
    await ch.deleteQueue(queue);
    return count / seconds;
  } finally {
    await pub.close().catch(() => {});
    await sub.close().catch(() => {});
  }
}

export async function runRemindersBench(
  baseUrl: string,
  amqpUrl: string,
  options: { reminders: number; steadyRate: number; steadySeconds: number },
): Promise<RemindersReport> {
  const prefix = `cal_bench_${runId}`;
  const names = {
    AMQP_NOTIFICATIONS_EXCHANGE: `${prefix}.notifications`,
    AMQP_NOTIFICATIONS_QUEUE: `${prefix}.notifications`,
    AMQP_DEAD_LETTER_EXCHANGE: `${prefix}.dead-letter`,
    AMQP_DEAD_LETTER_QUEUE: `${prefix}.notifications.dead`,
    AMQP_STATUS_EXCHANGE: `${prefix}.status`,
  };
  progress(`reminders: raw amqplib loop, ${options.reminders} messages`);
  const rawMeter = startCoreCount({ ...SERVICES, bench: [process.pid] });
  const rawPerSecond = await rawLoop(amqpUrl, `${prefix}.raw`, options.reminders);
  const rawCores = rawMeter();
  progress(`reminders: raw loop ${rawPerSecond.toFixed(0)}/s; cores busy ${formatCores(rawCores)}`);

  const db = await createDatabase(baseUrl, "rem");
  const env = {
    ...names,
    DATABASE_URL: db.url,
    AMQP_URL: amqpUrl,
    API_HOST: "127.0.0.1",
    SCHEDULER_PORT: "0",
    SENDER_PORT: "0",
    LOG_LEVEL: "info",
  };
  const lateness: number[] = [];
  const arrivals: number[] = [];
  /** Deliveries of the drain, and of the scale-out cell across both senders. */
  const drainDeliveries = new Deliveries();
  const replicaDeliveries = new Deliveries();
  const onDelivery = (line: string) => {
    if (!line.includes("reminder delivered")) return;
    if (line.includes('"title":"steady"')) {
      lateness.push(JSON.parse(line).latenessMs);
      arrivals.push(performance.now());
    } else if (line.includes('"title":"drain"')) {
      drainDeliveries.record((JSON.parse(line) as { eventId: string }).eventId);
    } else if (line.includes('"title":"replicas"')) {
      replicaDeliveries.record((JSON.parse(line) as { eventId: string }).eventId);
    }
  };
  const sender = startRole("sender", env, onDelivery);
  const scheduler = startRole("scheduler", env);
  const replicas: Role[] = [];
  try {
    const metrics = await sender.url;
    await scheduler.url;

    progress(`reminders: inserting ${options.reminders} reminders due now`);
    await insertReminders(db.sql, options.reminders, "drain", Date.now() - 1000, 0);
    const started = performance.now();
    const drainMeter = startCoreCount({
      ...SERVICES,
      scheduler: [scheduler.child.pid ?? 0],
      sender: [sender.child.pid ?? 0],
      bench: [process.pid],
    });
    let seen = 0;
    while (seen < options.reminders || drainDeliveries.size < options.reminders) {
      await sleep(1000);
      seen = await delivered(metrics);
      progress(`reminders: drained ${seen}/${options.reminders}`);
      if (performance.now() - started > 600_000) throw new Error("drain did not finish in 10 min");
    }
    // Up to the last delivery's log line, not the poll that saw it: the raw
    // loop stops its clock at its last ack, and a poll a second apart would
    // add up to a second to the drain's time.
    const drainPerSecond = options.reminders / ((drainDeliveries.lastFirstAt - started) / 1000);
    const drainCores = drainMeter();
    progress(
      `reminders: drain ${drainPerSecond.toFixed(0)}/s; cores busy ${formatCores(drainCores)}`,
    );

    const steady = options.steadyRate * options.steadySeconds;
    const first = Date.now() + STEADY_LEAD_MS;
    progress(`reminders: ${steady} due at ${options.steadyRate}/s over ${options.steadySeconds} s`);
    const fed = feedSteady(db.sql, options, first);
    const deadline = first + options.steadySeconds * 1000 + 30_000;
    while (lateness.length < steady && Date.now() < deadline) {
      await sleep(1000);
      progress(`reminders: steady ${lateness.length}/${steady} delivered`);
    }
    const minLeadMs = await fed;
    const replicated = await drainWithReplicas(
      db.sql,
      options.reminders,
      { scheduler, sender },
      () => {
        const more = [startRole("sender", env, onDelivery), startRole("scheduler", env)];
        replicas.push(...more);
        return more as [Role, Role];
      },
      replicaDeliveries,
    );
    const sorted = sortedCopy(lateness);
    const longestGapMs = arrivals.reduce(
      (gap, t, i) => Math.max(gap, t - (arrivals[i - 1] ?? t)),
      0,
    );
    return {
      reminders: options.reminders,
      drainPerSecond,
      rawPerSecond,
      steadyRate: options.steadyRate,
      steadySeconds: options.steadySeconds,
      lateness: {
        count: sorted.length,
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
        maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      },
      longestGapMs,
      steadyMinLeadMs: minLeadMs,
      warnings,
      rawCores,
      drainCores,
      replicated,
    };
  } finally {
    for (const role of [scheduler, sender, ...replicas]) role.child.kill("SIGTERM");
    await sleep(2000);
    const conn = await amqp.connect(amqpUrl);
    try {
      const ch = await conn.createChannel();
      for (const q of [names.AMQP_NOTIFICATIONS_QUEUE, names.AMQP_DEAD_LETTER_QUEUE])
        await ch.deleteQueue(q);
      for (const x of [
        names.AMQP_NOTIFICATIONS_EXCHANGE,
        names.AMQP_DEAD_LETTER_EXCHANGE,
        names.AMQP_STATUS_EXCHANGE,
      ])
        await ch.deleteExchange(x);
    } finally {
      await conn.close().catch(() => {});
    }
    await db.drop();
  }
}

/** How long before its reminders fall due each second's events are created. */
const STEADY_LEAD_MS = 3000;

/**
 * The steady phase's events, created as a calendar's would be: each second's
 * `steadyRate` reminders are inserted STEADY_LEAD_MS before they fall due
 * (one statement each, users of their own, so nothing overlaps). Inserting
 * all 60,000 at once took longer than the lead itself, so the first
 * reminders were already late when they were committed, and the lateness
 * measured the insert. Resolves with the smallest lead any second's insert
 * kept (committed this long before its first reminder was due); a negative
 * lead makes the lateness figures meaningless, and the report says so.
 */
async function feedSteady(
  sql: Sql,
  options: { steadyRate: number; steadySeconds: number },
  firstMs: number,
): Promise<number> {
  let minLeadMs = Number.POSITIVE_INFINITY;
  for (let second = 0; second < options.steadySeconds; second++) {
    const dueMs = firstMs + second * 1000;
    await sleep(Math.max(0, dueMs - STEADY_LEAD_MS - Date.now()));
    const stepMs = 1000 / options.steadyRate;
    await insertReminders(sql, options.steadyRate, "steady", dueMs, stepMs, `steady${second}_`);
    minLeadMs = Math.min(minLeadMs, dueMs - Date.now());
  }
  return minLeadMs;
}

/**
 * A second sender and a second scheduler join the running pair; `count`
 * reminders fall due at once and are drained by all four. Deliveries are
 * counted by event across both senders' log lines; after the last event
 * arrives, two more seconds catch late duplicates.
 */
async function drainWithReplicas(
  sql: Sql,
  count: number,
  first: { scheduler: Role; sender: Role },
  startPair: () => [Role, Role],
  deliveries: Deliveries,
): Promise<RemindersReport["replicated"]> {
  const [sender2, scheduler2] = startPair();
  await Promise.all([sender2.url, scheduler2.url]);
  progress(`reminders: two schedulers and two senders; inserting ${count} due now`);
  await insertReminders(sql, count, "replicas", Date.now() - 1000, 0);
  const started = performance.now();
  const meter = startCoreCount({
    ...SERVICES,
    schedulers: [first.scheduler.child.pid ?? 0, scheduler2.child.pid ?? 0],
    senders: [first.sender.child.pid ?? 0, sender2.child.pid ?? 0],
    bench: [process.pid],
  });
  while (deliveries.size < count) {
    await sleep(1000);
    progress(`reminders: replicas drained ${deliveries.size}/${count}`);
    if (performance.now() - started > 600_000) break;
  }
  const drainPerSecond = deliveries.size / ((deliveries.lastFirstAt - started) / 1000);
  const cores = meter();
  await sleep(2000);
  const duplicates = deliveries.duplicates();
  progress(
    `reminders: replicas ${drainPerSecond.toFixed(0)}/s, ${duplicates} duplicates; cores busy ${formatCores(cores)}`,
  );
  return { drainPerSecond, duplicates, delivered: deliveries.size, cores };
}
