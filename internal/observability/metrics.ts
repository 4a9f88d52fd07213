// The reminder pipeline's Prometheus metrics, shared by scheduler and sender.
// Every function takes the Registry to use: tests create several, and `all`
// mode can put them in the registry the api already serves.
import client, { type Counter, type Histogram, type Registry } from "prom-client";

export interface ReminderMetrics {
  /** Scheduler: a reminder handed to the broker. */
  published: Counter;
  /** Scheduler: the broker confirmed it; only then is it marked sent. */
  confirmed: Counter;
  /** Sender: a reminder logged for its user. */
  delivered: Counter;
  /** Sender: a message that can never be delivered, by `reason`. */
  deadLettered: Counter<"reason">;
  /** Sender: a delivered reminder put back because its receipt was not confirmed. */
  requeued: Counter;
  /** Scheduler: one pass over due reminders. */
  scanDuration: Histogram;
  /** Sender: delivered at minus notify_at, in seconds (0 when early). */
  lateness: Histogram;
}

export function createReminderMetrics(registry: Registry): ReminderMetrics {
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  const histogram = (name: string, help: string, buckets: number[]) =>
    (registry.getSingleMetric(name) as Histogram | undefined) ??
    new client.Histogram({ name, help, buckets, registers: [registry] });

  return {
    published: counter("reminders_published_total", "Reminders handed to the broker"),
    confirmed: counter("reminders_confirmed_total", "Reminders the broker confirmed"),
    delivered: counter("reminders_delivered_total", "Reminders delivered (logged) by the sender"),
    deadLettered: counter(
      "reminders_dead_lettered_total",
      "Messages the sender dead-lettered, by reason",
      ["reason"],
    ),
    requeued: counter(
      "reminders_requeued_total",
      "Delivered reminders requeued because their receipt was not confirmed",
    ),
    scanDuration: histogram(
      "scheduler_scan_duration_seconds",
      "Time for one scheduler pass over due reminders",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    lateness: histogram(
      "reminder_lateness_seconds",
      "How long after its notify_at a reminder was delivered",
      [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
    ),
  };
}

/** A fresh registry with Node's process metrics, for a role's own /metrics. */
export function createRoleRegistry(): Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return registry;
}
