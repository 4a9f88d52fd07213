// calctl add TITLE --at WHEN [--for 30m] [--remind 10m] [--repeat RRULE] [--description TEXT]
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CreateEventResponseSchema, EventSchema } from "../../../gen/calendar/v1/calendar_pb.js";
import { renderAgenda, startAndEnd, styleFor } from "../agenda.js";
import { UsageError } from "../errors.js";
import type { Verb } from "../program.js";
import { parseDateTime, parseDuration } from "../time.js";
import { printJson } from "./print.js";

/**
 * "FREQ=WEEKLY;BYDAY=MO" or "RRULE:FREQ=..." -> the RRULE content line the
 * API takes; the server checks the rule itself and names what is wrong.
 */
export function recurrenceLine(rule: string): string {
  const body = rule.trim().replace(/^RRULE:/i, "");
  if (!/^FREQ=|;FREQ=/i.test(body)) {
    throw new UsageError(
      `--repeat: "${rule}" is not a rule; use RFC 5545 RRULE parts, e.g. "FREQ=WEEKLY;BYDAY=MO" or "FREQ=DAILY;COUNT=5"`,
    );
  }
  return `RRULE:${body}`;
}

interface AddOptions {
  at: string;
  for: string;
  remind?: string;
  description?: string;
  repeat?: string;
}

export const addVerb: Verb = (program, withContext) => {
  program
    .command("add")
    .description("add an event")
    .argument("<title...>", "what it is (several words need no quotes)")
    .requiredOption("--at <when>", 'start: "YYYY-MM-DD HH:MM" in your zone, or "HH:MM" today')
    .option("--for <duration>", "how long: 30m, 1h30m, 2h, 1d", "1h")
    .option("--remind <before>", "send a reminder this long before the start: 10m, 1h, 1d")
    .option(
      "--repeat <rule>",
      'repeat by an RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=MO" (in your time zone)',
    )
    .option("--description <text>", "notes")
    .action(
      withContext<AddOptions>(async (ctx, args, options) => {
        const title = args.join(" ");
        const start = parseDateTime(options.at, ctx.timeZone, "--at");
        const seconds = parseDuration(options.for, "--for");
        const remind =
          options.remind === undefined ? undefined : parseDuration(options.remind, "--remind");
        const recurrence = options.repeat === undefined ? [] : [recurrenceLine(options.repeat)];
        // A client-chosen id makes a retried create harmless (the API
        // returns the stored event for a repeat).
        const event = create(EventSchema, {
          id: randomUUID(),
          title,
          startTime: timestampFromMs(start.epochMilliseconds),
          duration: durationFromMs(seconds * 1000),
          notifyBefore: remind === undefined ? undefined : durationFromMs(remind * 1000),
          description: options.description,
          // A series keeps its local time across DST changes in this zone.
          recurrence,
          timeZone: recurrence.length > 0 ? ctx.timeZone : "",
        });
        const response = await ctx.calendar.createEvent({ event });
        if (ctx.json) return printJson(ctx, CreateEventResponseSchema, response);
        const created = response.event ?? event;
        ctx.output.out(
          renderAgenda([created], {
            timeZone: ctx.timeZone,
            firstDay: startAndEnd(created, ctx.timeZone).start.toPlainDate(),
            style: styleFor(ctx.output.colour),
          }),
        );
      }),
    );
};
