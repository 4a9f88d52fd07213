// Counts publishes and confirms, so the scheduler's two counters mean the
// same thing whichever transport it runs on.
import type { Publisher } from "../queue/queue.js";
import type { ReminderMetrics } from "./metrics.js";

export function countedPublisher(
  publisher: Publisher,
  metrics: Pick<ReminderMetrics, "published" | "confirmed">,
): Publisher {
  return {
    async publish(message) {
      metrics.published.inc();
      await publisher.publish(message);
      metrics.confirmed.inc();
    },
  };
}
