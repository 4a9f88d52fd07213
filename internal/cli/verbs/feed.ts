// calctl feed [--rotate [--yes]]: the iCalendar subscription URL, or a new
// one (asking first on a terminal, since the old URL stops working).
import {
  GetFeedUrlResponseSchema,
  RotateFeedUrlResponseSchema,
} from "../../../gen/calendar/v1/interop_pb.js";
import { askYesNo } from "../confirm.js";
import type { Verb } from "../program.js";
import { printJson } from "./print.js";

interface FeedOptions {
  rotate?: boolean;
  yes?: boolean;
}

export const feedVerb: Verb = (program, withContext) => {
  program
    .command("feed")
    .description("print your calendar's subscription URL for calendar apps (it is a secret)")
    .option("--rotate", "replace the URL: the old one stops working (asks first on a terminal)")
    .option("-y, --yes", "with --rotate: do not ask")
    .action(
      withContext<FeedOptions>(async (ctx, _args, options) => {
        if (!options.rotate) {
          const response = await ctx.calendar.getFeedUrl({});
          if (ctx.json) return printJson(ctx, GetFeedUrlResponseSchema, response);
          ctx.output.out(`${response.url}\n`);
          return;
        }
        if (
          ctx.output.interactive &&
          !options.yes &&
          !(await askYesNo(
            "Replace the feed URL? Calendar apps subscribed to the current one stop updating.",
          ))
        ) {
          ctx.output.err("Not rotated.\n");
          return;
        }
        const response = await ctx.calendar.rotateFeedUrl({});
        if (ctx.json) return printJson(ctx, RotateFeedUrlResponseSchema, response);
        ctx.output.out(`${response.url}\n`);
      }),
    );
};
