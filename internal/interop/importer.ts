// Stores what readIcs read, one VEVENT at a time (each its own transaction,
// so one bad VEVENT never blocks the others). Ids come from UIDs, so a
// re-import finds what the first import stored: same content is
// "unchanged", changed content is an update.
import { sameFields } from "../domain/event.js";
import type { EventStore } from "../store/store.js";
import type { ImportedEvent, ImportItem } from "./ics_reader.js";

export type ImportStatus = "created" | "unchanged" | "updated" | "rejected";

export interface ImportOutcome {
  uid: string;
  recurrenceId: string;
  status: ImportStatus;
  /** "" when rejected. */
  eventId: string;
  /** "" unless rejected. */
  reason: string;
}

export async function importItems(
  store: EventStore,
  userId: string,
  items: readonly ImportItem[],
): Promise<ImportOutcome[]> {
  const outcomes: ImportOutcome[] = [];
  for (const item of items) {
    const base = { uid: item.uid, recurrenceId: item.recurrenceId };
    if (!item.outcome.ok) {
      outcomes.push({ ...base, status: "rejected", eventId: "", reason: item.outcome.error });
      continue;
    }
    outcomes.push({ ...base, ...(await storeEvent(store, userId, item.outcome.value)) });
  }
  return outcomes;
}

async function storeEvent(
  store: EventStore,
  userId: string,
  event: ImportedEvent,
): Promise<Pick<ImportOutcome, "status" | "eventId" | "reason">> {
  const stored = await store.getEvent(userId, event.id);
  if (stored.ok) {
    if (sameFields(stored.value, event.fields)) {
      return { status: "unchanged", eventId: event.id, reason: "" };
    }
    const updated = await store.updateEvent(userId, event.id, event.fields, stored.value.version);
    if (updated.ok) return { status: "updated", eventId: event.id, reason: "" };
    return rejected(updated.error);
  }
  const created = await store.createEvent(userId, event.id, event.fields);
  if (created.ok) return { status: "created", eventId: event.id, reason: "" };
  return rejected(created.error);
}

function rejected(
  error:
    | { kind: "overlap"; conflictingId: string }
    | { kind: "busy_uncheckable"; conflictingId: string; reason: string }
    | { kind: "already_exists" | "not_found"; id: string }
    | { kind: "version_mismatch" },
): Pick<ImportOutcome, "status" | "eventId" | "reason"> {
  const reason =
    error.kind === "overlap"
      ? `overlaps event ${error.conflictingId}; a user's events may not overlap`
      : error.kind === "busy_uncheckable"
        ? `cannot be checked against series ${error.conflictingId} at every date: ${error.reason}`
        : "the event changed while it was being imported; import the file again";
  return { status: "rejected", eventId: "", reason };
}
