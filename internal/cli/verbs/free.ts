// calctl free [--from WHEN] [--to WHEN]: busy time and the free gaps
// between it, day by day in the reader's zone (the API merges and clips).
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Temporal } from "temporal-polyfill";
import { GetFreeBusyResponseSchema } from "../../../gen/calendar/v1/interop_pb.js";
import { instantOf, styleFor } from "../agenda.js";
import { UsageError } from "../errors.js";
import { renderFreeBusy } from "../freebusy.js";
import type { Verb } from "../program.js";
import { parseDate, parseDateTime } from "../time.js";
import { printJson } from "./print.js";

const DAY_WORD = /^(\d{4}-\d{2}-\d{2}|today|tomorrow|yesterday)$/i;

/**
 * A bound as typed: a date is the start of that day for --from and the end
 * of it for --to (so --from today --to today is the whole of today);
 * anything else is a time as `add --at` reads it.
 */
function parseBound(text: string, timeZone: string, what: "--from" | "--to"): Temporal.Instant {
  if (DAY_WORD.test(text.trim())) {
    const date = parseDate(text.trim(), timeZone, what);
    return (what === "--to" ? date.add({ days: 1 }) : date)
      .toZonedDateTime({ timeZone })
      .toInstant();
  }
  return parseDateTime(text, timeZone, what);
}

export const freeVerb: Verb = (program, withContext) => {
  program
    .command("free")
    .description("your busy time and the free gaps between it, day by day")
    .option("--from <when>", 'start: a DATE (its 00:00) or "YYYY-MM-DD HH:MM"', "today")
    .option(
      "--to <when>",
      'end: a DATE (through its end) or "YYYY-MM-DD HH:MM"; default --from\'s day',
    )
    .action(
      withContext<{ from: string; to?: string }>(async (ctx, _args, options) => {
        const from = parseBound(options.from, ctx.timeZone, "--from");
        const to =
          options.to === undefined
            ? parseBound(
                from.toZonedDateTimeISO(ctx.timeZone).toPlainDate().toString(),
                ctx.timeZone,
                "--to",
              )
            : parseBound(options.to, ctx.timeZone, "--to");
        if (to.epochMilliseconds <= from.epochMilliseconds) {
          throw new UsageError("--to: must be after --from");
        }
        const response = await ctx.calendar.getFreeBusy({
          timeMin: timestampFromMs(from.epochMilliseconds),
          timeMax: timestampFromMs(to.epochMilliseconds),
          timeZone: ctx.timeZone,
        });
        if (ctx.json) return printJson(ctx, GetFreeBusyResponseSchema, response);
        const busy = response.busy.map((interval) => ({
          start: instantOf(interval.start),
          end: instantOf(interval.end),
        }));
        ctx.output.out(
          renderFreeBusy({ start: from, end: to }, busy, {
            timeZone: ctx.timeZone,
            style: styleFor(ctx.output.colour),
          }),
        );
      }),
    );
};
