// Sync for recurring events: a change log entry names what clients know.
// Never edit a migration once it has been released: write a new file instead.
//
// An exception row's id is a UUIDv5 of its occurrence id, which cannot be
// inverted, and clients only ever see the occurrence id. Once the row is
// deleted (dropped with its series, or by a series edit) the tombstone is
// all that is left, so the trigger writes the occurrence id beside it while
// the row is still at hand. A cancelled exception is also remembered as
// such, so a sync reports it among the deletions (see internal/store/sync.ts).
import type { Migration } from "../migrate.js";

export const migration0006: Migration = {
  version: 6,
  name: "0006_sync_occurrences",
  sql: `
ALTER TABLE event_changes
  -- The id clients know the row by when it is an exception: the occurrence id
  -- (<series id>_<original start as 20260601T070000Z>); null for other rows.
  ADD COLUMN occurrence_id text;

CREATE OR REPLACE FUNCTION record_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  owner text;
  event uuid;
  series uuid;
  original timestamptz;
  occurrence text;
  number bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    owner := OLD.user_id;
    event := OLD.id;
    series := OLD.recurring_event_id;
    original := OLD.original_start;
  ELSE
    owner := NEW.user_id;
    event := NEW.id;
    series := NEW.recurring_event_id;
    original := NEW.original_start;
  END IF;
  IF series IS NOT NULL AND original IS NOT NULL THEN
    -- Must match occurrenceId() in internal/domain/recurrence.ts.
    occurrence := series::text || '_' ||
      to_char(original AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"');
  END IF;
  INSERT INTO sync_users AS s (user_id, last_change) VALUES (owner, 1)
    ON CONFLICT (user_id) DO UPDATE SET last_change = s.last_change + 1
    RETURNING s.last_change INTO number;
  INSERT INTO event_changes AS c (user_id, event_id, change, deleted, changed_at, occurrence_id)
    VALUES (owner, event, number, TG_OP = 'DELETE', now(), occurrence)
    ON CONFLICT (user_id, event_id) DO UPDATE
      SET change = excluded.change, deleted = excluded.deleted, changed_at = excluded.changed_at,
          occurrence_id = excluded.occurrence_id;
  RETURN NULL;
END
$$;

UPDATE event_changes c SET occurrence_id = e.recurring_event_id::text || '_' ||
    to_char(e.original_start AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')
  FROM events e
  WHERE e.user_id = c.user_id AND e.id = c.event_id
    AND e.recurring_event_id IS NOT NULL AND e.original_start IS NOT NULL;
`,
};
