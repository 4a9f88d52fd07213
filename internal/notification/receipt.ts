// The sender's proof of delivery, published to the status exchange so tests
// and operators can watch deliveries without reading logs. Plain JSON: it
// has no proto message, and its readers are people and test code.
import { fromJson } from "@bufbuild/protobuf";
import { TimestampSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import { ok, type Result } from "../domain/result.js";
import { parseJsonObject, requireString, requireTimestamp } from "./json.js";

export interface Receipt {
  notificationId: string;
  eventId: string;
  userId: string;
  deliveredAt: Date;
}

export function encodeReceipt(r: Receipt): Buffer {
  return Buffer.from(
    JSON.stringify({
      notificationId: r.notificationId,
      eventId: r.eventId,
      userId: r.userId,
      deliveredAt: r.deliveredAt.toISOString(),
    }),
    "utf8",
  );
}

export function decodeReceipt(body: Uint8Array): Result<Receipt, string> {
  const parsed = parseJsonObject(body);
  if (!parsed.ok) return parsed;
  const obj = parsed.value;
  const notificationId = requireString(obj, "notificationId");
  if (!notificationId.ok) return notificationId;
  const eventId = requireString(obj, "eventId");
  if (!eventId.ok) return eventId;
  const userId = requireString(obj, "userId");
  if (!userId.ok) return userId;
  const deliveredAt = requireTimestamp(obj, "deliveredAt");
  if (!deliveredAt.ok) return deliveredAt;
  const at = timestampDate(fromJson(TimestampSchema, deliveredAt.value));
  return ok({
    notificationId: notificationId.value,
    eventId: eventId.value,
    userId: userId.value,
    deliveredAt: at,
  });
}
