// Sync of recurring events, as every store must report it: series and
// exceptions are events in the change log, an exception under its
// occurrence id, and a cancelled or dropped occurrence is a deletion of its
// occurrence id. Runs inside runSyncStoreContract, so against every store.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { it } from "node:test";
import type { CalendarEvent, EventFields } from "../../domain/event.js";
import { occurrenceId } from "../../domain/recurrence.js";
import type { Result } from "../../domain/result.js";
import { expandReplica, SyncReplica } from "../../testing/sync_replica.js";
import type { EventStore } from "../store.js";
import type { EventChange } from "../sync.js";

const HOUR = 3_600_000;

function value<T, E>(result: Result<T, E>): T {
  if (!result.ok) assert.fail(`expected success, got ${JSON.stringify(result.error)}`);
  return result.value;
}

/** Mondays 09:00 Berlin time (07:00Z in summer), one hour. */
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

function single(start: string): EventFields {
  return {
    title: "One-off",
    start: new Date(start),
    durationMs: HOUR,
    description: undefined,
    notifyBeforeMs: undefined,
  };
}

/** ["upsert", id] or ["delete", id], in change order. */
const summary = (changes: EventChange[]) =>
  changes.map((c) => (c.kind === "upsert" ? ["upsert", c.event.id] : ["delete", c.id]));

export function seriesSyncTests(store: () => EventStore, newUser: () => string): void {
  async function readAll(user: string, from: number, mode: "full" | "incremental") {
    const changes: EventChange[] = [];
    let position = from;
    for (;;) {
      const page = value(await store().readChanges(user, position, 2, mode));
      changes.push(...page.changes);
      position = page.position;
      if (page.complete) return { changes, position };
    }
  }

  const monday = (seriesId: string, day: string) =>
    occurrenceId(seriesId, new Date(`2026-06-${day}T07:00:00Z`));

  it("full sync returns series and their exceptions, a cancelled occurrence as a deletion of its id", async () => {
    const user = newUser();
    const id = randomUUID();
    value(await store().createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
    const moved = value(
      await store().updateEvent(user, monday(id, "08"), single("2026-06-09T10:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(id, "15")));
    const full = await readAll(user, 0, "full");
    assert.deepEqual(summary(full.changes), [
      ["upsert", id],
      ["upsert", monday(id, "08")],
      ["delete", monday(id, "15")],
    ]);
    const exception = full.changes[1];
    assert.ok(exception?.kind === "upsert");
    assert.deepEqual(exception.event, moved);
    assert.equal(exception.event.recurringEventId, id);
  });

  it("incremental sync reports a moved and a cancelled occurrence by occurrence id", async () => {
    const user = newUser();
    const id = randomUUID();
    value(await store().createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
    const from = await store().syncPosition(user);
    value(
      await store().updateEvent(user, monday(id, "08"), single("2026-06-09T10:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(id, "15")));
    // Cancelling a moved occurrence turns its upsert into a deletion.
    value(await store().deleteEvent(user, monday(id, "08")));
    const changed = await readAll(user, from, "incremental");
    assert.deepEqual(summary(changed.changes), [
      ["delete", monday(id, "15")],
      ["delete", monday(id, "08")],
    ]);
    assert.equal(changed.position, await store().syncPosition(user));
  });

  it("deleting a series reports the series and every exception it dropped", async () => {
    const user = newUser();
    const id = randomUUID();
    value(await store().createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
    value(
      await store().updateEvent(user, monday(id, "08"), single("2026-06-09T10:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(id, "15")));
    const from = await store().syncPosition(user);
    value(await store().deleteEvent(user, id));
    const changed = await readAll(user, from, "incremental");
    assert.deepEqual(
      summary(changed.changes).sort(),
      [
        ["delete", id],
        ["delete", monday(id, "08")],
        ["delete", monday(id, "15")],
      ].sort(),
    );
    assert.deepEqual((await readAll(user, 0, "full")).changes, []);
  });

  it("editing a series reports the series, then every exception it kept; not the ones it dropped", async () => {
    const user = newUser();
    const id = randomUUID();
    const series = value(await store().createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
    const moved = value(
      await store().updateEvent(user, monday(id, "08"), single("2026-06-09T10:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(id, "15")));
    value(await store().deleteEvent(user, monday(id, "22")));
    const from = await store().syncPosition(user);
    // Only the first three Mondays remain: the 22nd's cancellation is
    // dropped; the moved 8th and the cancelled 15th are kept.
    const edited = value(
      await store().updateEvent(
        user,
        id,
        weekly("2026-06-01T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"] }),
        series.version,
      ),
    );
    const changed = await readAll(user, from, "incremental");
    // The series replaces what a client knows of its occurrences, so what it
    // kept follows it, and the dropped 22nd needs no deletion of its own.
    assert.deepEqual(summary(changed.changes), [
      ["upsert", id],
      ["upsert", monday(id, "08")],
      ["delete", monday(id, "15")],
    ]);
    assert.deepEqual(changed.changes[0], {
      kind: "upsert",
      change: changed.changes[0]?.change,
      event: edited,
    });
    assert.deepEqual(changed.changes[1], {
      kind: "upsert",
      change: changed.changes[1]?.change,
      event: moved,
    });
    // A full sync says the same, in the same order.
    assert.deepEqual(summary((await readAll(user, 0, "full")).changes), summary(changed.changes));
  });

  it("a replayed copy shows an occurrence again once a later series edit generates it again", async () => {
    const user = newUser();
    const id = randomUUID();
    const window = {
      start: new Date("2026-06-01T00:00:00Z"),
      end: new Date("2026-08-01T00:00:00Z"),
    };
    // Copies that sync at different moments and page sizes: after every
    // step (pages of 1 and of 100), and only at the start and the end.
    const replicas = [
      { every: true, pageSize: 1 },
      { every: true, pageSize: 100 },
      { every: false, pageSize: 2 },
    ].map((r) => ({ ...r, copy: new SyncReplica<CalendarEvent>(), position: 0, synced: false }));
    const sync = async (replica: (typeof replicas)[number]) => {
      const mode = replica.synced ? "incremental" : "full";
      for (;;) {
        const page = value(
          await store().readChanges(user, replica.position, replica.pageSize, mode),
        );
        replica.copy.applyPage(
          page.changes.flatMap((c) => (c.kind === "upsert" ? [c.event] : [])),
          page.changes.flatMap((c) => (c.kind === "delete" ? [c.id] : [])),
        );
        replica.position = page.position;
        if (page.complete) break;
      }
      replica.synced = true;
    };
    const check = async (step: string, all: boolean) => {
      const listed = await store().listEvents(user, window, 1000);
      // The server's state as a new client gets it: a full sync.
      const fresh = {
        every: false,
        pageSize: 3,
        copy: new SyncReplica<CalendarEvent>(),
        position: 0,
        synced: false,
      };
      await sync(fresh);
      for (const replica of [...replicas.filter((r) => all || r.every), fresh]) {
        if (replica !== fresh) await sync(replica);
        const what = `${step}: replica syncing ${replica.every ? "after every step" : "rarely"}, pages of ${replica.pageSize}`;
        assert.deepEqual(expandReplica(replica.copy, window), listed, what);
        assert.deepEqual(replica.copy.events, fresh.copy.events, what);
        assert.deepEqual(replica.copy.hidden, fresh.copy.hidden, what);
      }
    };
    const series = value(
      await store().createEvent(
        user,
        id,
        weekly("2026-06-01T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6"] }),
      ),
    );
    await check("created", true);
    value(
      await store().updateEvent(user, monday(id, "08"), single("2026-06-09T10:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(id, "22")));
    await check("moved the 8th, cancelled the 22nd", false);
    // The 22nd is no longer generated: its cancellation is dropped; the
    // moved 8th stays.
    const cut = value(
      await store().updateEvent(
        user,
        id,
        weekly("2026-06-01T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2"] }),
        series.version,
      ),
    );
    await check("cut to two Mondays", false);
    // Back to six Mondays: the 22nd is generated again, and shown.
    value(
      await store().updateEvent(
        user,
        id,
        weekly("2026-06-01T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6"] }),
        cut.version,
      ),
    );
    const listed = await store().listEvents(user, window, 1000);
    assert.ok(listed.some((e) => e.id === monday(id, "22")));
    assert.ok(listed.some((e) => e.id === monday(id, "08") && e.start.getUTCHours() === 10));
    await check("back to six Mondays", true);
  });

  it("lists occurrences in keyset pages across series and single events, none skipped or repeated", async () => {
    const user = newUser();
    const a = randomUUID();
    const b = randomUUID();
    value(await store().createEvent(user, a, weekly("2026-06-01T07:00:00Z")));
    value(
      await store().createEvent(
        user,
        b,
        weekly("2026-06-02T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=TU"] }),
      ),
    );
    value(await store().createEvent(user, randomUUID(), single("2026-06-03T12:00:00Z")));
    value(
      await store().updateEvent(user, monday(a, "08"), single("2026-06-10T15:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(a, "15")));
    // A span longer than a month: June to mid-August.
    const window = {
      start: new Date("2026-06-01T00:00:00Z"),
      end: new Date("2026-08-15T00:00:00Z"),
    };
    const all = await store().listEvents(user, window, 1000);
    assert.equal(all.length, 11 + 11 + 1 - 1); // 11 Mondays, 11 Tuesdays, one single, one cancelled
    assert.ok(all.some((e) => e.id === monday(a, "08")));
    assert.ok(!all.some((e) => e.id === monday(a, "15")));
    for (const size of [1, 2, 3, 5, 7]) {
      const seen: string[] = [];
      let cursor: { start: Date; id: string } | undefined;
      for (;;) {
        const page = await store().listEvents(user, window, size, cursor);
        seen.push(...page.map((e) => e.id));
        const last = page.at(-1);
        if (page.length < size || !last) break;
        cursor = { start: last.start, id: last.id };
      }
      assert.deepEqual(
        seen,
        all.map((e) => e.id),
        `page size ${size}`,
      );
    }
  });
}
