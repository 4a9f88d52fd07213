// calctl watch: prints changes to the calendar as they happen, until Ctrl-C.
// Resumes across dropped connections from the last sync token it saw.
import { toJsonString } from "@bufbuild/protobuf";
import { WatchEventsResponseSchema } from "../../../gen/calendar/v1/sync_pb.js";
import { renderAgenda, startAndEnd, styleFor } from "../agenda.js";
import type { Verb } from "../program.js";

export const watchVerb: Verb = (program, withContext) => {
  program
    .command("watch")
    .description("print changes to your calendar as they happen (Ctrl-C stops)")
    .option("--since <token>", "a sync token: first print what changed since it")
    .action(
      withContext<{ since?: string }>(async (ctx, _args, options) => {
        const stop = new AbortController();
        process.once("SIGINT", () => stop.abort());
        const style = styleFor(ctx.output.colour);
        try {
          for await (const change of ctx.sync.watchEvents(
            { syncToken: options.since ?? "" },
            { signal: stop.signal, timeoutMs: 0 },
          )) {
            if (change.heartbeat) continue;
            if (ctx.json) {
              // One JSON object per line, so that a script reads them as they come.
              ctx.output.out(`${toJsonString(WatchEventsResponseSchema, change)}\n`);
            } else if (change.event) {
              const event = change.event;
              ctx.output.out(
                `changed: ${renderAgenda([event], {
                  timeZone: ctx.timeZone,
                  firstDay: startAndEnd(event, ctx.timeZone).start.toPlainDate(),
                  style,
                }).replace(/\n {2}/, "  ")}`,
              );
            } else if (change.deletedId) {
              ctx.output.out(`deleted: ${change.deletedId}\n`);
            }
          }
        } catch (error) {
          if (!stop.signal.aborted) throw error;
        }
      }),
    );
};
