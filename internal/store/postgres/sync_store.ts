// SyncStore and TombstoneStore on Postgres: reads of the change log that the
// 0004_sync trigger keeps (see that migration for the design).
import { err, ok, type Result } from "../../domain/result.js";
import type { ChangePage, EventChange, SyncPositionExpired } from "../sync.js";
import type { Db } from "./db.js";
import { type EventRow, eventColumns, instant, toEvent } from "./rows.js";

export type ChangeRow = {
  last_change: string;
  purged_through: string;
  change: string | null;
  deleted: boolean;
  event_id: string;
  occurrence_id: string | null;
  cancelled: boolean | null;
} & Partial<EventRow>;

/**
 * One page from the rows of changesAfter (asked for `limit` + 1 rows). The
 * rows come from one statement, so from one snapshot: the counter then
 * covers exactly the changes this snapshot sees (a change's number and its
 * row commit together), so `position` on a complete page never runs ahead
 * of what was returned. One statement is also one round trip: watchers
 * read after every wake-up.
 */
export function changePage(
  rows: readonly ChangeRow[],
  after: number,
  limit: number,
  mode: "full" | "incremental",
): Result<ChangePage, SyncPositionExpired> {
  const last = Number(rows[0]?.last_change ?? 0);
  const purgedThrough = Number(rows[0]?.purged_through ?? 0);
  if (mode === "incremental" && (after < purgedThrough || after > last)) {
    return err({ kind: "sync_position_expired" as const });
  }
  // No change at all: the one row carries the counter only.
  const changed = rows.filter((row) => row.change !== null);
  const complete = changed.length <= limit;
  const changes = changed.slice(0, limit).map(toChange);
  const position = complete ? Math.max(after, last) : (changes.at(-1)?.change ?? after);
  return ok({ changes, position, complete });
}

/**
 * The query behind readChanges; exported so tests can EXPLAIN exactly it.
 * Always at least one row: the user's counter, joined to each change (or to
 * nothing).
 */
export function changesAfter(
  db: Db,
  userId: string,
  after: number,
  limit: number,
  withDeletions: boolean,
) {
  return db<ChangeRow[]>`
    select s.last_change::text as last_change, s.purged_through::text as purged_through,
           c.change::text as change, c.deleted, c.event_id, c.occurrence_id, e.*
    from (
      select coalesce(max(last_change), 0) as last_change,
             coalesce(max(purged_through), 0) as purged_through
      from sync_users where user_id = ${userId}
    ) s
    left join lateral (
      select l.change, l.deleted, l.event_id, l.occurrence_id from event_changes l
      where l.user_id = ${userId} and l.change > ${after}::int8
        and (${withDeletions}::bool or not l.deleted)
        -- A dropped exception's tombstone is moot once its series changed
        -- after it: the series replaces what clients know of its occurrences
        -- (0008_sync_series_resets). Left out so that a page's deleted_ids
        -- never hide an occurrence an earlier event of the page restored.
        and not (l.deleted and l.occurrence_id is not null and exists (
          select from event_changes s
          where s.user_id = l.user_id
            and s.event_id = split_part(l.occurrence_id, '_', 1)::uuid
            and s.change > l.change))
      order by l.change
      limit ${limit}
    ) c on true
    left join lateral (
      select ${eventColumns(db)}, cancelled from events where user_id = ${userId} and id = c.event_id
    ) e on not c.deleted
    order by c.change`;
}

/** The user's counter: at most one row. */
export function syncPositionQuery(db: Db, userId: string) {
  return db<{ last_change: string }[]>`
    select last_change::text as last_change from sync_users where user_id = ${userId}`;
}

/**
 * Deletes the oldest tombstones recorded before `cutoff` and moves each
 * affected user's purged_through up, in one statement (one transaction): a
 * token can never be accepted after the deletion it missed is forgotten.
 */
export async function purgeTombstones(db: Db, cutoff: Date, limit: number): Promise<number> {
  if (limit <= 0) return 0;
  const [result] = await db<{ purged: string }[]>`
    with purged as (
      delete from event_changes
      where ctid = any(array(
        select ctid from event_changes
        where deleted and changed_at < ${instant(db, cutoff)}
        order by changed_at
        limit ${limit}
        for update skip locked))
      returning user_id, change
    ), newest as (
      select user_id, max(change) as change from purged group by user_id
    ), moved as (
      update sync_users s set purged_through = greatest(s.purged_through, newest.change)
      from newest where s.user_id = newest.user_id
      returning 1
    )
    select (select count(*) from purged)::text as purged, (select count(*) from moved) as moved`;
  return Number(result?.purged ?? 0);
}

function toChange(row: ChangeRow): EventChange {
  const change = Number(row.change);
  // Clients know an exception by its occurrence id, never by its row id; a
  // cancelled occurrence is reported as a deletion of that id (sync.ts).
  if (row.deleted || row.id === undefined || row.id === null || row.cancelled) {
    return { kind: "delete", change, id: row.occurrence_id ?? row.event_id };
  }
  return { kind: "upsert", change, event: toEvent(row as EventRow) };
}
