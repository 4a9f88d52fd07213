// The agenda's layout in the reader's zone, without a server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Temporal } from "temporal-polyfill";
import { EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { marksOf, renderAgenda, styleFor } from "./agenda.js";

const event = (
  id: string,
  title: string,
  startIso: string,
  minutes: number,
  remindMinutes?: number,
) =>
  create(EventSchema, {
    id,
    title,
    startTime: timestampFromMs(Date.parse(startIso)),
    duration: durationFromMs(minutes * 60_000),
    notifyBefore: remindMinutes === undefined ? undefined : durationFromMs(remindMinutes * 60_000),
  });

describe("agenda", () => {
  it("groups by local day: an event that began before the window goes under its first day", () => {
    const text = renderAgenda(
      [
        event("a", "Overnight", "2026-03-28T22:00:00Z", 240), // Sat 23:00 to Sun 04:00 in Berlin
        event("b", "Brunch", "2026-03-29T09:00:00Z", 90, 30), // 11:00 CEST, after the DST change
      ],
      {
        timeZone: "Europe/Berlin",
        firstDay: Temporal.PlainDate.from("2026-03-29"),
        style: styleFor(false),
      },
    );
    assert.equal(
      text,
      [
        "Sun 29 Mar 2026",
        "  23:00-04:00+1d  Overnight  a",
        "  11:00-12:30     Brunch  🔔 30m  b",
        "",
      ].join("\n"),
    );
  });

  it("colours day, times, marks and ids only when asked", () => {
    const options = { timeZone: "UTC", firstDay: Temporal.PlainDate.from("2026-01-01") };
    const one = [event("x", "Call", "2026-01-01T10:00:00Z", 30, 5)];
    assert.ok(!renderAgenda(one, { ...options, style: styleFor(false) }).includes("\u001b["));
    const coloured = renderAgenda(one, { ...options, style: styleFor(true) });
    assert.ok(coloured.startsWith("\u001b[1mThu 1 Jan 2026\u001b[22m\n"), coloured);
    assert.ok(coloured.includes("\u001b[36m10:00-10:30\u001b[39m"), coloured);
  });

  it("marks a series and its occurrences with ↻ before the reminder", () => {
    const occurrence = create(EventSchema, {
      ...event("s_20260105T090000Z", "Standup", "2026-01-05T09:00:00Z", 15, 5),
      recurringEventId: "s",
    });
    const series = create(EventSchema, {
      ...event("s", "Standup", "2026-01-05T09:00:00Z", 15),
      recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
      timeZone: "UTC",
    });
    const single = event("x", "Call", "2026-01-05T11:00:00Z", 30);
    assert.deepEqual(marksOf(occurrence), ["↻", "🔔 5m"]);
    assert.deepEqual(marksOf(series), ["↻"]);
    assert.deepEqual(marksOf(single), []);
  });
});
