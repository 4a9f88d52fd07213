// The reminder the scheduler publishes and the sender delivers, as the
// service thinks of it (Dates, not protobuf Timestamps).
import { v5 as uuidV5 } from "uuid";

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
const NAMESPACE = "6f1c3a52-4f0e-5b8e-9a3d-2c7b1e0d9f41";

/**
 * A stable id (an RFC 9562 UUIDv5) for one reminder of one event: the same
 * inputs give the same id in every process, so a republished reminder carries
 * the message-id of the first attempt and consumers can deduplicate on it.
 *
 * Event ids are unique per user only, so the user is part of the name. The
 * parts are JSON-encoded rather than joined with a separator because user
 * ids may contain any separator we could pick.
 */
export function notificationId(userId: string, eventId: string, notifyAt: Date): string {
  const name = JSON.stringify([userId, eventId, notifyAt.toISOString()]);
  // As UTF-8 bytes: given a string, uuid throws on a lone surrogate, where
  // Buffer.from writes U+FFFD (the ids are the same for every other string).
  return uuidV5(Buffer.from(name, "utf8"), NAMESPACE);
}

export function idOf(n: Pick<Notification, "userId" | "eventId" | "notifyAt">): string {
  return notificationId(n.userId, n.eventId, n.notifyAt);
}
