// listFeedRows, as every store must answer it: stored rows for the
// iCalendar feed (a series once, its exceptions with their cancelled flag),
// not the expanded listing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { EventFields } from "../../domain/event.js";
import { occurrenceId } from "../../domain/recurrence.js";
import type { Clock, EventStore } from "../store.js";
import { ManualClock } from "./contract.js";

const HOUR = 3_600_000;

export function runFeedRowsContract(
  name: string,
  open: (clock: Clock) => Promise<{ store: EventStore; dispose: () => Promise<void> }>,
): void {
  describe(`feed rows contract: ${name}`, () => {
    it("lists single events and series once each, with every exception of a listed series", async () => {
      const clock = new ManualClock();
      const { store, dispose } = await open(clock.read);
      try {
        const user = `user-${randomUUID()}`;
        const base: EventFields = {
          title: "Weekly",
          start: new Date("2026-06-01T07:00:00Z"),
          durationMs: HOUR,
          description: undefined,
          notifyBeforeMs: undefined,
          recurrence: ["RRULE:FREQ=WEEKLY;COUNT=4"],
          timeZone: "Europe/Berlin",
        };
        const seriesId = randomUUID();
        const singleId = randomUUID();
        const oldId = randomUUID();
        assert.ok((await store.createEvent(user, seriesId, base)).ok);
        const single = {
          ...base,
          title: "Single",
          recurrence: [],
          start: new Date("2026-06-02T12:00:00Z"),
        };
        delete single.timeZone;
        assert.ok((await store.createEvent(user, singleId, single)).ok);
        assert.ok(
          (
            await store.createEvent(user, oldId, {
              ...single,
              start: new Date("2026-01-01T12:00:00Z"),
            })
          ).ok,
        );
        const moved = occurrenceId(seriesId, new Date("2026-06-08T07:00:00Z"));
        const cancelled = occurrenceId(seriesId, new Date("2026-06-15T07:00:00Z"));
        const edit = { ...base, recurrence: [], start: new Date("2026-06-09T08:00:00Z") };
        assert.ok((await store.updateEvent(user, moved, edit, undefined, "this")).ok);
        assert.ok((await store.deleteEvent(user, cancelled)).ok);

        const window = {
          start: new Date("2026-05-01T00:00:00Z"),
          end: new Date("9999-01-01T00:00:00Z"),
        };
        const rows = await store.listFeedRows(user, window, 100);
        assert.deepEqual(
          rows.map((row) => [row.event.id, row.event.start.toISOString(), row.cancelled]),
          [
            [seriesId, "2026-06-01T07:00:00.000Z", false],
            [singleId, "2026-06-02T12:00:00.000Z", false],
            [moved, "2026-06-09T08:00:00.000Z", false],
            [cancelled, "2026-06-15T07:00:00.000Z", true],
          ],
        );
        const [series] = rows;
        assert.deepEqual(series?.event.recurrence, ["RRULE:FREQ=WEEKLY;COUNT=4"]);
        assert.equal(series?.event.timeZone, "Europe/Berlin");
        assert.equal(rows[2]?.event.recurringEventId, seriesId);
        assert.equal(rows[2]?.event.originalStart?.toISOString(), "2026-06-08T07:00:00.000Z");
        assert.equal((await store.listFeedRows(user, window, 2)).length, 2);
        // After the series ended: neither it nor its exceptions.
        const later = { start: new Date("2026-07-01T00:00:00Z"), end: window.end };
        assert.deepEqual(await store.listFeedRows(user, later, 100), []);
      } finally {
        await dispose();
      }
    });
  });
}
