// WatchEvents: what changed since the client's token, then every change as
// it is committed, with a heartbeat when idle.
//
// The stream is pull-based: a page of changes is read from the store only
// when the previous messages have been handed to the transport, and a
// wake-up from the feed only sets a flag. A watcher therefore holds at most
// one page in memory however slow its client, and the change log (not a
// queue per watcher) is what it catches up from. A watcher that still
// cannot keep up is closed with RESOURCE_EXHAUSTED, telling the client to
// catch up with SyncEvents: when one message took longer than
// `sendTimeoutMs` to be taken by the transport, or when it is more than
// `maxBacklog` changes behind.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Counter, Gauge, Registry } from "prom-client";
import client from "prom-client";
import {
  type WatchEventsResponse,
  WatchEventsResponseSchema,
} from "../../gen/calendar/v1/sync_pb.js";
import type { ChangeFeed } from "../changes/feed.js";
import type { EventStore } from "../store/store.js";
import type { EventChange } from "../store/sync.js";
import { eventToProto } from "./mapping.js";
import { syncTokenExpired } from "./sync_errors.js";
import { syncToken } from "./sync_tokens.js";

export interface WatchSettings {
  heartbeatMs: number;
  /** A message the transport has not taken for this long closes the watch. */
  sendTimeoutMs: number;
  /** A watch this many changes behind is closed. */
  maxBacklog: number;
}

export const DEFAULT_WATCH_SETTINGS: WatchSettings = {
  heartbeatMs: 15_000,
  sendTimeoutMs: 30_000,
  maxBacklog: 10_000,
};

// Changes read from the store per round trip while catching up.
const WATCH_PAGE = 200;

export interface WatchMetrics {
  open: Gauge;
  sent: Counter;
  closed: Counter<"reason">;
}

export function createWatchMetrics(registry: Registry): WatchMetrics {
  const reuse = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  return {
    open:
      reuse<Gauge>("watch_streams_open") ??
      new client.Gauge({
        name: "watch_streams_open",
        help: "WatchEvents streams open on this api process",
        registers: [registry],
      }),
    sent:
      reuse<Counter>("watch_changes_sent_total") ??
      new client.Counter({
        name: "watch_changes_sent_total",
        help: "Changes sent to watchers (one per change per watcher)",
        registers: [registry],
      }),
    closed:
      reuse<Counter<"reason">>("watch_streams_closed_total") ??
      new client.Counter({
        name: "watch_streams_closed_total",
        help: "WatchEvents streams ended, by reason",
        labelNames: ["reason"],
        registers: [registry],
      }),
  };
}

/**
 * Watchers of one user usually sit at the same position and wake together:
 * one read serves them all. Reads are shared only between watchers that
 * saw the same feed generation, so nobody gets a read that began before the
 * wake-up it is answering.
 */
export class SharedReads {
  readonly #inFlight = new Map<string, ReturnType<EventStore["readChanges"]>>();

  constructor(
    readonly store: EventStore,
    readonly changes: ChangeFeed,
  ) {}

  read(userId: string, after: number, limit: number): ReturnType<EventStore["readChanges"]> {
    const key = JSON.stringify([userId, after, limit, this.changes.generation(userId)]);
    let read = this.#inFlight.get(key);
    if (!read) {
      read = this.store.readChanges(userId, after, limit, "incremental");
      this.#inFlight.set(key, read);
      const forget = () => this.#inFlight.delete(key);
      read.then(forget, forget);
    }
    return read;
  }
}

export interface WatchRequest {
  reads: SharedReads;
  store: EventStore;
  changes: ChangeFeed;
  watch: WatchSettings;
  metrics: WatchMetrics;
  closing: AbortSignal;
  userId: string;
  /** The position of the client's token; undefined: from now. */
  from: number | undefined;
  /** The call's signal: the client went away or the server gave up on it. */
  signal: AbortSignal;
}

export async function* watchEvents(request: WatchRequest): AsyncGenerator<WatchEventsResponse> {
  const { reads, store, changes, watch, metrics, closing, userId, signal } = request;
  const wakeUp = new WakeUp();
  // Subscribe before the first read: a change committed between the read
  // and the subscription would otherwise wait for the next heartbeat.
  const unsubscribe = changes.subscribe(userId, () => wakeUp.set());
  metrics.open.inc();
  let reason = "client";
  try {
    let position = request.from ?? (await store.syncPosition(userId));
    if (request.from === undefined) yield heartbeat(userId, position);
    for (;;) {
      // Catch up: every change after `position`, a page at a time.
      for (;;) {
        const read = await reads.read(userId, position, WATCH_PAGE);
        if (!read.ok) {
          reason = "expired";
          throw syncTokenExpired("sync_token");
        }
        const page = read.value;
        const behind = page.complete
          ? page.position - position
          : (await store.syncPosition(userId)) - position;
        if (behind > watch.maxBacklog) {
          reason = "slow";
          throw new ConnectError(
            `the watch is ${behind} changes behind (at most ${watch.maxBacklog}); catch up with SyncEvents from your last sync_token, then watch again`,
            Code.ResourceExhausted,
          );
        }
        for (const change of page.changes) {
          const handedAt = Date.now();
          yield changeMessage(userId, change);
          metrics.sent.inc();
          if (Date.now() - handedAt > watch.sendTimeoutMs) {
            reason = "slow";
            throw new ConnectError(
              `the client took over ${watch.sendTimeoutMs} ms to take one message; reconnect with your last sync_token`,
              Code.ResourceExhausted,
            );
          }
        }
        position = page.position;
        if (page.complete) break;
      }
      const woke = await wakeUp.wait(watch.heartbeatMs, [signal, closing]);
      if (closing.aborted) {
        reason = "shutdown";
        throw new ConnectError(
          "the server is shutting down; reconnect with your last sync_token",
          Code.Unavailable,
        );
      }
      if (signal.aborted) return;
      if (!woke) {
        // Idle: read anyway (a safety net for a lost wake-up), then beat.
        const read = await reads.read(userId, position, 1);
        if (read.ok && read.value.changes.length > 0) continue;
        yield heartbeat(userId, position);
      }
    }
  } catch (error) {
    if (reason === "client") reason = "error";
    throw error;
  } finally {
    unsubscribe();
    metrics.open.dec();
    metrics.closed.inc({ reason });
  }
}

function changeMessage(userId: string, change: EventChange): WatchEventsResponse {
  return create(WatchEventsResponseSchema, {
    event: change.kind === "upsert" ? eventToProto(change.event) : undefined,
    deletedId: change.kind === "delete" ? change.id : "",
    syncToken: syncToken(userId, change.change),
    sentAt: timestampNow(),
  });
}

function heartbeat(userId: string, position: number): WatchEventsResponse {
  return create(WatchEventsResponseSchema, {
    heartbeat: true,
    syncToken: syncToken(userId, position),
    sentAt: timestampNow(),
  });
}

/** A level-triggered flag: set() before wait() is not lost. */
class WakeUp {
  #pending = false;
  #resolve: ((woke: boolean) => void) | undefined;

  set(): void {
    this.#pending = true;
    this.#resolve?.(true);
  }

  /** True when woken, false after `timeoutMs` or when a signal aborts. */
  async wait(timeoutMs: number, signals: AbortSignal[]): Promise<boolean> {
    if (this.#pending || signals.some((s) => s.aborted)) {
      const woke = this.#pending;
      this.#pending = false;
      return woke;
    }
    const woke = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const onAbort = () => done(false);
      const done = (value: boolean) => {
        clearTimeout(timer);
        for (const s of signals) s.removeEventListener("abort", onAbort);
        this.#resolve = undefined;
        resolve(value);
      };
      for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
      this.#resolve = done;
    });
    this.#pending = false;
    return woke;
  }
}
