// Recurring events: what a series costs against the same number of single
// events, in the same run, on the same api process.
// - ListMonthEvents for a month holding 20 occurrences of 5 series (COUNT=4
//   weekly each) against a month holding 20 single events (goal: >= 0.7);
// - CreateEvent of an endless weekly series against a single event, each
//   call a new user (so creates never overlap).
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CalendarService } from "../gen/calendar/v1/calendar_pb.js";
import { PROTOCOLS } from "./api.js";
import { type UnaryCall, unaryMethod } from "./lean_client.js";
import {
  type BenchDatabase,
  createDatabase,
  type LoadOptions,
  progress,
  runLoad,
  startApi,
} from "./setup.js";
import { type CellResult, ratio } from "./stats.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const USERS = 200;
const DEC_1 = Date.UTC(2026, 11, 1); // a Tuesday
const CREATE = unaryMethod(CalendarService, "CreateEvent");
const LIST_MONTH = unaryMethod(CalendarService, "ListMonthEvents");

export interface RecurringRow {
  protocol: string;
  concurrency: number;
  listSeries: CellResult;
  listSingles: CellResult;
  createSeries: CellResult;
  createSingle: CellResult;
}

export interface RecurringReport {
  rows: RecurringRow[];
}

async function seed(call: UnaryCall): Promise<void> {
  const headers = (user: string) => ({ "x-user-id": user });
  for (let u = 0; u < USERS; u++) {
    // Five series on five weekdays of the first week, four occurrences each.
    for (let d = 0; d < 5; d++) {
      await call(
        CREATE,
        {
          event: {
            title: "weekly",
            startTime: timestampFromMs(DEC_1 + d * DAY + 9 * HOUR),
            duration: durationFromMs(HOUR),
            recurrence: ["RRULE:FREQ=WEEKLY;COUNT=4"],
            timeZone: "UTC",
          },
        },
        headers(`rs${u}`),
      );
    }
    // Twenty single events at the same times.
    for (let w = 0; w < 4; w++) {
      for (let d = 0; d < 5; d++) {
        await call(
          CREATE,
          {
            event: {
              title: "single",
              startTime: timestampFromMs(DEC_1 + (w * 7 + d) * DAY + 9 * HOUR),
              duration: durationFromMs(HOUR),
            },
          },
          headers(`ss${u}`),
        );
      }
    }
    if ((u + 1) % 50 === 0) progress(`recurring: seeded ${u + 1}/${USERS} users`);
  }
}

export async function runRecurringBench(
  databaseUrl: string,
  options: Omit<LoadOptions, "concurrency"> & { concurrencies: number[]; protocols?: string[] },
): Promise<RecurringReport> {
  const db: BenchDatabase = await createDatabase(databaseUrl, "recurring");
  try {
    const api = await startApi(db.url);
    try {
      const protocols = Object.entries(PROTOCOLS).filter(
        ([name]) => options.protocols === undefined || options.protocols.includes(name),
      );
      const [first] = protocols;
      if (!first) throw new Error("no protocol selected");
      progress(`recurring: seeding ${USERS} users with 5 series and ${USERS} with 20 events`);
      await seed(first[1].lean(api.url));
      await db.sql`vacuum analyze events`;
      const rows: RecurringRow[] = [];
      let cellNo = 0;
      for (const concurrency of options.concurrencies) {
        for (const [name, kinds] of protocols) {
          const call = kinds.lean(api.url);
          const cell = async (label: string, fn: (seq: number) => Promise<unknown>) => {
            const result = await runLoad(fn, { ...options, concurrency });
            progress(
              `recurring ${label} ${name} c=${concurrency}: ${result.rps.toFixed(0)}/s p50 ${result.p50Ms.toFixed(2)} ms errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}`,
            );
            return result;
          };
          const list = (prefix: string) => (seq: number) =>
            call(
              LIST_MONTH,
              { date: "2026-12-01", timeZone: "UTC" },
              { "x-user-id": `${prefix}${(seq * 7919) % USERS}` },
            );
          const cell_ = ++cellNo;
          const create = (series: boolean) => (seq: number) =>
            call(
              CREATE,
              {
                event: {
                  title: "bench",
                  startTime: timestampFromMs(Date.UTC(2027, 0, 4, 9)),
                  duration: durationFromMs(HOUR / 2),
                  notifyBefore: durationFromMs(HOUR / 6),
                  ...(series ? { recurrence: ["RRULE:FREQ=WEEKLY"], timeZone: "UTC" } : {}),
                },
              },
              { "x-user-id": `c${cell_}_${series ? "s" : "e"}${seq}` },
            );
          rows.push({
            protocol: name,
            concurrency,
            listSeries: await cell("ListMonthEvents 20 occurrences of 5 series", list("rs")),
            listSingles: await cell("ListMonthEvents 20 single events", list("ss")),
            createSeries: await cell("CreateEvent series", create(true)),
            createSingle: await cell("CreateEvent single", create(false)),
          });
        }
      }
      return { rows };
    } finally {
      await api.stop();
    }
  } finally {
    await db.drop();
  }
}

export function recurringRatios(row: RecurringRow) {
  return {
    list: ratio(row.listSeries.rps, row.listSingles.rps),
    create: ratio(row.createSeries.rps, row.createSingle.rps),
  };
}
