import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { overlaps, type TimeWindow } from "./event.js";
import { calendarWindow, type WindowKind } from "./window.js";

const HOUR = 3_600_000;

function windowOf(kind: WindowKind, date: string, timeZone: string): TimeWindow {
  const result = calendarWindow(kind, date, timeZone);
  if (!result.ok) assert.fail(`unexpected error: ${JSON.stringify(result.error)}`);
  return result.value;
}

function assertWindow(window: TimeWindow, start: string, end: string): void {
  assert.deepEqual(
    { start: window.start.toISOString(), end: window.end.toISOString() },
    { start, end },
  );
}

function hours(window: TimeWindow): number {
  return (window.end.getTime() - window.start.getTime()) / HOUR;
}

describe("calendarWindow in UTC", () => {
  it("day", () => {
    assertWindow(
      windowOf("day", "2026-03-08", "UTC"),
      "2026-03-08T00:00:00.000Z",
      "2026-03-09T00:00:00.000Z",
    );
  });

  it("week", () => {
    assertWindow(
      windowOf("week", "2026-03-08", "UTC"),
      "2026-03-08T00:00:00.000Z",
      "2026-03-15T00:00:00.000Z",
    );
  });

  it("month", () => {
    assertWindow(
      windowOf("month", "2026-03-08", "UTC"),
      "2026-03-08T00:00:00.000Z",
      "2026-04-08T00:00:00.000Z",
    );
  });

  it("month across a year end", () => {
    assertWindow(
      windowOf("month", "2026-12-15", "UTC"),
      "2026-12-15T00:00:00.000Z",
      "2027-01-15T00:00:00.000Z",
    );
  });

  it("empty time zone means UTC", () => {
    assert.deepEqual(windowOf("day", "2026-03-08", ""), windowOf("day", "2026-03-08", "UTC"));
  });
});

describe("calendarWindow across DST", () => {
  it("New York spring-forward day is 23 hours", () => {
    const day = windowOf("day", "2026-03-08", "America/New_York");
    assertWindow(day, "2026-03-08T05:00:00.000Z", "2026-03-09T04:00:00.000Z");
    assert.equal(hours(day), 23);
  });

  it("New York fall-back day is 25 hours", () => {
    const day = windowOf("day", "2026-11-01", "America/New_York");
    assertWindow(day, "2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z");
    assert.equal(hours(day), 25);
  });

  it("New York week containing spring-forward is 7 days minus an hour", () => {
    const week = windowOf("week", "2026-03-05", "America/New_York");
    assertWindow(week, "2026-03-05T05:00:00.000Z", "2026-03-12T04:00:00.000Z");
    assert.equal(hours(week), 7 * 24 - 1);
  });

  it("New York March is 31 days minus an hour", () => {
    const month = windowOf("month", "2026-03-01", "America/New_York");
    assertWindow(month, "2026-03-01T05:00:00.000Z", "2026-04-01T04:00:00.000Z");
    assert.equal(hours(month), 31 * 24 - 1);
  });

  // Chile springs forward at midnight: 2026-09-06 00:00 -04 becomes 01:00 -03
  // (checked against this Node's tz data), so that day has no 00:00.
  it("Santiago day without a midnight starts at its first existing instant", () => {
    const day = windowOf("day", "2026-09-06", "America/Santiago");
    assertWindow(day, "2026-09-06T04:00:00.000Z", "2026-09-07T03:00:00.000Z");
    assert.equal(hours(day), 23);
  });

  it("Santiago day before the gap ends where the gap day starts", () => {
    const before = windowOf("day", "2026-09-05", "America/Santiago");
    assertWindow(before, "2026-09-05T04:00:00.000Z", "2026-09-06T04:00:00.000Z");
    assert.equal(hours(before), 24);
  });

  it("Sao Paulo's historical midnight gap (2018-11-04) starts at 01:00 -02", () => {
    assertWindow(
      windowOf("day", "2018-11-04", "America/Sao_Paulo"),
      "2018-11-04T03:00:00.000Z",
      "2018-11-05T02:00:00.000Z",
    );
  });
});

describe("calendarWindow and leap years", () => {
  it("leap day", () => {
    assertWindow(
      windowOf("day", "2028-02-29", "UTC"),
      "2028-02-29T00:00:00.000Z",
      "2028-03-01T00:00:00.000Z",
    );
  });

  it("month from Jan 31 ends on Feb 28 in a common year", () => {
    assertWindow(
      windowOf("month", "2027-01-31", "UTC"),
      "2027-01-31T00:00:00.000Z",
      "2027-02-28T00:00:00.000Z",
    );
  });

  it("month from Jan 31 ends on Feb 29 in a leap year", () => {
    assertWindow(
      windowOf("month", "2028-01-31", "America/New_York"),
      "2028-01-31T05:00:00.000Z",
      "2028-02-29T05:00:00.000Z",
    );
  });
});

describe("calendarWindow at the ends of the date range", () => {
  it("first representable date", () => {
    assertWindow(
      windowOf("day", "0001-01-01", "UTC"),
      "0001-01-01T00:00:00.000Z",
      "0001-01-02T00:00:00.000Z",
    );
  });

  it("windows from 9999-12-31 end in year 10000", () => {
    assertWindow(
      windowOf("month", "9999-12-31", "UTC"),
      "9999-12-31T00:00:00.000Z",
      "+010000-01-31T00:00:00.000Z",
    );
    for (const kind of ["day", "week", "month"] as const) {
      for (const zone of ["Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"]) {
        const window = windowOf(kind, "9999-12-31", zone);
        assert.ok(window.end > window.start, `${kind} ${zone}`);
      }
    }
  });
});

describe("calendarWindow with overlaps", () => {
  it("a cross-midnight event overlaps both days", () => {
    // 23:00 to 01:00 New York time (EST, -05:00), the night into 2026-03-08.
    const event = { start: new Date("2026-03-08T04:00:00.000Z"), durationMs: 2 * HOUR };
    assert.ok(overlaps(event, windowOf("day", "2026-03-07", "America/New_York")));
    assert.ok(overlaps(event, windowOf("day", "2026-03-08", "America/New_York")));
    assert.ok(!overlaps(event, windowOf("day", "2026-03-06", "America/New_York")));
    assert.ok(!overlaps(event, windowOf("day", "2026-03-09", "America/New_York")));
  });

  it("boundaries are half-open", () => {
    const day = windowOf("day", "2026-11-01", "America/New_York");
    const endsAtStart = { start: new Date(day.start.getTime() - HOUR), durationMs: HOUR };
    const startsAtEnd = { start: day.end, durationMs: HOUR };
    const startsAtStart = { start: day.start, durationMs: 1 };
    const endsJustAfterStart = {
      start: new Date(day.start.getTime() - HOUR),
      durationMs: HOUR + 1,
    };
    const endsAtEnd = { start: new Date(day.end.getTime() - 1), durationMs: 1 };
    assert.ok(!overlaps(endsAtStart, day));
    assert.ok(!overlaps(startsAtEnd, day));
    assert.ok(overlaps(startsAtStart, day));
    assert.ok(overlaps(endsJustAfterStart, day));
    assert.ok(overlaps(endsAtEnd, day));
  });

  it("consecutive day windows tile without gaps or overlap", () => {
    const first = windowOf("day", "2026-11-01", "America/New_York");
    const second = windowOf("day", "2026-11-02", "America/New_York");
    assert.equal(first.end.getTime(), second.start.getTime());
  });
});

describe("calendarWindow rejects bad input", () => {
  const badDates = [
    "",
    "2026-02-30",
    "2026-04-31",
    "2027-02-29",
    "2026-13-01",
    "2026-00-10",
    "2026-01-00",
    "0000-01-01",
    "2026-2-3",
    " 2026-01-01",
    "2026-01-01 ",
    "2026-01-01T00:00",
    "2026-01-01Z",
    "+002026-01-01",
    "20260101",
    "2026/01/01",
    "10000-01-01",
    "２０２６-01-01",
    "2026-01-01\n",
  ];
  for (const date of badDates) {
    it(`date ${JSON.stringify(date)}`, () => {
      const result = calendarWindow("day", date, "UTC");
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.kind, "invalid_argument");
      assert.equal(result.error.field, "date");
      assert.match(result.error.message, /YYYY-MM-DD/);
    });
  }

  const badZones = [
    "Mars/Olympus_Mons",
    "Not a zone",
    "Europe/Berlin ",
    "UTC\n",
    "+05:00",
    "2020-01-01T00:00+01:00[Europe/Berlin]",
    `Europe/${"A".repeat(60)}`,
  ];
  for (const zone of badZones) {
    it(`time zone ${JSON.stringify(zone)}`, () => {
      const result = calendarWindow("day", "2026-03-08", zone);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.kind, "invalid_argument");
      assert.equal(result.error.field, "time_zone");
      assert.match(result.error.message, /IANA/);
    });
  }

  it("a bad date is reported before a bad zone", () => {
    const result = calendarWindow("day", "nope", "nope");
    assert.ok(!result.ok && result.error.field === "date");
  });

  it("an unknown kind from untyped callers", () => {
    const result = calendarWindow("year" as WindowKind, "2026-03-08", "UTC");
    assert.ok(!result.ok && result.error.field === "kind");
  });

  it("never throws, whatever the strings", () => {
    const kinds = fc.constantFrom<WindowKind>("day", "week", "month");
    const dates = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.integer({ min: 0, max: 9999 }),
          fc.integer({ min: 0, max: 99 }),
          fc.integer({ min: 0, max: 99 }),
        )
        .map(
          ([y, m, d]) =>
            `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`,
        ),
    );
    const zones = fc.oneof(
      fc.string(),
      fc.constantFrom("", "UTC", "America/Santiago", "Pacific/Kiritimati", "Etc/GMT-14"),
    );
    fc.assert(
      fc.property(kinds, dates, zones, (kind, date, zone) => {
        const result = calendarWindow(kind, date, zone);
        if (result.ok) assert.ok(result.value.start < result.value.end);
      }),
    );
  });
});

describe("calendarWindow asked again", () => {
  it("gives the same window, in Dates of its own", () => {
    const first = windowOf("day", "2026-10-25", "Europe/Berlin");
    first.start.setTime(0); // a caller changing its copy
    assertWindow(
      windowOf("day", "2026-10-25", "Europe/Berlin"),
      "2026-10-24T22:00:00.000Z",
      "2026-10-25T23:00:00.000Z",
    );
  });
});
