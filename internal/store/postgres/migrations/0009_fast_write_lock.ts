// The user's write lock and the series check of the fast writes, as one
// function, so that a single-event write is one statement (issue 17: no
// transaction of five statements around it).
// Never edit a migration once it has been released: write a new file instead.
//
// lock_user_then_no_series_across takes the user's write lock
// (sql/lock_user.ts, which passes the lock's key) and then answers whether
// no series of the user spans the window. It is VOLATILE, and a volatile
// function takes a fresh snapshot for each query it runs (in READ
// COMMITTED): the check sees what the lock's previous holder committed
// while we waited, which a CTE or subquery of the write itself would not
// (its snapshot is taken before the statement starts). That is what lets
// the fast writes (sql/insert_single.ts, sql/update_single.ts) take the
// lock inside the statement that writes.
//
// p_budget_ms is the call's time left when the statement was sent
// (call_deadline.ts). A lock granted after it is refused with
// query_canceled, as a statement_timeout would be, so a write that waited
// out its deadline behind another writer never goes on to write.
import type { Migration } from "../migrate.js";

export const migration0009: Migration = {
  version: 9,
  name: "0009_fast_write_lock",
  sql: `
CREATE FUNCTION lock_user_then_no_series_across(
  p_lock_key int4, p_user_id text, p_start timestamptz, p_end timestamptz, p_budget_ms int4
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_key, hashtext(p_user_id));
  IF clock_timestamp() >= statement_timestamp() + p_budget_ms * interval '1 millisecond' THEN
    RAISE EXCEPTION 'the call''s deadline passed while it waited for the user''s write lock'
      USING ERRCODE = 'query_canceled';
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
