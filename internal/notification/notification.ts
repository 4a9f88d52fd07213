// The reminder the scheduler publishes and the sender delivers, as the
// service thinks of it (Dates, not protobuf Timestamps).
import { createHash } from "node:crypto";

export interface Notification {
  eventId: string;
  userId: string;
  title: string;
  startTime: Date;
  /** When the reminder was due: start time minus notify-before. */
  notifyAt: Date;
  /** For an occurrence of a series (eventId is the occurrence's id): the series' id. */
  recurringEventId?: string;
  /** For an occurrence: its start as the series' rule computes it. */
  originalStart?: Date;
}

// Fixed namespace for UUIDv5 names: changing it changes every id, which
// would defeat deduplication across a deploy.
const NAMESPACE = Buffer.from("6f1c3a52-4f0e-5b8e-9a3d-2c7b1e0d9f41".replaceAll("-", ""), "hex");

/**
 * A stable id for one reminder of one event: the same inputs give the same
 * id in every process, so a republished reminder carries the message-id of
 * the first attempt and consumers can deduplicate on it.
 *
 * Event ids are unique per user only, so the user is part of the name. The
 * parts are JSON-encoded rather than joined with a separator because user
 * ids may contain any separator we could pick.
 */
export function notificationId(userId: string, eventId: string, notifyAt: Date): string {
  const name = JSON.stringify([userId, eventId, notifyAt.toISOString()]);
  const hash = createHash("sha1").update(NAMESPACE).update(name, "utf8").digest();
  // RFC 9562 UUIDv5: version 5 in the high nibble of byte 6, variant 10xx in byte 8.
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function idOf(n: Pick<Notification, "userId" | "eventId" | "notifyAt">): string {
  return notificationId(n.userId, n.eventId, n.notifyAt);
}
