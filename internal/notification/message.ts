// A notification as the message the scheduler publishes: its stable id as
// the message-id, so every retry of the same reminder carries the same one.
import type { OutgoingMessage } from "../queue/queue.js";
import { encodeNotification, JSON_CONTENT_TYPE } from "./codec.js";
import { idOf, type Notification } from "./notification.js";

export function notificationMessage(n: Notification): OutgoingMessage {
  return { messageId: idOf(n), contentType: JSON_CONTENT_TYPE, body: encodeNotification(n) };
}
