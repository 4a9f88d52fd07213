// calctl import FILE.ics (or - for stdin): one line per VEVENT saying what
// the server did with it. A file the server refuses as a whole fails (exit
// 1); rejected VEVENTs of an accepted file do not, since the rest went in.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import {
  ImportEventsResponseSchema,
  type ImportResult,
  ImportResult_Status,
} from "../../../gen/calendar/v1/interop_pb.js";
import { type Style, styleFor } from "../agenda.js";
import { UsageError } from "../errors.js";
import type { Verb } from "../program.js";
import { printJson } from "./print.js";

const STATUS_WORD: Record<ImportResult_Status, string> = {
  [ImportResult_Status.UNSPECIFIED]: "unknown",
  [ImportResult_Status.CREATED]: "created",
  [ImportResult_Status.UNCHANGED]: "unchanged",
  [ImportResult_Status.UPDATED]: "updated",
  [ImportResult_Status.REJECTED]: "rejected",
};
const WORD_WIDTH = Math.max(...Object.values(STATUS_WORD).map((word) => word.length));

async function readIcs(file: string): Promise<string> {
  try {
    return file === "-" ? await text(process.stdin) : await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(
      `FILE: cannot read "${file}" (${reason}); pass an .ics file, or - for stdin`,
    );
  }
}

/** "created    uid-1 (2027-01-05T10:00:00)  <event id>" or "rejected   uid-2  <reason>". */
function resultLine(result: ImportResult, style: Style): string {
  const word = STATUS_WORD[result.status] ?? "unknown";
  const uid = result.uid || "(no UID)";
  const which = result.recurrenceId ? `${uid} (${result.recurrenceId})` : uid;
  const rejected = result.status === ImportResult_Status.REJECTED;
  const tail = rejected ? result.reason : style.id(result.eventId);
  const status = rejected ? style.mark(word.padEnd(WORD_WIDTH)) : word.padEnd(WORD_WIDTH);
  return `${status}  ${which}  ${tail}\n`;
}

export const importVerb: Verb = (program, withContext) => {
  program
    .command("import")
    .description("add the events of an iCalendar (.ics) file; importing it again changes nothing")
    .argument("<file>", "an .ics file as calendar apps export it, or - to read stdin")
    .action(
      withContext(async (ctx, [file = ""]) => {
        const ics = await readIcs(file);
        const response = await ctx.calendar.importEvents({ ics });
        if (ctx.json) return printJson(ctx, ImportEventsResponseSchema, response);
        const style = styleFor(ctx.output.colour);
        for (const result of response.results) ctx.output.out(resultLine(result, style));
        const counts = new Map<string, number>();
        for (const result of response.results) {
          const word = STATUS_WORD[result.status] ?? "unknown";
          counts.set(word, (counts.get(word) ?? 0) + 1);
        }
        const summary = [...counts].map(([word, count]) => `${count} ${word}`).join(", ");
        ctx.output.err(`${summary || "no events in the file"}.\n`);
      }),
    );
};
