import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Temporal } from "temporal-polyfill";
import { styleFor } from "./agenda.js";
import { renderFreeBusy } from "./freebusy.js";

const zone = "America/New_York";
const at = (local: string) => Temporal.PlainDateTime.from(local).toZonedDateTime(zone).toInstant();
const render = (from: string, to: string, busy: [string, string][]) =>
  renderFreeBusy(
    { start: at(from), end: at(to) },
    busy.map(([start, end]) => ({ start: at(start), end: at(end) })),
    { timeZone: zone, style: styleFor(false) },
  );

describe("renderFreeBusy", () => {
  it("lists a day with no busy time as one free gap, even on a 23-hour day", () => {
    // 2030-03-10: clocks in New York go from 02:00 to 03:00.
    assert.equal(
      render("2030-03-10T00:00", "2030-03-11T00:00", []),
      "Sun 10 Mar 2030\n  free  00:00-24:00\n",
    );
  });

  it("starts and ends at the span's bounds, not the day's", () => {
    assert.equal(
      render("2030-03-12T08:00", "2030-03-12T12:00", [["2030-03-12T09:00", "2030-03-12T10:00"]]),
      "Tue 12 Mar 2030\n  free  08:00-09:00\n  busy  09:00-10:00\n  free  10:00-12:00\n",
    );
  });

  it("cuts busy time that crosses midnight under both days, and prints no empty day", () => {
    assert.equal(
      render("2030-03-12T22:00", "2030-03-13T00:30", [["2030-03-12T23:00", "2030-03-13T00:30"]]),
      "Tue 12 Mar 2030\n  free  22:00-23:00\n  busy  23:00-24:00\n\nWed 13 Mar 2030\n  busy  00:00-00:30\n",
    );
    assert.equal(
      render("2030-03-12T00:00", "2030-03-13T00:00", [["2030-03-12T00:00", "2030-03-13T00:00"]]),
      "Tue 12 Mar 2030\n  busy  00:00-24:00\n",
    );
  });
});
