// The opaque strings of CalendarSyncService: sync tokens and page tokens.
//
// A token is base64url JSON. It is opaque to clients (nothing promises its
// shape) but not secret: it only holds positions, and every read is scoped
// to the caller anyway. Each token carries a digest of the user id it was
// issued to, so another user's token is refused (INVALID_ARGUMENT) rather
// than read as a position in this user's history. Page tokens also carry
// what their request asked for, so a page token reused with other
// parameters is refused instead of returning a wrong page.
import { createHash } from "node:crypto";
import { type InvalidArgument, invalidArgument } from "../domain/errors.js";
import { err, ok, type Result } from "../domain/result.js";
import { validateEventId } from "../domain/validation.js";
import type { ListCursor } from "../store/sync.js";

const VERSION = 1;
// The largest instant a Date holds.
const MAX_DATE_MS = 8.64e15;

interface SyncTokenBody {
  v: number;
  k: "sync";
  u: string;
  /** The position: every change up to it has been delivered. */
  p: number;
}

interface SyncPageBody {
  v: number;
  k: "sync_page";
  u: string;
  /** The request's sync token position; -1 for a full sync. */
  from: number;
  p: number;
}

interface ListPageBody {
  v: number;
  k: "list_page";
  u: string;
  /** The request's window and zone, which the token is valid for. */
  min: number;
  max: number;
  z: string;
  /** The last event of the previous page. */
  s: number;
  i: string;
}

type TokenBody = SyncTokenBody | SyncPageBody | ListPageBody;

function userTag(userId: string): string {
  return createHash("sha256").update(userId).digest("base64url").slice(0, 16);
}

function encode(body: TokenBody): string {
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

function decode<K extends TokenBody["k"]>(
  field: string,
  token: string,
  kind: K,
  userId: string,
): Result<Extract<TokenBody, { k: K }>, InvalidArgument> {
  const foreign = err(
    invalidArgument(
      field,
      "is not a token this server issued for this request; start over without it",
    ),
  );
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) return foreign;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return foreign;
  }
  if (typeof body !== "object" || body === null) return foreign;
  const fields = body as Record<string, unknown>;
  if (fields.v !== VERSION || fields.k !== kind || typeof fields.u !== "string") return foreign;
  if (fields.u !== userTag(userId)) {
    return err(invalidArgument(field, "was issued to another user; start over without it"));
  }
  return ok(body as Extract<TokenBody, { k: K }>);
}

function isPosition(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function syncToken(userId: string, position: number): string {
  return encode({ v: VERSION, k: "sync", u: userTag(userId), p: position });
}

export function readSyncToken(
  field: string,
  token: string,
  userId: string,
): Result<number, InvalidArgument> {
  const body = decode(field, token, "sync", userId);
  if (!body.ok) return body;
  if (!isPosition(body.value.p))
    return err(invalidArgument(field, "is damaged; start over without it"));
  return ok(body.value.p);
}

/** `from`: the position of the request's sync token, or undefined for a full sync. */
export function syncPageToken(userId: string, from: number | undefined, position: number): string {
  return encode({ v: VERSION, k: "sync_page", u: userTag(userId), from: from ?? -1, p: position });
}

export function readSyncPageToken(
  token: string,
  userId: string,
  from: number | undefined,
): Result<number, InvalidArgument> {
  const body = decode("page_token", token, "sync_page", userId);
  if (!body.ok) return body;
  if (body.value.from !== (from ?? -1) || !isPosition(body.value.p)) {
    return err(
      invalidArgument(
        "page_token",
        "belongs to a sync with another sync_token; pass the same sync_token on every page",
      ),
    );
  }
  return ok(body.value.p);
}

export interface ListRequestKey {
  min: Date;
  max: Date;
  timeZone: string;
}

export function listPageToken(userId: string, request: ListRequestKey, last: ListCursor): string {
  return encode({
    v: VERSION,
    k: "list_page",
    u: userTag(userId),
    min: request.min.getTime(),
    max: request.max.getTime(),
    z: request.timeZone,
    s: last.start.getTime(),
    i: last.id,
  });
}

export function readListPageToken(
  token: string,
  userId: string,
  request: ListRequestKey,
): Result<ListCursor, InvalidArgument> {
  const body = decode("page_token", token, "list_page", userId);
  if (!body.ok) return body;
  const { min, max, z, s, i } = body.value;
  if (min !== request.min.getTime() || max !== request.max.getTime() || z !== request.timeZone) {
    return err(
      invalidArgument(
        "page_token",
        "belongs to a listing with another time_min, time_max or time_zone; pass the same ones on every page",
      ),
    );
  }
  // Anyone can forge a token for themselves: its values get the checks a
  // request's own fields get (a Date's range, a UUID).
  if (
    !Number.isSafeInteger(s) ||
    Math.abs(s) > MAX_DATE_MS ||
    typeof i !== "string" ||
    !validateEventId("page_token", i).ok
  ) {
    return err(invalidArgument("page_token", "is damaged; start over without it"));
  }
  return ok({ start: new Date(s), id: i });
}
