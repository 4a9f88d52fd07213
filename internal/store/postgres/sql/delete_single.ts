// DeleteEvent of an event or a series (not an occurrence): one DELETE. It
// needs no user lock, as removing an event cannot create an overlap; a
// series' exceptions go with it (foreign key, on delete cascade). Sent in
// one round trip with its transaction by inPipelinedTransaction (begin,
// limit, delete, commit): measured in docs/BENCHMARKS.md (issue 17), it
// made three before (begin, delete, commit).
import type { Db } from "../db.js";

export function deleteSingle(db: Db, userId: string, id: string) {
  return db<{ id: string }[]>`
    delete from events
    where user_id = ${userId} and id = ${id} and recurring_event_id is null
    returning id`;
}
