// calctl show ID: one event in full.
import { GetEventResponseSchema } from "../../../gen/calendar/v1/calendar_pb.js";
import { renderEvent, styleFor } from "../agenda.js";
import type { Verb } from "../program.js";
import { printJson } from "./print.js";

export const showVerb: Verb = (program, withContext) => {
  program
    .command("show")
    .description("one event in full")
    .argument("<id>", "the event's id (agenda lines end with it)")
    .action(
      withContext(async (ctx, [id = ""]) => {
        const response = await ctx.calendar.getEvent({ id });
        if (ctx.json) return printJson(ctx, GetEventResponseSchema, response);
        if (response.event) {
          ctx.output.out(renderEvent(response.event, ctx.timeZone, styleFor(ctx.output.colour)));
        }
      }),
    );
};
