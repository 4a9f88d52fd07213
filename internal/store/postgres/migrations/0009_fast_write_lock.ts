// The user's write lock and the series check of the fast writes, as one
// function, so that a single-event write is one statement (issue 17: no
// transaction of five statements around it).
// Never edit a migration once it has been released: write a new file instead.
//
// try_lock_user_then_no_series_across takes the user's write lock
// (sql/lock_user.ts, which passes the lock's key) if it is free, and then
// answers whether no series of the user spans the window; false if the lock
// is taken. It never waits: the fast writes run on a pool whose connections
// pipeline other calls' statements behind theirs, and a statement waiting
// there for a lock would hold those up. A write that finds the lock taken
// takes the full path, which waits for it in a transaction of its own.
//
// It is VOLATILE, and a volatile function takes a fresh snapshot for each
// query it runs (in READ COMMITTED): the check sees everything the lock's
// previous holder committed, even when that holder committed after the
// calling statement took its snapshot (a CTE or subquery of the write
// itself would read from that older snapshot). That is what lets the fast
// writes (sql/insert_single.ts, sql/update_single.ts) take the lock inside
// the statement that writes.
import type { Migration } from "../migrate.js";

export const migration0009: Migration = {
  version: 9,
  name: "0009_fast_write_lock",
  sql: `
CREATE FUNCTION try_lock_user_then_no_series_across(
  p_lock_key int4, p_user_id text, p_start timestamptz, p_end timestamptz
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(p_lock_key, hashtext(p_user_id)) THEN
    RETURN false;
  END IF;
  -- When no series spans the window, a single event there can only meet
  -- other single events and moved occurrences, which events_no_overlap
  -- guards. The events_series index answers it.
  RETURN NOT EXISTS (
    SELECT FROM events s
    WHERE s.user_id = p_user_id AND s.recurrence IS NOT NULL
      AND s.end_time > p_start AND s.start_time < p_end);
END
$$;
`,
};
