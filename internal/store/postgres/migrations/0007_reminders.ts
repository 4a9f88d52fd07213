// Pending reminders in a table of their own, as job queues keep their jobs
// (graphile-worker's jobs, River's river_job): the dispatcher claims, marks
// and moves narrow rows of `reminders` and never writes an events row, so a
// dispatch no longer rewrites wide events rows with their GiST entries, and
// the events write path no longer maintains a partial index for it. Never
// edit a migration once it has been released: write a new numbered file.
//
// What a row is:
// - a single event's or an exception's row: its reminder, not sent yet. The
//   dispatcher deletes it once RabbitMQ confirmed the notification (or when
//   the reminder is skipped: its event had started);
// - a series' row: its cursor, when the reminder of its next occurrence falls
//   due. The dispatcher sends the occurrences due since and moves the cursor
//   on, in this table; a series with no occurrence left has no row.
//
// The table follows events through triggers, so every writer of events keeps
// it right without a line of its own: the api's writes, the scheduler's
// retention delete (ON DELETE CASCADE), a manual fix. An events write whose
// reminder does not move (same start, same offset, not a series) leaves the
// row alone: a reminder that went out stays sent. The trigger function is
// called only for writes that move it (the WHEN clauses), so a rename costs
// nothing, and an event without a reminder costs nothing either.
//
// Why triggers and not application code: the writes stay in one place, and
// the cost per write was measured (bench/reminder_write_cost.ts; figures in
// docs/BENCHMARKS.md, "Reminders table").
//
// The events columns notify_at, reminder_sent_at and reminder_skipped_at stay:
// notify_at is what a write asks for (a single event's due time, a series'
// cursor as of the write), reminder_sent_at marks an exception written for an
// occurrence whose reminder already went. The dispatcher no longer sets
// either; the events_reminder_due index, which only its scan used, is dropped.
import type { Migration } from "../migrate.js";

export const migration0007: Migration = {
  version: 7,
  name: "0007_reminders",
  sql: `
CREATE TABLE reminders (
  user_id   text        NOT NULL,
  event_id  uuid        NOT NULL,
  -- When it is due: a single event's start minus its offset, or a series'
  -- cursor. Never 'infinity': a series with nothing left has no row.
  notify_at timestamptz NOT NULL,
  CONSTRAINT reminders_pkey PRIMARY KEY (user_id, event_id),
  CONSTRAINT reminders_event FOREIGN KEY (user_id, event_id)
    REFERENCES events (user_id, id) ON DELETE CASCADE
);

-- The dispatcher's claim: "due by now, oldest first", locked, SKIP LOCKED.
-- Every row is pending, so the index needs no predicate.
CREATE INDEX reminders_due ON reminders (notify_at);

CREATE FUNCTION arm_event_reminder() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.notify_at IS NOT NULL AND NEW.notify_at <> 'infinity'
     AND NEW.reminder_sent_at IS NULL AND NEW.reminder_skipped_at IS NULL
     AND NOT NEW.cancelled THEN
    -- Waits for a dispatch holding the row, then re-arms it (or inserts it
    -- again, if the dispatch deleted it): the same at-least-once as before.
    INSERT INTO reminders AS r (user_id, event_id, notify_at)
      VALUES (NEW.user_id, NEW.id, NEW.notify_at)
      ON CONFLICT (user_id, event_id) DO UPDATE SET notify_at = excluded.notify_at;
  ELSIF TG_OP = 'UPDATE' THEN
    DELETE FROM reminders WHERE user_id = OLD.user_id AND event_id = OLD.id;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER events_arm_reminder_insert
  AFTER INSERT ON events
  FOR EACH ROW WHEN (NEW.notify_at IS NOT NULL)
  EXECUTE FUNCTION arm_event_reminder();

-- The writes that move a reminder, as the events upsert has always decided
-- (a single event's reminder stays sent unless its start or offset changes;
-- a series' cursor is recomputed by every write of the series).
CREATE TRIGGER events_arm_reminder_update
  AFTER UPDATE ON events
  FOR EACH ROW WHEN (
    OLD.start_time IS DISTINCT FROM NEW.start_time
    OR OLD.notify_before_ms IS DISTINCT FROM NEW.notify_before_ms
    OR OLD.notify_at IS DISTINCT FROM NEW.notify_at
    OR OLD.recurrence IS NOT NULL OR NEW.recurrence IS NOT NULL
    OR OLD.cancelled IS DISTINCT FROM NEW.cancelled)
  EXECUTE FUNCTION arm_event_reminder();

-- Today's pending reminders, as the old partial index held them.
INSERT INTO reminders (user_id, event_id, notify_at)
  SELECT user_id, id, notify_at FROM events
  WHERE notify_at IS NOT NULL AND notify_at <> 'infinity'
    AND reminder_sent_at IS NULL AND reminder_skipped_at IS NULL AND NOT cancelled;

DROP INDEX events_reminder_due;
`,
};
