// The CalendarService handlers: proto in, domain rules, store, proto out.
// Business errors become ConnectErrors through connectErrorFrom; anything
// thrown is unexpected and handled by the hideUnexpectedErrors interceptor.
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type CalendarService,
  CreateEventResponseSchema,
  DeleteEventResponseSchema,
  type Event,
  GetEventResponseSchema,
  ListDayEventsResponseSchema,
  ListMonthEventsResponseSchema,
  ListWeekEventsResponseSchema,
  UpdateEventRequest_Scope,
  UpdateEventResponseSchema,
} from "../../gen/calendar/v1/calendar_pb.js";
import type { DomainError } from "../domain/errors.js";
import type { EventFields } from "../domain/event.js";
import { parseOccurrenceId } from "../domain/recurrence.js";
import type { Result } from "../domain/result.js";
import {
  validateEventDraft,
  validateEventId,
  validateEventOrOccurrenceId,
} from "../domain/validation.js";
import { calendarWindow, type WindowKind } from "../domain/window.js";
import type { EventStore, UpdateScope } from "../store/store.js";
import { kUserId } from "./context.js";
import { connectErrorFrom } from "./errors.js";
import type { InteropHandlers } from "./interop_handlers.js";
import { draftFromProto, eventToProto } from "./mapping.js";

/** Most events one list response carries; a fuller window is an error, never a silent cut. */
export const MAX_LISTED_EVENTS = 10_000;

export function calendarService(
  store: EventStore,
  interop: InteropHandlers,
): ServiceImpl<typeof CalendarService> {
  const list = async (kind: WindowKind, date: string, timeZone: string, ctx: HandlerContext) => {
    const window = unwrap(calendarWindow(kind, date, timeZone));
    const events = await store.listEvents(userOf(ctx), window, MAX_LISTED_EVENTS + 1);
    if (events.length > MAX_LISTED_EVENTS) {
      throw connectErrorFrom({ kind: "too_many_events", limit: MAX_LISTED_EVENTS });
    }
    return events.map(eventToProto);
  };

  return {
    ...interop,

    async createEvent(req, ctx) {
      const event = required(req.event, "event");
      const id = event.id === "" ? randomUUID() : unwrap(validateEventId("event.id", event.id));
      const fields = fieldsOf(event);
      const created = unwrap(await store.createEvent(userOf(ctx), id, fields));
      return create(CreateEventResponseSchema, { event: eventToProto(created) });
    },

    async getEvent(req, ctx) {
      const id = unwrap(validateEventOrOccurrenceId("id", req.id));
      const event = unwrap(await store.getEvent(userOf(ctx), id));
      return create(GetEventResponseSchema, { event: eventToProto(event) });
    },

    async updateEvent(req, ctx) {
      const event = required(req.event, "event");
      const id = unwrap(validateEventOrOccurrenceId("event.id", event.id));
      const scope = scopeOf(req.scope);
      const isOccurrence = parseOccurrenceId(id) !== undefined;
      if (scope === "this_and_following" && !isOccurrence) {
        throw new ConnectError(
          "scope: SCOPE_THIS_AND_FOLLOWING needs an occurrence's id (<series id>_<original start>) in event.id",
          Code.InvalidArgument,
        );
      }
      if (scope === "this" && isOccurrence && event.recurrence.length > 0) {
        throw new ConnectError(
          "event.recurrence: must be empty when updating one occurrence; to change the rule from this occurrence on, set scope to SCOPE_THIS_AND_FOLLOWING",
          Code.InvalidArgument,
        );
      }
      const fields = fieldsOf(event);
      if (scope === "this_and_following" && fields.start.getTime() % 1000 !== 0) {
        throw new ConnectError(
          "event.start_time: of a recurring event must be a whole second (RFC 5545 times)",
          Code.InvalidArgument,
        );
      }
      const expected = req.expectedVersion;
      if (expected !== undefined && expected < 1) {
        throw new ConnectError(
          "expected_version: must be 1 or more when set",
          Code.InvalidArgument,
        );
      }
      const updated = unwrap(await store.updateEvent(userOf(ctx), id, fields, expected, scope));
      return create(UpdateEventResponseSchema, { event: eventToProto(updated) });
    },

    async deleteEvent(req, ctx) {
      const id = unwrap(validateEventOrOccurrenceId("id", req.id));
      unwrap(await store.deleteEvent(userOf(ctx), id));
      return create(DeleteEventResponseSchema, {});
    },

    async listDayEvents(req, ctx) {
      return create(ListDayEventsResponseSchema, {
        events: await list("day", req.date, req.timeZone, ctx),
      });
    },

    async listWeekEvents(req, ctx) {
      return create(ListWeekEventsResponseSchema, {
        events: await list("week", req.date, req.timeZone, ctx),
      });
    },

    async listMonthEvents(req, ctx) {
      return create(ListMonthEventsResponseSchema, {
        events: await list("month", req.date, req.timeZone, ctx),
      });
    },
  };
}

function scopeOf(scope: UpdateEventRequest_Scope): UpdateScope {
  switch (scope) {
    case UpdateEventRequest_Scope.UNSPECIFIED:
      return "this";
    case UpdateEventRequest_Scope.THIS_AND_FOLLOWING:
      return "this_and_following";
    default:
      throw new ConnectError(
        "scope: must be SCOPE_UNSPECIFIED or SCOPE_THIS_AND_FOLLOWING",
        Code.InvalidArgument,
      );
  }
}

function fieldsOf(event: Event): EventFields {
  const draft = unwrap(draftFromProto(event));
  return unwrap(prefixField("event.", validateEventDraft(draft)));
}

/** The domain names fields as in Event; in a request they sit under "event.". */
function prefixField<T>(prefix: string, result: Result<T, DomainError>): Result<T, DomainError> {
  if (result.ok || result.error.kind !== "invalid_argument") return result;
  return { ok: false, error: { ...result.error, field: prefix + result.error.field } };
}

export function unwrap<T>(result: Result<T, DomainError>): T {
  if (!result.ok) throw connectErrorFrom(result.error);
  return result.value;
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new ConnectError(`${field}: is required`, Code.InvalidArgument);
  return value;
}

export function userOf(ctx: HandlerContext): string {
  const userId = ctx.values.get(kUserId);
  // The requireUserId interceptor guarantees it; reaching this is a wiring bug.
  if (userId === undefined)
    throw new Error("CalendarService called without the requireUserId interceptor");
  return userId;
}
