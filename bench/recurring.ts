// Recurring events: what a series costs against the same number of single
// events, in the same run, on the same api process.
// - ListMonthEvents for a month holding 20 occurrences of 5 series (COUNT=4
//   weekly each) against a month holding 20 single events (goal: >= 0.7);
// - CreateEvent of an endless weekly series against a single event, each
//   call a new user (so creates never overlap);
// - CreateEvent of an endless weekly series for a user who has series in the
//   same DST zone (a weekly and a monthly one in Europe/Berlin, back to back
//   with the new ones): the series-vs-series check at every date, on its
//   wall-clock path (internal/domain/series_overlap.ts);
// - the same near the check's bound: a weekly series in New York against a
//   user's weekly one in Berlin (two DST zones: 412 years of both, about
//   43,000 of the 50,000 periods the check may expand), one call at a time,
//   against single creates one at a time.
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
const DEC_7 = Date.UTC(2026, 11, 7); // a Monday
const CREATE = unaryMethod(CalendarService, "CreateEvent");
const LIST_MONTH = unaryMethod(CalendarService, "ListMonthEvents");

export interface RecurringRow {
  protocol: string;
  concurrency: number;
  listSeries: CellResult;
  listSingles: CellResult;
  createSeries: CellResult;
  createSingle: CellResult;
  createSeriesVsSeries: CellResult;
  createSingleSerial: CellResult;
  createSeriesAtBound: CellResult;
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
    // Series that the bench's series-vs-series creates are checked against.
    const berlin = (rule: string, start: number, zone = "Europe/Berlin") => ({
      event: {
        title: "standing",
        startTime: timestampFromMs(start),
        duration: durationFromMs(HOUR / 6),
        recurrence: [rule],
        timeZone: zone,
      },
    });
    // Mondays 09:20 and first Tuesdays 12:20 Berlin, ten minutes: right after
    // the half-hour slots the bench fills.
    await call(
      CREATE,
      berlin("RRULE:FREQ=WEEKLY;BYDAY=MO", DEC_7 + 8 * HOUR + HOUR / 3),
      headers(`vs${u}`),
    );
    await call(
      CREATE,
      berlin("RRULE:FREQ=MONTHLY;BYDAY=1TU", DEC_1 + 11 * HOUR + HOUR / 3),
      headers(`vs${u}`),
    );
    // Mondays 06:20 Berlin.
    await call(CREATE, berlin("RRULE:FREQ=WEEKLY", DEC_7 + 5 * HOUR + HOUR / 3), headers(`wc${u}`));
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
      const createdFor: Record<string, number> = {};
      let cellNo = 0;
      for (const concurrency of options.concurrencies) {
        for (const [name, kinds] of protocols) {
          const call = kinds.lean(api.url);
          const cell = async (
            label: string,
            fn: (seq: number) => Promise<unknown>,
            c = concurrency,
            slow = false,
          ) => {
            // A slow cell gets time for a few calls after its caches are warm.
            const times = slow
              ? {
                  warmupMs: Math.max(options.warmupMs, 3000),
                  durationMs: Math.max(options.durationMs, 10_000),
                }
              : {};
            const result = await runLoad(fn, { ...options, ...times, concurrency: c });
            progress(
              `recurring ${label} ${name} c=${c}: ${result.rps.toFixed(0)}/s p50 ${result.p50Ms.toFixed(2)} ms errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ""}`,
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
          const create =
            (series: boolean, tag = "") =>
            (seq: number) =>
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
                { "x-user-id": `c${cell_}${tag}_${series ? "s" : "e"}${seq}` },
              );
          // Weekly, 20 minutes, each in its own half-hour slot of the week
          // for its user across every cell (so the bench's creates never
          // meet each other).
          const slotted =
            (prefix: string, zone: string, firstHour: number, hours: number) => () => {
              const n = (createdFor[prefix] ?? 0) + 1;
              createdFor[prefix] = n;
              const slot = Math.floor(n / USERS);
              const local =
                DEC_7 +
                (slot % 7) * DAY +
                firstHour * HOUR +
                ((Math.floor(slot / 7) % (2 * hours)) * HOUR) / 2;
              const offset = zone === "Europe/Berlin" ? HOUR : -5 * HOUR;
              return call(
                CREATE,
                {
                  event: {
                    title: "bench",
                    startTime: timestampFromMs(local - offset),
                    duration: durationFromMs(HOUR / 3),
                    recurrence: ["RRULE:FREQ=WEEKLY"],
                    timeZone: zone,
                  },
                },
                { "x-user-id": `${prefix}${n % USERS}` },
              );
            };
          rows.push({
            protocol: name,
            concurrency,
            listSeries: await cell("ListMonthEvents 20 occurrences of 5 series", list("rs")),
            listSingles: await cell("ListMonthEvents 20 single events", list("ss")),
            createSeries: await cell("CreateEvent series", create(true)),
            createSingle: await cell("CreateEvent single", create(false)),
            createSeriesVsSeries: await cell(
              "CreateEvent series against 2 series in its zone",
              slotted("vs", "Europe/Berlin", 0, 24),
            ),
            // One at a time: such a check holds the api's event loop for its
            // whole length, so concurrent ones only queue behind each other.
            createSingleSerial: await cell("CreateEvent single", create(false, "serial"), 1),
            createSeriesAtBound: await cell(
              "CreateEvent series at the check's bound",
              slotted("wc", "America/New_York", 7, 12),
              1,
              true,
            ),
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
    seriesVsSeries: ratio(row.createSeriesVsSeries.rps, row.createSingle.rps),
    atBound: ratio(row.createSeriesAtBound.rps, row.createSingleSerial.rps),
  };
}
