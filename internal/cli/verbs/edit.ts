// calctl edit ID [--at WHEN] [--for DURATION] [--title TEXT] [--remind BEFORE|none] [--description TEXT] [--this-and-following]
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EventSchema,
  UpdateEventRequest_Scope,
  UpdateEventResponseSchema,
} from "../../../gen/calendar/v1/calendar_pb.js";
import { renderAgenda, startAndEnd, styleFor } from "../agenda.js";
import { UsageError } from "../errors.js";
import type { Verb } from "../program.js";
import { parseDateTime, parseDuration } from "../time.js";
import { printJson } from "./print.js";

interface EditOptions {
  at?: string;
  for?: string;
  title?: string;
  remind?: string;
  description?: string;
  thisAndFollowing?: boolean;
}

// An occurrence's id: "<series id>_<original start in UTC, 20260601T070000Z>".
const OCCURRENCE_ID = /_\d{8}T\d{6}Z$/;

export const editVerb: Verb = (program, withContext) => {
  program
    .command("edit")
    .description("change an event; what you leave out stays as it is")
    .argument("<id>", "the event's id")
    .option("--at <when>", 'new start: "YYYY-MM-DD HH:MM" in your zone, or "HH:MM" today')
    .option("--for <duration>", "new length: 30m, 1h30m, 2h, 1d")
    .option("--title <text>", "new title")
    .option("--remind <before>", 'reminder this long before the start, or "none"')
    .option("--description <text>", 'new notes ("" removes them)')
    .option(
      "--this-and-following",
      "on an occurrence of a series: change it and every later one (the series is split there)",
    )
    .action(
      withContext<EditOptions>(async (ctx, [id = ""], options) => {
        const { thisAndFollowing, ...changes } = options;
        if (Object.values(changes).every((value) => value === undefined)) {
          throw new UsageError(
            "edit: nothing to change; pass --at, --for, --title, --remind or --description",
          );
        }
        // Checked before anything is sent.
        if (thisAndFollowing && !OCCURRENCE_ID.test(id)) {
          throw new UsageError(
            `--this-and-following: "${id}" is not an occurrence's id; use one that day, week or month lists for a series (SERIESID_20260601T070000Z)`,
          );
        }
        const start =
          options.at === undefined ? undefined : parseDateTime(options.at, ctx.timeZone, "--at");
        const seconds = options.for === undefined ? undefined : parseDuration(options.for, "--for");
        const remind =
          options.remind === undefined || options.remind === "none"
            ? options.remind
            : parseDuration(options.remind, "--remind");

        const { event } = await ctx.calendar.getEvent({ id });
        if (!event) throw new Error(`the API returned no event for ${id}`);
        const changed = create(EventSchema, {
          ...event,
          title: options.title ?? event.title,
          startTime: start ? timestampFromMs(start.epochMilliseconds) : event.startTime,
          duration: seconds === undefined ? event.duration : durationFromMs(seconds * 1000),
          notifyBefore:
            remind === undefined
              ? event.notifyBefore
              : remind === "none"
                ? undefined
                : durationFromMs(remind * 1000),
          description:
            options.description === undefined
              ? event.description
              : options.description || undefined,
        });
        // Only over the version read: a change made meanwhile by someone
        // else fails with ABORTED instead of being overwritten.
        const response = await ctx.calendar.updateEvent({
          event: changed,
          expectedVersion: event.version,
          scope: thisAndFollowing
            ? UpdateEventRequest_Scope.THIS_AND_FOLLOWING
            : UpdateEventRequest_Scope.UNSPECIFIED,
        });
        if (ctx.json) return printJson(ctx, UpdateEventResponseSchema, response);
        const updated = response.event ?? changed;
        ctx.output.out(
          renderAgenda([updated], {
            timeZone: ctx.timeZone,
            firstDay: startAndEnd(updated, ctx.timeZone).start.toPlainDate(),
            style: styleFor(ctx.output.colour),
          }),
        );
      }),
    );
};
