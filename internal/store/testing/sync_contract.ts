// The sync behaviour every store must have (SyncStore, TombstoneStore and
// keyset listing), written once. Each implementation's test file calls
// runSyncStoreContract next to runEventStoreContract.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { CalendarEvent, EventFields } from "../../domain/event.js";
import type { Result } from "../../domain/result.js";
import type { Clock, EventStore, ReminderStore } from "../store.js";
import type { ChangePage, EventChange, TombstoneStore } from "../sync.js";
import { ManualClock } from "./contract.js";
import { seriesSyncTests } from "./series_sync_contract.js";

const HOUR = 3_600_000;
const FAR_FUTURE = new Date("9999-01-01T00:00:00Z");

export interface SyncStoreUnderTest {
  store: EventStore & TombstoneStore & Pick<ReminderStore, "deleteEventsEndedBefore">;
  dispose(): Promise<void>;
}

function fields(start: string, extra: Partial<EventFields> = {}): EventFields {
  return {
    title: "Sync me",
    start: new Date(start),
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

/** What a change says, without its number: ["upsert", id, version] or ["delete", id]. */
function summary(change: EventChange): (string | number)[] {
  return change.kind === "upsert"
    ? ["upsert", change.event.id, change.event.version]
    : ["delete", change.id];
}

export function runSyncStoreContract(
  name: string,
  open: (clock: Clock) => Promise<SyncStoreUnderTest>,
): void {
  describe(`SyncStore contract: ${name}`, () => {
    const clock = new ManualClock();
    let subject: SyncStoreUnderTest;
    let store: EventStore & TombstoneStore & Pick<ReminderStore, "deleteEventsEndedBefore">;
    const newUser = () => `sync-${randomUUID()}`;

    before(async () => {
      subject = await open(clock.read);
      store = subject.store;
    });
    after(async () => {
      await subject.dispose();
    });

    /** Every page from `after` on, as one list, and the position at the end. */
    async function readAll(
      user: string,
      from: number,
      mode: "full" | "incremental",
      pageSize = 1000,
    ): Promise<{ changes: EventChange[]; position: number; pages: number }> {
      const changes: EventChange[] = [];
      let position = from;
      for (let pages = 1; ; pages++) {
        const page: ChangePage = value(await store.readChanges(user, position, pageSize, mode));
        changes.push(...page.changes);
        position = page.position;
        if (page.complete) return { changes, position, pages };
      }
    }

    seriesSyncTests(() => store, newUser);

    it("gives a new user an empty, complete full sync at position 0", async () => {
      const page = value(await store.readChanges(newUser(), 0, 10, "full"));
      assert.deepEqual(page, { changes: [], position: 0, complete: true });
      assert.equal(await store.syncPosition(newUser()), 0);
    });

    it("full sync lists every live event once, in full, and no deletions", async () => {
      const user = newUser();
      const a = value(await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")));
      const b = value(await store.createEvent(user, randomUUID(), fields("2026-06-02T11:00:00Z")));
      const gone = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-03T09:00:00Z")),
      );
      const a2 = value(
        await store.updateEvent(user, a.id, fields("2026-06-02T08:00:00Z", { title: "Moved" }), 1),
      );
      value(await store.deleteEvent(user, gone.id));

      const full = await readAll(user, 0, "full");
      // Change order: b (2), then a's update (4).
      assert.deepEqual(
        full.changes.map((c) => (c.kind === "upsert" ? c.event : c)),
        [b, a2] as CalendarEvent[],
      );
      assert.equal(full.position, await store.syncPosition(user));
      assert.equal(full.position, 5);
    });

    it("pages a full sync without skipping or repeating, whatever the page size", async () => {
      const user = newUser();
      const ids: string[] = [];
      for (let day = 1; day <= 7; day++) {
        const event = value(
          await store.createEvent(user, randomUUID(), fields(`2026-07-0${day}T09:00:00Z`)),
        );
        ids.push(event.id);
      }
      for (const pageSize of [1, 2, 3, 7, 8]) {
        const full = await readAll(user, 0, "full", pageSize);
        assert.deepEqual(
          full.changes.map((c) => (c.kind === "upsert" ? c.event.id : "deleted")),
          ids,
          `page size ${pageSize}`,
        );
        assert.equal(full.position, 7);
        assert.equal(full.pages, Math.ceil(7 / pageSize));
      }
    });

    it("incremental sync returns exactly what changed since the position: latest state, deletions by id", async () => {
      const user = newUser();
      const kept = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
      );
      const changed = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T11:00:00Z")),
      );
      const removed = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T13:00:00Z")),
      );
      const token = (await readAll(user, 0, "full")).position;

      assert.deepEqual((await readAll(user, token, "incremental")).changes, []);

      const added = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T15:00:00Z")),
      );
      value(
        await store.updateEvent(
          user,
          changed.id,
          fields("2026-06-02T11:00:00Z", { title: "1" }),
          undefined,
        ),
      );
      const twice = value(
        await store.updateEvent(
          user,
          changed.id,
          fields("2026-06-02T11:00:00Z", { title: "2" }),
          undefined,
        ),
      );
      value(await store.deleteEvent(user, removed.id));
      // Created and deleted in between: the client never saw it, and learns
      // of it only as a deletion it can ignore.
      const flash = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T17:00:00Z")),
      );
      value(await store.deleteEvent(user, flash.id));

      const since = await readAll(user, token, "incremental");
      assert.deepEqual(since.changes.map(summary), [
        ["upsert", added.id, 1],
        ["upsert", changed.id, 3],
        ["delete", removed.id],
        ["delete", flash.id],
      ]);
      const upserted = since.changes.find((c) => c.kind === "upsert" && c.event.id === changed.id);
      assert.deepEqual(upserted?.kind === "upsert" && upserted.event, twice);
      assert.ok(!since.changes.some((c) => c.kind === "upsert" && c.event.id === kept.id));
      assert.equal(since.position, await store.syncPosition(user));
      // And from the new position, nothing.
      assert.deepEqual((await readAll(user, since.position, "incremental")).changes, []);
    });

    it("does not count a failed write or an identical repeated create as a change", async () => {
      const user = newUser();
      const id = randomUUID();
      value(await store.createEvent(user, id, fields("2026-06-02T09:00:00Z")));
      const position = await store.syncPosition(user);
      value(await store.createEvent(user, id, fields("2026-06-02T09:00:00Z")));
      assert.equal(
        (await store.createEvent(user, randomUUID(), fields("2026-06-02T09:30:00Z"))).ok,
        false,
      );
      assert.equal(
        (await store.updateEvent(user, id, fields("2026-06-02T09:00:00Z"), 7)).ok,
        false,
      );
      assert.equal((await store.deleteEvent(user, randomUUID())).ok, false);
      assert.equal(await store.syncPosition(user), position);
    });

    it("keeps users apart: one user's changes never show in another's sync", async () => {
      const alice = newUser();
      const bob = newUser();
      value(await store.createEvent(alice, randomUUID(), fields("2026-06-02T09:00:00Z")));
      assert.deepEqual((await readAll(bob, 0, "full")).changes, []);
      assert.equal(await store.syncPosition(bob), 0);
    });

    it("refuses a position it never handed out as expired", async () => {
      const user = newUser();
      value(await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")));
      const result = await store.readChanges(user, 2, 10, "incremental");
      assert.deepEqual(result, { ok: false, error: { kind: "sync_position_expired" } });
    });

    it("counts retention cleanup deletions as changes", async () => {
      const user = newUser();
      const old = value(
        await store.createEvent(user, randomUUID(), fields("1990-01-01T09:00:00Z")),
      );
      const position = await store.syncPosition(user);
      await store.deleteEventsEndedBefore(new Date("1990-01-02T00:00:00Z"), 1000);
      const since = await readAll(user, position, "incremental");
      assert.deepEqual(since.changes.map(summary), [["delete", old.id]]);
    });

    it("purges tombstones: tokens from before a purged deletion expire, later ones and full syncs do not", async () => {
      const user = newUser();
      const live = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T09:00:00Z")),
      );
      const doomed = value(
        await store.createEvent(user, randomUUID(), fields("2026-06-02T11:00:00Z")),
      );
      const beforeDeletion = await store.syncPosition(user);
      value(await store.deleteEvent(user, doomed.id));
      const afterDeletion = await store.syncPosition(user);

      // A cutoff before the deletion keeps it.
      await store.purgeTombstones(new Date("2000-01-01T00:00:00Z"), 1000);
      assert.deepEqual((await readAll(user, beforeDeletion, "incremental")).changes.map(summary), [
        ["delete", doomed.id],
      ]);

      let purged = 0;
      for (
        let n = await store.purgeTombstones(FAR_FUTURE, 1000);
        n > 0;
        n = await store.purgeTombstones(FAR_FUTURE, 1000)
      ) {
        purged += n;
      }
      assert.ok(purged >= 1);
      assert.deepEqual(await store.readChanges(user, beforeDeletion, 10, "incremental"), {
        ok: false,
        error: { kind: "sync_position_expired" },
      });
      assert.deepEqual(
        value(await store.readChanges(user, afterDeletion, 10, "incremental")).changes,
        [],
      );
      const full = await readAll(user, 0, "full");
      assert.deepEqual(full.changes.map(summary), [["upsert", live.id, 1]]);
      // Live events are never purged, only deletions.
      assert.equal(full.position, afterDeletion);
    });

    it("lists in keyset pages: after a cursor, only what follows it in (start, id) order", async () => {
      const user = newUser();
      const window = {
        start: new Date("2026-08-01T00:00:00Z"),
        end: new Date("2026-08-02T00:00:00Z"),
      };
      // Back-to-back events, and one that began before the window.
      const events: CalendarEvent[] = [];
      for (const start of [
        "2026-07-31T23:30:00Z",
        "2026-08-01T00:30:00Z",
        "2026-08-01T01:30:00Z",
        "2026-08-01T02:30:00Z",
      ]) {
        events.push(value(await store.createEvent(user, randomUUID(), fields(start))));
      }
      const seen: string[] = [];
      let cursor: { start: Date; id: string } | undefined;
      for (;;) {
        const page = await store.listEvents(user, window, 2, cursor);
        const shown = page.slice(0, 1);
        seen.push(...shown.map((e) => e.id));
        if (page.length < 2) break;
        const last = shown.at(-1) as CalendarEvent;
        cursor = { start: last.start, id: last.id };
        // A write between pages moves nothing already listed.
        if (seen.length === 1) value(await store.deleteEvent(user, events[0]?.id ?? ""));
      }
      assert.deepEqual(
        seen,
        events.map((e) => e.id),
      );
    });

    it("numbers concurrent writes of one user so that no reader ever misses one", async () => {
      const user = newUser();
      const writers = Array.from({ length: 40 }, (_, i) =>
        store.createEvent(
          user,
          randomUUID(),
          fields(new Date(Date.UTC(2026, 8, 1, i)).toISOString()),
        ),
      );
      // A reader that syncs while the writes land, from its last position.
      const seen = new Set<string>();
      let position = 0;
      let writing = true;
      const reading = (async () => {
        while (writing) {
          const since = await readAll(user, position, "incremental");
          for (const c of since.changes) if (c.kind === "upsert") seen.add(c.event.id);
          position = since.position;
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      const created = (await Promise.all(writers)).map(value);
      writing = false;
      await reading;
      const last = await readAll(user, position, "incremental");
      for (const c of last.changes) if (c.kind === "upsert") seen.add(c.event.id);
      assert.deepEqual([...seen].sort(), created.map((e) => e.id).sort());
      assert.equal(last.position, 40);
    });
  });
}
