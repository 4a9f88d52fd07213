// DeleteEvent of an event or a series (not an occurrence): one DELETE. It
// needs no user lock, as removing an event cannot create an overlap; a
// series' exceptions go with it (foreign key, on delete cascade). One
// statement in no transaction of its own (writeOnce in call_deadline.ts):
// measured in docs/BENCHMARKS.md (issue 17), it made three round trips
// before (begin, delete, commit), then one of four statements.
import type { Db } from "../db.js";

export function deleteSingle(db: Db, userId: string, id: string) {
  return db<{ id: string }[]>`
    delete from events
    where user_id = ${userId} and id = ${id} and recurring_event_id is null
    returning id`;
}
