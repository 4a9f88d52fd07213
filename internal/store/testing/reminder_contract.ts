// The behaviour every ReminderStore must have, written once, like the
// EventStore contract in ./contract.ts. Each implementation's test file calls
// runReminderStoreContract with a factory.
//
// Dispatch and cleanup act on the whole store, not on one user, so every test
// gets stores of its own: `open` is called before each test and must return
// stores over an empty database, `dispose` after it. Times are explicit: the
// `now` of each dispatch is an argument, and the injected clock only dates
// created_at/updated_at.
//
// The rules pinned down here:
// - a reminder is due when notify_at <= now; it is sent only while its event
//   has not started (start > now), or within REMINDER_GRACE_MS (1 min) of its
//   notify_at. Later it is skipped (never published, never scanned again). So
//   a reminder with notify_before 0 is sent at its start, up to a minute late.
// - claimed counts every reminder a dispatch took, sent and skipped ones
//   included: claimed <= limit, and claimed - skipped reminders are handed to
//   `publish`.
// - moving a reminder (a new start or a new notify_before) makes it due again
//   at its new time, whether it was sent or skipped; other updates do not.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { CalendarEvent, EventFields } from "../../domain/event.js";
import type { Result } from "../../domain/result.js";
import type { Clock, DueReminder, EventStore, ReminderStore } from "../store.js";
import type { SyncStore } from "../sync.js";
import { ManualClock } from "./contract.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface ReminderStoresUnderTest {
  /** Writes the events whose reminders are dispatched, and reports their changes. */
  events: EventStore & SyncStore;
  /** The store under test; usually the same object as `events`. */
  reminders: ReminderStore;
  /** Drops whatever the stores hold and releases their resources. */
  dispose(): Promise<void>;
}

type Publish = (due: DueReminder[]) => Promise<DueReminder[]>;

/** A publisher that confirms everything and remembers what it was given. */
function recorder() {
  const published: DueReminder[] = [];
  const publish: Publish = async (due) => {
    published.push(...due);
    return due;
  };
  return { published, publish };
}

const at = (iso: string) => new Date(iso);
const plus = (date: Date, ms: number) => new Date(date.getTime() + ms);

function fields(start: Date, extra: Partial<EventFields> = {}): EventFields {
  return {
    title: "Dentist",
    start,
    durationMs: HOUR,
    description: undefined,
    notifyBeforeMs: undefined,
    ...extra,
  };
}

function value<T, E>(result: Result<T, E>): T {
  if (!result.ok) assert.fail(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The reminder a dispatch should hand over for `event`. */
function reminderOf(event: CalendarEvent): DueReminder {
  assert.ok(event.notifyBeforeMs !== undefined, "the event has no reminder");
  return {
    userId: event.userId,
    eventId: event.id,
    title: event.title,
    start: event.start,
    notifyAt: plus(event.start, -event.notifyBeforeMs),
  };
}

const nothing = { claimed: 0, sent: 0, skipped: 0 };

export function runReminderStoreContract(
  name: string,
  open: (clock: Clock) => Promise<ReminderStoresUnderTest>,
): void {
  describe(`ReminderStore contract: ${name}`, () => {
    const clock = new ManualClock();
    let subject: ReminderStoresUnderTest;
    let events: EventStore;
    let reminders: ReminderStore;
    const newUser = () => `user-${randomUUID()}`;

    beforeEach(async () => {
      subject = await open(clock.read);
      events = subject.events;
      reminders = subject.reminders;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    async function create(
      start: Date,
      extra: Partial<EventFields> = {},
      user = newUser(),
    ): Promise<CalendarEvent> {
      return value(await events.createEvent(user, randomUUID(), fields(start, extra)));
    }

    async function update(event: CalendarEvent, next: EventFields): Promise<CalendarEvent> {
      return value(await events.updateEvent(event.userId, event.id, next, undefined));
    }

    /** Dispatches at `now` and answers what was published and the counts. */
    async function dispatch(now: Date, limit = 100) {
      const { published, publish } = recorder();
      const result = await reminders.dispatchDueReminders(now, limit, publish);
      return { published, result };
    }

    async function assertNothingDue(now: Date): Promise<void> {
      assert.deepEqual(await dispatch(now), { published: [], result: nothing });
    }

    // The usual event: starts 09:00, reminder 15 minutes before (08:45).
    const start = at("2026-06-02T09:00:00.000Z");
    const due = at("2026-06-02T08:45:00.000Z");

    describe("which reminders are due", () => {
      it("dispatches a reminder due now, exactly once", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.deepEqual(await dispatch(due), {
          published: [reminderOf(event)],
          result: { claimed: 1, sent: 1, skipped: 0 },
        });
        await assertNothingDue(due);
        await assertNothingDue(plus(due, 5 * MINUTE));
      });

      it("does not dispatch a reminder before its time", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        await assertNothingDue(plus(due, -1));
        await assertNothingDue(at("2026-06-01T00:00:00Z"));
        assert.deepEqual((await dispatch(due)).published, [reminderOf(event)]);
      });

      it("never dispatches an event without a reminder", async () => {
        await create(start);
        await assertNothingDue(plus(start, -1));
        await assertNothingDue(plus(start, 2 * DAY));
      });

      it("hands over the exact fields, to the millisecond", async () => {
        const user = newUser();
        const event = await create(
          at("2026-06-02T09:00:00.123Z"),
          { title: 'Zahnarzt 🦷 "Dr. O\'Brien"', notifyBeforeMs: 90_001, description: "x" },
          user,
        );
        const { published } = await dispatch(at("2026-06-02T08:58:30.122Z"));
        assert.deepEqual(published, [
          {
            userId: user,
            eventId: event.id,
            title: 'Zahnarzt 🦷 "Dr. O\'Brien"',
            start: at("2026-06-02T09:00:00.123Z"),
            notifyAt: at("2026-06-02T08:58:30.122Z"),
          },
        ]);
      });

      it("sends a reminder up to the last millisecond before the start", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.deepEqual(await dispatch(plus(start, -1)), {
          published: [reminderOf(event)],
          result: { claimed: 1, sent: 1, skipped: 0 },
        });
      });

      it("skips, never publishing, a reminder whose event has started (start <= now)", async () => {
        const atStart = await create(start, { notifyBeforeMs: 15 * MINUTE });
        const earlier = await create(plus(start, -DAY), { notifyBeforeMs: 15 * MINUTE });
        const result = await dispatch(start);
        assert.deepEqual(result, {
          published: [],
          result: { claimed: 2, sent: 0, skipped: 2 },
        });
        // Skipped for good: a later pass does not see them again.
        await assertNothingDue(start);
        await assertNothingDue(plus(start, 7 * DAY));
        // The events themselves are untouched.
        assert.deepEqual(value(await events.getEvent(atStart.userId, atStart.id)), atStart);
        assert.deepEqual(value(await events.getEvent(earlier.userId, earlier.id)), earlier);
      });

      it("sends a notify_before 0 reminder at the start, and within a minute of it", async () => {
        const onTime = await create(start, { notifyBeforeMs: 0 });
        await assertNothingDue(plus(start, -1));
        assert.deepEqual(await dispatch(start), {
          published: [reminderOf(onTime)],
          result: { claimed: 1, sent: 1, skipped: 0 },
        });
      });

      it("skips a short-notice reminder once a minute past its notify_at and past the start", async () => {
        await create(start, { notifyBeforeMs: 10_000 });
        assert.deepEqual(await dispatch(plus(start, MINUTE - 10_000)), {
          published: [],
          result: { claimed: 1, sent: 0, skipped: 1 },
        });
        await assertNothingDue(plus(start, DAY));
      });

      it("dispatches at once a reminder created after its time, before its start", async () => {
        clock.now = at("2026-06-02T08:55:00.000Z");
        const event = await create(start, { notifyBeforeMs: HOUR });
        assert.deepEqual((await dispatch(clock.read())).published, [reminderOf(event)]);
        assert.deepEqual(reminderOf(event).notifyAt, at("2026-06-02T08:00:00.000Z"));
      });
    });

    describe("updates", () => {
      it("re-arms a sent reminder when the start moves: due again at the new time, not before", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.equal((await dispatch(due)).result.sent, 1);
        const moved = await update(
          event,
          fields(at("2026-06-02T10:00:00Z"), { notifyBeforeMs: 15 * MINUTE }),
        );
        await assertNothingDue(at("2026-06-02T09:44:59.999Z"));
        assert.deepEqual((await dispatch(at("2026-06-02T09:45:00Z"))).published, [
          reminderOf(moved),
        ]);
        await assertNothingDue(at("2026-06-02T09:50:00Z"));
      });

      it("re-arms a sent reminder when notify_before changes", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.equal((await dispatch(due)).result.sent, 1);
        const changed = await update(event, fields(start, { notifyBeforeMs: 5 * MINUTE }));
        await assertNothingDue(at("2026-06-02T08:54:59.999Z"));
        assert.deepEqual((await dispatch(at("2026-06-02T08:55:00Z"))).published, [
          reminderOf(changed),
        ]);
      });

      it("does not re-arm a sent reminder when only the title, description or duration change", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.equal((await dispatch(due)).result.sent, 1);
        await update(
          event,
          fields(start, {
            title: "Renamed",
            description: "new",
            durationMs: 2 * HOUR,
            notifyBeforeMs: 15 * MINUTE,
          }),
        );
        await assertNothingDue(due);
        await assertNothingDue(plus(start, -1));
      });

      it("reminds an event moved later before its reminder went out at the new time only", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        const moved = await update(
          event,
          fields(at("2026-06-02T11:00:00Z"), { notifyBeforeMs: 15 * MINUTE }),
        );
        await assertNothingDue(due);
        await assertNothingDue(at("2026-06-02T10:44:59.999Z"));
        assert.deepEqual((await dispatch(at("2026-06-02T10:45:00Z"))).published, [
          reminderOf(moved),
        ]);
        await assertNothingDue(at("2026-06-02T10:59:00Z"));
      });

      it("re-arms a skipped reminder when the event moves to a later start", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.equal((await dispatch(start)).result.skipped, 1);
        const moved = await update(
          event,
          fields(plus(start, DAY), { notifyBeforeMs: 15 * MINUTE }),
        );
        await assertNothingDue(plus(due, DAY - 1));
        assert.deepEqual((await dispatch(plus(due, DAY))).published, [reminderOf(moved)]);
      });

      it("never dispatches a reminder that an update removed", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        await update(event, fields(start));
        await assertNothingDue(due);
        await assertNothingDue(plus(start, DAY));
      });

      it("re-arms a reminder moved while it is being published", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        const gate = deferred();
        const entered = deferred();
        const dispatching = reminders.dispatchDueReminders(due, 10, async (batch) => {
          entered.resolve();
          await gate.promise;
          return batch;
        });
        await entered.promise;
        // Not awaited before the publish ends: a store may make it wait for
        // the dispatch (a row lock, a single connection) or run it at once.
        const next = fields(at("2026-06-02T10:00:00Z"), { notifyBeforeMs: 15 * MINUTE });
        const updating = events.updateEvent(event.userId, event.id, next, undefined);
        await sleep(50);
        gate.resolve();
        assert.deepEqual(await dispatching, { claimed: 1, sent: 1, skipped: 0 });
        const moved = value(await updating);
        // The old reminder went out; the moved one is due at its own time.
        await assertNothingDue(plus(due, MINUTE));
        assert.deepEqual((await dispatch(at("2026-06-02T09:45:00Z"))).published, [
          reminderOf(moved),
        ]);
      });
    });

    describe("deletes", () => {
      it("never dispatches a deleted event's reminder", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        value(await events.deleteEvent(event.userId, event.id));
        await assertNothingDue(due);
        await assertNothingDue(plus(start, -1));
      });

      it("deletes an event whose reminder is being published, and it stays deleted", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        const gate = deferred();
        const entered = deferred();
        const dispatching = reminders.dispatchDueReminders(due, 10, async (batch) => {
          entered.resolve();
          await gate.promise;
          return batch;
        });
        await entered.promise;
        const deleting = events.deleteEvent(event.userId, event.id);
        await sleep(50);
        gate.resolve();
        await dispatching;
        value(await deleting);
        assert.equal((await events.getEvent(event.userId, event.id)).ok, false);
        await assertNothingDue(plus(start, -1));
      });
    });

    describe("marking sent", () => {
      it("marks only what publish returns; the rest is dispatched again", async () => {
        const user = newUser();
        const a = await create(start, { notifyBeforeMs: 15 * MINUTE }, user);
        const b = await create(plus(start, HOUR), { notifyBeforeMs: 75 * MINUTE }, user);
        const c = await create(plus(start, 2 * HOUR), { notifyBeforeMs: 135 * MINUTE }, user);
        // All three are due at 08:45: among reminders due at the same
        // instant the order is not specified, so compare them by event id.
        const byId = (batch: DueReminder[]) =>
          [...batch].sort((x, y) => compare(x.eventId, y.eventId));
        const inOrder = byId([a, b, c].map(reminderOf));
        const handed: DueReminder[][] = [];
        const result = await reminders.dispatchDueReminders(due, 10, async (batch) => {
          handed.push(batch);
          return batch.filter((r) => r.eventId === b.id);
        });
        assert.deepEqual(result, { claimed: 3, sent: 1, skipped: 0 });
        assert.deepEqual(handed.map(byId), [inOrder]);
        const again = await dispatch(due);
        assert.deepEqual(
          { ...again, published: byId(again.published) },
          {
            published: inOrder.filter((r) => r.eventId !== b.id),
            result: { claimed: 2, sent: 2, skipped: 0 },
          },
        );
        await assertNothingDue(due);
      });

      it("leaves the event as it was: same version, same updated time, no sync change", async () => {
        const event = await create(start, { notifyBeforeMs: 15 * MINUTE });
        const position = await events.syncPosition(event.userId);
        clock.advance(MINUTE);
        assert.equal((await dispatch(due)).result.sent, 1);
        assert.deepEqual(value(await events.getEvent(event.userId, event.id)), event);
        // A client syncing or watching sees no change for a reminder sent.
        assert.equal(await events.syncPosition(event.userId), position);
        const changes = await events.readChanges(event.userId, position, 10, "incremental");
        assert.ok(changes.ok);
        assert.deepEqual(changes.value.changes, []);
      });

      it("marks nothing when publish throws, rethrows its error as is, and dispatches all again", async () => {
        const a = await create(start, { notifyBeforeMs: 15 * MINUTE });
        const b = await create(plus(start, HOUR), { notifyBeforeMs: 70 * MINUTE });
        const started = await create(plus(start, -DAY), { notifyBeforeMs: 15 * MINUTE });
        // Looks like a connection error; it is the broker's, not the store's.
        const brokerDown = Object.assign(new Error("broker down"), { code: "ECONNREFUSED" });
        await assert.rejects(
          reminders.dispatchDueReminders(plus(due, 5 * MINUTE), 10, async () => {
            throw brokerDown;
          }),
          (error: unknown) => error === brokerDown,
        );
        const again = await dispatch(plus(due, 5 * MINUTE));
        assert.deepEqual(again.published, [reminderOf(a), reminderOf(b)]);
        assert.equal(again.result.sent, 2);
        // The skip may or may not have been rolled back; either way the
        // started event is never published.
        assert.ok(!again.published.some((r) => r.eventId === started.id));
        await assertNothingDue(plus(due, 5 * MINUTE));
      });

      it("ignores what publish returns beyond what it was handed, and counts each once", async () => {
        const user = newUser();
        const first = await create(start, { notifyBeforeMs: 15 * MINUTE }, user);
        const second = await create(plus(start, HOUR), { notifyBeforeMs: 70 * MINUTE }, user);
        const handed: DueReminder[][] = [];
        const result = await reminders.dispatchDueReminders(
          plus(due, 5 * MINUTE),
          1,
          async (batch) => {
            handed.push(batch);
            return [...batch, ...batch, reminderOf(second)];
          },
        );
        assert.deepEqual(handed, [[reminderOf(first)]]);
        assert.deepEqual(result, { claimed: 1, sent: 1, skipped: 0 });
        assert.deepEqual((await dispatch(plus(due, 5 * MINUTE))).published, [reminderOf(second)]);
      });
    });

    describe("order and limit", () => {
      it("hands over the oldest first, at most `limit` per dispatch", async () => {
        // Created out of order, each as its own user; reminders due 08:10..08:50.
        const offsets = [30, 50, 10, 40, 20];
        const created = [];
        for (const minutes of offsets) {
          created.push(
            await create(plus(start, minutes * MINUTE), { notifyBeforeMs: 60 * MINUTE }),
          );
        }
        const expected = created
          .map(reminderOf)
          .sort((x, y) => x.notifyAt.getTime() - y.notifyAt.getTime());
        const now = at("2026-06-02T08:55:00Z");
        const batches = [];
        for (let i = 0; i < 4; i++) batches.push(await dispatch(now, 2));
        assert.deepEqual(
          batches.map((b) => b.published),
          [expected.slice(0, 2), expected.slice(2, 4), expected.slice(4), []],
        );
        assert.deepEqual(
          batches.map((b) => b.result.claimed),
          [2, 2, 1, 0],
        );
      });

      it("counts skipped reminders as claimed, within the limit", async () => {
        await create(at("2026-06-01T09:00:00Z"), { notifyBeforeMs: 15 * MINUTE });
        await create(at("2026-06-01T10:00:00Z"), { notifyBeforeMs: 15 * MINUTE });
        const pending = await create(start, { notifyBeforeMs: 15 * MINUTE });
        assert.deepEqual(await dispatch(due, 2), {
          published: [],
          result: { claimed: 2, sent: 0, skipped: 2 },
        });
        assert.deepEqual(await dispatch(due, 2), {
          published: [reminderOf(pending)],
          result: { claimed: 1, sent: 1, skipped: 0 },
        });
      });
    });

    describe("concurrent dispatchers", () => {
      it("publish each of 200 due reminders exactly once between them", async () => {
        const now = at("2026-06-01T12:00:00Z");
        const ids = new Set<string>();
        // 20 users with 10 events each; every reminder is due, no event started.
        for (let u = 0; u < 20; u++) {
          const user = newUser();
          for (let e = 0; e < 10; e++) {
            const event = await create(
              plus(now, DAY + e * HOUR),
              { notifyBeforeMs: 2 * DAY - u * MINUTE },
              user,
            );
            ids.add(event.id);
          }
        }
        const published: string[] = [];
        const run = async () => {
          let mine = 0;
          for (;;) {
            const result = await reminders.dispatchDueReminders(now, 15, async (batch) => {
              await sleep(3);
              published.push(...batch.map((r) => r.eventId));
              return batch;
            });
            mine += result.sent;
            if (result.claimed === 0) return mine;
          }
        };
        const [first, second] = await Promise.all([run(), run()]);
        assert.equal(published.length, 200, "published in total");
        assert.equal(new Set(published).size, 200, "each reminder once");
        assert.deepEqual(new Set(published), ids);
        assert.equal(first + second, 200);
        // Both took part: they ran side by side, not one after the other.
        assert.ok(first > 0 && second > 0, `shared work: ${first} + ${second}`);
        await assertNothingDue(now);
      });
    });

    describe("retention cleanup", () => {
      // now = 2027-06-01, retention 365 days: the cutoff is 2026-06-01.
      const now = at("2027-06-01T00:00:00.000Z");
      const cutoff = plus(now, -365 * DAY);

      it("deletes the events that ended strictly before the cutoff, and only those", async () => {
        assert.equal(cutoff.toISOString(), "2026-06-01T00:00:00.000Z");
        // Each event as its own user, as some of them overlap.
        const make = (end: Date, durationMs = HOUR) =>
          create(plus(end, -durationMs), { durationMs });
        const thirteenMonths = await make(at("2026-05-01T00:00:00Z"));
        const elevenMonths = await make(at("2026-07-01T00:00:00Z"));
        const atCutoff = await make(cutoff);
        const lastMs = await make(plus(cutoff, -1));
        // Started long before the cutoff, but still running at it.
        const spanning = await make(plus(cutoff, HOUR), 30 * DAY);

        assert.equal(await reminders.deleteEventsEndedBefore(cutoff, 100), 2);
        assert.equal(await reminders.deleteEventsEndedBefore(cutoff, 100), 0);
        for (const gone of [thirteenMonths, lastMs]) {
          assert.equal((await events.getEvent(gone.userId, gone.id)).ok, false);
        }
        for (const kept of [elevenMonths, atCutoff, spanning]) {
          assert.deepEqual(value(await events.getEvent(kept.userId, kept.id)), kept);
        }
      });

      it("deletes at most `limit` per call, the longest-ended first", async () => {
        const user = newUser();
        const starts = ["2025-04-01", "2024-12-01", "2025-02-01", "2025-01-01", "2025-03-01"];
        const old = [];
        for (const day of starts) old.push(await create(at(`${day}T00:00:00Z`), {}, user));
        const recent = await create(at("2027-05-01T00:00:00Z"), {}, user);
        const counts = [];
        const remaining = [];
        for (let i = 0; i < 4; i++) {
          counts.push(await reminders.deleteEventsEndedBefore(cutoff, 2));
          const left = [];
          for (const event of old) {
            if ((await events.getEvent(user, event.id)).ok) left.push(event.start.toISOString());
          }
          remaining.push(left.sort().map((iso) => iso.slice(0, 10)));
        }
        assert.deepEqual(counts, [2, 2, 1, 0]);
        assert.deepEqual(remaining, [
          ["2025-02-01", "2025-03-01", "2025-04-01"],
          ["2025-04-01"],
          [],
          [],
        ]);
        assert.deepEqual(value(await events.getEvent(user, recent.id)), recent);
      });
    });
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A promise with its resolve function (Promise.withResolvers is not in Node 20). */
function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}
