// Sync of recurring events, as every store must report it: series and
// exceptions are events in the change log, an exception under its
// occurrence id, and a cancelled or dropped occurrence is a deletion of its
// occurrence id. Runs inside runSyncStoreContract, so against every store.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { it } from "node:test";
import type { EventFields } from "../../domain/event.js";
import { occurrenceId } from "../../domain/recurrence.js";
import type { Result } from "../../domain/result.js";
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

  it("editing a series reports the exceptions its new rule dropped, and the series", async () => {
    const user = newUser();
    const id = randomUUID();
    const series = value(await store().createEvent(user, id, weekly("2026-06-01T07:00:00Z")));
    value(
      await store().updateEvent(user, monday(id, "08"), single("2026-06-09T10:00:00Z"), undefined),
    );
    value(await store().deleteEvent(user, monday(id, "22")));
    const from = await store().syncPosition(user);
    // Only the first two Mondays remain: the 22nd's cancellation is dropped.
    const edited = value(
      await store().updateEvent(
        user,
        id,
        weekly("2026-06-01T07:00:00Z", { recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2"] }),
        series.version,
      ),
    );
    const changed = await readAll(user, from, "incremental");
    const byId = new Map(changed.changes.map((c) => [c.kind === "upsert" ? c.event.id : c.id, c]));
    assert.deepEqual(byId.get(id), {
      kind: "upsert",
      change: byId.get(id)?.change,
      event: edited,
    });
    assert.equal(byId.get(monday(id, "22"))?.kind, "delete");
    // The 8th is still generated: its exception stays and is not reported.
    assert.equal(byId.has(monday(id, "08")), false);
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
