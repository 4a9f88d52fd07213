// Domain errors become ConnectErrors here, and only here. Each message names
// the field or the event and says what the caller can do about it.
import { Code, ConnectError } from "@connectrpc/connect";
import type { DomainError } from "../domain/errors.js";

export function connectErrorFrom(error: DomainError): ConnectError {
  switch (error.kind) {
    case "invalid_argument":
      return new ConnectError(`${error.field}: ${error.message}`, Code.InvalidArgument);
    case "not_found":
      return new ConnectError(`event ${error.id} not found`, Code.NotFound);
    case "overlap":
      return new ConnectError(
        `the event overlaps event ${error.conflictingId}${
          error.conflictingStart
            ? ` (the occurrence starting ${error.conflictingStart.toISOString()})`
            : ""
        }; a user's events may not overlap (intervals are [start, start+duration))`,
        Code.FailedPrecondition,
      );
    case "busy_uncheckable":
      return new ConnectError(
        `the busy-time check cannot compare this series with series ${error.conflictingId} at every date: ${error.reason}`,
        Code.FailedPrecondition,
      );
    case "version_mismatch":
      return new ConnectError(
        `expected_version is ${error.expected} but the stored version is ${error.actual}; read the event again and retry`,
        Code.Aborted,
      );
    case "already_exists":
      return new ConnectError(
        `event ${error.id} already exists with different content; use UpdateEvent to change it, or omit the id to create a new event`,
        Code.AlreadyExists,
      );
    case "too_many_events":
      return new ConnectError(
        `the window holds more than ${error.limit} events; list a shorter window (a day or a week)`,
        Code.ResourceExhausted,
      );
  }
}
