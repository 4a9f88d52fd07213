// calctl today | day [DATE] | week [DATE] | month [DATE]: the agenda of a
// window, with the API's calendar arithmetic in the reader's time zone.
import type { Event } from "../../../gen/calendar/v1/calendar_pb.js";
import {
  ListDayEventsResponseSchema,
  ListMonthEventsResponseSchema,
  ListWeekEventsResponseSchema,
} from "../../../gen/calendar/v1/calendar_pb.js";
import { renderAgenda, styleFor } from "../agenda.js";
import type { CliContext } from "../context.js";
import type { Verb } from "../program.js";
import { formatDay, parseDate, today } from "../time.js";
import { printJson } from "./print.js";

type Kind = "day" | "week" | "month";

async function listWindow(ctx: CliContext, kind: Kind, dateText: string | undefined) {
  let date = dateText === undefined ? today(ctx.timeZone) : parseDate(dateText, ctx.timeZone);
  // "calctl month" alone is the current calendar month.
  if (kind === "month" && dateText === undefined) date = date.with({ day: 1 });
  const request = { date: date.toString(), timeZone: ctx.timeZone };
  let events: Event[];
  if (kind === "day") {
    const response = await ctx.calendar.listDayEvents(request);
    if (ctx.json) return printJson(ctx, ListDayEventsResponseSchema, response);
    events = response.events;
  } else if (kind === "week") {
    const response = await ctx.calendar.listWeekEvents(request);
    if (ctx.json) return printJson(ctx, ListWeekEventsResponseSchema, response);
    events = response.events;
  } else {
    const response = await ctx.calendar.listMonthEvents(request);
    if (ctx.json) return printJson(ctx, ListMonthEventsResponseSchema, response);
    events = response.events;
  }
  if (events.length === 0) {
    const span =
      kind === "day" ? `on ${formatDay(date)}` : `in the ${kind} from ${formatDay(date)}`;
    ctx.output.out(`No events ${span}.\n`);
    return;
  }
  ctx.output.out(
    renderAgenda(events, {
      timeZone: ctx.timeZone,
      firstDay: date,
      style: styleFor(ctx.output.colour),
    }),
  );
}

export const listVerbs: Verb = (program, withContext) => {
  program
    .command("today")
    .description("today's events")
    .action(withContext(async (ctx) => listWindow(ctx, "day", undefined)));
  const dateHelp = "YYYY-MM-DD, today, tomorrow or yesterday";
  program
    .command("day")
    .description("the events of one day (default today)")
    .argument("[date]", dateHelp)
    .action(withContext(async (ctx, args) => listWindow(ctx, "day", args[0])));
  program
    .command("week")
    .description("the events of seven days from DATE (default today)")
    .argument("[date]", dateHelp)
    .action(withContext(async (ctx, args) => listWindow(ctx, "week", args[0])));
  program
    .command("month")
    .description("the events of a month from DATE to the same day next month (default this month)")
    .argument("[date]", dateHelp)
    .action(withContext(async (ctx, args) => listWindow(ctx, "month", args[0])));
};
