// The traffic of the load test: workers, each with a client of its own (one
// protocol) and users of its own, send a weighted mix of calls and check
// every answer against what they know. A worker owns its users, so it knows
// their events exactly (ids, times, versions): every answer has one right
// code and, when OK, one right content. Besides, all workers race on a few
// shared "hot" events, where OK and ABORTED are both right.
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { overlaps } from "../../internal/domain/event.js";
import { calendarWindow, type WindowKind } from "../../internal/domain/window.js";
import {
  type Answer,
  answer,
  as,
  type Calendar,
  codeName,
  describeAnswer,
} from "./load_clients.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Every event lives in January 2032, one hour-long slot per event at most. */
export const BASE_MS = Date.UTC(2032, 0, 1);
const SLOTS = 31 * 24;
/** A user holding this many events deletes instead of creating. */
const MAX_EVENTS_PER_USER = 40;

// ---------------------------------------------------------------------------
// What a worker knows

interface Known {
  id: string;
  slot: number;
  title: string;
  startMs: number;
  durationMs: number;
  description: string | undefined;
  notifyBeforeMs: number | undefined;
  version: number;
}

export interface User {
  id: string;
  events: Map<string, Known>;
  /** slot -> event id */
  slots: Map<number, string>;
}

export interface Worker {
  index: number;
  client: Calendar;
  protocol: string;
  users: User[];
  random: () => number;
  /** Titles made unique per worker. */
  serial: number;
}

/** mulberry32: a small seeded PRNG, so a worker's choices can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(w: Worker, items: readonly T[]): T =>
  items[Math.floor(w.random() * items.length)] as T;
const int = (w: Worker, min: number, max: number) => min + Math.floor(w.random() * (max - min + 1));

// ---------------------------------------------------------------------------
// Counting

export interface OpStats {
  tried: number;
  passed: number;
  latenciesMs: number[];
  firstFailure?: string;
}

export interface Failure {
  atMs: number;
  worker: number;
  protocol: string;
  op: string;
  detail: string;
}

export class LoadStats {
  readonly startedAt = Date.now();
  requests = 0;
  failures = 0;
  readonly firstFailures: Failure[] = [];
  readonly ops = new Map<string, OpStats>();
  /** Operations by the protocol that carried them. */
  readonly protocols = new Map<string, number>();
  /** Answers by code over the whole run ("OK", "NOT_FOUND", ...). */
  readonly codes = new Map<string, number>();

  op(name: string): OpStats {
    let stats = this.ops.get(name);
    if (!stats) {
      stats = { tried: 0, passed: 0, latenciesMs: [] };
      this.ops.set(name, stats);
    }
    return stats;
  }

  code(result: Answer<unknown>): void {
    const name = result.ok ? "OK" : codeName(result.code);
    this.codes.set(name, (this.codes.get(name) ?? 0) + 1);
  }

  record(w: Worker, op: string, latencyMs: number, failure: string | undefined): void {
    const stats = this.op(op);
    stats.tried++;
    this.protocols.set(w.protocol, (this.protocols.get(w.protocol) ?? 0) + 1);
    if (stats.latenciesMs.length < 200_000) stats.latenciesMs.push(latencyMs);
    if (failure === undefined) {
      stats.passed++;
      return;
    }
    this.failures++;
    stats.firstFailure ??= failure;
    if (this.firstFailures.length < 20) {
      this.firstFailures.push({
        atMs: Date.now() - this.startedAt,
        worker: w.index,
        protocol: w.protocol,
        op,
        detail: failure,
      });
    }
  }
}

// ---------------------------------------------------------------------------
// Checking answers

/** Why `result` is wrong, when `expected` is the one code it may carry. */
function expectCode(
  result: Answer<unknown>,
  expected: Code,
  mentions?: string,
): string | undefined {
  if (result.ok) return `expected ${codeName(expected)}, got OK`;
  if (result.code !== expected)
    return `expected ${codeName(expected)}, got ${describeAnswer(result)}`;
  if (mentions !== undefined && !result.message.includes(mentions)) {
    return `${codeName(expected)} does not name ${mentions}: ${result.message}`;
  }
  return undefined;
}

/** Differences between a returned event and what the worker knows. */
function mismatch(event: Event | undefined, known: Known): string | undefined {
  if (!event) return "the response has no event";
  const got = {
    id: event.id,
    title: event.title,
    startMs: event.startTime ? timestampMs(event.startTime) : Number.NaN,
    durationMs: event.duration ? durationMs(event.duration) : Number.NaN,
    description: event.description,
    notifyBeforeMs: event.notifyBefore ? durationMs(event.notifyBefore) : undefined,
    version: event.version,
  };
  for (const key of Object.keys(got) as (keyof typeof got)[]) {
    if (got[key] !== known[key]) {
      return `${key} is ${JSON.stringify(got[key])}, expected ${JSON.stringify(known[key])} (event ${known.id})`;
    }
  }
  return undefined;
}

function ok<T>(result: Answer<T>, check: (value: T) => string | undefined): string | undefined {
  return result.ok ? check(result.value) : `expected OK, got ${describeAnswer(result)}`;
}

// ---------------------------------------------------------------------------
// Events

type EventInit = MessageInitShape<typeof EventSchema>;

const DESCRIPTIONS = [
  undefined,
  "",
  "Weekly sync",
  "O'Brien; DROP TABLE events; -- bring 'coffee'",
  "Zürich → Köln, 東京 🗓️",
  "100% \\ of _ the % agenda",
];

function freeSlot(w: Worker, user: User): number | undefined {
  for (let tries = 0; tries < 20; tries++) {
    const slot = int(w, 0, SLOTS - 1);
    if (!user.slots.has(slot)) return slot;
  }
  return undefined;
}

/** New content for an event in `slot`: inside the slot's hour, millisecond precision. */
function contentIn(w: Worker, slot: number): Omit<Known, "id" | "version"> {
  w.serial++;
  return {
    slot,
    title: `w${w.index} event ${w.serial}`,
    startMs: BASE_MS + slot * HOUR + int(w, 0, 10) * MINUTE + int(w, 0, 999),
    durationMs: int(w, 15, 45) * MINUTE,
    description: pick(w, DESCRIPTIONS),
    notifyBeforeMs: w.random() < 0.5 ? undefined : int(w, 0, 60) * MINUTE,
  };
}

function toInit(content: Omit<Known, "id" | "version" | "slot">, id: string): EventInit {
  return {
    id,
    title: content.title,
    startTime: timestampFromMs(content.startMs),
    duration: durationFromMs(content.durationMs),
    description: content.description,
    notifyBefore:
      content.notifyBeforeMs === undefined ? undefined : durationFromMs(content.notifyBeforeMs),
  };
}

function anyEvent(w: Worker, user: User): Known | undefined {
  const size = user.events.size;
  if (size === 0) return undefined;
  let at = Math.floor(w.random() * size);
  for (const known of user.events.values()) if (at-- === 0) return known;
  return undefined;
}

function forget(user: User, known: Known): void {
  user.events.delete(known.id);
  user.slots.delete(known.slot);
}

function remember(user: User, known: Known): void {
  user.events.set(known.id, known);
  user.slots.set(known.slot, known.id);
}

// ---------------------------------------------------------------------------
// Operations: each makes one call and says what was wrong with the answer.

type Op = (w: Worker, user: User, stats: LoadStats) => Promise<string | undefined>;

async function call<T>(stats: LoadStats, promise: Promise<T>): Promise<Answer<T>> {
  const result = await answer(promise);
  stats.requests++;
  stats.code(result);
  return result;
}

const create: Op = async (w, user, stats) => {
  const slot = freeSlot(w, user);
  if (slot === undefined) return deleteOne(w, user, stats);
  const content = contentIn(w, slot);
  // Half the creates choose their id, half let the server do it.
  const chosen = w.random() < 0.5 ? randomUUID() : "";
  const result = await call(
    stats,
    w.client.createEvent({ event: toInit(content, chosen) }, as(user.id)),
  );
  return ok(result, ({ event }) => {
    const id = event?.id ?? "";
    if (chosen !== "" && id !== chosen) return `created with id ${chosen}, answered ${id}`;
    const known = { ...content, id, version: 1 };
    remember(user, known);
    return mismatch(event, known);
  });
};

const createOverlapping: Op = async (w, user, stats) => {
  const other = anyEvent(w, user);
  if (!other) return create(w, user, stats);
  const content = contentIn(w, other.slot);
  content.startMs = other.startMs + Math.floor(other.durationMs / 2);
  const result = await call(
    stats,
    w.client.createEvent({ event: toInit(content, "") }, as(user.id)),
  );
  return expectCode(result, Code.FailedPrecondition, other.id);
};

const get: Op = async (w, user, stats) => {
  const known = anyEvent(w, user);
  if (!known) return create(w, user, stats);
  const result = await call(stats, w.client.getEvent({ id: known.id }, as(user.id)));
  return ok(result, ({ event }) => mismatch(event, known));
};

const getMissing: Op = async (w, user, stats) => {
  const result = await call(stats, w.client.getEvent({ id: randomUUID() }, as(user.id)));
  return expectCode(result, Code.NotFound);
};

/** Another user's event is NOT_FOUND, exactly like a missing one. */
function getOthers(hot: HotEvents): Op {
  return async (w, user, stats) => {
    const id = pick(w, hot.ids);
    const result = await call(stats, w.client.getEvent({ id }, as(user.id)));
    return expectCode(result, Code.NotFound);
  };
}

function update(versioned: boolean): Op {
  return async (w, user, stats) => {
    const known = anyEvent(w, user);
    if (!known) return create(w, user, stats);
    // Mostly a new title and description in place; sometimes a move to a free slot.
    const slot = w.random() < 0.3 ? (freeSlot(w, user) ?? known.slot) : known.slot;
    const content = contentIn(w, slot);
    const result = await call(
      stats,
      w.client.updateEvent(
        {
          event: toInit(content, known.id),
          expectedVersion: versioned ? known.version : undefined,
        },
        as(user.id),
      ),
    );
    return ok(result, ({ event }) => {
      const next = { ...content, id: known.id, version: known.version + 1 };
      forget(user, known);
      remember(user, next);
      return mismatch(event, next);
    });
  };
}

const updateStale: Op = async (w, user, stats) => {
  const known = anyEvent(w, user);
  if (!known) return create(w, user, stats);
  const stale = known.version > 1 ? int(w, 1, known.version - 1) : known.version + 1;
  const result = await call(
    stats,
    w.client.updateEvent(
      { event: toInit(contentIn(w, known.slot), known.id), expectedVersion: stale },
      as(user.id),
    ),
  );
  return expectCode(result, Code.Aborted);
};

const updateOverlapping: Op = async (w, user, stats) => {
  const moving = anyEvent(w, user);
  const target = anyEvent(w, user);
  if (!moving || !target || moving === target) return get(w, user, stats);
  const content = contentIn(w, target.slot);
  content.startMs = target.startMs;
  const result = await call(
    stats,
    w.client.updateEvent(
      {
        event: toInit(content, moving.id),
        expectedVersion: w.random() < 0.5 ? moving.version : undefined,
      },
      as(user.id),
    ),
  );
  return expectCode(result, Code.FailedPrecondition, target.id);
};

const deleteOne: Op = async (w, user, stats) => {
  const known = anyEvent(w, user);
  if (!known) return create(w, user, stats);
  const result = await call(stats, w.client.deleteEvent({ id: known.id }, as(user.id)));
  return ok(result, () => {
    forget(user, known);
    return undefined;
  });
};

const deleteMissing: Op = async (w, user, stats) => {
  const result = await call(stats, w.client.deleteEvent({ id: randomUUID() }, as(user.id)));
  return expectCode(result, Code.NotFound);
};

const TIME_ZONES = [
  "UTC",
  "",
  "Europe/Berlin",
  "America/New_York",
  "Asia/Kolkata",
  "Australia/Lord_Howe",
];

/** What a list of `kind` from `date` in `timeZone` must answer, by what the worker knows. */
function expectedList(user: User, kind: WindowKind, date: string, timeZone: string): string[] {
  const window = calendarWindow(kind, date, timeZone);
  if (!window.ok) throw new Error(`bad window in the test: ${window.error.message}`);
  return [...user.events.values()]
    .filter((known) =>
      overlaps({ start: new Date(known.startMs), durationMs: known.durationMs }, window.value),
    )
    .sort((a, b) => a.startMs - b.startMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((known) => `${known.id} v${known.version}`);
}

function compareList(events: Event[], expected: string[]): string | undefined {
  const got = events.map((event) => `${event.id} v${event.version}`);
  if (got.length === expected.length && got.every((line, i) => line === expected[i]))
    return undefined;
  const missing = expected.filter((line) => !got.includes(line));
  const extra = got.filter((line) => !expected.includes(line));
  return `listed ${got.length} events, expected ${expected.length}; missing ${missing.slice(0, 3).join(", ") || "none"}; unexpected ${extra.slice(0, 3).join(", ") || "none"}${missing.length === 0 && extra.length === 0 ? " (order differs)" : ""}`;
}

function list(kind: WindowKind): Op {
  return async (w, user, stats) => {
    const timeZone = pick(w, TIME_ZONES);
    // Days and weeks inside January 2032; months from mid-December or the 1st.
    const date =
      kind === "month"
        ? pick(w, ["2031-12-15", "2032-01-01", "2032-01-10"])
        : `2032-01-${String(int(w, 1, kind === "week" ? 25 : 31)).padStart(2, "0")}`;
    const request = { date, timeZone };
    const expected = expectedList(user, kind, date, timeZone);
    const result: Answer<{ events: Event[] }> =
      kind === "day"
        ? await call(stats, w.client.listDayEvents(request, as(user.id)))
        : kind === "week"
          ? await call(stats, w.client.listWeekEvents(request, as(user.id)))
          : await call(stats, w.client.listMonthEvents(request, as(user.id)));
    return ok(result, ({ events }) => compareList(events, expected));
  };
}

/** Requests a client gets wrong, each with the one code that must answer it. */
const BAD_INPUTS: {
  name: string;
  code: Code;
  send: (w: Worker, user: User) => Promise<unknown>;
}[] = [
  {
    name: "blank title",
    code: Code.InvalidArgument,
    send: (w, user) =>
      w.client.createEvent(
        { event: { ...toInit(contentIn(w, 0), ""), title: "   " } },
        as(user.id),
      ),
  },
  {
    name: "no start_time",
    code: Code.InvalidArgument,
    send: (w, user) =>
      w.client.createEvent(
        { event: { ...toInit(contentIn(w, 0), ""), startTime: undefined } },
        as(user.id),
      ),
  },
  {
    name: "zero duration",
    code: Code.InvalidArgument,
    send: (w, user) =>
      w.client.createEvent(
        { event: { ...toInit(contentIn(w, 0), ""), duration: durationFromMs(0) } },
        as(user.id),
      ),
  },
  {
    name: "description over 16 KiB",
    code: Code.InvalidArgument,
    send: (w, user) =>
      w.client.createEvent(
        { event: { ...toInit(contentIn(w, 0), ""), description: "x".repeat(16 * 1024 + 1) } },
        as(user.id),
      ),
  },
  {
    name: "February 30th",
    code: Code.InvalidArgument,
    send: (w, user) => w.client.listDayEvents({ date: "2032-02-30" }, as(user.id)),
  },
  {
    name: "unknown time zone",
    code: Code.InvalidArgument,
    send: (w, user) =>
      w.client.listWeekEvents({ date: "2032-01-05", timeZone: "Mars/Olympus_Mons" }, as(user.id)),
  },
  {
    name: "id not a UUID",
    code: Code.InvalidArgument,
    send: (w, user) => w.client.getEvent({ id: "42; select 1" }, as(user.id)),
  },
  {
    name: "expected_version 0",
    code: Code.InvalidArgument,
    send: (w, user) =>
      w.client.updateEvent(
        { event: toInit(contentIn(w, 0), randomUUID()), expectedVersion: 0 },
        as(user.id),
      ),
  },
  {
    name: "no x-user-id",
    code: Code.Unauthenticated,
    send: (w) => w.client.deleteEvent({ id: randomUUID() }, as(undefined)),
  },
  {
    name: "x-user-id over 128 characters",
    code: Code.InvalidArgument,
    send: (w) => w.client.getEvent({ id: randomUUID() }, as("u".repeat(129))),
  },
];

const badInput: Op = async (w, user, stats) => {
  const bad = pick(w, BAD_INPUTS);
  const result = await call(stats, bad.send(w, user));
  const failure = expectCode(result, bad.code);
  return failure && `${bad.name}: ${failure}`;
};

// ---------------------------------------------------------------------------
// Hot events: every worker races on these with expected_version.

export interface HotEvents {
  user: string;
  ids: string[];
  /** Successful updates per id, to check the final versions against. */
  wins: Map<string, number>;
}

function hotUpdate(hot: HotEvents): Op {
  return async (w, _user, stats) => {
    const id = pick(w, hot.ids);
    const read = await call(stats, w.client.getEvent({ id }, as(hot.user)));
    if (!read.ok) return `GetEvent of a hot event: ${describeAnswer(read)}`;
    const seen = read.value.event;
    if (!seen) return "GetEvent of a hot event: no event";
    const result = await call(
      stats,
      w.client.updateEvent(
        {
          event: {
            id,
            title: `hot, last by w${w.index}`,
            startTime: seen.startTime,
            duration: seen.duration,
            description: `${seen.version + 1}`,
          },
          expectedVersion: seen.version,
        },
        as(hot.user),
      ),
    );
    if (result.ok) {
      hot.wins.set(id, (hot.wins.get(id) ?? 0) + 1);
      const version = result.value.event?.version;
      return version === seen.version + 1
        ? undefined
        : `updated from version ${seen.version}, answered ${version}`;
    }
    return result.code === Code.Aborted
      ? undefined
      : `expected OK or ABORTED, got ${describeAnswer(result)}`;
  };
}

// ---------------------------------------------------------------------------
// The mix

export function operations(hot: HotEvents): { name: string; weight: number; run: Op }[] {
  return [
    { name: "create", weight: 14, run: create },
    { name: "create overlapping (FAILED_PRECONDITION)", weight: 3, run: createOverlapping },
    { name: "get", weight: 14, run: get },
    { name: "get missing (NOT_FOUND)", weight: 2, run: getMissing },
    {
      name: "get another user's (NOT_FOUND)",
      weight: 1,
      run: getOthers(hot),
    },
    { name: "update with expected_version", weight: 10, run: update(true) },
    { name: "update without expected_version", weight: 6, run: update(false) },
    { name: "update stale version (ABORTED)", weight: 3, run: updateStale },
    { name: "update overlapping (FAILED_PRECONDITION)", weight: 2, run: updateOverlapping },
    { name: "delete", weight: 6, run: deleteOne },
    { name: "delete missing (NOT_FOUND)", weight: 1, run: deleteMissing },
    { name: "list day", weight: 10, run: list("day") },
    { name: "list week", weight: 6, run: list("week") },
    { name: "list month", weight: 4, run: list("month") },
    { name: "bad input (INVALID_ARGUMENT, UNAUTHENTICATED)", weight: 5, run: badInput },
    { name: "hot event race (OK or ABORTED)", weight: 4, run: hotUpdate(hot) },
  ];
}

/** One call (two for a hot race) of a weighted choice; returns the op's name and verdict. */
export async function step(
  w: Worker,
  mix: { name: string; weight: number; run: Op }[],
  stats: LoadStats,
): Promise<void> {
  const total = mix.reduce((sum, op) => sum + op.weight, 0);
  let roll = w.random() * total;
  let chosen = mix[0] as (typeof mix)[number];
  for (const op of mix) {
    roll -= op.weight;
    if (roll < 0) {
      chosen = op;
      break;
    }
  }
  const user = pick(w, w.users);
  // A user at the cap deletes instead of creating, so the data stays bounded.
  const run =
    chosen.name === "create" && user.events.size >= MAX_EVENTS_PER_USER ? deleteOne : chosen.run;
  const started = performance.now();
  let failure: string | undefined;
  try {
    failure = await run(w, user, stats);
  } catch (error) {
    failure = `the test itself threw: ${(error as Error).stack ?? String(error)}`;
  }
  stats.record(w, chosen.name, performance.now() - started, failure);
}

/** Every user's month, listed and compared with what its worker knows. */
export async function verifyFinalState(w: Worker, stats: LoadStats): Promise<string[]> {
  const problems: string[] = [];
  for (const user of w.users) {
    const result = await answer(w.client.listMonthEvents({ date: "2032-01-01" }, as(user.id)));
    const failure = ok(result, ({ events }) =>
      compareList(events, expectedList(user, "month", "2032-01-01", "")),
    );
    stats.record(w, "final state matches", 0, failure);
    if (failure) problems.push(`${user.id}: ${failure}`);
  }
  return problems;
}
