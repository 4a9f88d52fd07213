// The business errors of the calendar, as plain values. The API layer maps
// each kind to one Connect code; nothing here knows about Connect.

/** A field of a request breaks a rule; `message` says what is allowed. */
export interface InvalidArgument {
  kind: "invalid_argument";
  field: string;
  message: string;
}

/** No event with this id exists for this user (another user's event included). */
export interface NotFound {
  kind: "not_found";
  id: string;
}

/** The event would overlap another event of the same user. */
export interface Overlap {
  kind: "overlap";
  conflictingId: string;
  /** Set when the conflict is an occurrence of a series: that occurrence's start. */
  conflictingStart?: Date;
}

/**
 * A series that the busy check cannot compare exactly with another of the
 * user's series within its bounded cost (internal/domain/series_overlap.ts):
 * refused rather than accepted with a possible overlap.
 */
export interface BusyUncheckable {
  kind: "busy_uncheckable";
  /** The series it cannot be compared with. */
  conflictingId: string;
  /** Why, and what the caller can change. */
  reason: string;
}

/** What the busy check refuses a write with. */
export type BusyConflict = Overlap | BusyUncheckable;

/** An update named an expected version that is not the stored one. */
export interface VersionMismatch {
  kind: "version_mismatch";
  expected: number;
  actual: number;
}

/** A create carried an id that already holds different content. */
export interface AlreadyExists {
  kind: "already_exists";
  id: string;
}

/** A list window holds more events than one response may carry. */
export interface TooManyEvents {
  kind: "too_many_events";
  limit: number;
}

export type DomainError =
  | InvalidArgument
  | NotFound
  | Overlap
  | BusyUncheckable
  | VersionMismatch
  | AlreadyExists
  | TooManyEvents;

export function invalidArgument(field: string, message: string): InvalidArgument {
  return { kind: "invalid_argument", field, message };
}
