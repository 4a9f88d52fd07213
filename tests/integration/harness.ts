// End-to-end harness: a whole cal_service deployment for one test file, as
// separate OS processes run from source (api, scheduler, sender), against the
// real PostgreSQL at DATABASE_URL and RabbitMQ at AMQP_URL.
//
// Each run gets a database of its own (cal_it_<random>) and AMQP names of its
// own (cal_it_<random>.*), so runs never see each other's data or messages;
// close() drops and deletes them all and kills every process it started.
//
// Deliveries are observed through the sender's receipts on the run's status
// exchange. The receipts queue is durable (quorum), not exclusive: an
// exclusive queue dies with our connection when RabbitMQ restarts, and the
// receipts the sender publishes before we reconnect would be lost, which a
// restart test must be able to tell apart from lost reminders.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import postgres, { type Sql } from "postgres";
import { CalendarService, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import type { TopologyNames } from "../../internal/config/config.js";
import { decodeReceipt } from "../../internal/notification/receipt.js";
import {
  createScratchDatabase,
  databaseUrl as databaseUrlFor,
  type ScratchDatabase,
} from "../../internal/testing/database.js";
import {
  type Exit,
  exitOf,
  killOnExit,
  killTracked,
  type LogLine,
  OutputLog,
  signalChild,
  stopChild,
} from "../../internal/testing/process.js";
import { untilFound } from "../../internal/testing/wait.js";

const ENTRY = fileURLToPath(new URL("../../cmd/cal_service.ts", import.meta.url));
const execFileAsync = promisify(execFile);

/** The two services every integration run needs; a clear failure, never a skip. */
export function requiredEnv(): { databaseUrl: string; amqpUrl: string } {
  const databaseUrl = process.env.DATABASE_URL;
  const amqpUrl = process.env.AMQP_URL;
  const missing = [
    databaseUrl ? undefined : "DATABASE_URL (e.g. postgres://root@127.0.0.1:5432/test)",
    amqpUrl ? undefined : "AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5672)",
  ].filter((m) => m !== undefined);
  if (!databaseUrl || !amqpUrl) {
    throw new Error(
      `${missing.join(" and ")} not set: the end-to-end tests need a real PostgreSQL and ` +
        "RabbitMQ, e.g. DATABASE_URL=postgres://root@127.0.0.1:5432/test " +
        "AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npm run test:integration",
    );
  }
  return { databaseUrl, amqpUrl };
}

// ---------------------------------------------------------------------------
// Waiting (shared with every other harness; re-exported for the tests that import it from here)

export { sleepUntil, until } from "../../internal/testing/wait.js";

// ---------------------------------------------------------------------------
// Processes

// The children lead process groups of their own, so a Ctrl-C or a runner's
// SIGTERM does not reach them: pass it on before dying of it. (A normal exit
// kills them through killOnExit.)
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const) {
  process.once(signal, () => {
    killTracked("SIGKILL");
    process.exit(code);
  });
}

export type Role = "api" | "scheduler" | "sender" | "migrate";
export type { LogLine };

/**
 * One `cal_service <role>` process, spawned from source with tsx like a user
 * runs it. It leads a process group of its own, so a kill reaches any helper
 * it spawned too.
 */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly #output = new OutputLog();
  #exit: Exit | undefined;

  constructor(
    readonly role: Role,
    readonly label: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(process.execPath, ["--import", "tsx", ENTRY, role], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    killOnExit(this.child, { group: true });
    this.child.stdout?.resume();
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.#output.add(chunk));
    this.exited = exitOf(this.child).then((exit) => {
      this.#exit = exit;
      return exit;
    });
  }

  /** Every stderr line so far that was JSON. */
  get logs(): LogLine[] {
    return this.#output.lines;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  alive(): boolean {
    return this.#exit === undefined;
  }

  stderr(): string {
    return this.#output.text();
  }

  /** The last `lines` lines of stderr, for failure reports. */
  tail(lines = 60): string {
    return this.#output.tail(lines);
  }

  killGroup(signal: NodeJS.Signals): void {
    if (this.alive()) signalChild(this.child, signal, true);
  }

  /** kill -9: no shutdown handler runs. Resolves once the process is gone. */
  async crash(): Promise<void> {
    this.killGroup("SIGKILL");
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with how it ended. */
  async stop(graceMs = 5000): Promise<Exit> {
    if (!this.alive()) return this.#exit ?? (await this.exited);
    const { code, signal } = await stopChild(this.child, this.exited, graceMs, true);
    return { code, signal };
  }

  /** The first log line that matches; fails early if the process exits. */
  async waitForLog(
    matches: (line: LogLine) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<LogLine> {
    try {
      return await untilFound(
        () => this.logs.find(matches),
        `${this.label} to log ${what}`,
        timeoutMs,
        {
          gaveUp: () =>
            this.alive()
              ? undefined
              : `${this.label} exited (${JSON.stringify(this.#exit)}) before logging ${what}`,
        },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}; stderr:\n${this.tail()}`);
    }
  }

  logged(msg: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg);
  }

  /** Where the role serves /healthz (and /metrics), from its "listening" log line. */
  get url(): string {
    const line =
      this.role === "migrate"
        ? undefined
        : this.logs.find((l) => l.msg === READY[this.role as keyof typeof READY]);
    if (typeof line?.url !== "string") throw new Error(`${this.label} has not logged its URL`);
    return line.url;
  }

  /** The HTTP status of GET /healthz, or 0 when nothing answers. */
  async health(): Promise<number> {
    try {
      const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(3000) });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }
}

// ---------------------------------------------------------------------------
// Receipts

export interface SeenReceipt {
  notificationId: string;
  eventId: string;
  userId: string;
  deliveredAt: Date;
  /** When this process got it (Date.now()). */
  receivedAt: number;
}

/**
 * Collects the sender's receipts from a durable queue bound to the status
 * exchange, reconnecting whenever RabbitMQ goes away. A receipt redelivered
 * because our ack was lost in a restart has the same body byte for byte (same
 * deliveredAt, to the millisecond); a second delivery of a reminder by the
 * sender has its own deliveredAt. So repeats of a body are dropped here and
 * every receipt kept stands for one delivery.
 */
export class ReceiptCollector {
  readonly receipts: SeenReceipt[] = [];
  /** Bodies that were not valid receipts: there should be none. */
  readonly malformed: string[] = [];
  readonly #bodies = new Set<string>();
  #connection: ChannelModel | undefined;
  #closing = false;
  #reconnecting: Promise<void> | undefined;
  reconnects = 0;

  constructor(
    private readonly url: string,
    private readonly exchange: string,
    readonly queue: string,
  ) {}

  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const connection = await amqp.connect(this.url, {
      clientProperties: { connection_name: `cal_it receipts ${this.queue}` },
    });
    connection.on("error", () => {});
    connection.on("close", () => {
      // Only the connection in use reconnects; one that failed its setup does not.
      if (this.#connection !== connection) return;
      this.#connection = undefined;
      if (!this.#closing) this.#reconnect();
    });
    try {
      const channel = await connection.createChannel();
      channel.on("error", () => {});
      // Same arguments as the service's declaration (topology.ts), so either
      // side may declare it first.
      await channel.assertExchange(this.exchange, "fanout", { durable: true });
      await channel.assertQueue(this.queue, {
        durable: true,
        arguments: { "x-queue-type": "quorum" },
      });
      await channel.bindQueue(this.queue, this.exchange, "");
      await channel.prefetch(200);
      await channel.consume(this.queue, (message) => this.#onMessage(channel, message), {
        noAck: false,
      });
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    this.#connection = connection;
  }

  #reconnect(): void {
    this.#reconnecting ??= (async () => {
      while (!this.#closing) {
        try {
          await this.#connect();
          this.reconnects += 1;
          break;
        } catch {
          await sleep(250);
        }
      }
      this.#reconnecting = undefined;
    })();
  }

  #onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // RabbitMQ cancelled us (queue deleted): closing makes us reconnect and declare it again.
      this.#connection?.close().catch(() => {});
      return;
    }
    const receivedAt = Date.now();
    const body = message.content.toString("utf8");
    if (!this.#bodies.has(body)) {
      this.#bodies.add(body);
      const decoded = decodeReceipt(message.content);
      if (decoded.ok) this.receipts.push({ ...decoded.value, receivedAt });
      else this.malformed.push(`${decoded.error}: ${body}`);
    }
    try {
      channel.ack(message);
    } catch {
      // channel gone: the redelivery is recognised by its body
    }
  }

  forEvent(eventId: string): SeenReceipt[] {
    return this.receipts.filter((r) => r.eventId === eventId);
  }

  forNotification(notificationId: string): SeenReceipt[] {
    return this.receipts.filter((r) => r.notificationId === notificationId);
  }

  /** Disconnects and stops reconnecting (the queue is deleted with the run's topology). */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#reconnecting;
    await this.#connection?.close().catch(() => {});
    this.#connection = undefined;
  }
}

// ---------------------------------------------------------------------------
// The deployment

export type CalendarClient = Client<typeof CalendarService>;

export interface Harness {
  runId: string;
  databaseName: string;
  /** DATABASE_URL of the run's own database. */
  databaseUrl: string;
  amqpUrl: string;
  names: TopologyNames;
  /** Environment every process of the run gets. */
  env: Record<string, string>;
  apiUrl: string;
  api: ServiceProcess;
  /** The current scheduler (tests may replace it). */
  scheduler: ServiceProcess;
  sender: ServiceProcess;
  /** Every process started, in order, including stopped ones. */
  processes: ServiceProcess[];
  receipts: ReceiptCollector;
  /** A small pool on the run's database, for checks from outside. */
  sql: Sql;
  client(userId: string): CalendarClient;
  /** Starts another `cal_service <role>` with the run's environment and waits until it is up. */
  start(
    role: "api" | "scheduler" | "sender",
    extraEnv?: Record<string, string>,
  ): Promise<ServiceProcess>;
  /** A short-lived AMQP channel (confirm mode) for looking at or publishing to the run's topology. */
  withChannel<T>(use: (channel: amqp.ConfirmChannel) => Promise<T>): Promise<T>;
  /** Every process's stderr tail, for failure reports. */
  report(lines?: number): string;
  close(): Promise<void>;
}

/** The log line that says each role is up (and where it listens). */
const READY: Record<"api" | "scheduler" | "sender", string> = {
  api: "api listening",
  scheduler: "scheduler metrics and health listening",
  sender: "sender metrics and health listening",
};

export async function startHarness(): Promise<Harness> {
  const { databaseUrl: baseUrl, amqpUrl } = requiredEnv();
  const runId = randomBytes(4).toString("hex");
  const databaseName = `cal_it_${runId}`;
  const prefix = `cal_it_${runId}`;
  const names: TopologyNames = {
    notificationsExchange: `${prefix}.notifications`,
    notificationsQueue: `${prefix}.notifications`,
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.notifications.dead`,
    statusExchange: `${prefix}.status`,
  };
  const databaseUrl = databaseUrlFor(baseUrl, databaseName);

  const env: Record<string, string> = {
    LOG_LEVEL: "info",
    DATABASE_URL: databaseUrl,
    AMQP_URL: amqpUrl,
    AMQP_NOTIFICATIONS_EXCHANGE: names.notificationsExchange,
    AMQP_NOTIFICATIONS_QUEUE: names.notificationsQueue,
    AMQP_DEAD_LETTER_EXCHANGE: names.deadLetterExchange,
    AMQP_DEAD_LETTER_QUEUE: names.deadLetterQueue,
    AMQP_STATUS_EXCHANGE: names.statusExchange,
    API_HOST: "127.0.0.1",
    API_PORT: "0",
    SCHEDULER_PORT: "0",
    SENDER_PORT: "0",
    SCHEDULER_POLL_INTERVAL: "100ms",
    SHUTDOWN_TIMEOUT: "2s",
    DB_CONNECT_TIMEOUT: "10s",
    AMQP_CONNECT_TIMEOUT: "10s",
  };

  const processes: ServiceProcess[] = [];
  const counters: Record<string, number> = {};
  const spawnRole = (role: Role, extraEnv: Record<string, string> = {}) => {
    counters[role] = (counters[role] ?? 0) + 1;
    const p = new ServiceProcess(role, `${role}#${counters[role]}`, { ...env, ...extraEnv });
    processes.push(p);
    return p;
  };
  const startRole = async (
    role: "api" | "scheduler" | "sender",
    extraEnv?: Record<string, string>,
  ) => {
    const p = spawnRole(role, extraEnv);
    await p.waitForLog((l) => l.msg === READY[role], `"${READY[role]}"`);
    // Port 0 everywhere: the log line must name the port actually bound.
    if (!/^http:\/\/127\.0\.0\.1:[1-9]\d*$/.test(p.url)) {
      throw new Error(`${p.label} logged "${READY[role]}" without its real URL: ${p.url}`);
    }
    return p;
  };

  // Everything below is undone by cleanup(), whichever step fails.
  let database: ScratchDatabase | undefined;
  let sql: Sql | undefined;
  let receipts: ReceiptCollector | undefined;
  const cleanup = async () => {
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    await Promise.all(processes.map((p) => attempt(() => p.stop())));
    if (receipts) await attempt(() => (receipts as ReceiptCollector).close());
    if (sql) await attempt(() => (sql as Sql).end({ timeout: 2 }));
    await attempt(() => deleteTopology(amqpUrl, names, receipts?.queue ?? `${prefix}.receipts`));
    if (database) await attempt(() => (database as ScratchDatabase).drop());
    if (errors.length > 0) {
      throw new AggregateError(
        errors,
        `cleaning up run ${runId} failed: ${errors.map(String).join("; ")}`,
      );
    }
  };

  const report = (lines = 60) =>
    processes
      .map(
        (p) =>
          `----- ${p.label} (pid ${p.pid}, ${p.alive() ? "alive" : "exited"}) stderr, last ${lines} lines -----\n${p.tail(lines)}`,
      )
      .join("\n");

  try {
    database = await createScratchDatabase(baseUrl, databaseName);
    sql = postgres(databaseUrl, { max: 4, onnotice: () => {} });

    // Receipts first, so that none published by the processes is missed.
    receipts = new ReceiptCollector(amqpUrl, names.statusExchange, `${prefix}.receipts`);
    await receipts.start();

    const migrate = spawnRole("migrate");
    const migrated = await Promise.race([
      migrate.exited,
      sleep(60_000, undefined, { ref: false }).then(() => ({
        code: null,
        signal: "timeout" as const,
      })),
    ]);
    if (migrated.code !== 0) {
      throw new Error(
        `cal_service migrate failed (${JSON.stringify(migrated)}):\n${migrate.stderr()}`,
      );
    }

    const [api, scheduler, sender] = await Promise.all([
      startRole("api"),
      startRole("scheduler"),
      startRole("sender"),
    ]);
    const apiUrl = api.url;

    const harness: Harness = {
      runId,
      databaseName,
      databaseUrl,
      amqpUrl,
      names,
      env,
      apiUrl,
      api,
      scheduler,
      sender,
      processes,
      receipts,
      sql,
      client: (userId) => calendarClient(apiUrl, userId),
      start: startRole,
      withChannel: (use) => withChannel(amqpUrl, use),
      report,
      close: cleanup,
    };
    return harness;
  } catch (error) {
    const diagnostics = report();
    await cleanup().catch(() => {});
    throw new Error(`starting the deployment failed: ${(error as Error).message}\n${diagnostics}`, {
      cause: error,
    });
  }
}

async function withChannel<T>(
  url: string,
  use: (channel: amqp.ConfirmChannel) => Promise<T>,
): Promise<T> {
  const connection = await amqp.connect(url);
  connection.on("error", () => {});
  try {
    const channel = await connection.createConfirmChannel();
    channel.on("error", () => {});
    return await use(channel);
  } finally {
    await connection.close().catch(() => {});
  }
}

async function deleteTopology(
  url: string,
  names: TopologyNames,
  receiptsQueue: string,
): Promise<void> {
  await withChannel(url, async (channel) => {
    for (const queue of [names.notificationsQueue, names.deadLetterQueue, receiptsQueue]) {
      await channel.deleteQueue(queue);
    }
    for (const exchange of [
      names.notificationsExchange,
      names.deadLetterExchange,
      names.statusExchange,
    ]) {
      await channel.deleteExchange(exchange);
    }
  });
}

export function calendarClient(baseUrl: string, userId: string): CalendarClient {
  const asUser: Interceptor = (next) => (req) => {
    req.header.set("x-user-id", userId);
    return next(req);
  };
  return createClient(
    CalendarService,
    createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [asUser] }),
  );
}

// ---------------------------------------------------------------------------
// Events

export interface EventSpec {
  title?: string;
  /** ms since the epoch */
  startMs: number;
  durationMs: number;
  /** Unset: no reminder. */
  notifyBeforeMs?: number;
}

export function eventMessage(spec: EventSpec & { id?: string }) {
  return create(EventSchema, {
    id: spec.id ?? "",
    title: spec.title ?? "Integration test",
    startTime: timestampFromMs(spec.startMs),
    duration: durationFromMs(spec.durationMs),
    notifyBefore:
      spec.notifyBeforeMs === undefined ? undefined : durationFromMs(spec.notifyBeforeMs),
  });
}

export interface CreatedReminder {
  eventId: string;
  userId: string;
  startMs: number;
  durationMs: number;
  notifyBeforeMs: number;
  /** start - notify_before: when the reminder is due. */
  notifyAt: Date;
  version: number;
}

const HOUR = 3_600_000;
/** Whole hours, 2 to 3 hours from when this file loaded: where reminded events start. */
const SLOTS_BASE_MS = Math.ceil(Date.now() / HOUR) * HOUR + 2 * HOUR;

/**
 * Creates an event whose reminder is due at `notifyAtMs` (soon). The event
 * starts at slot `slot`, hours away, so the reminder is never
 * skipped as "event already started"; one user's events with distinct slots
 * never overlap.
 */
export async function createReminder(
  client: CalendarClient,
  userId: string,
  notifyAtMs: number,
  slot = 0,
): Promise<CreatedReminder> {
  const startMs = SLOTS_BASE_MS + slot * HOUR;
  const notifyBeforeMs = startMs - notifyAtMs;
  const durationMs = HOUR / 2;
  const { event } = await client.createEvent({
    event: eventMessage({
      startMs,
      durationMs,
      notifyBeforeMs,
      title: `reminder at ${new Date(notifyAtMs).toISOString()}`,
    }),
  });
  if (!event) throw new Error("CreateEvent returned no event");
  return {
    eventId: event.id,
    userId,
    startMs,
    durationMs,
    notifyBeforeMs,
    notifyAt: new Date(notifyAtMs),
    version: event.version,
  };
}

// ---------------------------------------------------------------------------
// RabbitMQ

export async function rabbitmqctl(...args: string[]): Promise<void> {
  try {
    await execFileAsync("rabbitmqctl", args, { timeout: 120_000 });
  } catch (error) {
    throw new Error(
      `rabbitmqctl ${args.join(" ")} failed (the restart test needs rabbitmqctl for the broker at AMQP_URL): ${(error as Error).message}`,
    );
  }
}

/**
 * Holds SHARE on events and reminders in a transaction of its own until
 * released: the scheduler's claim (FOR UPDATE of reminders rows, ROW SHARE)
 * and its publishing go on, every write (its marks, which delete reminders
 * rows; the API's creates) waits.
 */
export async function holdWrites(
  hs: Pick<Harness, "databaseUrl">,
): Promise<{ release(): Promise<void> }> {
  const locker = postgres(hs.databaseUrl, { max: 1, onnotice: () => {} });
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked: () => void = () => {};
  const lockTaken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const rollback = new Error("rollback");
  const holding = locker
    .begin(async (tx) => {
      await tx`lock table events, reminders in share mode`;
      locked();
      await released;
      throw rollback;
    })
    .catch((error: unknown) => {
      if (error !== rollback) throw error;
    });
  const done = async () => {
    release();
    await holding.catch(() => {});
    await locker.end({ timeout: 2 });
  };
  try {
    await Promise.race([lockTaken, holding]);
  } catch (error) {
    await done();
    throw error;
  }
  return { release: done };
}
