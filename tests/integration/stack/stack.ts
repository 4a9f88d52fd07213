// The stack-level integration suite's shared part: a running cal_service
// deployment (api, scheduler, sender, on PostgreSQL and RabbitMQ) tested from
// outside, through the generated client, the database and the status
// exchange. The cases are in ./*.stack.test.ts, one file per area; each file
// calls useStack() for its database connection and receipt watcher.
//
// Everything comes from the environment, so the same files run in compose and
// locally:
//
//   API_URL               where the api answers (compose: http://api:8080)
//   DATABASE_URL          the database the api writes (rows are checked there)
//   AMQP_URL              the broker the sender publishes receipts to
//   AMQP_STATUS_EXCHANGE  the sender's receipt exchange (default cal.status)
//
//   docker compose --profile test run --rm tests     # against the compose stack
//   node --import tsx scripts/integration.ts          # builds and starts a local stack first
//   npm run test:stack                                # against a stack already running
//
// The stack may be shared and long-lived: every user id of a run carries a
// random suffix, so runs never see each other's events or receipts, and the
// suite declares nothing on the broker but an exclusive queue of its own.
//
// The retention case needs the scheduler to run a cleanup pass within
// CLEANUP_WAIT_MS, so the stack's CLEANUP_INTERVAL must be short (compose.yaml
// sets it for the scheduler); with the 1h default that case fails and says so.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Duration,
  durationFromMs,
  durationMs,
  type Timestamp,
  timestampFromMs,
  timestampMs,
} from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import amqp, { type ChannelModel, type ConsumeMessage } from "amqplib";
import postgres, { type Sql } from "postgres";
import { CalendarService, type Event, EventSchema } from "../../../gen/calendar/v1/calendar_pb.js";

import { until as waitUntil } from "../../../internal/testing/wait.js";

// ---------------------------------------------------------------------------
// Environment: a clear failure when something is missing, never a skip.

const REQUIRED = {
  API_URL: "where the api answers, e.g. http://127.0.0.1:8080 (compose: http://api:8080)",
  DATABASE_URL: "the api's PostgreSQL database, e.g. postgres://cal:cal@postgres:5432/cal",
  AMQP_URL: "the RabbitMQ of scheduler and sender, e.g. amqp://cal:cal@rabbitmq:5672",
} as const;

function stackEnv(): Record<keyof typeof REQUIRED, string> & { statusExchange: string } {
  const missing = Object.entries(REQUIRED).filter(([name]) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `not set: ${missing.map(([name, what]) => `${name} (${what})`).join("; ")}. ` +
        "This suite tests a running stack: `npx tsx scripts/integration.ts` starts one locally, " +
        "`docker compose --profile test run --rm tests` runs it against compose.",
    );
  }
  const value = (name: keyof typeof REQUIRED) => process.env[name] ?? "";
  return {
    API_URL: value("API_URL").replace(/\/+$/, ""),
    DATABASE_URL: value("DATABASE_URL"),
    AMQP_URL: value("AMQP_URL"),
    statusExchange: process.env.AMQP_STATUS_EXCHANGE || "cal.status",
  };
}

export const env = stackEnv(); // fails the file at once, with the reason

export const RUN = randomBytes(4).toString("hex");
/** Every user id of this run starts with this: receipts and rows are told apart by it. */
export const USER_PREFIX = `it-api-${RUN}-`;
export const user = (label: string) => `${USER_PREFIX}${label}`;

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A reminder's receipt must be seen by notify_at + this. */
export const ON_TIME_MS = 3000;
/** How long to keep watching for a duplicate receipt. */
export const QUIET_MS = 3000;
/** How long the retention case waits for a cleanup pass (CLEANUP_INTERVAL must be well below). */
export const CLEANUP_WAIT_MS = 30_000;

// ---------------------------------------------------------------------------
// Clients

export type CalendarClient = Client<typeof CalendarService>;

/**
 * A client of the stack's api as `userId` (no x-user-id header when
 * undefined). Connect JSON by default; binary for values JSON cannot carry
 * (timestamps outside 0001..9999).
 */
export function client(
  userId: string | undefined,
  options: { binary?: boolean } = {},
): CalendarClient {
  const asUser: Interceptor = (next) => (req) => {
    if (userId !== undefined) req.header.set("x-user-id", userId);
    return next(req);
  };
  return createClient(
    CalendarService,
    createConnectTransport({
      baseUrl: env.API_URL,
      httpVersion: "1.1",
      useBinaryFormat: options.binary ?? false,
      interceptors: [asUser],
    }),
  );
}

export type EventInit = MessageInitShape<typeof EventSchema>;

export interface Spec {
  id?: string;
  title?: string;
  /** ms since the epoch, or an ISO string */
  start: number | string;
  durationMs: number;
  description?: string;
  notifyBeforeMs?: number;
}

const ms = (at: number | string) => (typeof at === "number" ? at : Date.parse(at));

export function eventOf(spec: Spec): Event {
  return create(EventSchema, {
    id: spec.id ?? "",
    title: spec.title ?? "Integration test",
    startTime: timestampFromMs(ms(spec.start)),
    duration: durationFromMs(spec.durationMs),
    description: spec.description,
    notifyBefore:
      spec.notifyBeforeMs === undefined ? undefined : durationFromMs(spec.notifyBeforeMs),
  });
}

/** The event with some fields changed, as an update request carries it. */
export function edited(event: Event, changes: EventInit): Event {
  const { $typeName: _, ...fields } = event;
  return create(EventSchema, { ...fields, ...changes });
}

export async function createOk(c: CalendarClient, spec: Spec): Promise<Event> {
  const { event } = await c.createEvent({ event: eventOf(spec) });
  assert.ok(event, "CreateEvent returned no event");
  return event;
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("expected the call to fail, but it succeeded");
}

/** The call fails with `code`, and the server's message matches `message`. */
export async function expectError(
  call: Promise<unknown>,
  code: Code,
  message: RegExp,
): Promise<ConnectError> {
  const error = await failure(call);
  assert.equal(Code[error.code], Code[code], `code (message: "${error.rawMessage}")`);
  assert.match(error.rawMessage, message);
  return error;
}

export const tsMs = (t: Timestamp | undefined) => {
  assert.ok(t, "timestamp missing");
  return timestampMs(t);
};
export const durMs = (d: Duration | undefined) => (d === undefined ? undefined : durationMs(d));

// ---------------------------------------------------------------------------
// The database, as stored

let sql: Sql | undefined;
function db(): Sql {
  if (!sql) throw new Error("no database connection (see the before hook's error)");
  return sql;
}

/** An events row with every instant as exact epoch milliseconds. */
interface Row {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  version: number;
  start_ms: number;
  end_ms: number;
  notify_before_ms: number | null;
  notify_at_ms: number | null;
  /** When its pending reminder is due (the reminders row); null once sent or skipped. */
  reminder_due_ms: number | null;
  created_ms: number;
  updated_ms: number;
}

// Instants are read as epoch milliseconds (exact, as rows.ts does), never as
// Dates: postgres.js reads year 0001 as 2001 and cannot read year 10000.
const epochMs = (column: string, as: string) =>
  `round(extract(epoch from ${column}) * 1000)::float8 as ${as}`;
const ROW_COLUMNS = [
  "e.id::text as id",
  "e.user_id",
  "e.title",
  "e.description",
  "e.version",
  epochMs("e.start_time", "start_ms"),
  epochMs("e.end_time", "end_ms"),
  "e.notify_before_ms::float8 as notify_before_ms",
  epochMs("e.notify_at", "notify_at_ms"),
  epochMs("r.notify_at", "reminder_due_ms"),
  epochMs("e.created_at", "created_ms"),
  epochMs("e.updated_at", "updated_ms"),
].join(", ");

export async function rowOf(userId: string, id: string): Promise<Row | undefined> {
  const rows = await db()<Row[]>`
    select ${db().unsafe(ROW_COLUMNS)}
    from events e left join reminders r on r.user_id = e.user_id and r.event_id = e.id
    where e.user_id = ${userId} and e.id = ${id}::uuid`;
  assert.ok(rows.length <= 1);
  return rows[0];
}

export async function rowCount(userId: string): Promise<number> {
  const [row] = await db()<{ n: number }[]>`
    select count(*)::int as n from events where user_id = ${userId}`;
  return row?.n ?? -1;
}

/** The row the api stored for `event`, checked field by field against it. */
export async function expectStored(userId: string, event: Event): Promise<Row> {
  const row = await rowOf(userId, event.id);
  assert.ok(row, `no row for event ${event.id} of ${userId}`);
  const start = tsMs(event.startTime);
  const duration = durMs(event.duration);
  assert.ok(duration !== undefined);
  const notifyBefore = durMs(event.notifyBefore) ?? null;
  assert.deepEqual(
    {
      id: row.id,
      user_id: row.user_id,
      title: row.title,
      description: row.description,
      version: row.version,
      start_ms: row.start_ms,
      end_ms: row.end_ms,
      notify_before_ms: row.notify_before_ms,
      notify_at_ms: row.notify_at_ms,
      created_ms: row.created_ms,
      updated_ms: row.updated_ms,
    },
    {
      id: event.id,
      user_id: userId,
      title: event.title,
      description: event.description ?? null,
      version: event.version,
      start_ms: start,
      end_ms: start + duration,
      notify_before_ms: notifyBefore,
      notify_at_ms: notifyBefore === null ? null : start - notifyBefore,
      created_ms: tsMs(event.createdAt),
      updated_ms: tsMs(event.updatedAt),
    },
    `row of event ${event.id} as stored`,
  );
  return row;
}

export async function expectNoRow(userId: string, id: string): Promise<void> {
  assert.equal(await rowOf(userId, id), undefined, `event ${id} of ${userId} is still stored`);
}

// ---------------------------------------------------------------------------
// Receipts: an exclusive queue bound to the status exchange, this run's users only

export interface SeenReceipt {
  body: Record<string, unknown>;
  messageId: unknown;
  contentType: unknown;
  receivedAt: number;
}

class ReceiptWatcher {
  readonly receipts: SeenReceipt[] = [];
  /** Bodies of this run that were not JSON objects: there should be none. */
  readonly malformed: string[] = [];
  #connection: ChannelModel | undefined;

  async start(url: string, exchange: string): Promise<void> {
    const connection = await amqp.connect(url, {
      clientProperties: { connection_name: `cal_service api suite ${RUN}` },
    });
    this.#connection = connection;
    connection.on("error", () => {});
    const channel = await connection.createChannel();
    channel.on("error", () => {});
    // The sender declares the exchange; the suite only looks. A missing one
    // means no sender has started on this broker with this name.
    await channel.checkExchange(exchange).catch((error: unknown) => {
      throw new Error(
        `the status exchange "${exchange}" does not exist on AMQP_URL (is the sender running, with the same AMQP_STATUS_EXCHANGE?): ${(error as Error).message}`,
      );
    });
    const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, "");
    await channel.consume(queue, (message) => this.#onMessage(message), { noAck: true });
  }

  #onMessage(message: ConsumeMessage | null): void {
    if (message === null) return;
    const text = message.content.toString("utf8");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (text.includes(USER_PREFIX)) this.malformed.push(text);
      return;
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      if (text.includes(USER_PREFIX)) this.malformed.push(text);
      return;
    }
    const userId = (body as Record<string, unknown>).userId;
    if (typeof userId !== "string" || !userId.startsWith(USER_PREFIX)) return; // another run's
    this.receipts.push({
      body: body as Record<string, unknown>,
      messageId: message.properties.messageId,
      contentType: message.properties.contentType,
      receivedAt: Date.now(),
    });
  }

  forEvent(eventId: string): SeenReceipt[] {
    return this.receipts.filter((r) => r.body.eventId === eventId);
  }

  async close(): Promise<void> {
    await this.#connection?.close().catch(() => {});
  }
}

let watcher: ReceiptWatcher | undefined;
export function receipts(): ReceiptWatcher {
  if (!watcher) throw new Error("not watching receipts (see the before hook's error)");
  return watcher;
}

/** The shared poll, checking every 50 ms unless told. */
export const until = (
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs: number,
  intervalMs = 50,
) => waitUntil(condition, what, timeoutMs, intervalMs);

/** Opens the database connection and the receipt watcher for the file's cases, and closes them after. */
export function useStack(): void {
  before(
    async () => {
      const ready = await fetch(`${env.API_URL}/readyz`, {
        signal: AbortSignal.timeout(5000),
      }).catch((error: unknown) => {
        throw new Error(`the api at API_URL=${env.API_URL} does not answer: ${String(error)}`);
      });
      assert.equal(ready.status, 200, `GET ${env.API_URL}/readyz: ${await ready.text()}`);
      sql = postgres(env.DATABASE_URL, { max: 4, onnotice: () => {} });
      await sql`select 1 from events limit 1`.catch((error: unknown) => {
        throw new Error(`DATABASE_URL has no events table (not the api's database?): ${error}`);
      });
      watcher = new ReceiptWatcher();
      await watcher.start(env.AMQP_URL, env.statusExchange);
    },
    { timeout: 30_000 },
  );

  after(async () => {
    await watcher?.close();
    await sql?.end({ timeout: 5 });
  });
}
