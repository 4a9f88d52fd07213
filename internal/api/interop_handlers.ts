// The calendar-interoperability RPCs of CalendarService: the feed URL, .ics
// import and free/busy. Proto in, internal/interop, proto out.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Temporal } from "temporal-polyfill";
import type { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import {
  BusyIntervalSchema,
  GetFeedUrlResponseSchema,
  GetFreeBusyResponseSchema,
  type ImportEventsResponse,
  ImportEventsResponseSchema,
  ImportResult_Status,
  ImportResultSchema,
  RotateFeedUrlResponseSchema,
} from "../../gen/calendar/v1/interop_pb.js";
import { invalidArgument } from "../domain/errors.js";
import { limits } from "../domain/validation.js";
import { calendarWindow } from "../domain/window.js";
import type { FeedCredentials } from "../interop/feed_credentials.js";
import { busyIntervals } from "../interop/free_busy.js";
import { readIcs } from "../interop/ics_reader.js";
import { type ImportOutcome, type ImportStatus, importItems } from "../interop/importer.js";
import type { Clock, EventStore } from "../store/store.js";
import { MAX_LISTED_EVENTS, unwrap, userOf } from "./calendar_service.js";
import { instantFromTimestamp } from "./mapping.js";

/** Largest .ics file ImportEvents (and POST /import) takes. */
export const MAX_ICS_BYTES = 10 * 1024 * 1024;

/** Longest span GetFreeBusy reports on. */
export const MAX_FREE_BUSY_DAYS = 366;
const DAY_MS = 86_400_000;

export type InteropHandlers = Pick<
  ServiceImpl<typeof CalendarService>,
  "getFeedUrl" | "rotateFeedUrl" | "importEvents" | "getFreeBusy"
>;

export function interopHandlers(
  store: EventStore,
  credentials: FeedCredentials,
  clock: Clock,
): InteropHandlers {
  return {
    async getFeedUrl(_req, ctx) {
      const url = await credentials.urlFor(userOf(ctx), clock());
      return create(GetFeedUrlResponseSchema, { url });
    },

    async rotateFeedUrl(_req, ctx) {
      const url = await credentials.rotate(userOf(ctx), clock());
      return create(RotateFeedUrlResponseSchema, { url });
    },

    async importEvents(req, ctx) {
      return importIcs(store, userOf(ctx), req.ics);
    },

    async getFreeBusy(req, ctx) {
      const span = spanOf(req.timeMin, req.timeMax);
      const zone = req.timeZone === "" ? "UTC" : req.timeZone;
      // The same zone check the day lists make.
      unwrap(calendarWindow("day", "2000-01-01", zone));
      const events = await store.listEvents(userOf(ctx), span, MAX_LISTED_EVENTS + 1);
      if (events.length > MAX_LISTED_EVENTS) {
        throw new ConnectError(
          `the span holds more than ${MAX_LISTED_EVENTS} events; ask for a shorter span`,
          Code.ResourceExhausted,
        );
      }
      const local = (date: Date) =>
        Temporal.Instant.fromEpochMilliseconds(date.getTime())
          .toZonedDateTimeISO(zone)
          .toString({ timeZoneName: "never", smallestUnit: "second" });
      return create(GetFreeBusyResponseSchema, {
        timeZone: zone,
        busy: busyIntervals(events, span).map((interval) =>
          create(BusyIntervalSchema, {
            start: timestampFromDate(interval.start),
            end: timestampFromDate(interval.end),
            startLocal: local(interval.start),
            endLocal: local(interval.end),
          }),
        ),
      });
    },
  };
}

/** ImportEvents, shared with POST /import. Throws ConnectErrors for the file as a whole. */
export async function importIcs(
  store: EventStore,
  userId: string,
  ics: string,
): Promise<ImportEventsResponse> {
  if (Buffer.byteLength(ics, "utf8") > MAX_ICS_BYTES) {
    throw new ConnectError(
      `ics: the file is larger than ${MAX_ICS_BYTES / 1024 / 1024} MiB; split it and import the parts`,
      Code.ResourceExhausted,
    );
  }
  const items = unwrap(readIcs(ics));
  const outcomes = await importItems(store, userId, items);
  return create(ImportEventsResponseSchema, { results: outcomes.map(resultToProto) });
}

const STATUS: Record<ImportStatus, ImportResult_Status> = {
  created: ImportResult_Status.CREATED,
  unchanged: ImportResult_Status.UNCHANGED,
  updated: ImportResult_Status.UPDATED,
  rejected: ImportResult_Status.REJECTED,
};

function resultToProto(outcome: ImportOutcome) {
  return create(ImportResultSchema, {
    uid: outcome.uid,
    recurrenceId: outcome.recurrenceId,
    status: STATUS[outcome.status],
    eventId: outcome.eventId,
    reason: outcome.reason,
  });
}

function spanOf(
  timeMin: Parameters<typeof instantFromTimestamp>[1] | undefined,
  timeMax: Parameters<typeof instantFromTimestamp>[1] | undefined,
) {
  if (timeMin === undefined) throw new ConnectError("time_min: is required", Code.InvalidArgument);
  if (timeMax === undefined) throw new ConnectError("time_max: is required", Code.InvalidArgument);
  const start = unwrap(instantFromTimestamp("time_min", timeMin));
  const end = unwrap(instantFromTimestamp("time_max", timeMax));
  for (const [field, date] of [
    ["time_min", start],
    ["time_max", end],
  ] as const) {
    if (!(date >= limits.startMin && date <= limits.startMax)) {
      throw new ConnectError(
        `${field}: must be between 0001-01-01 and 9999-12-31 (UTC)`,
        Code.InvalidArgument,
      );
    }
  }
  if (!(end > start)) {
    unwrap({ ok: false, error: invalidArgument("time_max", "must be after time_min") });
  }
  if (end.getTime() - start.getTime() > MAX_FREE_BUSY_DAYS * DAY_MS) {
    unwrap({
      ok: false,
      error: invalidArgument(
        "time_max",
        `must be at most ${MAX_FREE_BUSY_DAYS} days after time_min`,
      ),
    });
  }
  return { start, end };
}
