// Checks of the Postgres store beyond the EventStore contract: what only a
// look at the table can show (row counts, reminder bookkeeping, query plans).
// Run against embedded PGlite (npm test) and a real server (integration).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, it } from "node:test";
import type { Fragment, Sql } from "postgres";
import type { EventFields } from "../../../domain/event.js";
import { occurrenceId } from "../../../domain/recurrence.js";
import { ManualClock } from "../../testing/contract.js";
import { eventsInWindow, PostgresEventStore } from "../postgres_store.js";
import { dueRemindersQuery } from "../reminder_store.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function fields(start: string, durationMs: number, extra: Partial<EventFields> = {}): EventFields {
  return {
    title: "Meeting",
    start: new Date(start),
    durationMs,
    description: undefined,
    notifyBeforeMs: undefined,
    ...extra,
  };
}

async function countEvents(sql: Sql, userId: string): Promise<number> {
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from events where user_id = ${userId}`;
  return row?.count ?? 0;
}

/** The plan Postgres picks for `query`, as the lines EXPLAIN prints. */
async function explain(sql: Sql, query: Fragment): Promise<string> {
  const rows = await sql<{ "QUERY PLAN": string }[]>`explain ${query}`;
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}

export function runPostgresStoreChecks(name: string, database: () => Promise<Sql>): void {
  describe(`postgres store: ${name}`, () => {
    let sql: Sql;
    let store: PostgresEventStore;
    const newUser = () => `user-${randomUUID()}`;

    before(async () => {
      sql = await database();
      store = new PostgresEventStore(sql, { clock: new ManualClock().read });
    });

    it("leaves exactly one row after 50 concurrent overlapping creates", async () => {
      const user = newUser();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.createEvent(user, randomUUID(), fields("2026-07-01T09:00:00Z", HOUR + i * MINUTE)),
        ),
      );
      const winners = results.flatMap((r) => (r.ok ? [r.value] : []));
      assert.equal(winners.length, 1);
      for (const result of results) {
        if (!result.ok) {
          assert.deepEqual(result.error, { kind: "overlap", conflictingId: winners[0]?.id });
        }
      }
      assert.equal(await countEvents(sql, user), 1);
    });

    it("answers 50 concurrent identical creates of one id with the one stored event", async () => {
      const user = newUser();
      const id = randomUUID();
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          store.createEvent(user, id, fields("2026-07-01T09:00:00Z", HOUR)),
        ),
      );
      assert.ok(results[0]?.ok);
      for (const result of results) assert.deepEqual(result, results[0]);
      assert.equal(await countEvents(sql, user), 1);
    });

    it("re-arms a sent reminder only when an update moves it", async () => {
      const user = newUser();
      const created = await store.createEvent(
        user,
        randomUUID(),
        fields("2026-07-01T09:00:00Z", HOUR, { notifyBeforeMs: 15 * MINUTE }),
      );
      assert.ok(created.ok);
      const id = created.value.id;
      // The event's reminder as the reminders table holds it: due at
      // `due`, or sent (no row) while the event still asks for one.
      const reminder = async () => {
        const [row] = await sql<{ due: string | null; sent: boolean }[]>`
          select to_char(r.notify_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI') as due,
                 e.notify_at is not null and r.event_id is null as sent
          from events e left join reminders r on r.user_id = e.user_id and r.event_id = e.id
          where e.user_id = ${user} and e.id = ${id}`;
        return { ...row };
      };
      // What the dispatcher does once RabbitMQ confirmed it.
      const markSent = () =>
        sql`delete from reminders where user_id = ${user} and event_id = ${id}`;
      const update = async (next: EventFields) => {
        assert.ok((await store.updateEvent(user, id, next, undefined)).ok);
      };

      assert.deepEqual(await reminder(), { due: "2026-07-01T08:45", sent: false });
      await markSent();

      assert.deepEqual(await reminder(), { due: null, sent: true });

      // Same start and offset: the reminder that went out stays sent.
      await update(
        fields("2026-07-01T09:00:00Z", 2 * HOUR, { title: "Renamed", notifyBeforeMs: 15 * MINUTE }),
      );
      assert.deepEqual(await reminder(), { due: null, sent: true });

      // A new start: due again, at the new time.
      await update(fields("2026-07-01T10:00:00Z", HOUR, { notifyBeforeMs: 15 * MINUTE }));
      assert.deepEqual(await reminder(), { due: "2026-07-01T09:45", sent: false });
      await markSent();

      // A new offset: due again too.
      await update(fields("2026-07-01T10:00:00Z", HOUR, { notifyBeforeMs: 5 * MINUTE }));
      assert.deepEqual(await reminder(), { due: "2026-07-01T09:55", sent: false });

      // No reminder any more: nothing is due.
      await update(fields("2026-07-01T10:00:00Z", HOUR));
      assert.deepEqual(await reminder(), { due: null, sent: false });
    });

    it("stores a reminder due before year 1 and reads the event back exactly", async () => {
      const user = newUser();
      const created = await store.createEvent(
        user,
        randomUUID(),
        fields("0001-01-01T00:00:00.000Z", 1, { notifyBeforeMs: 366 * 24 * HOUR }),
      );
      assert.ok(created.ok);
      const found = await store.getEvent(user, created.value.id);
      assert.ok(found.ok);
      assert.equal(found.value.start.toISOString(), "0001-01-01T00:00:00.000Z");
      assert.equal(found.value.durationMs, 1);
      // 366 days before 0001-01-01 is 0000-01-01 (year 0 is a leap year),
      // which Postgres writes as 1 BC.
      const [row] = await sql<{ due: string; due_ms: number }[]>`
        select notify_at::text as due, (extract(epoch from notify_at) * 1000)::float8 as due_ms
        from events where user_id = ${user}`;
      assert.equal(row?.due, "0001-01-01 00:00:00+00 BC");
      assert.equal(row?.due_ms, Date.parse("0000-01-01T00:00:00.000Z"));
    });

    it("drains reminders without writing an events row or a sync change", async () => {
      const user = newUser();
      // A single event, and a daily series with one occurrence moved (an
      // exception row with a reminder of its own), all in 1985, so that the
      // drain below claims nothing of the other tests' but the long-missed.
      const single = await store.createEvent(
        user,
        randomUUID(),
        fields("1985-03-01T12:00:00Z", HOUR, { notifyBeforeMs: 10 * MINUTE }),
      );
      assert.ok(single.ok);
      const seriesId = randomUUID();
      const series = await store.createEvent(user, seriesId, {
        ...fields("1985-03-01T08:00:00Z", HOUR, { notifyBeforeMs: 10 * MINUTE }),
        recurrence: ["RRULE:FREQ=DAILY;COUNT=3"],
        timeZone: "UTC",
      });
      assert.ok(series.ok);
      const moved = await store.updateEvent(
        user,
        occurrenceId(seriesId, new Date("1985-03-02T08:00:00Z")),
        fields("1985-03-02T09:00:00Z", HOUR, { notifyBeforeMs: 10 * MINUTE }),
        undefined,
      );
      assert.ok(moved.ok);

      const eventRows = () => sql<{ user_id: string; id: string; xmin: string }[]>`
        select user_id, id, xmin::text as xmin, version, updated_at from events
        order by user_id, id`;
      const rowsBefore = await eventRows();
      const positionBefore = await store.syncPosition(user);
      const published: string[] = [];
      for (const now of [
        "1985-03-01T07:50:00Z",
        "1985-03-01T11:50:00Z",
        "1985-03-02T08:50:00Z",
        "1985-03-03T07:50:00Z",
      ]) {
        await store.dispatchDueReminders(new Date(now), 1000, async (due) => {
          published.push(...due.filter((r) => r.userId === user).map((r) => r.eventId));
          return due;
        });
      }
      assert.deepEqual(published, [
        occurrenceId(seriesId, new Date("1985-03-01T08:00:00Z")),
        single.value.id,
        occurrenceId(seriesId, new Date("1985-03-02T08:00:00Z")),
        occurrenceId(seriesId, new Date("1985-03-03T08:00:00Z")),
      ]);
      // Every reminder of the user went: no row left, the series' cursor included.
      const [left] = await sql<{ count: number }[]>`
        select count(*)::int as count from reminders where user_id = ${user}`;
      assert.equal(left?.count, 0);
      // Not one events row was written (same row versions), and the user's
      // change log did not move: SyncEvents and WatchEvents see nothing.
      assert.deepEqual(await eventRows(), rowsBefore);
      assert.equal(await store.syncPosition(user), positionBefore);
    });

    describe("query plans on a few thousand rows", () => {
      before(async () => {
        // 200 users with 30 daily events each; every other event has a
        // reminder, the earlier ones already sent. Then fresh statistics.
        await sql`
          insert into events (user_id, id, title, start_time, end_time,
                              notify_before_ms, notify_at, reminder_sent_at,
                              created_at, updated_at, version)
          select 'plan-user-' || u, gen_random_uuid(), 'planned',
                 timestamptz '2027-01-01' + d * interval '1 day',
                 timestamptz '2027-01-01' + d * interval '1 day' + interval '1 hour',
                 case when d % 2 = 0 then 600000 end,
                 case when d % 2 = 0
                   then timestamptz '2027-01-01' + d * interval '1 day' - interval '10 minutes'
                 end,
                 case when d % 2 = 0 and d < 20 then now() end,
                 now(), now(), 1
          from generate_series(1, 200) u, generate_series(0, 29) d`;
        await sql`analyze events`;
        await sql`analyze reminders`;
      });

      it("lists a window through the exclusion constraint's GiST index", async (t) => {
        const window = {
          start: new Date("2027-01-05T00:00:00Z"),
          end: new Date("2027-01-12T00:00:00Z"),
        };
        const plan = await explain(sql, eventsInWindow(sql, "plan-user-7", window, 101));
        t.diagnostic(`list plan:\n${plan}`);
        assert.match(plan, /Index Scan on events_no_overlap|Index Scan using events_no_overlap/);
        assert.doesNotMatch(plan, /Seq Scan/);
      });

      it("claims due reminders through the reminders index, never the events GiST index", async (t) => {
        // The claim the reminder dispatcher runs.
        const plan = await explain(
          sql,
          dueRemindersQuery(sql, new Date("2027-01-25T00:00:00Z"), 100),
        );
        t.diagnostic(`reminder claim plan:\n${plan}`);
        assert.match(plan, /Index Scan using reminders_due on reminders/);
        assert.doesNotMatch(plan, /events_no_overlap|Seq Scan/);
      });
    });
  });
}
