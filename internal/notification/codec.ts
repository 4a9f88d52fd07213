// Notification <-> message body. The body is the proto3 JSON mapping of
// calendar.v1.Notification, produced and read by @bufbuild/protobuf, so any
// client generated from proto/ reads what we write and vice versa.
import { create, fromJson, type JsonValue, toJsonString } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Notification as NotificationMessage,
  NotificationSchema,
} from "../../gen/calendar/v1/calendar_pb.js";
import { err, ok, type Result } from "../domain/result.js";
import { parseJsonObject, requireString, requireTimestamp } from "./json.js";
import type { Notification } from "./notification.js";

export const JSON_CONTENT_TYPE = "application/json";

/**
 * Throws for a time outside google.protobuf.Timestamp's range (years 1 to
 * 9999); the api never stores one, but a reminder due before year 1 could
 * be computed from one.
 */
export function encodeNotification(n: Notification): Buffer {
  const message = create(NotificationSchema, {
    eventId: n.eventId,
    title: n.title,
    startTime: timestampFromDate(n.startTime),
    userId: n.userId,
    notifyAt: timestampFromDate(n.notifyAt),
    recurringEventId: n.recurringEventId ?? "",
    originalStartTime: n.originalStart ? timestampFromDate(n.originalStart) : undefined,
  });
  return Buffer.from(toJsonString(NotificationSchema, message), "utf8");
}

/**
 * Reads a body strictly: every field present, non-empty and well formed.
 * Unknown fields are ignored, so a newer scheduler can add a field without
 * older senders dead-lettering everything it publishes.
 */
export function decodeNotification(body: Uint8Array): Result<Notification, string> {
  const parsed = parseJsonObject(body);
  if (!parsed.ok) return parsed;
  const obj = parsed.value;
  const checks = [
    requireString(obj, "eventId", "event_id"),
    requireString(obj, "title"),
    requireTimestamp(obj, "startTime", "start_time"),
    requireString(obj, "userId", "user_id"),
    requireTimestamp(obj, "notifyAt", "notify_at"),
  ];
  for (const check of checks) if (!check.ok) return check;

  let message: NotificationMessage;
  try {
    message = fromJson(NotificationSchema, obj as JsonValue, {
      ignoreUnknownFields: true,
    });
  } catch (error) {
    // The checks above should leave nothing for the proto reader to refuse.
    return err(`body: ${(error as Error).message}`);
  }
  if (!message.startTime || !message.notifyAt) return err("body: timestamps missing after decode");
  return ok({
    eventId: message.eventId,
    userId: message.userId,
    title: message.title,
    startTime: timestampDate(message.startTime),
    notifyAt: timestampDate(message.notifyAt),
    // Optional: only occurrences of a series carry them, and older
    // schedulers never send them.
    ...(message.recurringEventId === "" ? {} : { recurringEventId: message.recurringEventId }),
    ...(message.originalStartTime
      ? { originalStart: timestampDate(message.originalStartTime) }
      : {}),
  });
}
