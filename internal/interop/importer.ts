// Stores what readIcs read, one VEVENT at a time (each its own transaction,
// so one bad VEVENT never blocks the others). Ids come from UIDs, so a
// re-import finds what the first import stored: same content is
// "unchanged", changed content is an update.
//
// Series first, then overrides: an override (RECURRENCE-ID) becomes an
// exception of its series' occurrence (an update, or a cancellation, on the
// occurrence's id), which needs the series stored, and calendar apps write
// overrides before or after their series. Results stay in file order.
import { type EventFields, isSeries, sameFields } from "../domain/event.js";
import { occurrenceId, Schedule } from "../domain/recurrence.js";
import { err, ok, type Result } from "../domain/result.js";
import type { EventStore } from "../store/store.js";
import type { ImportedEvent, ImportedOverride, ImportItem } from "./ics_reader.js";

export type ImportStatus = "created" | "unchanged" | "updated" | "rejected";

export interface ImportOutcome {
  uid: string;
  recurrenceId: string;
  status: ImportStatus;
  /** "" when rejected; an occurrence's id for an override. */
  eventId: string;
  /** "" unless rejected. */
  reason: string;
}

type Stored = Pick<ImportOutcome, "status" | "eventId" | "reason">;

/** What became of a file's event with a given UID, for the overrides that name it. */
type SeriesOutcome = { stored: Stored; fields: EventFields | undefined };

export async function importItems(
  store: EventStore,
  userId: string,
  items: readonly ImportItem[],
): Promise<ImportOutcome[]> {
  const stored: Stored[] = new Array(items.length);
  const byUid = new Map<string, SeriesOutcome>();
  for (const [at, item] of items.entries()) {
    if (item.isOverride) continue;
    const outcome = item.outcome;
    if (!outcome.ok) stored[at] = rejectedFor(outcome.error);
    else if (outcome.value.kind === "event")
      stored[at] = await storeEvent(store, userId, outcome.value);
    else stored[at] = rejectedFor("an override was read as an event");
    const fields = outcome.ok && outcome.value.kind === "event" ? outcome.value.fields : undefined;
    // Overrides go with the VEVENT of their UID that was stored (the reader
    // rejects later copies of one that was read well), else the first.
    const previous = byUid.get(item.uid);
    if (item.uid !== "" && (previous === undefined || previous.stored.status === "rejected")) {
      byUid.set(item.uid, { stored: stored[at] as Stored, fields });
    }
  }
  const overridden = new Set<string>();
  for (const [at, item] of items.entries()) {
    if (!item.isOverride) continue;
    const target = overrideTarget(item, byUid, overridden);
    stored[at] = target.ok
      ? await storeOverride(store, userId, target.value)
      : rejectedFor(target.error);
  }
  return items.map((item, at) => ({
    uid: item.uid,
    recurrenceId: item.recurrenceId,
    ...(stored[at] as Stored),
  }));
}

interface OverrideTarget {
  /** The occurrence's id. */
  id: string;
  override: ImportedOverride;
  series: EventFields;
  seriesCreated: boolean;
}

/**
 * Which stored occurrence an override changes, or why it has none: its
 * series must be in the file, imported, and repeat, and no earlier override
 * may have taken the same occurrence (marked in `overridden`).
 */
function overrideTarget(
  item: ImportItem,
  byUid: ReadonlyMap<string, SeriesOutcome>,
  overridden: Set<string>,
): Result<OverrideTarget, string> {
  const outcome = item.outcome;
  if (!outcome.ok) return outcome;
  if (outcome.value.kind !== "override") return err("not an override");
  const override = outcome.value;
  const series = byUid.get(item.uid);
  if (series === undefined) {
    return err(
      "its series is not in the file: an override (RECURRENCE-ID) needs a VEVENT with the same UID and an RRULE",
    );
  }
  if (series.stored.status === "rejected") {
    return err(`its series was not imported: ${series.stored.reason}`);
  }
  if (series.fields === undefined || !isSeries(series.fields)) {
    return err(
      "the VEVENT with this UID does not repeat (no RRULE), so it has no occurrence to override",
    );
  }
  const id = occurrenceId(override.seriesId, override.originalStart);
  if (overridden.has(id)) {
    return err("another VEVENT earlier in the file overrides the same occurrence");
  }
  overridden.add(id);
  return ok({
    id,
    override,
    series: series.fields,
    seriesCreated: series.stored.status === "created",
  });
}

async function storeEvent(
  store: EventStore,
  userId: string,
  event: ImportedEvent,
): Promise<Stored> {
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

/**
 * An override as an exception of the occurrence `id`: "created" along with
 * a series this import created, "updated" when it changed an occurrence of
 * a series already stored, "unchanged" when the occurrence already looks
 * as the override says (cancelled, for a cancelling override).
 */
async function storeOverride(
  store: EventStore,
  userId: string,
  target: OverrideTarget,
): Promise<Stored> {
  const { id, override, series } = target;
  const done: Stored = {
    status: target.seriesCreated ? "created" : "updated",
    eventId: id,
    reason: "",
  };
  // Checked here, before the store expands the rule for the id: a
  // RECURRENCE-ID centuries after the series' start is the file's fault.
  const isOccurrence = hasOccurrence(series, override.originalStart);
  if (
    isOccurrence === false &&
    override.fields === undefined &&
    hasOccurrence(withoutExdates(series), override.originalStart)
  ) {
    // Cancelled twice over (EXDATE and a cancelling override), as some apps write it.
    return { ...done, status: "unchanged" };
  }
  if (isOccurrence !== true) {
    return rejectedFor(
      isOccurrence === false
        ? `RECURRENCE-ID ${override.originalStart.toISOString()} is not an occurrence of its series (RRULE, RDATE and EXDATE do not give it)`
        : `RECURRENCE-ID ${override.originalStart.toISOString()} is too far from its series' start to find among its occurrences`,
    );
  }
  const stored = await store.getEvent(userId, id);
  if (override.fields === undefined) {
    // Not found: the rule has the occurrence, so it was cancelled before.
    if (!stored.ok) return { ...done, status: "unchanged" };
    const deleted = await store.deleteEvent(userId, id);
    return deleted.ok ? done : { ...done, status: "unchanged" };
  }
  if (!stored.ok) {
    return rejectedFor(
      "its occurrence is cancelled in the calendar, and a cancelled occurrence cannot be restored by an import",
    );
  }
  const fields: EventFields = {
    ...override.fields,
    // As the store keeps an exception: in the series' zone unless it names its own.
    timeZone: override.timeZone ?? series.timeZone,
  };
  if (sameFields(stored.value, fields)) return { ...done, status: "unchanged" };
  const updated = await store.updateEvent(userId, id, fields, stored.value.version, "this");
  return updated.ok ? done : rejected(updated.error);
}

/** True when the series' rule gives an occurrence at `start`; undefined when that takes too long to tell. */
function hasOccurrence(series: EventFields, start: Date): boolean | undefined {
  try {
    return Schedule.of(series.start, {
      lines: [...(series.recurrence ?? [])],
      timeZone: series.timeZone ?? "UTC",
    }).hasOccurrenceAt(start);
  } catch {
    // rrule-temporal gives up after a bounded number of periods.
    return undefined;
  }
}

function withoutExdates(series: EventFields): EventFields {
  return {
    ...series,
    recurrence: (series.recurrence ?? []).filter((line) => !/^EXDATE[;:]/i.test(line)),
  };
}

function rejectedFor(reason: string): Stored {
  return { status: "rejected", eventId: "", reason };
}

function rejected(
  error:
    | { kind: "overlap"; conflictingId: string }
    | { kind: "busy_uncheckable"; conflictingId: string; reason: string }
    | { kind: "already_exists" | "not_found"; id: string }
    | { kind: "version_mismatch" },
): Stored {
  return rejectedFor(
    error.kind === "overlap"
      ? `overlaps event ${error.conflictingId}; a user's events may not overlap`
      : error.kind === "busy_uncheckable"
        ? `cannot be checked against series ${error.conflictingId} at every date: ${error.reason}`
        : "the event changed while it was being imported; import the file again",
  );
}
