// Expansion checked against the worked examples of RFC 5545 section 3.8.5.3,
// each run with DTSTART in two zones: the rules work in local time, so the
// same local dates and times come out in both.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Temporal } from "temporal-polyfill";
import {
  occurrenceId,
  parseOccurrenceId,
  recurrenceEndingBefore,
  recurrenceFrom,
  Schedule,
  validateRecurrence,
} from "./recurrence.js";

const ZONES = ["America/New_York", "Europe/Berlin"];

function startIn(zone: string, local: string): Date {
  return new Date(Temporal.PlainDateTime.from(local).toZonedDateTime(zone).epochMilliseconds);
}

/** The first `take` occurrences' local times ("1997-09-02T09:00") in `zone`. */
function localOccurrences(zone: string, dtstart: string, lines: string[], take: number): string[] {
  const start = startIn(zone, dtstart);
  const checked = validateRecurrence(
    lines.map((line) => line.replaceAll("{TZ}", zone)),
    zone,
    start,
  );
  if (!checked.ok) assert.fail(`${checked.error.field}: ${checked.error.message}`);
  const schedule = Schedule.of(start, checked.value);
  const starts = schedule
    .startsBetween(start, new Date(start.getTime() + 10 * 366 * 86_400_000))
    .slice(0, take);
  return starts.map((date) =>
    Temporal.Instant.fromEpochMilliseconds(date.getTime())
      .toZonedDateTimeISO(zone)
      .toPlainDateTime()
      .toString({ smallestUnit: "minute" }),
  );
}

const at9 = (...days: string[]) => days.map((day) => `${day}T09:00`);

const RFC_EXAMPLES: {
  name: string;
  dtstart: string;
  lines: string[];
  take: number;
  expected: string[];
}[] = [
  {
    name: "Daily for 10 occurrences",
    dtstart: "1997-09-02T09:00",
    lines: ["RRULE:FREQ=DAILY;COUNT=10"],
    take: 100,
    expected: at9(
      ...Array.from({ length: 10 }, (_, i) => `1997-09-${String(2 + i).padStart(2, "0")}`),
    ),
  },
  {
    name: "Weekly on Tuesday and Thursday for five weeks",
    dtstart: "1997-09-02T09:00",
    lines: ["RRULE:FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH"],
    take: 100,
    expected: at9(
      "1997-09-02",
      "1997-09-04",
      "1997-09-09",
      "1997-09-11",
      "1997-09-16",
      "1997-09-18",
      "1997-09-23",
      "1997-09-25",
      "1997-09-30",
      "1997-10-02",
    ),
  },
  {
    name: "Monthly on the first Friday for 10 occurrences",
    dtstart: "1997-09-05T09:00",
    lines: ["RRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR"],
    take: 100,
    expected: at9(
      "1997-09-05",
      "1997-10-03",
      "1997-11-07",
      "1997-12-05",
      "1998-01-02",
      "1998-02-06",
      "1998-03-06",
      "1998-04-03",
      "1998-05-01",
      "1998-06-05",
    ),
  },
  {
    name: "Monthly on the second-to-last Monday for 6 months",
    dtstart: "1997-09-22T09:00",
    lines: ["RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=-2MO"],
    take: 100,
    expected: at9(
      "1997-09-22",
      "1997-10-20",
      "1997-11-17",
      "1997-12-22",
      "1998-01-19",
      "1998-02-16",
    ),
  },
  {
    name: "Monthly on the third-to-the-last day of the month, forever",
    dtstart: "1997-09-28T09:00",
    lines: ["RRULE:FREQ=MONTHLY;BYMONTHDAY=-3"],
    take: 6,
    expected: at9(
      "1997-09-28",
      "1997-10-29",
      "1997-11-28",
      "1997-12-29",
      "1998-01-29",
      "1998-02-26",
    ),
  },
  {
    name: "Every 18 months on the 10th thru 15th for 10 occurrences",
    dtstart: "1997-09-10T09:00",
    lines: ["RRULE:FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15"],
    take: 100,
    expected: at9(
      "1997-09-10",
      "1997-09-11",
      "1997-09-12",
      "1997-09-13",
      "1997-09-14",
      "1997-09-15",
      "1999-03-10",
      "1999-03-11",
      "1999-03-12",
      "1999-03-13",
    ),
  },
  {
    name: "Yearly in June and July for 10 occurrences",
    dtstart: "1997-06-10T09:00",
    lines: ["RRULE:FREQ=YEARLY;COUNT=10;BYMONTH=6,7"],
    take: 100,
    expected: at9(
      "1997-06-10",
      "1997-07-10",
      "1998-06-10",
      "1998-07-10",
      "1999-06-10",
      "1999-07-10",
      "2000-06-10",
      "2000-07-10",
      "2001-06-10",
      "2001-07-10",
    ),
  },
  {
    name: "Every 3rd year on the 1st, 100th, and 200th day for 10 occurrences",
    dtstart: "1997-01-01T09:00",
    lines: ["RRULE:FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200"],
    take: 100,
    expected: at9(
      "1997-01-01",
      "1997-04-10",
      "1997-07-19",
      "2000-01-01",
      "2000-04-09",
      "2000-07-18",
      "2003-01-01",
      "2003-04-10",
      "2003-07-19",
      "2006-01-01",
    ),
  },
  {
    name: "Every 20th Monday of the year, forever",
    dtstart: "1997-05-19T09:00",
    lines: ["RRULE:FREQ=YEARLY;BYDAY=20MO"],
    take: 3,
    expected: at9("1997-05-19", "1998-05-18", "1999-05-17"),
  },
  {
    name: "Monday of week number 20, forever",
    dtstart: "1997-05-12T09:00",
    lines: ["RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO"],
    take: 3,
    expected: at9("1997-05-12", "1998-05-11", "1999-05-17"),
  },
  {
    name: "Every Friday the 13th, forever (DTSTART excluded by EXDATE)",
    dtstart: "1997-09-02T09:00",
    lines: ["EXDATE;TZID={TZ}:19970902T090000", "RRULE:FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13"],
    take: 5,
    expected: at9("1998-02-13", "1998-03-13", "1998-11-13", "1999-08-13", "2000-10-13"),
  },
  {
    name: "The last work day of the month",
    dtstart: "1997-09-29T09:00",
    lines: ["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"],
    take: 7,
    expected: at9(
      "1997-09-30",
      "1997-10-31",
      "1997-11-28",
      "1997-12-31",
      "1998-01-30",
      "1998-02-27",
      "1998-03-31",
    ),
  },
  {
    name: "WKST=MO changes which days an INTERVAL=2 week holds",
    dtstart: "1997-08-05T09:00",
    lines: ["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO"],
    take: 100,
    expected: at9("1997-08-05", "1997-08-10", "1997-08-19", "1997-08-24"),
  },
  {
    name: "WKST=SU",
    dtstart: "1997-08-05T09:00",
    lines: ["RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU"],
    take: 100,
    expected: at9("1997-08-05", "1997-08-17", "1997-08-19", "1997-08-31"),
  },
  {
    name: "An invalid date (Feb 30) is skipped, not clamped, and not counted",
    dtstart: "2007-01-15T09:00",
    lines: ["RRULE:FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5"],
    take: 100,
    expected: at9("2007-01-15", "2007-01-30", "2007-02-15", "2007-03-15", "2007-03-30"),
  },
];

describe("recurrence expansion: RFC 5545 3.8.5.3 examples", () => {
  for (const example of RFC_EXAMPLES) {
    for (const zone of ZONES) {
      it(`${example.name} (${zone})`, () => {
        assert.deepEqual(
          localOccurrences(zone, example.dtstart, example.lines, example.take),
          example.expected,
        );
      });
    }
  }
});

describe("recurrence expansion across DST", () => {
  it("keeps 09:00 local time across a DST change (so the UTC time moves)", () => {
    const start = startIn("Europe/Berlin", "2026-03-23T09:00");
    const schedule = Schedule.of(start, {
      lines: ["RRULE:FREQ=WEEKLY;COUNT=3"],
      timeZone: "Europe/Berlin",
    });
    assert.deepEqual(
      schedule.startsBetween(start, new Date("2027-01-01")).map((d) => d.toISOString()),
      ["2026-03-23T08:00:00.000Z", "2026-03-30T07:00:00.000Z", "2026-04-06T07:00:00.000Z"],
    );
  });

  it("skips a local time that the spring-forward change removes (RFC 5545 3.3.10)", () => {
    const zone = "America/New_York";
    assert.deepEqual(localOccurrences(zone, "2026-03-07T02:30", ["RRULE:FREQ=DAILY;COUNT=3"], 10), [
      "2026-03-07T02:30",
      "2026-03-09T02:30",
      "2026-03-10T02:30",
    ]);
  });

  it("takes a repeated local time at its first occurrence (RFC 5545 3.3.5)", () => {
    const start = startIn("America/New_York", "2026-10-31T01:30");
    const schedule = Schedule.of(start, {
      lines: ["RRULE:FREQ=DAILY;COUNT=2"],
      timeZone: "America/New_York",
    });
    // 01:30 on Nov 1 happens twice; the first is EDT (05:30Z), not EST (06:30Z).
    assert.deepEqual(
      schedule.startsBetween(start, new Date("2027-01-01")).map((d) => d.toISOString()),
      ["2026-10-31T05:30:00.000Z", "2026-11-01T05:30:00.000Z"],
    );
  });
});

describe("recurrence validation", () => {
  const start = new Date("2026-06-01T07:00:00Z");
  const refused = (lines: string[], timeZone = "Europe/Berlin") => {
    const result = validateRecurrence(lines, timeZone, start);
    if (result.ok) assert.fail(`accepted ${JSON.stringify(lines)}`);
    return `${result.error.field}: ${result.error.message}`;
  };

  it("accepts RRULE with EXDATE and RDATE, in UTC or with TZID", () => {
    const result = validateRecurrence(
      [
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "EXDATE;TZID=Europe/Berlin:20260608T090000",
        "EXDATE:20260615T070000Z",
        "RDATE:20260603T070000Z",
      ],
      "Europe/Berlin",
      start,
    );
    assert.ok(result.ok);
    const schedule = Schedule.of(start, result.value);
    assert.deepEqual(
      schedule.startsBetween(start, new Date("2026-06-30T00:00:00Z")).map((d) => d.toISOString()),
      [
        "2026-06-01T07:00:00.000Z",
        "2026-06-03T07:00:00.000Z",
        "2026-06-22T07:00:00.000Z",
        "2026-06-29T07:00:00.000Z",
      ],
    );
  });

  it("names the line and the part at fault", () => {
    assert.match(
      refused(["RRULE:FREQ=HOURLY"]),
      /^recurrence\[0\]: FREQ=HOURLY: FREQ must be DAILY/,
    );
    assert.match(
      refused(["RRULE:FREQ=DAILY;BYHOUR=9"]),
      /^recurrence\[0\]: BYHOUR is not supported/,
    );
    assert.match(
      refused(["RRULE:FREQ=DAILY", "RRULE:FREQ=WEEKLY"]),
      /^recurrence\[1\]: is a second RRULE/,
    );
    assert.match(
      refused(["RRULE:FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z"]),
      /^recurrence\[0\]: COUNT and UNTIL/,
    );
    assert.match(
      refused(["RRULE:FREQ=DAILY;UNTIL=20260101T000000Z"]),
      /^recurrence\[0\]: UNTIL is before start_time/,
    );
    assert.match(
      refused(["FOO:BAR", "RRULE:FREQ=DAILY"]),
      /^recurrence\[0\]: FOO is not supported/,
    );
    assert.match(
      refused(["RRULE:FREQ=DAILY", "EXDATE:tomorrow"]),
      /^recurrence\[1\]: tomorrow must be/,
    );
    assert.match(
      refused(["RRULE:FREQ=DAILY", "EXDATE;TZID=Mars/Olympus:20260601T090000"]),
      /^recurrence\[1\]: TZID=Mars\/Olympus/,
    );
    assert.match(refused(["RRULE:FREQ=MONTHLY;BYMONTHDAY=32"]), /^recurrence\[0\]: BYMONTHDAY=32/);
    assert.match(refused(["RRULE:INTERVAL=2"]), /^recurrence\[0\]: FREQ is required/);
  });

  it("requires a known time zone, at most 100 lines, and at least one occurrence", () => {
    assert.match(refused(["RRULE:FREQ=DAILY"], ""), /^time_zone: is required/);
    assert.match(refused(["RRULE:FREQ=DAILY"], "Mars/Olympus"), /^time_zone: must be an IANA/);
    assert.match(
      refused([
        "RRULE:FREQ=DAILY",
        ...Array.from({ length: 100 }, () => "EXDATE:20300101T000000Z"),
      ]),
      /^recurrence: must have at most 100 lines/,
    );
    assert.match(
      refused(["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"]),
      /^recurrence: yields no occurrence at all/,
    );
    assert.match(refused(["EXDATE:20260601T070000Z"]), /^recurrence: must hold one RRULE line/);
  });
});

describe("occurrence ids and splitting", () => {
  it("round-trips an occurrence id and refuses other shapes", () => {
    const seriesId = "3f1c2a9e-8b7d-4c61-9e0f-2a4b6c8d0e1f";
    const id = occurrenceId(seriesId, new Date("2026-06-01T07:00:00Z"));
    assert.equal(id, `${seriesId}_20260601T070000Z`);
    assert.deepEqual(parseOccurrenceId(id), {
      seriesId,
      originalStart: new Date("2026-06-01T07:00:00Z"),
    });
    assert.equal(parseOccurrenceId(seriesId), undefined);
    assert.equal(parseOccurrenceId(`${seriesId}_20261301T070000Z`), undefined);
  });

  it("ends a series before a split and continues it with the remaining COUNT", () => {
    const start = new Date("2026-06-01T07:00:00Z");
    const recurrence = { lines: ["RRULE:FREQ=DAILY;COUNT=10"], timeZone: "UTC" };
    const schedule = Schedule.of(start, recurrence);
    const split = new Date("2026-06-04T07:00:00Z");
    const before = recurrenceEndingBefore(recurrence, split);
    assert.deepEqual(before.lines, ["RRULE:FREQ=DAILY;UNTIL=20260604T065959Z"]);
    assert.equal(Schedule.of(start, before).startsBetween(start, new Date("2027-01-01")).length, 3);
    const after = recurrenceFrom(recurrence, schedule, split);
    assert.deepEqual(after.lines, ["RRULE:FREQ=DAILY;COUNT=7"]);
  });
});
