// Sync for series edits: a series' exceptions are numbered after it.
// Never edit a migration once it has been released: write a new file instead.
// (0008, not 0007: 0007 is taken by the pending-reminders table.)
//
// The defect it fixes: an occurrence dropped by one series edit (its
// cancellation went with it) and generated again by a later edit stayed
// hidden in every client copy, because the only record of it was a deletion
// of its occurrence id, which reads exactly like a cancellation. A client
// cannot tell the two apart, and nothing told it the occurrence was back.
//
// The contract that fixes it (README, "Recurring events"): a series in a
// sync replaces everything a client knows of its occurrences, and the
// server sends the series' current exceptions and cancellations after it.
// So whenever a series row is updated (a version bump, as the change log
// counts it), a trigger gives each of its exceptions a new change number
// after the series' own, in their old order: every writer is covered.
// That is what makes "after it" hold in every sync, every page and every
// watch, as the log is read in change order. Alternatives weighed:
// - sending a "shown again" record for each occurrence an edit restores:
//   the server would have to diff old and new rule against every
//   cancellation it ever dropped, and the protocol has no message for it;
// - clients re-deriving from the new rule which cancellations still hold:
//   they cannot, as a dropped cancellation reads like a live one.
// Cost: one indexed statement per series write (events_exception finds the
// exceptions), touching as many change rows as the series has exceptions,
// which is few; clients receive those exceptions again after a series edit.
//
// Deletions of an occurrence id older than its series' latest change (the
// tombstones of exceptions a series edit or delete dropped) are then moot:
// readChanges leaves them out (sync_store.ts), so a page's deleted_ids never
// re-hide an occurrence that an earlier event of the same page restored.
//
// Existing data: exceptions numbered before their series' latest change are
// renumbered once here, so the rule holds from the first sync after upgrade
// (copies replayed before it may still hide such an occurrence until their
// next full sync, or the series' next edit).
import type { Migration } from "../migrate.js";

export const migration0008: Migration = {
  version: 8,
  name: "0008_sync_series_resets",
  sql: `
-- Runs after events_record_update (AFTER triggers fire in name order), so
-- the series has its number before its exceptions take theirs. Only updates:
-- a series is inserted without exceptions. The new numbers are all above the
-- counter, so the unique (user_id, change) index never sees a duplicate.
CREATE FUNCTION renumber_series_exceptions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH kept AS (
    SELECT c.event_id, row_number() OVER (ORDER BY c.change) AS n
    FROM events x JOIN event_changes c ON c.user_id = x.user_id AND c.event_id = x.id
    WHERE x.user_id = NEW.user_id AND x.recurring_event_id = NEW.id
  ), counted AS (
    SELECT count(*) AS k FROM kept
  ), moved AS (
    UPDATE sync_users s SET last_change = s.last_change + counted.k
    FROM counted WHERE s.user_id = NEW.user_id AND counted.k > 0
    RETURNING s.last_change - counted.k AS base
  )
  UPDATE event_changes c SET change = moved.base + kept.n, changed_at = now()
  FROM kept, moved WHERE c.user_id = NEW.user_id AND c.event_id = kept.event_id;
  RETURN NULL;
END
$$;

CREATE TRIGGER events_series_exceptions_follow
  AFTER UPDATE ON events
  FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version AND NEW.recurrence IS NOT NULL)
  EXECUTE FUNCTION renumber_series_exceptions();

-- Existing data: each exception numbered before its series' latest change
-- moves after it (per user, in the old order).
WITH stale AS (
  SELECT c.user_id, c.event_id, row_number() OVER (PARTITION BY c.user_id ORDER BY c.change) AS n
  FROM event_changes c
  JOIN events x ON x.user_id = c.user_id AND x.id = c.event_id
  JOIN event_changes sc ON sc.user_id = x.user_id AND sc.event_id = x.recurring_event_id
  WHERE c.change < sc.change
), counted AS (
  SELECT user_id, count(*) AS k FROM stale GROUP BY user_id
), moved AS (
  UPDATE sync_users s SET last_change = s.last_change + counted.k
  FROM counted WHERE s.user_id = counted.user_id
  RETURNING s.user_id, s.last_change - counted.k AS base
)
UPDATE event_changes c SET change = moved.base + stale.n, changed_at = now()
FROM stale JOIN moved ON moved.user_id = stale.user_id
WHERE c.user_id = stale.user_id AND c.event_id = stale.event_id;
`,
};
