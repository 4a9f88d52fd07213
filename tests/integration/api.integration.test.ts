// The stack-level integration suite: a running cal_service deployment (api,
// scheduler, sender, on PostgreSQL and RabbitMQ) tested from outside, through
// the generated client, the database and the status exchange.
//
// Everything comes from the environment, so the same file runs in compose and
// locally:
//
//   API_URL               where the api answers (compose: http://api:8080)
//   DATABASE_URL          the database the api writes (rows are checked there)
//   AMQP_URL              the broker the sender publishes receipts to
//   AMQP_STATUS_EXCHANGE  the sender's receipt exchange (default cal.status)
//
//   docker compose --profile test run --rm tests     # against the compose stack
//   npx tsx scripts/integration.ts                    # builds and starts a local stack first
//
// The stack may be shared and long-lived: every user id of a run carries a
// random suffix, so runs never see each other's events or receipts, and the
// suite declares nothing on the broker but an exclusive queue of its own.
//
// The retention case needs the scheduler to run a cleanup pass within
// CLEANUP_WAIT_MS, so the stack's CLEANUP_INTERVAL must be short (compose.yaml
// sets it for the scheduler); with the 1h default that case fails and says so.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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
import { CalendarService, type Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { notificationId } from "../../internal/notification/notification.js";

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

const env = stackEnv(); // fails the file at once, with the reason

const RUN = randomBytes(4).toString("hex");
/** Every user id of this run starts with this: receipts and rows are told apart by it. */
const USER_PREFIX = `it-api-${RUN}-`;
const user = (label: string) => `${USER_PREFIX}${label}`;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A reminder's receipt must be seen by notify_at + this. */
const ON_TIME_MS = 3000;
/** How long to keep watching for a duplicate receipt. */
const QUIET_MS = 3000;
/** How long the retention case waits for a cleanup pass (CLEANUP_INTERVAL must be well below). */
const CLEANUP_WAIT_MS = 30_000;

// ---------------------------------------------------------------------------
// Clients

type CalendarClient = Client<typeof CalendarService>;

/**
 * A client of the stack's api as `userId` (no x-user-id header when
 * undefined). Connect JSON by default; binary for values JSON cannot carry
 * (timestamps outside 0001..9999).
 */
function client(userId: string | undefined, options: { binary?: boolean } = {}): CalendarClient {
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

type EventInit = MessageInitShape<typeof EventSchema>;

interface Spec {
  id?: string;
  title?: string;
  /** ms since the epoch, or an ISO string */
  start: number | string;
  durationMs: number;
  description?: string;
  notifyBeforeMs?: number;
}

const ms = (at: number | string) => (typeof at === "number" ? at : Date.parse(at));

function eventOf(spec: Spec): Event {
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
function edited(event: Event, changes: EventInit): Event {
  const { $typeName: _, ...fields } = event;
  return create(EventSchema, { ...fields, ...changes });
}

async function createOk(c: CalendarClient, spec: Spec): Promise<Event> {
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
async function expectError(
  call: Promise<unknown>,
  code: Code,
  message: RegExp,
): Promise<ConnectError> {
  const error = await failure(call);
  assert.equal(Code[error.code], Code[code], `code (message: "${error.rawMessage}")`);
  assert.match(error.rawMessage, message);
  return error;
}

const tsMs = (t: Timestamp | undefined) => {
  assert.ok(t, "timestamp missing");
  return timestampMs(t);
};
const durMs = (d: Duration | undefined) => (d === undefined ? undefined : durationMs(d));

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
  reminder_sent_at_ms: number | null;
  reminder_skipped_at_ms: number | null;
  created_ms: number;
  updated_ms: number;
}

// Instants are read as epoch milliseconds (exact, as rows.ts does), never as
// Dates: postgres.js reads year 0001 as 2001 and cannot read year 10000.
const epochMs = (column: string, as: string) =>
  `round(extract(epoch from ${column}) * 1000)::float8 as ${as}`;
const ROW_COLUMNS = [
  "id::text as id",
  "user_id",
  "title",
  "description",
  "version",
  epochMs("start_time", "start_ms"),
  epochMs("end_time", "end_ms"),
  "notify_before_ms::float8 as notify_before_ms",
  epochMs("notify_at", "notify_at_ms"),
  epochMs("reminder_sent_at", "reminder_sent_at_ms"),
  epochMs("reminder_skipped_at", "reminder_skipped_at_ms"),
  epochMs("created_at", "created_ms"),
  epochMs("updated_at", "updated_ms"),
].join(", ");

async function rowOf(userId: string, id: string): Promise<Row | undefined> {
  const rows = await db()<Row[]>`
    select ${db().unsafe(ROW_COLUMNS)} from events where user_id = ${userId} and id = ${id}::uuid`;
  assert.ok(rows.length <= 1);
  return rows[0];
}

async function rowCount(userId: string): Promise<number> {
  const [row] = await db()<{ n: number }[]>`
    select count(*)::int as n from events where user_id = ${userId}`;
  return row?.n ?? -1;
}

/** The row the api stored for `event`, checked field by field against it. */
async function expectStored(userId: string, event: Event): Promise<Row> {
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

async function expectNoRow(userId: string, id: string): Promise<void> {
  assert.equal(await rowOf(userId, id), undefined, `event ${id} of ${userId} is still stored`);
}

// ---------------------------------------------------------------------------
// Receipts: an exclusive queue bound to the status exchange, this run's users only

interface SeenReceipt {
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
function receipts(): ReceiptWatcher {
  if (!watcher) throw new Error("not watching receipts (see the before hook's error)");
  return watcher;
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs: number,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await sleep(intervalMs);
  }
}

before(
  async () => {
    const ready = await fetch(`${env.API_URL}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(
      (error: unknown) => {
        throw new Error(`the api at API_URL=${env.API_URL} does not answer: ${String(error)}`);
      },
    );
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

// ---------------------------------------------------------------------------

describe(`cal_service stack at ${env.API_URL} (run ${RUN})`, { concurrency: true }, () => {
  describe("create, get, update, delete", { concurrency: true }, () => {
    it("an event's life: each write as stored in the database", async () => {
      const u = user("crud");
      const c = client(u);
      const id = randomUUID();
      const spec: Spec = {
        id,
        title: "  Planning  ",
        start: "2033-05-05T10:00:00.123Z",
        durationMs: HOUR + 456,
        description: "Agenda: budget, hiring — and ünïcödé",
        notifyBeforeMs: 15 * MINUTE + 1,
      };

      const created = await createOk(c, spec);
      assert.equal(created.id, id);
      assert.equal(created.userId, u);
      assert.equal(created.title, "Planning", "title trimmed");
      assert.equal(created.version, 1);
      assert.equal(tsMs(created.startTime), Date.parse("2033-05-05T10:00:00.123Z"));
      assert.equal(durMs(created.duration), HOUR + 456);
      assert.equal(durMs(created.notifyBefore), 15 * MINUTE + 1);
      assert.equal(tsMs(created.createdAt), tsMs(created.updatedAt));
      const stored = await expectStored(u, created);
      assert.equal(stored.title, "Planning");
      assert.equal(stored.reminder_sent_at_ms, null);

      // The same create again (a retry) returns the stored event and changes nothing.
      const again = await createOk(c, spec);
      assert.deepEqual(again, created, "a repeated create returns the stored event");
      await expectStored(u, created);
      assert.equal(await rowCount(u), 1);

      // The same id with other content is refused, and changes nothing.
      await expectError(
        c.createEvent({ event: eventOf({ ...spec, title: "Other" }) }),
        Code.AlreadyExists,
        new RegExp(`^event ${id} already exists with different content`),
      );
      await expectStored(u, created);

      const { event: fetched } = await c.getEvent({ id });
      assert.deepEqual(fetched, created);

      // Update: new title and start, no description and no reminder any more.
      const { event: updated } = await c.updateEvent({
        event: create(EventSchema, {
          id,
          title: "Planning (moved)",
          startTime: timestampFromMs(Date.parse("2033-05-05T11:30:00Z")),
          duration: durationFromMs(45 * MINUTE),
        }),
        expectedVersion: 1,
      });
      assert.ok(updated);
      assert.equal(updated.version, 2);
      assert.equal(updated.description, undefined);
      assert.equal(updated.notifyBefore, undefined);
      assert.deepEqual(updated.createdAt, created.createdAt, "created_at never changes");
      assert.ok(tsMs(updated.updatedAt) >= tsMs(created.updatedAt));
      const storedUpdate = await expectStored(u, updated);
      assert.equal(storedUpdate.notify_at_ms, null, "no reminder: notify_at cleared");

      // A stale expected_version is refused and changes nothing.
      await expectError(
        c.updateEvent({ event: edited(updated, { title: "Lost update" }), expectedVersion: 1 }),
        Code.Aborted,
        /^expected_version is 1 but the stored version is 2/,
      );
      await expectStored(u, updated);

      // Without expected_version the update applies unconditionally.
      const { event: third } = await c.updateEvent({
        event: edited(updated, { notifyBefore: durationFromMs(0) }),
      });
      assert.ok(third);
      assert.equal(third.version, 3);
      const storedThird = await expectStored(u, third);
      assert.equal(storedThird.notify_at_ms, storedThird.start_ms, "reminder at the start");

      await c.deleteEvent({ id });
      await expectNoRow(u, id);
      const gone = new RegExp(`^event ${id} not found$`);
      await expectError(c.getEvent({ id }), Code.NotFound, gone);
      await expectError(c.deleteEvent({ id }), Code.NotFound, gone);
      await expectError(c.updateEvent({ event: edited(third, {}) }), Code.NotFound, gone);
      await expectNoRow(u, id);
    });

    it("assigns a UUID when the create has no id; ids are stored in lower case", async () => {
      const u = user("ids");
      const c = client(u);
      const assigned = await createOk(c, { start: "2033-06-01T09:00:00Z", durationMs: HOUR });
      assert.match(
        assigned.id,
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      await expectStored(u, assigned);

      const upper = randomUUID().toUpperCase();
      const lowered = await createOk(c, {
        id: upper,
        start: "2033-06-01T10:00:00Z",
        durationMs: HOUR,
      });
      assert.equal(lowered.id, upper.toLowerCase());
      await expectStored(u, lowered);
      const { event: byUpper } = await c.getEvent({ id: upper });
      assert.equal(byUpper?.id, upper.toLowerCase());
      assert.equal(await rowCount(u), 2);
    });

    it("not found: get, update and delete of an id nobody has", async () => {
      const u = user("not-found");
      const c = client(u);
      const id = randomUUID();
      const gone = new RegExp(`^event ${id} not found$`);
      await expectError(c.getEvent({ id }), Code.NotFound, gone);
      await expectError(
        c.updateEvent({ event: eventOf({ id, start: "2033-01-01T00:00:00Z", durationMs: HOUR }) }),
        Code.NotFound,
        gone,
      );
      await expectError(
        c.updateEvent({
          event: eventOf({ id, start: "2033-01-01T00:00:00Z", durationMs: HOUR }),
          expectedVersion: 1,
        }),
        Code.NotFound,
        gone,
      );
      await expectError(c.deleteEvent({ id }), Code.NotFound, gone);
      assert.equal(await rowCount(u), 0, "an update of a missing event creates nothing");
    });

    it("another user's event is not found, exactly as if it did not exist", async () => {
      const alice = user("alice");
      const bob = user("bob");
      const a = client(alice);
      const b = client(bob);
      const event = await createOk(a, {
        title: "Alice's",
        start: "2033-07-01T09:00:00Z",
        durationMs: HOUR,
        notifyBeforeMs: 10 * MINUTE,
      });
      const gone = new RegExp(`^event ${event.id} not found$`);
      await expectError(b.getEvent({ id: event.id }), Code.NotFound, gone);
      await expectError(
        b.updateEvent({ event: edited(event, { title: "Bob was here" }) }),
        Code.NotFound,
        gone,
      );
      await expectError(
        b.updateEvent({ event: edited(event, { title: "Bob was here" }), expectedVersion: 1 }),
        Code.NotFound,
        gone,
      );
      await expectError(b.deleteEvent({ id: event.id }), Code.NotFound, gone);
      const { events: bobsDay } = await b.listDayEvents({ date: "2033-07-01" });
      assert.deepEqual(bobsDay, [], "not in another user's listing");
      await expectStored(alice, event); // untouched
      assert.equal(await rowCount(bob), 0);

      // Ids are per user: Bob may hold the same id, at the same time, with his own content.
      const bobs = await createOk(b, {
        id: event.id,
        title: "Bob's",
        start: "2033-07-01T09:00:00Z",
        durationMs: 2 * HOUR,
      });
      assert.equal(bobs.id, event.id);
      await expectStored(bob, bobs);
      await expectStored(alice, event);
      const { event: alicesAgain } = await a.getEvent({ id: event.id });
      assert.equal(alicesAgain?.title, "Alice's");
      await b.deleteEvent({ id: event.id });
      await expectNoRow(bob, event.id);
      await expectStored(alice, event);
    });

    it("busy time: a user's events never overlap; back to back is fine", async () => {
      const u = user("busy");
      const c = client(u);
      const day = "2033-08-01";
      const at = (hhmm: string) => `${day}T${hhmm}:00Z`;
      const ten = await createOk(c, { title: "10-11", start: at("10:00"), durationMs: HOUR });
      const overlap = (id: string) =>
        new RegExp(`^the event overlaps event ${id}; a user's events may not overlap`);

      for (const [start, duration] of [
        ["10:30", HOUR], // overlaps the end
        ["09:30", HOUR], // overlaps the start
        ["10:15", 30 * MINUTE], // inside
        ["10:00", HOUR], // the same slot
        ["09:59", 2 * MINUTE], // one minute into it
      ] as const) {
        await expectError(
          c.createEvent({ event: eventOf({ start: at(start), durationMs: duration }) }),
          Code.FailedPrecondition,
          overlap(ten.id),
        );
      }
      assert.equal(await rowCount(u), 1, "refused creates store nothing");

      const eleven = await createOk(c, { title: "11-12", start: at("11:00"), durationMs: HOUR });
      const nine = await createOk(c, { title: "9-10", start: at("09:00"), durationMs: HOUR });
      await expectStored(u, eleven);
      await expectStored(u, nine);

      // Covering three events: the message names the earliest.
      await expectError(
        c.createEvent({ event: eventOf({ start: at("09:30"), durationMs: 2 * HOUR }) }),
        Code.FailedPrecondition,
        overlap(nine.id),
      );

      // An update into another event is refused and changes nothing.
      await expectError(
        c.updateEvent({
          event: edited(eleven, { startTime: timestampFromMs(Date.parse(at("10:30"))) }),
          expectedVersion: 1,
        }),
        Code.FailedPrecondition,
        overlap(ten.id),
      );
      await expectStored(u, eleven);

      // An event never conflicts with itself: 10:00-11:00 becomes 10:15-11:00.
      const { event: shortened } = await c.updateEvent({
        event: edited(ten, {
          startTime: timestampFromMs(Date.parse(at("10:15"))),
          duration: durationFromMs(45 * MINUTE),
        }),
        expectedVersion: 1,
      });
      assert.ok(shortened);
      await expectStored(u, shortened);

      // Busy time is per user: someone else may take the same slot.
      const other = user("busy-other");
      const theirs = await createOk(client(other), { start: at("10:00"), durationMs: HOUR });
      await expectStored(other, theirs);

      // Once the slot is free, it can be taken.
      await c.deleteEvent({ id: ten.id });
      await expectNoRow(u, ten.id);
      const taken = await createOk(c, { start: at("10:00"), durationMs: HOUR });
      await expectStored(u, taken);
      assert.equal(await rowCount(u), 3);
    });
  });

  describe("validation", { concurrency: false }, () => {
    const u = user("invalid");
    const c = client(u);
    const bin = client(u, { binary: true });
    const valid: Spec = { start: "2033-09-01T09:00:00Z", durationMs: HOUR };
    const createWith = (changes: EventInit, via = c) =>
      via.createEvent({ event: edited(eventOf(valid), changes) });
    const badUuid = /must be a UUID such as/;
    const dateRule = /^date: must be a calendar date as YYYY-MM-DD, e\.g\. 2026-03-08$/;
    const zoneRule = /^time_zone: must be an IANA time zone name/;
    const durationRule = /^event\.duration: must be greater than 0s and at most 366 days$/;
    const notifyRule = /^event\.notify_before: must be from 0s to 366 days$/;
    const startRule = /^event\.start_time: must be between 0001-01-01 and 9999-12-31 \(UTC\)$/;
    const someId = randomUUID();
    // A lone surrogate cannot travel as UTF-8: the JSON decoder refuses it
    // before the domain's own rule ("must be valid UTF-8 text") is reached;
    // either refusal is fine, storing it is not.
    const notUtf8 = (field: string) =>
      new RegExp(
        `^(event\\.${field}: must be valid UTF-8 text|cannot decode field calendar\\.v1\\.Event\\.${field} from JSON: .*invalid UTF8)$`,
      );

    const cases: [string, () => Promise<unknown>, Code, RegExp][] = [
      // x-user-id
      [
        "x-user-id missing",
        () => client(undefined).getEvent({ id: someId }),
        Code.Unauthenticated,
        /^the x-user-id header is required/,
      ],
      [
        "x-user-id empty",
        () => client("").listDayEvents({ date: "2033-09-01" }),
        Code.Unauthenticated,
        /^the x-user-id header is required/,
      ],
      [
        "x-user-id over 128 characters",
        () => client(`${USER_PREFIX}${"u".repeat(129)}`).listDayEvents({ date: "2033-09-01" }),
        Code.InvalidArgument,
        /^x-user-id: must be at most 128 characters$/,
      ],
      [
        "x-user-id with a control character",
        () => client(`${USER_PREFIX}tab\there`).listDayEvents({ date: "2033-09-01" }),
        Code.InvalidArgument,
        /^x-user-id: must not contain control characters$/,
      ],
      // the request
      [
        "create without an event",
        () => c.createEvent({}),
        Code.InvalidArgument,
        /^event: is required$/,
      ],
      [
        "update without an event",
        () => c.updateEvent({}),
        Code.InvalidArgument,
        /^event: is required$/,
      ],
      [
        "create with an id that is not a UUID",
        () => createWith({ id: "not-a-uuid" }),
        Code.InvalidArgument,
        /^event\.id: must be a UUID/,
      ],
      [
        "update without an id",
        () => c.updateEvent({ event: eventOf(valid) }),
        Code.InvalidArgument,
        /^event\.id: must be a UUID/,
      ],
      [
        "update with expected_version 0",
        () => c.updateEvent({ event: eventOf({ ...valid, id: someId }), expectedVersion: 0 }),
        Code.InvalidArgument,
        /^expected_version: must be 1 or more when set$/,
      ],
      ["get with an empty id", () => c.getEvent({ id: "" }), Code.InvalidArgument, badUuid],
      [
        "get with a malformed id",
        () => c.getEvent({ id: `${someId}x` }),
        Code.InvalidArgument,
        badUuid,
      ],
      [
        "delete with a malformed id",
        () => c.deleteEvent({ id: "42" }),
        Code.InvalidArgument,
        badUuid,
      ],
      [
        "a body over 1 MiB",
        () => createWith({ description: "d".repeat(1024 * 1024 + 1) }),
        Code.ResourceExhausted,
        /./,
      ],
      // title
      [
        "empty title",
        () => createWith({ title: "" }),
        Code.InvalidArgument,
        /^event\.title: must be 1 to 255 characters after trimming \(got 0\)$/,
      ],
      [
        "title of spaces only",
        () => createWith({ title: " \t\n " }),
        Code.InvalidArgument,
        /^event\.title: must be 1 to 255 characters after trimming \(got 0\)$/,
      ],
      [
        "title of 256 characters",
        () => createWith({ title: "t".repeat(256) }),
        Code.InvalidArgument,
        /^event\.title: must be 1 to 255 characters after trimming \(got 256\)$/,
      ],
      [
        "title of 256 astral characters",
        () => createWith({ title: "😀".repeat(256) }),
        Code.InvalidArgument,
        /\(got 256\)$/,
      ],
      [
        "title with a control character",
        () => createWith({ title: "bell\u0007" }),
        Code.InvalidArgument,
        /^event\.title: must not contain control characters$/,
      ],
      [
        "title with a lone surrogate",
        () => createWith({ title: "broken \ud800" }),
        Code.InvalidArgument,
        notUtf8("title"),
      ],
      [
        "update with a bad title (the same rules as create)",
        () => c.updateEvent({ event: eventOf({ ...valid, id: someId, title: " " }) }),
        Code.InvalidArgument,
        /^event\.title: must be 1 to 255 characters/,
      ],
      // start_time
      [
        "no start_time",
        () => createWith({ startTime: undefined }),
        Code.InvalidArgument,
        /^event\.start_time: is required$/,
      ],
      [
        "start_time before 0001-01-01",
        () =>
          createWith({ startTime: timestampFromMs(Date.parse("0000-12-31T23:59:59.999Z")) }, bin),
        Code.InvalidArgument,
        startRule,
      ],
      [
        "start_time after 9999-12-31",
        () =>
          createWith(
            { startTime: timestampFromMs(Date.parse("+010000-01-01T00:00:00.000Z")) },
            bin,
          ),
        Code.InvalidArgument,
        startRule,
      ],
      [
        "start_time finer than a millisecond",
        () =>
          createWith({
            startTime: { ...timestampFromMs(Date.parse("2033-09-01T09:00:00Z")), nanos: 1 },
          }),
        Code.InvalidArgument,
        /^event\.start_time: must have at most millisecond precision$/,
      ],
      // duration
      [
        "no duration",
        () => createWith({ duration: undefined }),
        Code.InvalidArgument,
        /^event\.duration: is required$/,
      ],
      [
        "zero duration",
        () => createWith({ duration: durationFromMs(0) }),
        Code.InvalidArgument,
        durationRule,
      ],
      [
        "negative duration",
        () => createWith({ duration: durationFromMs(-SECOND) }),
        Code.InvalidArgument,
        durationRule,
      ],
      [
        "duration of 366 days and 1 ms",
        () => createWith({ duration: durationFromMs(366 * DAY + 1) }),
        Code.InvalidArgument,
        durationRule,
      ],
      [
        "duration finer than a millisecond",
        () => createWith({ duration: { ...durationFromMs(HOUR), nanos: 500 } }),
        Code.InvalidArgument,
        /^event\.duration: must have at most millisecond precision$/,
      ],
      // description
      [
        "description of 16 KiB + 1 byte (of UTF-8)",
        () => createWith({ description: `${"€".repeat(5461)}ab` }),
        Code.InvalidArgument,
        /^event\.description: must be at most 16 KiB/,
      ],
      [
        "description with NUL",
        () => createWith({ description: "a\u0000b" }),
        Code.InvalidArgument,
        /^event\.description: must not contain NUL characters$/,
      ],
      [
        "description with a lone surrogate",
        () => createWith({ description: "\udc00" }),
        Code.InvalidArgument,
        notUtf8("description"),
      ],
      // notify_before
      [
        "negative notify_before",
        () => createWith({ notifyBefore: durationFromMs(-1) }),
        Code.InvalidArgument,
        notifyRule,
      ],
      [
        "notify_before of 366 days and 1 ms",
        () => createWith({ notifyBefore: durationFromMs(366 * DAY + 1) }),
        Code.InvalidArgument,
        notifyRule,
      ],
      // listings
      [
        "day: February 30",
        () => c.listDayEvents({ date: "2026-02-30" }),
        Code.InvalidArgument,
        dateRule,
      ],
      ["day: no date", () => c.listDayEvents({ date: "" }), Code.InvalidArgument, dateRule],
      [
        "day: unpadded date",
        () => c.listDayEvents({ date: "2026-3-8" }),
        Code.InvalidArgument,
        dateRule,
      ],
      [
        "week: a date-time",
        () => c.listWeekEvents({ date: "2026-03-08T00:00:00Z" }),
        Code.InvalidArgument,
        dateRule,
      ],
      [
        "month: year 0",
        () => c.listMonthEvents({ date: "0000-01-01" }),
        Code.InvalidArgument,
        dateRule,
      ],
      [
        "day: unknown time zone",
        () => c.listDayEvents({ date: "2026-03-08", timeZone: "Mars/Olympus_Mons" }),
        Code.InvalidArgument,
        zoneRule,
      ],
      [
        "week: an offset instead of a zone name",
        () => c.listWeekEvents({ date: "2026-03-08", timeZone: "+05:00" }),
        Code.InvalidArgument,
        zoneRule,
      ],
      [
        "month: a zone name with a path trick",
        () => c.listMonthEvents({ date: "2026-03-08", timeZone: "../etc/passwd" }),
        Code.InvalidArgument,
        zoneRule,
      ],
    ];

    describe("each rule, refused", { concurrency: true }, () => {
      for (const [name, call, code, message] of cases) {
        it(name, async () => {
          await expectError(call(), code, message);
        });
      }
    });

    it("a refused write stores nothing", async () => {
      assert.equal(await rowCount(u), 0);
    });

    it("the limits themselves are accepted, and stored exactly", async () => {
      const ok = user("limits");
      const l = client(ok);
      const lb = client(ok, { binary: true });
      const stored: Event[] = [];
      const accept = async (spec: Spec, via = l) => {
        const event = await createOk(via, spec);
        stored.push(event);
        return event;
      };
      const astral = await accept({
        title: "😀".repeat(255),
        start: "2033-10-01T00:00:00Z",
        durationMs: 1,
      });
      assert.equal(astral.title, "😀".repeat(255), "255 characters, 510 UTF-16 units");
      const padded = await accept({
        title: `  ${"t".repeat(255)}  `,
        start: "2033-10-01T01:00:00Z",
        durationMs: 1,
      });
      assert.equal(padded.title, "t".repeat(255));
      const description = `${"€".repeat(5461)}a`; // 16384 bytes
      assert.equal(Buffer.byteLength(description), 16 * 1024);
      await accept({ description, start: "2033-10-01T02:00:00Z", durationMs: HOUR });
      await accept({ start: "2033-10-01T03:00:00Z", durationMs: HOUR, notifyBeforeMs: 0 });
      await accept({ start: "2033-10-01T04:00:00Z", durationMs: HOUR, notifyBeforeMs: 366 * DAY });
      await accept({ start: "2040-01-01T00:00:00Z", durationMs: 366 * DAY });
      const last = await accept({ start: "9999-12-31T23:59:59.999Z", durationMs: 1 }, lb);
      for (const event of stored) await expectStored(ok, event);
      const lastRow = await rowOf(ok, last.id);
      assert.equal(
        lastRow?.end_ms,
        Date.parse("+010000-01-01T00:00:00.000Z"),
        "ends in year 10000",
      );

      // The earliest start: checked on the response only, because the
      // retention cleanup may delete the row at any moment (it ended long ago).
      const first = await createOk(lb, { start: "0001-01-01T00:00:00.000Z", durationMs: HOUR });
      assert.equal(tsMs(first.startTime), Date.parse("0001-01-01T00:00:00.000Z"));

      const longest = `${USER_PREFIX}${"u".repeat(128 - USER_PREFIX.length)}`;
      assert.equal(longest.length, 128);
      const { events } = await client(longest).listDayEvents({ date: "2033-10-01" });
      assert.deepEqual(events, []);
    });
  });

  describe("listings", { concurrency: true }, () => {
    // One user's calendar around the DST changes of America/New_York in 2032
    // (Sunday 2032-03-14 has 23 hours there, Sunday 2032-11-07 has 25), and
    // around a month that starts on January 31 of a leap year. All times UTC.
    // The year is in the future so that the retention cleanup (events that
    // ended more than 365 days ago) never touches the fixture.
    const fixture = {
      // March: New York is UTC-5 until 2032-03-14 07:00Z, UTC-4 after.
      w0: ["2032-03-08T04:30:00Z", HOUR], // NY Mar 7 23:30 to Mar 8 00:30: crosses local midnight
      a: ["2032-03-13T23:00:00Z", HOUR], // ends exactly at UTC midnight of Mar 14
      b: ["2032-03-14T00:00:00Z", 30 * MINUTE], // starts exactly at UTC midnight
      c: ["2032-03-14T04:30:00Z", HOUR], // NY Mar 13 23:30 to Mar 14 00:30
      d: ["2032-03-14T06:30:00Z", HOUR], // NY 01:30 EST to 03:30 EDT, across the gap
      g: ["2032-03-14T23:30:00Z", HOUR], // crosses UTC midnight; NY 19:30 EDT
      e: ["2032-03-15T03:30:00Z", 30 * MINUTE], // NY Mar 14 23:30 to 24:00: ends at the 23 h day's end
      f: ["2032-03-15T04:00:00Z", 30 * MINUTE], // NY Mar 15 00:00: inside a 24 h "day" by mistake
      k1: ["2032-04-01T03:30:00Z", 30 * MINUTE], // NY Mar 31 23:30: last of the NY month
      k2: ["2032-04-01T04:00:00Z", 30 * MINUTE], // NY Apr 1 00:00: first after it
      // January 31 plus one month is February 29 (2032 is a leap year).
      j0: ["2032-01-30T23:00:00Z", HOUR], // ends exactly at UTC Jan 31 00:00
      j1: ["2032-01-31T00:00:00Z", HOUR], // UTC Jan 31 00:00; NY Jan 30 19:00
      j2: ["2032-02-28T23:00:00Z", HOUR], // ends exactly at UTC Feb 29 00:00
      j3: ["2032-02-29T00:00:00Z", 30 * MINUTE], // UTC Feb 29 00:00; NY Feb 28 19:00
      j4: ["2032-02-29T04:30:00Z", HOUR], // NY Feb 28 23:30 to Feb 29 00:30
      // November: New York is UTC-4 until 2032-11-07 06:00Z, UTC-5 after.
      n5: ["2032-11-06T23:45:00Z", 30 * MINUTE], // crosses UTC midnight; NY Nov 6 19:45
      n1: ["2032-11-07T03:30:00Z", HOUR], // NY Nov 6 23:30 to Nov 7 00:30
      n2: ["2032-11-07T05:30:00Z", HOUR], // NY 01:30 EDT to 01:30 EST, the repeated hour
      n3: ["2032-11-08T04:00:00Z", 30 * MINUTE], // NY Nov 7 23:00 EST: the 25th hour
      n4: ["2032-11-08T05:00:00Z", 30 * MINUTE], // NY Nov 8 00:00: just after the 25 h day
    } as const satisfies Record<string, readonly [string, number]>;
    type Name = keyof typeof fixture;

    const owner = user("listings");
    const stranger = user("listings-stranger");
    const lc = client(owner);
    const byName = new Map<Name, Event>();
    const nameOf = new Map<string, string>();

    before(async () => {
      for (const [name, [start, duration]] of Object.entries(fixture) as [
        Name,
        readonly [string, number],
      ][]) {
        const event = await createOk(lc, { title: name, start, durationMs: duration });
        byName.set(name, event);
        nameOf.set(event.id, name);
        await expectStored(owner, event);
      }
      // Someone else's event at the same time as c: never in the owner's listings.
      const theirs = await createOk(client(stranger), {
        title: "stranger",
        start: fixture.c[0],
        durationMs: DAY,
      });
      nameOf.set(theirs.id, "stranger's event");
    });

    const NY = "America/New_York";
    const listings: [
      kind: "day" | "week" | "month",
      date: string,
      zone: string,
      expected: Name[],
    ][] = [
      // March, UTC: days are 24 h from UTC midnight; half-open windows.
      ["day", "2032-03-14", "UTC", ["b", "c", "d", "g"]],
      ["day", "2032-03-14", "", ["b", "c", "d", "g"]], // no zone: UTC
      ["day", "2032-03-15", "UTC", ["g", "e", "f"]],
      // March, New York: Mar 14 runs 05:00Z to 04:00Z next day (23 h).
      ["day", "2032-03-13", NY, ["a", "b", "c"]],
      ["day", "2032-03-14", NY, ["c", "d", "g", "e"]],
      ["day", "2032-03-15", NY, ["f"]],
      ["day", "2032-03-16", NY, []],
      ["week", "2032-03-08", NY, ["w0", "a", "b", "c", "d", "g", "e"]],
      ["week", "2032-03-08", "UTC", ["w0", "a", "b", "c", "d", "g"]],
      ["week", "2032-03-09", "UTC", ["a", "b", "c", "d", "g", "e", "f"]],
      ["month", "2032-03-01", NY, ["w0", "a", "b", "c", "d", "g", "e", "f", "k1"]],
      ["month", "2032-03-01", "UTC", ["w0", "a", "b", "c", "d", "g", "e", "f"]],
      // A month from January 31 ends on February 29.
      ["month", "2032-01-31", "UTC", ["j1", "j2"]],
      ["month", "2032-01-31", NY, ["j2", "j3", "j4"]],
      // November, UTC.
      ["day", "2032-11-07", "UTC", ["n5", "n1", "n2"]],
      // November, New York: Nov 7 runs 04:00Z to 05:00Z next day (25 h).
      ["day", "2032-11-06", NY, ["n5", "n1"]],
      ["day", "2032-11-07", NY, ["n1", "n2", "n3"]],
      ["day", "2032-11-08", NY, ["n4"]],
      ["week", "2032-11-01", NY, ["n5", "n1", "n2", "n3"]],
      ["week", "2032-11-01", "UTC", ["n5", "n1", "n2"]],
      ["month", "2032-10-08", NY, ["n5", "n1", "n2", "n3"]],
    ];

    const list = async (
      c: CalendarClient,
      kind: "day" | "week" | "month",
      date: string,
      timeZone: string,
    ) => {
      const request = { date, timeZone };
      const { events } =
        kind === "day"
          ? await c.listDayEvents(request)
          : kind === "week"
            ? await c.listWeekEvents(request)
            : await c.listMonthEvents(request);
      return events;
    };

    for (const [kind, date, zone, expected] of listings) {
      it(`${kind} from ${date} in ${zone || "(default) UTC"}: ${expected.join(", ") || "nothing"}`, async () => {
        const events = await list(lc, kind, date, zone);
        assert.deepEqual(
          events.map((e) => nameOf.get(e.id) ?? `unknown ${e.id}`),
          expected,
        );
        // Each listed event is the whole stored event.
        assert.deepEqual(
          events,
          expected.map((name) => byName.get(name)),
        );
      });
    }

    it("another user sees none of them", async () => {
      const events = await list(client(stranger), "month", "2032-03-01", NY);
      assert.deepEqual(
        events.map((e) => nameOf.get(e.id)),
        ["stranger's event"],
      );
      assert.deepEqual(
        await list(client(user("listings-nobody")), "month", "2032-03-01", "UTC"),
        [],
      );
    });
  });

  describe("reminders", { concurrency: true }, () => {
    /** An event starting in an hour, whose reminder is due `inMs` from now. */
    const remindIn = async (c: CalendarClient, inMs: number) => {
      const now = Date.now();
      const start = Math.ceil(now / MINUTE) * MINUTE + HOUR;
      const notifyAt = now + inMs;
      const event = await createOk(c, {
        title: `reminder due ${new Date(notifyAt).toISOString()}`,
        start,
        durationMs: 30 * MINUTE,
        notifyBeforeMs: start - notifyAt,
      });
      return { event, notifyAt };
    };

    const waitForReceipts = async (eventId: string, count: number, dueAt: number) => {
      await until(
        () => receipts().forEvent(eventId).length >= count,
        () =>
          `receipt ${count} for event ${eventId} (due ${new Date(dueAt).toISOString()}); ` +
          `seen: ${JSON.stringify(
            receipts()
              .forEvent(eventId)
              .map((r) => r.body),
          )}`,
        Math.max(0, dueAt - Date.now()) + 15_000,
      );
      const seen = receipts().forEvent(eventId)[count - 1];
      assert.ok(seen);
      return seen;
    };

    const assertReceipt = (
      seen: SeenReceipt,
      userId: string,
      eventId: string,
      notifyAt: number,
    ) => {
      const id = notificationId(userId, eventId, new Date(notifyAt));
      assert.deepEqual(Object.keys(seen.body).sort(), [
        "deliveredAt",
        "eventId",
        "notificationId",
        "userId",
      ]);
      assert.equal(seen.body.notificationId, id);
      assert.equal(seen.body.eventId, eventId);
      assert.equal(seen.body.userId, userId);
      assert.equal(seen.messageId, id, "the AMQP message-id is the notification id");
      assert.equal(seen.contentType, "application/json");
      assert.equal(typeof seen.body.deliveredAt, "string");
      const deliveredAt = Date.parse(String(seen.body.deliveredAt));
      assert.equal(new Date(deliveredAt).toISOString(), seen.body.deliveredAt, "an ISO instant");
      assert.ok(
        deliveredAt >= notifyAt,
        `delivered early: due ${new Date(notifyAt).toISOString()}, delivered ${seen.body.deliveredAt}`,
      );
      assert.ok(
        seen.receivedAt <= notifyAt + ON_TIME_MS,
        `late: due ${new Date(notifyAt).toISOString()}, receipt seen ${seen.receivedAt - notifyAt} ms after (allowed ${ON_TIME_MS})`,
      );
    };

    it("a reminder a few seconds away produces one receipt with the right fields", {
      timeout: 40_000,
    }, async (t) => {
      const u = user("reminder");
      const c = client(u);
      const { event, notifyAt } = await remindIn(c, 3000);
      const before = await expectStored(u, event);
      assert.equal(before.notify_at_ms, notifyAt);
      assert.equal(before.reminder_sent_at_ms, null);

      const seen = await waitForReceipts(event.id, 1, notifyAt);
      assertReceipt(seen, u, event.id, notifyAt);
      t.diagnostic(`receipt seen ${seen.receivedAt - notifyAt} ms after notify_at`);

      const sent = await rowOf(u, event.id);
      assert.ok(sent?.reminder_sent_at_ms, "marked sent in the database");
      assert.ok(sent.reminder_sent_at_ms >= notifyAt);
      assert.equal(sent.version, 1, "sending is not an update");

      // A change that does not move the reminder leaves it sent.
      const { event: renamed } = await c.updateEvent({
        event: edited(event, { title: "Renamed" }),
      });
      assert.ok(renamed);
      const afterRename = await expectStored(u, renamed);
      assert.equal(afterRename.reminder_sent_at_ms, sent.reminder_sent_at_ms);

      await sleep(QUIET_MS);
      assert.equal(receipts().forEvent(event.id).length, 1, "delivered more than once");
      assert.deepEqual(receipts().malformed, []);
    });

    it("moving the event re-arms its reminder: a second receipt, for the new time", {
      timeout: 60_000,
    }, async () => {
      const u = user("re-arm");
      const c = client(u);
      const { event, notifyAt } = await remindIn(c, 2000);
      assertReceipt(await waitForReceipts(event.id, 1, notifyAt), u, event.id, notifyAt);
      await until(
        async () => (await rowOf(u, event.id))?.reminder_sent_at_ms != null,
        () => `event ${event.id} marked sent`,
        5000,
      );

      const start = tsMs(event.startTime) + HOUR;
      const newNotifyAt = Date.now() + 2000;
      const { event: moved } = await c.updateEvent({
        event: edited(event, {
          startTime: timestampFromMs(start),
          notifyBefore: durationFromMs(start - newNotifyAt),
        }),
        expectedVersion: 1,
      });
      assert.ok(moved);
      const rearmed = await expectStored(u, moved);
      assert.equal(rearmed.reminder_sent_at_ms, null, "re-armed");
      assert.equal(rearmed.notify_at_ms, newNotifyAt);

      assertReceipt(await waitForReceipts(event.id, 2, newNotifyAt), u, event.id, newNotifyAt);
      await sleep(QUIET_MS);
      assert.equal(receipts().forEvent(event.id).length, 2);
    });

    it("a deleted event's reminder never goes out", { timeout: 30_000 }, async () => {
      const u = user("cancelled");
      const c = client(u);
      const { event, notifyAt } = await remindIn(c, 2000);
      await c.deleteEvent({ id: event.id });
      await expectNoRow(u, event.id);
      await sleep(Math.max(0, notifyAt - Date.now()) + QUIET_MS);
      assert.deepEqual(receipts().forEvent(event.id), []);
    });
  });

  describe("retention", { concurrency: true }, () => {
    it("an event that ended more than a year ago disappears; one that ended 11 months ago stays", {
      timeout: CLEANUP_WAIT_MS + 30_000,
    }, async (t) => {
      const u = user("retention");
      const c = client(u);
      const monthsAgo = (months: number) => {
        const at = new Date();
        at.setUTCMonth(at.getUTCMonth() - months);
        return at.getTime();
      };
      // The recent one first: once the old one is gone, a cleanup pass has
      // run after both existed.
      const recentEnd = monthsAgo(11);
      const recent = await createOk(c, {
        title: "11 months ago",
        start: recentEnd - HOUR,
        durationMs: HOUR,
      });
      await expectStored(u, recent);
      const oldEnd = monthsAgo(13);
      const old = await createOk(c, {
        title: "13 months ago",
        start: oldEnd - HOUR,
        durationMs: HOUR,
      });
      // Not checked in the database: a cleanup pass may already have removed it.
      assert.equal(tsMs(old.startTime), oldEnd - HOUR);

      const started = Date.now();
      await until(
        async () => (await rowOf(u, old.id)) === undefined,
        () =>
          `the event that ended 13 months ago (${new Date(oldEnd).toISOString()}) is still stored after ${CLEANUP_WAIT_MS} ms. ` +
          "The scheduler deletes old events at start and then every CLEANUP_INTERVAL (default 1h): " +
          "the stack under test must run it with a short one (compose.yaml, scheduler environment).",
        CLEANUP_WAIT_MS,
        250,
      );
      t.diagnostic(`old event deleted ${Date.now() - started} ms after it was created`);
      await expectError(c.getEvent({ id: old.id }), Code.NotFound, /not found/);
      await expectStored(u, recent);
      const { event: stillThere } = await c.getEvent({ id: recent.id });
      assert.deepEqual(stillThere, recent);
    });
  });
});
