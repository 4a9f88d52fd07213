// The CalendarSyncService handlers: ListEvents (keyset pages over the same
// store listing the day/week/month lists use), SyncEvents (full and
// incremental sync over the store's change log) and WatchEvents (watch.ts).
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type CalendarSyncService,
  ListEventsResponseSchema,
  SyncEventsResponseSchema,
} from "../../gen/calendar/v1/sync_pb.js";
import type { ChangeFeed } from "../changes/feed.js";
import type { DomainError } from "../domain/errors.js";
import type { Result } from "../domain/result.js";
import { limits } from "../domain/validation.js";
import { isTimeZone } from "../domain/window.js";
import type { EventStore } from "../store/store.js";
import { kUserId } from "./context.js";
import { connectErrorFrom } from "./errors.js";
import { eventToProto, instantFromTimestamp } from "./mapping.js";
import { syncTokenExpired } from "./sync_errors.js";
import {
  listPageToken,
  readListPageToken,
  readSyncPageToken,
  readSyncToken,
  syncPageToken,
  syncToken,
} from "./sync_tokens.js";
import { SharedReads, type WatchMetrics, type WatchSettings, watchEvents } from "./watch.js";

export const DEFAULT_PAGE_SIZE = 250;
export const MAX_PAGE_SIZE = 1000;

export interface SyncServiceOptions {
  store: EventStore;
  changes: ChangeFeed;
  watch: WatchSettings;
  metrics: WatchMetrics;
  /** Aborted when the server starts shutting down: watches end UNAVAILABLE. */
  closing: AbortSignal;
}

export function calendarSyncService(
  options: SyncServiceOptions,
): ServiceImpl<typeof CalendarSyncService> {
  const { store } = options;
  const reads = new SharedReads(store, options.changes);
  return {
    async listEvents(req, ctx) {
      const userId = userOf(ctx);
      const min = unwrap(requiredInstant("time_min", req.timeMin));
      const max = unwrap(requiredInstant("time_max", req.timeMax));
      if (!(min < max)) {
        throw new ConnectError("time_max: must be after time_min", Code.InvalidArgument);
      }
      const timeZone = req.timeZone === "" ? "UTC" : req.timeZone;
      if (!isTimeZone(timeZone)) {
        throw new ConnectError(
          'time_zone: must be an IANA time zone name such as "UTC" or "Europe/Berlin"',
          Code.InvalidArgument,
        );
      }
      const pageSize = pageSizeOf(req.pageSize);
      const key = { min, max, timeZone };
      const after =
        req.pageToken === "" ? undefined : unwrap(readListPageToken(req.pageToken, userId, key));
      const events = await store.listEvents(userId, { start: min, end: max }, pageSize + 1, after);
      const page = events.slice(0, pageSize);
      const last = page.at(-1);
      return create(ListEventsResponseSchema, {
        events: page.map(eventToProto),
        nextPageToken:
          events.length > pageSize && last
            ? listPageToken(userId, key, { start: last.start, id: last.id })
            : "",
      });
    },

    async syncEvents(req, ctx) {
      const userId = userOf(ctx);
      const from =
        req.syncToken === ""
          ? undefined
          : unwrap(readSyncToken("sync_token", req.syncToken, userId));
      const pageSize = pageSizeOf(req.pageSize);
      const after =
        req.pageToken === "" ? (from ?? 0) : unwrap(readSyncPageToken(req.pageToken, userId, from));
      const mode = from === undefined ? "full" : "incremental";
      const read = await store.readChanges(userId, after, pageSize, mode);
      if (!read.ok) throw syncTokenExpired(req.pageToken === "" ? "sync_token" : "page_token");
      const { changes, position, complete } = read.value;
      return create(SyncEventsResponseSchema, {
        events: changes.flatMap((c) => (c.kind === "upsert" ? [eventToProto(c.event)] : [])),
        deletedIds: changes.flatMap((c) => (c.kind === "delete" ? [c.id] : [])),
        nextPageToken: complete ? "" : syncPageToken(userId, from, position),
        nextSyncToken: complete ? syncToken(userId, position) : "",
      });
    },

    async *watchEvents(req, ctx) {
      const userId = userOf(ctx);
      const from =
        req.syncToken === ""
          ? undefined
          : unwrap(readSyncToken("sync_token", req.syncToken, userId));
      yield* watchEvents({ ...options, reads, userId, from, signal: ctx.signal });
    },
  };
}

function pageSizeOf(requested: number): number {
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  if (requested < 1 || requested > MAX_PAGE_SIZE) {
    throw new ConnectError(
      `page_size: must be from 1 to ${MAX_PAGE_SIZE}, or 0 for ${DEFAULT_PAGE_SIZE}`,
      Code.InvalidArgument,
    );
  }
  return requested;
}

function requiredInstant(
  field: string,
  ts: Parameters<typeof instantFromTimestamp>[1] | undefined,
): Result<Date, DomainError> {
  if (ts === undefined) {
    return { ok: false, error: { kind: "invalid_argument", field, message: "is required" } };
  }
  const instant = instantFromTimestamp(field, ts);
  if (!instant.ok) return instant;
  const ms = instant.value.getTime();
  if (!(ms >= limits.startMin.getTime() && ms <= limits.startMax.getTime() + 1)) {
    return {
      ok: false,
      error: {
        kind: "invalid_argument",
        field,
        message: "must be between 0001-01-01 and 9999-12-31",
      },
    };
  }
  return instant;
}

function unwrap<T>(result: Result<T, DomainError>): T {
  if (!result.ok) throw connectErrorFrom(result.error);
  return result.value;
}

function userOf(ctx: HandlerContext): string {
  const userId = ctx.values.get(kUserId);
  // The requireUserId interceptor guarantees it; reaching this is a wiring bug.
  if (userId === undefined)
    throw new Error("CalendarSyncService called without the requireUserId interceptor");
  return userId;
}
