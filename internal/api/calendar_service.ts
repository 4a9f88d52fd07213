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
  UpdateEventResponseSchema,
} from "../../gen/calendar/v1/calendar_pb.js";
import type { DomainError } from "../domain/errors.js";
import type { EventFields } from "../domain/event.js";
import type { Result } from "../domain/result.js";
import { validateEventDraft, validateEventId } from "../domain/validation.js";
import { calendarWindow, type WindowKind } from "../domain/window.js";
import type { EventStore } from "../store/store.js";
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
      const id = unwrap(validateEventId("id", req.id));
      const event = unwrap(await store.getEvent(userOf(ctx), id));
      return create(GetEventResponseSchema, { event: eventToProto(event) });
    },

    async updateEvent(req, ctx) {
      const event = required(req.event, "event");
      const id = unwrap(validateEventId("event.id", event.id));
      const fields = fieldsOf(event);
      const expected = req.expectedVersion;
      if (expected !== undefined && expected < 1) {
        throw new ConnectError(
          "expected_version: must be 1 or more when set",
          Code.InvalidArgument,
        );
      }
      const updated = unwrap(await store.updateEvent(userOf(ctx), id, fields, expected));
      return create(UpdateEventResponseSchema, { event: eventToProto(updated) });
    },

    async deleteEvent(req, ctx) {
      const id = unwrap(validateEventId("id", req.id));
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
