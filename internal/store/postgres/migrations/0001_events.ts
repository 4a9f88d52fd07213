// The events table and its indexes. Never edit a migration once it has been
// released: the runner refuses to start when an applied migration's checksum
// changes. Write a new numbered file instead.
import type { Migration } from "../migrate.js";

export const migration0001: Migration = {
  version: 1,
  name: "0001_events",
  sql: `
-- btree_gist lets one GiST index mix "=" on text with "&&" on ranges, which is
-- what the per-user busy-time exclusion constraint needs.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE events (
  -- Ids are chosen by clients and only unique per user, hence the compound key.
  user_id          text        NOT NULL,
  id               uuid        NOT NULL,
  title            text        NOT NULL,
  description      text,
  start_time       timestamptz NOT NULL,
  -- start_time + duration, stored so overlap checks and window queries are
  -- plain column comparisons.
  end_time         timestamptz NOT NULL,
  -- Milliseconds, not interval: an interval's month and day parts depend on
  -- the calendar and the time zone; a reminder offset must not.
  notify_before_ms bigint,
  -- start_time - notify_before_ms, kept for the reminder scan; NULL: no reminder.
  notify_at        timestamptz,
  -- Set by the reminder dispatcher; reset when an update moves the reminder.
  reminder_sent_at timestamptz,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  version          integer     NOT NULL,

  CONSTRAINT events_pkey PRIMARY KEY (user_id, id),
  CONSTRAINT events_positive_duration CHECK (end_time > start_time),
  CONSTRAINT events_notify_before_not_negative CHECK (notify_before_ms >= 0),
  CONSTRAINT events_notify_at_iff_reminder CHECK ((notify_before_ms IS NULL) = (notify_at IS NULL)),
  CONSTRAINT events_version_positive CHECK (version >= 1),
  -- Busy time: no two events of one user share an instant. Half-open ranges,
  -- so back-to-back events are fine. This is the race-proof guard; the
  -- store's own check only exists to name the conflicting event.
  --
  -- Its GiST index also serves the window queries (listEvents, the conflict
  -- lookup), written as "user_id = $1 AND tstzrange(...) && $window": it
  -- finds exactly the user's events in the window, whatever the length of
  -- their history. A btree on (user_id, start_time) was measured too; it can
  -- only bound the scan from above ("starts before the window ends"), so it
  -- walks a user's whole past, or a year of it with a max-duration trick.
  -- Windows are at most a month, so sorting what the GiST finds is cheap.
  CONSTRAINT events_no_overlap
    EXCLUDE USING gist (user_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&)
);

-- The reminder dispatcher's scan: only reminders not sent yet, by due time.
CREATE INDEX events_reminder_due ON events (notify_at)
  WHERE reminder_sent_at IS NULL AND notify_at IS NOT NULL;
`,
};
