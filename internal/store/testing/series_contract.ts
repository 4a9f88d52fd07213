// Recurring events, as every store must keep them: series, occurrences,
// exceptions, cancellations, this-and-following, busy time, reminders and
// retention. Each test works as its own user; dispatch and retention act on
// every user, so their tests use dates no other suite uses and look only at
// their own user's results.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { CalendarEvent, EventFields } from "../../domain/event.js";
import { occurrenceId } from "../../domain/recurrence.js";
import type { Result } from "../../domain/result.js";
import type { Clock, DueReminder, EventStore, ReminderStore } from "../store.js";
import { ManualClock } from "./contract.js";
import type { ReminderStoresUnderTest } from "./reminder_contract.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function value<T, E>(result: Result<T, E>): T {
  if (!result.ok) assert.fail(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function failure<T, E>(result: Result<T, E>): E {
  if (result.ok) assert.fail(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

/** Mondays 09:00 Berlin time, one hour. */
function weekly(start: string, extra: Partial<EventFields> = {}): EventFields {
  return {
    title: "Weekly sync",
    start: new Date(start),
    durationMs: HOUR,
    description: undefined,
    notifyBeforeMs: undefined,
    recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
    timeZone: "Europe/Berlin",
    ...extra,
  };
}

function single(start: string, durationMs = HOUR, extra: Partial<EventFields> = {}): EventFields {
  return {
    title: "One-off",
    start: new Date(start),
    durationMs,
    description: undefined,
    notifyBeforeMs: undefined,
    ...extra,
  };
}

/** The overlap error naming the occurrence of series `seriesId` that starts at `start`. */
const clashWith = (seriesId: string, start: string) => ({
  kind: "overlap",
  conflictingId: occurrenceId(seriesId, new Date(start)),
  conflictingStart: new Date(start),
});

const month = (first: string, last: string) => ({ start: new Date(first), end: new Date(last) });
const starts = (events: CalendarEvent[]) => events.map((e) => e.start.toISOString());

export function runSeriesContract(
  name: string,
  open: (clock: Clock) => Promise<ReminderStoresUnderTest>,
): void {
  describe(`Series contract: ${name}`, () => {
    const clock = new ManualClock();
    let subject: ReminderStoresUnderTest;
    let store: EventStore;
    let reminders: ReminderStore;
    const newUser = () => `user-${randomUUID()}`;

    before(async () => {
      subject = await open(clock.read);
      store = subject.events;
      reminders = subject.reminders;
    });
    after(async () => {
      await subject.dispose();
    });

    // June 2026: Mondays 1, 8, 15, 22, 29; 09:00 Berlin is 07:00Z in summer.
    const JUNE = month("2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z");

    describe("series and occurrences", () => {
      it("returns the series itself by its id, and its occurrences in lists", async () => {
        const user = newUser();
        const id = randomUUID();
        const series = value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        assert.deepEqual(series.recurrence, ["RRULE:FREQ=WEEKLY;BYDAY=MO"]);
        assert.equal(series.timeZone, "Europe/Berlin");
        const got = value(await store.getEvent(user, id));
        assert.deepEqual(got.recurrence, series.recurrence);
        assert.equal(got.start.toISOString(), "2026-06-01T07:00:00.000Z");

        const listed = await store.listEvents(user, JUNE, 100);
        assert.deepEqual(starts(listed), [
          "2026-06-01T07:00:00.000Z",
          "2026-06-08T07:00:00.000Z",
          "2026-06-15T07:00:00.000Z",
          "2026-06-22T07:00:00.000Z",
          "2026-06-29T07:00:00.000Z",
        ]);
        for (const occurrence of listed) {
          assert.equal(occurrence.id, occurrenceId(id, occurrence.start));
          assert.equal(occurrence.recurringEventId, id);
          assert.equal(occurrence.originalStart?.toISOString(), occurrence.start.toISOString());
          assert.equal(occurrence.title, "Weekly sync");
          assert.equal(occurrence.recurrence, undefined);
        }
        // Stable ids, and each is accepted by GetEvent.
        assert.deepEqual(
          (await store.listEvents(user, JUNE, 100)).map((e) => e.id),
          listed.map((e) => e.id),
        );
        const third = listed[2] as CalendarEvent;
        assert.equal(
          value(await store.getEvent(user, third.id)).start.toISOString(),
          third.start.toISOString(),
        );
      });

      it("keeps local time across DST, far in the future, and mixes with single events in start order", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const one = value(
          await store.createEvent(user, randomUUID(), single("2040-01-02T12:00:00Z")),
        );
        // Winter: 09:00 Berlin is 08:00Z.
        const jan = await store.listEvents(
          user,
          month("2040-01-01T00:00:00Z", "2040-01-10T00:00:00Z"),
          100,
        );
        assert.deepEqual(starts(jan), [
          "2040-01-02T08:00:00.000Z", // Monday Jan 2, 2040
          "2040-01-02T12:00:00.000Z",
          "2040-01-09T08:00:00.000Z",
        ]);
        assert.equal(jan[1]?.id, one.id);
      });

      it("answers NotFound for an occurrence the rule does not have, and another user's series", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const tuesday = occurrenceId(id, new Date("2026-06-02T07:00:00Z"));
        assert.equal(failure(await store.getEvent(user, tuesday)).kind, "not_found");
        const monday = occurrenceId(id, new Date("2026-06-08T07:00:00Z"));
        assert.equal(failure(await store.getEvent(newUser(), monday)).kind, "not_found");
        assert.equal(failure(await store.getEvent(newUser(), id)).kind, "not_found");
      });
    });

    describe("exceptions", () => {
      it("moves one occurrence only, keeping its original start and id", async () => {
        const user = newUser();
        const id = randomUUID();
        const series = value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const target = occurrenceId(id, new Date("2026-06-08T07:00:00Z"));
        const moved = value(
          await store.updateEvent(
            user,
            target,
            single("2026-06-09T10:00:00Z", 30 * MINUTE, { title: "Moved sync" }),
            series.version,
          ),
        );
        assert.equal(moved.id, target);
        assert.equal(moved.recurringEventId, id);
        assert.equal(moved.originalStart?.toISOString(), "2026-06-08T07:00:00.000Z");
        assert.equal(moved.version, series.version + 1);
        const listed = await store.listEvents(user, JUNE, 100);
        assert.deepEqual(starts(listed), [
          "2026-06-01T07:00:00.000Z",
          "2026-06-09T10:00:00.000Z",
          "2026-06-15T07:00:00.000Z",
          "2026-06-22T07:00:00.000Z",
          "2026-06-29T07:00:00.000Z",
        ]);
        assert.equal(listed[1]?.title, "Moved sync");
        assert.equal(listed[1]?.id, target);
        assert.equal(value(await store.getEvent(user, target)).title, "Moved sync");
        // The series itself is unchanged.
        assert.equal(value(await store.getEvent(user, id)).version, series.version);
        // A stale version of the occurrence is refused.
        const stale = failure(
          await store.updateEvent(user, target, single("2026-06-09T11:00:00Z"), series.version),
        );
        assert.equal(stale.kind, "version_mismatch");
      });

      it("cancels one occurrence; a second delete is NotFound", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const target = occurrenceId(id, new Date("2026-06-15T07:00:00Z"));
        value(await store.deleteEvent(user, target));
        assert.deepEqual(starts(await store.listEvents(user, JUNE, 100)), [
          "2026-06-01T07:00:00.000Z",
          "2026-06-08T07:00:00.000Z",
          "2026-06-22T07:00:00.000Z",
          "2026-06-29T07:00:00.000Z",
        ]);
        assert.equal(failure(await store.getEvent(user, target)).kind, "not_found");
        assert.equal(failure(await store.deleteEvent(user, target)).kind, "not_found");
        // Its time is free again.
        value(await store.createEvent(user, randomUUID(), single("2026-06-15T07:00:00Z")));
      });

      it("deletes a series with its exceptions", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const target = occurrenceId(id, new Date("2026-06-08T07:00:00Z"));
        value(await store.updateEvent(user, target, single("2026-06-10T07:00:00Z"), undefined));
        value(await store.deleteEvent(user, id));
        assert.deepEqual(await store.listEvents(user, JUNE, 100), []);
        assert.equal(failure(await store.getEvent(user, target)).kind, "not_found");
        assert.equal(failure(await store.getEvent(user, id)).kind, "not_found");
      });

      it("a series edit keeps exceptions whose occurrence remains and drops the others", async () => {
        const user = newUser();
        const id = randomUUID();
        const series = value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const kept = occurrenceId(id, new Date("2026-06-08T07:00:00Z"));
        value(await store.updateEvent(user, kept, single("2026-06-09T07:00:00Z"), undefined));
        // Every other Monday from June 1: June 15 stays, June 8 and 22 go.
        const dropped = occurrenceId(id, new Date("2026-06-22T07:00:00Z"));
        value(await store.updateEvent(user, dropped, single("2026-06-23T07:00:00Z"), undefined));
        const edited = value(
          await store.updateEvent(
            user,
            id,
            weekly("2026-06-01T07:00:00Z", {
              recurrence: ["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"],
              title: "Fortnightly",
            }),
            series.version,
          ),
        );
        assert.equal(edited.version, series.version + 1);
        assert.deepEqual(starts(await store.listEvents(user, JUNE, 100)), [
          "2026-06-01T07:00:00.000Z",
          "2026-06-15T07:00:00.000Z",
          "2026-06-29T07:00:00.000Z",
        ]);
        assert.equal(failure(await store.getEvent(user, dropped)).kind, "not_found");
      });
    });

    describe("this and following", () => {
      it("ends the series before the occurrence and starts a new series there", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const split = occurrenceId(id, new Date("2026-06-15T07:00:00Z"));
        const created = value(
          await store.updateEvent(
            user,
            split,
            weekly("2026-06-15T08:00:00Z", { title: "Later sync" }),
            undefined,
            "this_and_following",
          ),
        );
        assert.notEqual(created.id, id);
        assert.equal(created.recurringEventId, undefined);
        assert.deepEqual(created.recurrence, ["RRULE:FREQ=WEEKLY;BYDAY=MO"]);
        const listed = await store.listEvents(user, JUNE, 100);
        assert.deepEqual(
          listed.map((e) => [e.start.toISOString(), e.title, e.recurringEventId]),
          [
            ["2026-06-01T07:00:00.000Z", "Weekly sync", id],
            ["2026-06-08T07:00:00.000Z", "Weekly sync", id],
            ["2026-06-15T08:00:00.000Z", "Later sync", created.id],
            ["2026-06-22T08:00:00.000Z", "Later sync", created.id],
            ["2026-06-29T08:00:00.000Z", "Later sync", created.id],
          ],
        );
        const original = value(await store.getEvent(user, id));
        assert.match(original.recurrence?.[0] ?? "", /UNTIL=20260615T065959Z/);
      });

      it("continues a counted series with the occurrences left when no new rule is sent", async () => {
        const user = newUser();
        const id = randomUUID();
        value(
          await store.createEvent(
            user,
            id,
            weekly("2026-06-01T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;COUNT=4"] }),
          ),
        );
        const split = occurrenceId(id, new Date("2026-06-15T07:00:00Z"));
        const created = value(
          await store.updateEvent(
            user,
            split,
            single("2026-06-15T09:00:00Z", HOUR, { title: "Moved" }),
            undefined,
            "this_and_following",
          ),
        );
        assert.deepEqual(created.recurrence, ["RRULE:FREQ=WEEKLY;COUNT=2"]);
        assert.deepEqual(starts(await store.listEvents(user, JUNE, 100)), [
          "2026-06-01T07:00:00.000Z",
          "2026-06-08T07:00:00.000Z",
          "2026-06-15T09:00:00.000Z",
          "2026-06-22T09:00:00.000Z",
        ]);
      });
    });

    describe("busy time", () => {
      it("refuses a single event over an occurrence years ahead, naming the occurrence and its start", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        // Monday 2035-06-04 09:30 Berlin.
        const error = failure(
          await store.createEvent(user, randomUUID(), single("2035-06-04T07:30:00Z")),
        );
        assert.deepEqual(error, {
          kind: "overlap",
          conflictingId: occurrenceId(id, new Date("2035-06-04T07:00:00Z")),
          conflictingStart: new Date("2035-06-04T07:00:00Z"),
        });
        // Back to back is fine.
        value(await store.createEvent(user, randomUUID(), single("2035-06-04T08:00:00Z")));
      });

      it("refuses a series over an existing single event, however far ahead", async () => {
        const user = newUser();
        const one = value(
          await store.createEvent(user, randomUUID(), single("2044-02-01T08:30:00Z")),
        );
        const error = failure(
          await store.createEvent(user, randomUUID(), weekly("2026-06-01T07:00:00Z")),
        );
        assert.deepEqual(error, { kind: "overlap", conflictingId: one.id });
      });

      it("refuses a series over another series' occurrence", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        // Daily at 09:30 Berlin from a Wednesday: first clash Monday June 8.
        const error = failure(
          await store.createEvent(
            user,
            randomUUID(),
            weekly("2026-06-03T07:30:00Z", { recurrence: ["RRULE:FREQ=DAILY"] }),
          ),
        );
        assert.deepEqual(error, {
          kind: "overlap",
          conflictingId: occurrenceId(id, new Date("2026-06-08T07:00:00Z")),
          conflictingStart: new Date("2026-06-08T07:00:00Z"),
        });
        // Tuesdays fit.
        value(
          await store.createEvent(
            user,
            randomUUID(),
            weekly("2026-06-02T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=TU"] }),
          ),
        );
      });

      it("refuses a series whose first clash with another series is decades away, naming that occurrence", async () => {
        const user = newUser();
        // Every 29th that is a Thursday, 09:00 UTC; then every Feb 29 at 09:00:
        // Feb 29 is a Thursday first in 2052.
        const thursdays = weekly("2026-10-29T09:00:00Z", {
          recurrence: ["RRULE:FREQ=MONTHLY;BYMONTHDAY=29;BYDAY=TH"],
          timeZone: "UTC",
        });
        const { id } = value(await store.createEvent(user, randomUUID(), thursdays));
        const leapDays = weekly("2028-02-29T09:00:00Z", {
          recurrence: ["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"],
          timeZone: "UTC",
        });
        assert.deepEqual(
          failure(await store.createEvent(user, randomUUID(), leapDays)),
          clashWith(id, "2052-02-29T09:00:00Z"),
        );
        // An hour later they never meet.
        value(
          await store.createEvent(user, randomUUID(), {
            ...leapDays,
            start: new Date("2028-02-29T10:00:00Z"),
          }),
        );
      });

      it("refuses weekly series of INTERVAL=50 and 53 that meet 33 years on, and moves to accept", async () => {
        const user = newUser();
        const every50 = weekly("2026-12-07T09:00:00Z", {
          recurrence: ["RRULE:FREQ=WEEKLY;INTERVAL=50"],
          timeZone: "UTC",
        });
        const { id } = value(await store.createEvent(user, randomUUID(), every50));
        const every53 = weekly("2026-12-14T09:00:00Z", {
          recurrence: ["RRULE:FREQ=WEEKLY;INTERVAL=53"],
          timeZone: "UTC",
        });
        const other = value(
          await store.createEvent(user, randomUUID(), {
            ...every53,
            start: new Date("2026-12-14T10:00:00Z"),
          }),
        );
        // Moving the second series onto 09:00 meets the first in 2060.
        assert.deepEqual(
          failure(await store.updateEvent(user, other.id, every53, undefined)),
          clashWith(id, "2060-06-21T09:00:00Z"),
        );
      });

      it("accepts back-to-back series in a DST zone and refuses the clash a DST change makes", async () => {
        const user = newUser();
        // Sundays 01:30-03:00 Berlin; 03:00-04:00 fits on the wall clock, but on
        // the last Sunday of March 01:30 CET + 90 minutes is 04:00 CEST.
        const early = weekly("2026-12-06T00:30:00Z", {
          recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=SU"],
          durationMs: 90 * MINUTE,
        });
        const { id } = value(await store.createEvent(user, randomUUID(), early));
        const late = weekly("2026-12-06T02:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=SU"] });
        assert.deepEqual(
          failure(await store.createEvent(user, randomUUID(), late)),
          clashWith(id, "2027-03-28T00:30:00Z"),
        );
        value(
          await store.createEvent(user, randomUUID(), {
            ...late,
            start: new Date("2026-12-06T03:00:00Z"),
          }),
        );
      });

      it("refuses a series it cannot compare exactly with another within its bounds", async () => {
        const user = newUser();
        const berlinDaily = weekly("2026-12-07T05:00:00Z", { recurrence: ["RRULE:FREQ=DAILY"] });
        const { id } = value(await store.createEvent(user, randomUUID(), berlinDaily));
        const newYork = weekly("2026-12-07T09:00:00Z", {
          recurrence: ["RRULE:FREQ=DAILY"],
          timeZone: "America/New_York",
        });
        const error = failure(await store.createEvent(user, randomUUID(), newYork));
        assert.equal(error.kind, "busy_uncheckable");
        assert.equal(error.kind === "busy_uncheckable" && error.conflictingId, id);
        // Bounded, it is checked (and fits).
        value(
          await store.createEvent(user, randomUUID(), {
            ...newYork,
            recurrence: ["RRULE:FREQ=DAILY;COUNT=100"],
          }),
        );
      });

      it("lets an occurrence move within its own slot but not onto another event", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const other = value(
          await store.createEvent(user, randomUUID(), single("2026-06-09T07:00:00Z")),
        );
        const target = occurrenceId(id, new Date("2026-06-08T07:00:00Z"));
        value(await store.updateEvent(user, target, single("2026-06-08T07:30:00Z"), undefined));
        assert.deepEqual(
          failure(await store.updateEvent(user, target, single("2026-06-09T07:30:00Z"), undefined)),
          { kind: "overlap", conflictingId: other.id },
        );
        // Nor onto the next occurrence of its own series.
        const next = failure(
          await store.updateEvent(user, target, single("2026-06-15T07:30:00Z"), undefined),
        );
        assert.equal(
          next.kind === "overlap" && next.conflictingId,
          occurrenceId(id, new Date("2026-06-15T07:00:00Z")),
        );
      });

      it("frees a cancelled occurrence's time and keeps a moved occurrence's new time busy", async () => {
        const user = newUser();
        const id = randomUUID();
        value(await store.createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
        const target = occurrenceId(id, new Date("2026-06-08T07:00:00Z"));
        value(await store.updateEvent(user, target, single("2026-06-10T07:00:00Z"), undefined));
        value(await store.createEvent(user, randomUUID(), single("2026-06-08T07:00:00Z")));
        assert.deepEqual(
          failure(await store.createEvent(user, randomUUID(), single("2026-06-10T07:30:00Z"))),
          { kind: "overlap", conflictingId: target },
        );
      });
    });

    /** A daily series at `start` (UTC), `count` days, reminded 10 minutes before each. */
    async function createDaily(user: string, id: string, start: string, count: number) {
      value(
        await store.createEvent(user, id, {
          ...single(start, HOUR, { notifyBeforeMs: 10 * MINUTE }),
          recurrence: [`RRULE:FREQ=DAILY;COUNT=${count}`],
          timeZone: "UTC",
        }),
      );
    }

    /** Moves the occurrence of `seriesId` at `original` to `start`, reminded 10 minutes before. */
    async function moveOccurrence(user: string, seriesId: string, original: string, start: string) {
      value(
        await store.updateEvent(
          user,
          occurrenceId(seriesId, new Date(original)),
          single(start, HOUR, { notifyBeforeMs: 10 * MINUTE }),
          undefined,
        ),
      );
    }

    describe("reminders and retention", () => {
      it("hands out a reminder for each occurrence, with series id and original start", async () => {
        const user = newUser();
        const id = randomUUID();
        // Daily 08:00 UTC in 1991, reminder 10 minutes before.
        await createDaily(user, id, "1991-03-01T08:00:00Z", 5);
        const mine: DueReminder[] = [];
        const publish = async (due: DueReminder[]) => {
          mine.push(...due.filter((r) => r.userId === user));
          return due;
        };
        // Cancel the second day; move the third an hour later.
        value(await store.deleteEvent(user, occurrenceId(id, new Date("1991-03-02T08:00:00Z"))));
        await moveOccurrence(user, id, "1991-03-03T08:00:00Z", "1991-03-03T09:00:00Z");
        for (const now of [
          "1991-03-01T07:50:00Z",
          "1991-03-02T07:55:00Z",
          "1991-03-03T08:55:00Z",
        ]) {
          await reminders.dispatchDueReminders(new Date(now), 1000, publish);
          // A second pass at the same time sends nothing again.
          await reminders.dispatchDueReminders(new Date(now), 1000, publish);
        }
        assert.deepEqual(
          mine.map((r) => [
            r.eventId,
            r.seriesId,
            r.originalStart?.toISOString(),
            r.start.toISOString(),
          ]),
          [
            [
              occurrenceId(id, new Date("1991-03-01T08:00:00Z")),
              id,
              "1991-03-01T08:00:00.000Z",
              "1991-03-01T08:00:00.000Z",
            ],
            [
              occurrenceId(id, new Date("1991-03-03T08:00:00Z")),
              id,
              "1991-03-03T08:00:00.000Z",
              "1991-03-03T09:00:00.000Z",
            ],
          ],
        );
      });

      it("re-arms only a moved occurrence whose reminder went, and drops only a cancelled one's", async () => {
        const user = newUser();
        const id = randomUUID();
        // Daily 08:00 UTC in May 1993, four days, reminder 10 minutes before.
        await createDaily(user, id, "1993-05-01T08:00:00Z", 4);
        const mine: [string, string][] = [];
        const dispatchAt = async (now: string) => {
          for (let pass = 0; pass < 2; pass++) {
            await reminders.dispatchDueReminders(new Date(now), 1000, async (due) => {
              for (const r of due) {
                if (r.userId === user) mine.push([r.eventId, r.start.toISOString()]);
              }
              return due;
            });
          }
        };
        const day = (n: number) => occurrenceId(id, new Date(`1993-05-0${n}T08:00:00Z`));
        await dispatchAt("1993-05-01T07:50:00Z");
        // The first day's reminder went; the occurrence moves two hours later.
        await moveOccurrence(user, id, "1993-05-01T08:00:00Z", "1993-05-01T10:00:00Z");
        // The third day is cancelled before its reminder is due.
        value(await store.deleteEvent(user, day(3)));
        for (const now of [
          "1993-05-01T09:50:00Z",
          "1993-05-02T07:50:00Z",
          "1993-05-03T07:50:00Z",
          "1993-05-04T07:50:00Z",
        ]) {
          await dispatchAt(now);
        }
        assert.deepEqual(mine, [
          [day(1), "1993-05-01T08:00:00.000Z"],
          [day(1), "1993-05-01T10:00:00.000Z"],
          [day(2), "1993-05-02T08:00:00.000Z"],
          [day(4), "1993-05-04T08:00:00.000Z"],
        ]);
      });

      it("drops every pending reminder of a deleted series, its exceptions' included", async () => {
        const user = newUser();
        const id = randomUUID();
        await createDaily(user, id, "1994-02-01T08:00:00Z", 3);
        await moveOccurrence(user, id, "1994-02-02T08:00:00Z", "1994-02-02T09:00:00Z");
        value(await store.deleteEvent(user, id));
        const mine: DueReminder[] = [];
        for (const now of [
          "1994-02-01T07:50:00Z",
          "1994-02-02T08:50:00Z",
          "1994-02-03T07:50:00Z",
        ]) {
          await reminders.dispatchDueReminders(new Date(now), 1000, async (due) => {
            mine.push(...due.filter((r) => r.userId === user));
            return due;
          });
        }
        assert.deepEqual(mine, []);
      });

      it("deletes a finished series after retention, never an endless one", async () => {
        const user = newUser();
        const finished = randomUUID();
        const endless = randomUUID();
        value(
          await store.createEvent(user, finished, {
            ...single("1980-01-07T08:00:00Z"),
            recurrence: ["RRULE:FREQ=WEEKLY;COUNT=3"],
            timeZone: "UTC",
          }),
        );
        value(
          await store.createEvent(user, endless, {
            ...single("1980-01-08T08:00:00Z"),
            recurrence: ["RRULE:FREQ=WEEKLY"],
            timeZone: "UTC",
          }),
        );
        const moved = occurrenceId(endless, new Date("1980-01-15T08:00:00Z"));
        value(await store.updateEvent(user, moved, single("1980-01-16T08:00:00Z"), undefined));
        // Ends Jan 21 09:00: a cutoff before that keeps it.
        while (
          (await reminders.deleteEventsEndedBefore(new Date("1980-01-21T08:59:00Z"), 100)) > 0
        ) {}
        assert.equal(value(await store.getEvent(user, finished)).id, finished);
        while (
          (await reminders.deleteEventsEndedBefore(new Date("1980-02-01T00:00:00Z"), 100)) > 0
        ) {}
        assert.equal(failure(await store.getEvent(user, finished)).kind, "not_found");
        assert.equal(value(await store.getEvent(user, endless)).id, endless);
        // The old exception went; the series generates that occurrence again.
        assert.equal(
          value(await store.getEvent(user, moved)).start.toISOString(),
          "1980-01-15T08:00:00.000Z",
        );
      });
    });
  });
}
