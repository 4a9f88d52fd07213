// calctl rm ID [--yes]: asks first when a person is at the terminal.
import { DeleteEventResponseSchema } from "../../../gen/calendar/v1/calendar_pb.js";
import { startAndEnd, timeRange } from "../agenda.js";
import { askYesNo } from "../confirm.js";
import type { CliContext } from "../context.js";
import type { Verb } from "../program.js";
import { formatDay } from "../time.js";
import { printJson } from "./print.js";

async function confirmed(ctx: CliContext, id: string): Promise<boolean> {
  const { event } = await ctx.calendar.getEvent({ id });
  if (!event) return false;
  const when = `${formatDay(startAndEnd(event, ctx.timeZone).start.toPlainDate())} ${timeRange(event, ctx.timeZone)}`;
  return askYesNo(`Delete "${event.title}" (${when})?`);
}

export const rmVerb: Verb = (program, withContext) => {
  program
    .command("rm")
    .description("delete an event (asks first on a terminal)")
    .argument("<id>", "the event's id")
    .option("-y, --yes", "do not ask")
    .action(
      withContext<{ yes?: boolean }>(async (ctx, [id = ""], options) => {
        if (ctx.output.interactive && !options.yes && !(await confirmed(ctx, id))) {
          ctx.output.err("Not deleted.\n");
          return;
        }
        const response = await ctx.calendar.deleteEvent({ id });
        if (ctx.json) return printJson(ctx, DeleteEventResponseSchema, response);
        ctx.output.out(`Deleted ${id}.\n`);
      }),
    );
};
