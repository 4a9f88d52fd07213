// The behaviour every EventStore must have, written once. Each
// implementation's test file calls runEventStoreContract with a factory.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { CalendarEvent, EventFields } from "../../domain/event.js";
import type { Result } from "../../domain/result.js";
import type { Clock, EventStore } from "../store.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface StoreUnderTest {
  store: EventStore;
  /** Drops whatever the store holds and releases its resources. */
  dispose(): Promise<void>;
}

/** A clock the tests move by hand. */
export class ManualClock {
  now = new Date("2026-06-01T12:00:00.000Z");
  readonly read: Clock = () => new Date(this.now);
  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }
}

function fields(start: string, durationMs = HOUR, extra: Partial<EventFields> = {}): EventFields {
  return {
    title: "Standup",
    start: new Date(start),
    durationMs,
    description: undefined,
    notifyBeforeMs: undefined,
    ...extra,
  };
}

function value<T, E>(result: Result<T, E>): T {
  if (!result.ok) assert.fail(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

function failure<T, E>(result: Result<T, E>): E {
  if (result.ok) assert.fail(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

export function runEventStoreContract(
  name: string,
  open: (clock: Clock) => Promise<StoreUnderTest>,
): void {
  describe(`EventStore contract: ${name}`, () => {
    const clock = new ManualClock();
    let subject: StoreUnderTest;
    let store: EventStore;
    // Each test works as its own user, so tests never see each other's events.
    const newUser = () => `user-${randomUUID()}`;

    before(async () => {
      subject = await open(clock.read);
      store = subject.store;
    });
    after(async () => {
      await subject.dispose();
    });

    describe("create and get", () => {
      it("stores every field and assigns version 1 and timestamps", async () => {
        const user = newUser();
        const id = randomUUID();
        const input = fields("2026-06-02T09:00:00.123Z", 90 * MINUTE, {
          description: "Bring \"quotes\" and 'apostrophes'; DROP TABLE events; --",
          notifyBeforeMs: 15 * MINUTE,
        });
        const created = value(await store.createEvent(user, id, input));
        const expected: CalendarEvent = {
          ...input,
          id,
          userId: user,
          createdAt: clock.read(),
          updatedAt: clock.read(),
          version: 1,
        };
        assert.deepEqual(created, expected);
        assert.deepEqual(value(await store.getEvent(user, id)), expected);
      });

      it("keeps an empty description apart from none, and a zero reminder apart from none", async () => {
        const user = newUser();
        const withEmpty = value(
          await store.createEvent(
            user,
            randomUUID(),
            fields("2026-06-02T09:00:00Z", HOUR, { description: "", notifyBeforeMs: 0 }),
          ),
        );
        const withNone = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T10:00:00Z")),
        );
        assert.equal(value(await store.getEvent(user, withEmpty.id)).description, "");
        assert.equal(value(await store.getEvent(user, withEmpty.id)).notifyBeforeMs, 0);
        assert.equal(value(await store.getEvent(user, withNone.id)).description, undefined);
        assert.equal(value(await store.getEvent(user, withNone.id)).notifyBeforeMs, undefined);
      });

      it("round-trips the extremes of the allowed time range", async () => {
        const user = newUser();
        const early = value(
          await store.createEvent(user, randomUUID(), fields("0001-01-01T00:00:00.000Z")),
        );
        const late = value(
          await store.createEvent(
            user,
            randomUUID(),
            fields("9999-12-31T23:59:59.999Z", 366 * 24 * HOUR),
          ),
        );
        assert.equal(
          value(await store.getEvent(user, early.id)).start.toISOString(),
          "0001-01-01T00:00:00.000Z",
        );
        assert.equal(
          value(await store.getEvent(user, late.id)).start.toISOString(),
          "9999-12-31T23:59:59.999Z",
        );
      });

      it("answers NotFound for an unknown id and for another user's event", async () => {
        const owner = newUser();
        const event = value(
          await store.createEvent(owner, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        const unknown = randomUUID();
        assert.deepEqual(failure(await store.getEvent(owner, unknown)), {
          kind: "not_found",
          id: unknown,
        });
        assert.deepEqual(failure(await store.getEvent(newUser(), event.id)), {
          kind: "not_found",
          id: event.id,
        });
      });

      it("is idempotent for the same id and content, AlreadyExists for other content", async () => {
        const user = newUser();
        const id = randomUUID();
        const first = value(await store.createEvent(user, id, fields("2026-06-02T09:00:00Z")));
        clock.advance(MINUTE);
        const again = value(await store.createEvent(user, id, fields("2026-06-02T09:00:00Z")));
        assert.deepEqual(again, first);
        const different = failure(
          await store.createEvent(
            user,
            id,
            fields("2026-06-02T09:00:00Z", HOUR, { title: "Other" }),
          ),
        );
        assert.deepEqual(different, { kind: "already_exists", id });
      });

      it("lets two users use the same id without seeing each other", async () => {
        const id = randomUUID();
        const alice = newUser();
        const bob = newUser();
        value(
          await store.createEvent(
            alice,
            id,
            fields("2026-06-02T09:00:00Z", HOUR, { title: "Alice's" }),
          ),
        );
        value(
          await store.createEvent(
            bob,
            id,
            fields("2026-06-02T09:00:00Z", HOUR, { title: "Bob's" }),
          ),
        );
        assert.equal(value(await store.getEvent(alice, id)).title, "Alice's");
        assert.equal(value(await store.getEvent(bob, id)).title, "Bob's");
      });
    });

    describe("busy time", () => {
      it("refuses an overlapping create and names the conflicting event", async () => {
        const user = newUser();
        const existing = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z", HOUR)),
        );
        const result = await store.createEvent(
          user,
          randomUUID(),
          fields("2026-06-02T09:59:59.999Z", HOUR),
        );
        assert.deepEqual(failure(result), { kind: "overlap", conflictingId: existing.id });
        const inside = await store.createEvent(
          user,
          randomUUID(),
          fields("2026-06-02T09:10:00Z", MINUTE),
        );
        assert.deepEqual(failure(inside), { kind: "overlap", conflictingId: existing.id });
      });

      it("accepts back-to-back events, since intervals are half-open", async () => {
        const user = newUser();
        value(await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z", HOUR)));
        value(await store.createEvent(user, randomUUID(), fields("2026-06-02T10:00:00Z", HOUR)));
        value(await store.createEvent(user, randomUUID(), fields("2026-06-02T08:00:00Z", HOUR)));
      });

      it("does not let one user's events block another's", async () => {
        value(await store.createEvent(newUser(), randomUUID(), fields("2026-06-02T09:00:00Z")));
        value(await store.createEvent(newUser(), randomUUID(), fields("2026-06-02T09:00:00Z")));
      });

      it("leaves exactly one event after 50 concurrent overlapping creates", async () => {
        const user = newUser();
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.createEvent(
              user,
              randomUUID(),
              fields("2026-06-03T09:00:00Z", HOUR + i * MINUTE),
            ),
          ),
        );
        const winners = results.filter((r) => r.ok);
        const losers = results.filter((r) => !r.ok);
        assert.equal(winners.length, 1);
        for (const loser of losers) assert.equal(failure(loser).kind, "overlap");
        const listed = await store.listEvents(
          user,
          { start: new Date("2026-06-03T00:00:00Z"), end: new Date("2026-06-04T00:00:00Z") },
          100,
        );
        assert.equal(listed.length, 1);
      });
    });

    describe("update", () => {
      it("replaces the fields, bumps the version and updated_at, keeps created_at", async () => {
        const user = newUser();
        const created = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        clock.advance(MINUTE);
        const next = fields("2026-06-02T11:00:00Z", 30 * MINUTE, {
          title: "Moved",
          description: "now",
          notifyBeforeMs: MINUTE,
        });
        const updated = value(await store.updateEvent(user, created.id, next, undefined));
        assert.deepEqual(updated, {
          ...next,
          id: created.id,
          userId: user,
          createdAt: created.createdAt,
          updatedAt: clock.read(),
          version: 2,
        });
        assert.deepEqual(value(await store.getEvent(user, created.id)), updated);
      });

      it("clears optional fields that the update leaves out", async () => {
        const user = newUser();
        const created = value(
          await store.createEvent(
            user,
            randomUUID(),
            fields("2026-06-02T09:00:00Z", HOUR, { description: "x", notifyBeforeMs: MINUTE }),
          ),
        );
        const updated = value(
          await store.updateEvent(user, created.id, fields("2026-06-02T09:00:00Z"), undefined),
        );
        assert.equal(updated.description, undefined);
        assert.equal(updated.notifyBeforeMs, undefined);
      });

      it("applies only when expected_version matches", async () => {
        const user = newUser();
        const created = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        value(
          await store.updateEvent(
            user,
            created.id,
            fields("2026-06-02T09:00:00Z", HOUR, { title: "v2" }),
            1,
          ),
        );
        const stale = await store.updateEvent(
          user,
          created.id,
          fields("2026-06-02T09:00:00Z", HOUR, { title: "lost" }),
          1,
        );
        assert.deepEqual(failure(stale), { kind: "version_mismatch", expected: 1, actual: 2 });
        assert.equal(value(await store.getEvent(user, created.id)).title, "v2");
      });

      it("may move an event over its own old time but not over another event", async () => {
        const user = newUser();
        const a = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z", HOUR)),
        );
        const b = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T11:00:00Z", HOUR)),
        );
        value(await store.updateEvent(user, a.id, fields("2026-06-02T09:30:00Z", HOUR), undefined));
        const clash = await store.updateEvent(
          user,
          a.id,
          fields("2026-06-02T10:45:00Z", HOUR),
          undefined,
        );
        assert.deepEqual(failure(clash), { kind: "overlap", conflictingId: b.id });
        assert.equal(
          value(await store.getEvent(user, a.id)).start.toISOString(),
          "2026-06-02T09:30:00.000Z",
        );
      });

      it("answers NotFound for an unknown id and another user's event, changing nothing", async () => {
        const owner = newUser();
        const event = value(
          await store.createEvent(owner, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        const unknown = randomUUID();
        assert.deepEqual(
          failure(
            await store.updateEvent(owner, unknown, fields("2026-06-02T09:00:00Z"), undefined),
          ),
          {
            kind: "not_found",
            id: unknown,
          },
        );
        const intruder = await store.updateEvent(
          newUser(),
          event.id,
          fields("2026-06-02T09:00:00Z", HOUR, { title: "hacked" }),
          undefined,
        );
        assert.deepEqual(failure(intruder), { kind: "not_found", id: event.id });
        assert.deepEqual(value(await store.getEvent(owner, event.id)), event);
      });

      it("has exactly one winner among concurrent updates of the same version", async () => {
        const user = newUser();
        const created = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.updateEvent(
              user,
              created.id,
              fields("2026-06-02T09:00:00Z", HOUR, { title: `writer ${i}` }),
              1,
            ),
          ),
        );
        const winners = results.filter((r) => r.ok).map((r) => value(r));
        assert.equal(winners.length, 1);
        for (const loser of results.filter((r) => !r.ok)) {
          assert.deepEqual(failure(loser), { kind: "version_mismatch", expected: 1, actual: 2 });
        }
        assert.equal(value(await store.getEvent(user, created.id)).title, winners[0]?.title);
      });
    });

    describe("delete", () => {
      it("removes the event; a second delete is NotFound", async () => {
        const user = newUser();
        const event = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        value(await store.deleteEvent(user, event.id));
        assert.equal(failure(await store.getEvent(user, event.id)).kind, "not_found");
        assert.deepEqual(failure(await store.deleteEvent(user, event.id)), {
          kind: "not_found",
          id: event.id,
        });
      });

      it("frees the time slot it held", async () => {
        const user = newUser();
        const event = value(
          await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        value(await store.deleteEvent(user, event.id));
        value(await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")));
      });

      it("cannot delete another user's event", async () => {
        const owner = newUser();
        const event = value(
          await store.createEvent(owner, randomUUID(), fields("2026-06-02T09:00:00Z")),
        );
        assert.deepEqual(failure(await store.deleteEvent(newUser(), event.id)), {
          kind: "not_found",
          id: event.id,
        });
        value(await store.getEvent(owner, event.id));
      });
    });

    describe("list", () => {
      const day = {
        start: new Date("2026-06-10T00:00:00Z"),
        end: new Date("2026-06-11T00:00:00Z"),
      };

      it("returns the events overlapping the window, ordered by start", async () => {
        const user = newUser();
        const make = async (start: string, durationMs: number, title: string) =>
          value(await store.createEvent(user, randomUUID(), fields(start, durationMs, { title })));
        await make("2026-06-09T21:00:00Z", HOUR, "ends before");
        const crossing = await make("2026-06-09T23:30:00Z", HOUR, "crosses midnight");
        const late = await make("2026-06-10T20:00:00Z", HOUR, "evening");
        const morning = await make("2026-06-10T08:00:00Z", HOUR, "morning");
        const spill = await make("2026-06-10T23:30:00Z", HOUR, "crosses next midnight");
        await make("2026-06-11T00:30:00Z", HOUR, "starts after end");
        value(await store.createEvent(newUser(), randomUUID(), fields("2026-06-10T08:00:00Z")));

        const listed = await store.listEvents(user, day, 100);
        assert.deepEqual(
          listed.map((e) => e.title),
          [crossing.title, morning.title, late.title, spill.title],
        );
        assert.deepEqual(listed[0], crossing);
      });

      it("leaves out events that only touch the window's edges", async () => {
        const user = newUser();
        value(await store.createEvent(user, randomUUID(), fields("2026-06-09T23:00:00Z", HOUR)));
        value(await store.createEvent(user, randomUUID(), fields("2026-06-11T00:00:00Z", HOUR)));
        assert.deepEqual(await store.listEvents(user, day, 10), []);
      });

      it("returns at most `limit` events, the earliest first", async () => {
        const user = newUser();
        for (let hour = 0; hour < 5; hour++) {
          value(
            await store.createEvent(
              user,
              randomUUID(),
              fields(`2026-06-10T0${hour}:00:00Z`, HOUR, { title: `h${hour}` }),
            ),
          );
        }
        const listed = await store.listEvents(user, day, 3);
        assert.deepEqual(
          listed.map((e) => e.title),
          ["h0", "h1", "h2"],
        );
      });

      it("is empty for a user with no events", async () => {
        assert.deepEqual(await store.listEvents(newUser(), day, 10), []);
      });
    });
  });
}
