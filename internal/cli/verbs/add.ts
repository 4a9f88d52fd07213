// calctl add TITLE --at WHEN [--for 30m] [--remind 10m] [--description TEXT]
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CreateEventResponseSchema, EventSchema } from "../../../gen/calendar/v1/calendar_pb.js";
import { renderAgenda, startAndEnd, styleFor } from "../agenda.js";
import type { Verb } from "../program.js";
import { parseDateTime, parseDuration } from "../time.js";
import { printJson } from "./print.js";

interface AddOptions {
  at: string;
  for: string;
  remind?: string;
  description?: string;
}

export const addVerb: Verb = (program, withContext) => {
  program
    .command("add")
    .description("add an event")
    .argument("<title...>", "what it is (several words need no quotes)")
    .requiredOption("--at <when>", 'start: "YYYY-MM-DD HH:MM" in your zone, or "HH:MM" today')
    .option("--for <duration>", "how long: 30m, 1h30m, 2h, 1d", "1h")
    .option("--remind <before>", "send a reminder this long before the start: 10m, 1h, 1d")
    .option("--description <text>", "notes")
    .action(
      withContext<AddOptions>(async (ctx, args, options) => {
        const title = args.join(" ");
        const start = parseDateTime(options.at, ctx.timeZone, "--at");
        const seconds = parseDuration(options.for, "--for");
        const remind =
          options.remind === undefined ? undefined : parseDuration(options.remind, "--remind");
        // A client-chosen id makes a retried create harmless (the API
        // returns the stored event for a repeat).
        const event = create(EventSchema, {
          id: randomUUID(),
          title,
          startTime: timestampFromMs(start.epochMilliseconds),
          duration: durationFromMs(seconds * 1000),
          notifyBefore: remind === undefined ? undefined : durationFromMs(remind * 1000),
          description: options.description,
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
