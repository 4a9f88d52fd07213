// GET <PUBLIC_URL>/feeds/<secret>.ics: the user's calendar as text/calendar,
// for Google Calendar ("From URL"), Outlook and Apple Calendar, which poll it.
// The path holds the credential, so nothing here logs the URL, and an
// unknown secret is a bare 404 like any unknown route.
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Logger } from "../log/logger.js";
import type { FeedStore } from "../store/feed_store.js";
import { type Clock, type EventStore, StoreUnavailableError } from "../store/store.js";
import { feedEntriesOf, renderFeed } from "./feed_calendar.js";
import type { FeedCredentials } from "./feed_credentials.js";
import { FEED_PATH_PREFIX } from "./feed_credentials.js";

/** Most events one feed carries (the earliest ones); more is logged, never an error a calendar app would show as an empty calendar. */
export const MAX_FEED_EVENTS = 10_000;

// Far enough for any event's end (starts stop at 9999-12-31, durations at 366 days).
const END_OF_TIME = new Date(Date.UTC(10001, 0, 1));

export interface FeedRouteOptions {
  store: EventStore;
  feeds: FeedStore;
  credentials: FeedCredentials;
  /** The feed holds events that ended less than this long ago, and all later ones. */
  pastMs: number;
  clock: Clock;
  logger: Logger;
}

export function registerFeedRoute(app: FastifyInstance, options: FeedRouteOptions): void {
  const { store, feeds, credentials, pastMs, clock, logger } = options;
  app.get<{ Params: { file: string } }>(`${FEED_PATH_PREFIX}:file`, async (req, reply) => {
    try {
      const userId = await credentials.resolve(req.params.file);
      if (userId === undefined) return notFound(reply);
      const now = clock();
      const window = { start: new Date(now.getTime() - pastMs), end: END_OF_TIME };
      const events = await store.listFeedRows(userId, window, MAX_FEED_EVENTS + 1);
      if (events.length > MAX_FEED_EVENTS) {
        logger.warn(
          { limit: MAX_FEED_EVENTS },
          "feed holds more events than it may carry; serving the earliest ones",
        );
        events.length = MAX_FEED_EVENTS;
      }
      const body = renderFeed(feedEntriesOf(userId, events), "cal_service");
      const etag = `"${createHash("sha256").update(body).digest("base64url")}"`;
      const changedAt = await feeds.noteServedFeed(userId, etag, now);
      reply
        .header("etag", etag)
        .header("last-modified", changedAt.toUTCString())
        // Each subscriber asks again; it may keep a copy but must revalidate.
        .header("cache-control", "private, no-cache");
      if (
        notModified(req.headers["if-none-match"], req.headers["if-modified-since"], etag, changedAt)
      ) {
        return reply.code(304).send();
      }
      return reply.type("text/calendar; charset=utf-8").send(body);
    } catch (error) {
      // Logged without the request: its URL is the user's credential.
      if (error instanceof StoreUnavailableError) {
        logger.warn({ err: error }, "feed not served: database unavailable");
        return reply.code(503).header("retry-after", "5").type("text/plain").send("unavailable\n");
      }
      logger.error({ err: error }, "feed not served: unexpected error");
      return reply.code(500).type("text/plain").send("internal error\n");
    }
  });
}

function notFound(reply: FastifyReply) {
  return reply.code(404).type("text/plain").send("not found\n");
}

/**
 * RFC 9110 13.1.2 and 13.1.3: If-None-Match decides when present (weak
 * comparison, "*" matches); If-Modified-Since only without it.
 */
function notModified(
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  etag: string,
  changedAt: Date,
): boolean {
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(",")
      .map((tag) => tag.trim().replace(/^W\//, ""))
      .some((tag) => tag === "*" || tag === etag);
  }
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  // HTTP dates have whole seconds.
  return Number.isFinite(since) && Math.floor(changedAt.getTime() / 1000) * 1000 <= since;
}
