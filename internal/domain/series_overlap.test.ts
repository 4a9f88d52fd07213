// Series against series, at any date: clashes decades away are found and
// named by their first occurrence, series that never meet are accepted, DST
// changes are taken into account, and what cannot be decided within the
// bounded cost is said so. A seeded cross-check compares every answer with a
// plain expansion of both series over 12 years.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Temporal } from "temporal-polyfill";
import { findBusyConflict } from "./busy.js";
import { Schedule } from "./recurrence.js";
import { compareSeries, type SeriesSide } from "./series_overlap.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const YEAR = 365.2425 * 86_400_000;

function side(
  start: string,
  rule: string,
  timeZone: string,
  durationMs = HOUR,
  overridden: number[] = [],
): SeriesSide {
  return {
    start: new Date(start),
    durationMs,
    recurrence: { lines: [rule], timeZone },
    overridden: new Set(overridden),
  };
}

const clashAt = (iso: string) => ({ kind: "clash", start: new Date(iso) });

// A yearly series on Feb 29 and a monthly one on every 29th that is a
// Thursday, both 09:00 UTC: Feb 29 is a Thursday first in 2052.
const leapDay = side("2028-02-29T09:00:00Z", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "UTC");
const thursday29 = side("2026-10-29T09:00:00Z", "RRULE:FREQ=MONTHLY;BYMONTHDAY=29;BYDAY=TH", "UTC");

describe("compareSeries", () => {
  it("finds a first clash decades away: Feb 29 against the 29th that is a Thursday", () => {
    assert.deepEqual(compareSeries(leapDay, thursday29), clashAt("2052-02-29T09:00:00Z"));
    assert.deepEqual(compareSeries(thursday29, leapDay), clashAt("2052-02-29T09:00:00Z"));
  });

  it("skips a clashing occurrence that has an exception, to the next clash 28 years on", () => {
    const moved = { ...thursday29, overridden: new Set([Date.parse("2052-02-29T09:00:00Z")]) };
    assert.deepEqual(compareSeries(leapDay, moved), clashAt("2080-02-29T09:00:00Z"));
  });

  it("finds weekly INTERVAL=50 and INTERVAL=53 series meeting 33 years on", () => {
    const every50 = side("2026-12-07T09:00:00Z", "RRULE:FREQ=WEEKLY;INTERVAL=50", "UTC");
    const every53 = side("2026-12-14T09:00:00Z", "RRULE:FREQ=WEEKLY;INTERVAL=53", "UTC");
    // 50 i = 53 j + 1 first at i = 35: week 1750 after 2026-12-07.
    assert.deepEqual(compareSeries(every50, every53), clashAt("2060-06-21T09:00:00Z"));
  });

  it("accepts series that never meet, however long they run", () => {
    const tenOClock = { ...thursday29, start: new Date("2026-10-29T10:00:00Z") };
    assert.deepEqual(compareSeries(leapDay, tenOClock), { kind: "apart" });
    const mondays = side("2026-12-07T08:00:00Z", "RRULE:FREQ=WEEKLY;BYDAY=MO", "Europe/Berlin");
    // Back to back every Monday, 09:00-10:00 and 10:00-11:00 Berlin time.
    const after = side("2026-12-07T09:00:00Z", "RRULE:FREQ=WEEKLY;BYDAY=MO", "Europe/Berlin");
    assert.deepEqual(compareSeries(mondays, after), { kind: "apart" });
    // A daily 09:00-10:00 against the first Monday's 10:00-11:00, 400 years of months.
    const daily = side("2026-12-07T08:00:00Z", "RRULE:FREQ=DAILY", "Europe/Berlin");
    const monthly = side("2026-12-07T09:00:00Z", "RRULE:FREQ=MONTHLY;BYDAY=1MO", "Europe/Berlin");
    assert.deepEqual(compareSeries(daily, monthly), { kind: "apart" });
  });

  it("finds the clash a spring-forward change makes between back-to-back wall-clock times", () => {
    // Sundays 01:30-03:00 Berlin (90 minutes) and 03:00-04:00: on the last
    // Sunday of March 01:30 CET + 90 min is 04:00 CEST.
    const early = side(
      "2026-12-06T00:30:00Z",
      "RRULE:FREQ=WEEKLY;BYDAY=SU",
      "Europe/Berlin",
      90 * MINUTE,
    );
    const late = side("2026-12-06T02:00:00Z", "RRULE:FREQ=WEEKLY;BYDAY=SU", "Europe/Berlin");
    assert.deepEqual(compareSeries(early, late), clashAt("2027-03-28T01:00:00Z"));
  });

  it("refuses what it cannot decide within its bounds, and decides it once one series ends", () => {
    const berlin = side("2026-12-07T05:00:00Z", "RRULE:FREQ=DAILY", "Europe/Berlin");
    const newYork = side("2026-12-07T09:00:00Z", "RRULE:FREQ=DAILY", "America/New_York");
    const refused = compareSeries(berlin, newYork);
    assert.equal(refused.kind, "uncheckable");
    assert.match(
      refused.kind === "uncheckable" ? refused.reason : "",
      /repeat together only every 400 years.*COUNT or UNTIL/,
    );
    const bounded = {
      ...newYork,
      recurrence: { ...newYork.recurrence, lines: ["RRULE:FREQ=DAILY;COUNT=200"] },
    };
    assert.deepEqual(compareSeries(berlin, bounded), { kind: "apart" });
  });

  it("names the conflicting occurrence and its start through findBusyConflict", () => {
    const conflict = findBusyConflict(
      { kind: "series", ...leapDay },
      [],
      [{ id: "s", ...thursday29, occurrenceId: (start) => `s_${start.toISOString()}` }],
    );
    assert.deepEqual(conflict, {
      kind: "overlap",
      conflictingId: "s_2052-02-29T09:00:00.000Z",
      conflictingStart: new Date("2052-02-29T09:00:00Z"),
    });
  });

  it("agrees with a plain 12-year expansion on seeded random pairs of rules", () => {
    let seed = 13;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(list: readonly T[]) => list[random(list.length)] as T;
    const zones = ["Europe/Berlin", "UTC", "America/New_York"];
    const rules = [
      "RRULE:FREQ=DAILY",
      "RRULE:FREQ=DAILY;INTERVAL=3",
      "RRULE:FREQ=WEEKLY;BYDAY=SU",
      "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,WE",
      "RRULE:FREQ=WEEKLY;INTERVAL=5",
      "RRULE:FREQ=MONTHLY;BYDAY=-1SU",
      "RRULE:FREQ=MONTHLY;BYMONTHDAY=29",
      "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
      "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;COUNT=20",
      "RRULE:FREQ=DAILY;COUNT=400",
    ];
    let clashes = 0;
    for (let round = 0; round < 30; round++) {
      // Local starts around the small hours, where DST changes happen.
      const make = (zone: string) => {
        const day = Temporal.PlainDate.from("2026-12-06").add({ days: random(7) });
        const local = day.toPlainDateTime({ hour: random(4), minute: 30 * random(2) });
        const start = new Date(local.toZonedDateTime(zone).epochMilliseconds);
        return side(start.toISOString(), pick(rules), zone, (30 + 30 * random(4)) * MINUTE);
      };
      const zone = pick(zones);
      const a = make(zone);
      const b = make(random(3) === 0 ? pick(zones) : zone);
      const got = compareSeries(a, b);
      if (got.kind === "uncheckable") continue;
      const from = Math.max(a.start.getTime(), b.start.getTime()) - 3 * HOUR;
      const to = from + 12 * YEAR;
      const starts = (s: SeriesSide) => {
        const all: number[] = [];
        for (let at = from; at < to; at += 4 * YEAR) {
          const chunk = Schedule.of(s.start, s.recurrence).startsBetween(
            new Date(at),
            new Date(Math.min(at + 4 * YEAR, to)),
          );
          all.push(...chunk.map((d) => d.getTime()));
        }
        return all;
      };
      const mine = starts(a);
      const expected = starts(b).find((y) =>
        mine.some((x) => x < y + b.durationMs && y < x + a.durationMs),
      );
      const label = `${a.recurrence.lines[0]} ${a.recurrence.timeZone} ${a.start.toISOString()} vs ${b.recurrence.lines[0]} ${b.recurrence.timeZone} ${b.start.toISOString()}`;
      if (expected === undefined) {
        assert.ok(got.kind === "apart" || got.start.getTime() >= to, label);
      } else {
        clashes++;
        assert.deepEqual(got, { kind: "clash", start: new Date(expected) }, label);
      }
    }
    assert.ok(clashes >= 8, `only ${clashes} clashing pairs: the check would prove little`);
  });
});
