// How calctl reads the times, dates and durations a person types.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "./errors.js";
import {
  formatDuration,
  parseDate,
  parseDateTime,
  parseDuration,
  resolveTimeZone,
} from "./time.js";

describe("calctl time input", () => {
  it("reads a local date-time in the given zone, also across a DST change", () => {
    const at = (text: string, zone: string) => parseDateTime(text, zone).toString();
    assert.equal(at("2026-12-01 09:00", "Europe/Berlin"), "2026-12-01T08:00:00Z");
    assert.equal(at("2026-07-01T09:00", "Europe/Berlin"), "2026-07-01T07:00:00Z");
    assert.equal(at("2026-03-08 9:30", "America/New_York"), "2026-03-08T13:30:00Z");
    // 02:30 does not exist that night in New York: the clock jumps to 03:30.
    assert.equal(at("2026-03-08 02:30", "America/New_York"), "2026-03-08T07:30:00Z");
    assert.equal(at("2026-12-01T09:00:00+05:30", "UTC"), "2026-12-01T03:30:00Z");
  });

  it("refuses what is not a time with a usage error that shows the format", () => {
    for (const text of ["tomorrow 9am", "2026-02-30 10:00", "25:00", "2026-12-01"]) {
      assert.throws(
        () => parseDateTime(text, "UTC"),
        (e: unknown) => {
          assert.ok(e instanceof UsageError);
          assert.match(e.message, /^--at: ".*" is not a time; use "YYYY-MM-DD HH:MM"/);
          return true;
        },
      );
    }
  });

  it("reads durations with units and prints them back the same way", () => {
    assert.equal(parseDuration("30m", "--for"), 1800);
    assert.equal(parseDuration("1h30m", "--for"), 5400);
    assert.equal(parseDuration("1d", "--for"), 86_400);
    assert.equal(parseDuration("90s", "--for"), 90);
    assert.equal(formatDuration(5400), "1h30m");
    assert.equal(formatDuration(86_400 + 60), "1d1m");
    for (const bad of ["", "30", "m", "1h30", "30 minutes", "-5m"]) {
      assert.throws(() => parseDuration(bad, "--remind"), /--remind: ".*" is not a duration/);
    }
  });

  it("reads dates and the words today, tomorrow and yesterday", () => {
    assert.equal(parseDate("2028-02-29", "UTC").toString(), "2028-02-29");
    const today = parseDate("today", "Pacific/Kiritimati");
    assert.equal(
      parseDate("tomorrow", "Pacific/Kiritimati").toString(),
      today.add({ days: 1 }).toString(),
    );
    assert.throws(() => parseDate("2027-02-29", "UTC"), /DATE: "2027-02-29" is not a date/);
  });

  it("takes --tz over TZ, and names whichever is unknown", () => {
    assert.equal(resolveTimeZone("Asia/Tokyo", { TZ: "Europe/Paris" }), "Asia/Tokyo");
    assert.equal(resolveTimeZone(undefined, { TZ: ":Europe/Paris" }), "Europe/Paris");
    assert.throws(
      () => resolveTimeZone(undefined, { TZ: "Nowhere/Land" }),
      /^UsageError: TZ: unknown/,
    );
    assert.throws(
      () => resolveTimeZone("Nowhere/Land", {}),
      /--tz: unknown time zone "Nowhere\/Land"/,
    );
  });
});
