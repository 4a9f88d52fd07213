// What the reminder dispatcher and the retention cleanup need. Never edit a
// migration once it has been released: write a new numbered file instead.
//
// The indexes are built in the migration's transaction, so not CONCURRENTLY:
// each build blocks writes to events while it runs. The partial index is small
// (only pending reminders); the end_time index covers every row, so on a large
// table run this migration (the `migrate` role) in a quiet moment.
import type { Migration } from "../migrate.js";

export const migration0002: Migration = {
  version: 2,
  name: "0002_reminder_dispatch",
  sql: `
-- Set by the dispatcher when a reminder fell due after its event had already
-- started: such a reminder is never sent, and this takes it out of the scan.
-- Reset, like reminder_sent_at, when an update moves the reminder.
ALTER TABLE events ADD COLUMN reminder_skipped_at timestamptz NULL;

-- The dispatcher's scan: "notify_at <= now, neither sent nor skipped, oldest
-- first". Only pending reminders are in the index, so it stays small however
-- much history the table keeps, and a skipped reminder leaves it for good
-- instead of being walked past on every pass. Replaces the index of 0001,
-- whose predicate did not exclude skipped reminders (the dispatch query could
-- not use it). Same name: it serves the same purpose.
DROP INDEX events_reminder_due;
CREATE INDEX events_reminder_due ON events (notify_at)
  WHERE notify_at IS NOT NULL AND reminder_sent_at IS NULL AND reminder_skipped_at IS NULL;

-- The retention cleanup deletes "end_time < cutoff, oldest first" in bounded
-- batches; without this index every batch would scan the whole table.
CREATE INDEX events_end_time ON events (end_time);
`,
};
