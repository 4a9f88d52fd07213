// iCalendar UIDs <-> event ids. Feed UIDs must be stable across fetches and
// unique across users (event ids are only unique per user); imported events
// take an id derived from their UID, so importing a file again finds the
// events it created instead of creating them twice.
import { createHash } from "node:crypto";

/** The domain part of the UIDs the feed writes. */
export const UID_DOMAIN = "cal-service";

/**
 * The feed UID of one event: its id, and a digest of its owner so two users'
 * events with the same id never share a UID (without writing the user id
 * into a file that calendar apps keep).
 */
export function feedUid(userId: string, eventId: string): string {
  const owner = createHash("sha256").update(userId, "utf8").digest("hex").slice(0, 16);
  return `${eventId}-${owner}@${UID_DOMAIN}`;
}

// Fixed for this project: changing it would give every imported event a new
// id, so a re-import after the change would duplicate them.
const IMPORT_NAMESPACE = "5f0e6a52-1c1b-4f8e-9a65-2f3c7d1b8e40";

/** The event id an imported VEVENT gets: a name-based UUID (version 5, RFC 9562) of its UID. */
export function eventIdFromUid(uid: string): string {
  const namespace = Buffer.from(IMPORT_NAMESPACE.replaceAll("-", ""), "hex");
  const digest = createHash("sha1").update(namespace).update(uid, "utf8").digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
