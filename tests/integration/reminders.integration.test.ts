// Reminders end to end: api, scheduler and sender as separate processes on a
// real PostgreSQL and RabbitMQ (see harness.ts), reminders created through the
// API, deliveries observed through the sender's receipts.
//
//   DATABASE_URL=postgres://root@127.0.0.1:5432/test AMQP_URL=amqp://guest:guest@127.0.0.1:5672 \
//     npx tsx --test --test-concurrency=1 tests/integration/reminders.integration.test.ts
//
// The first group runs concurrently (each test has its own user and events);
// the second disturbs the whole deployment (kills a scheduler, restarts
// RabbitMQ, adds schedulers) and runs one test at a time after it.
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { GetMessage } from "amqplib";
import { notificationId } from "../../internal/notification/notification.js";
import { NOTIFICATION_ROUTING_KEY } from "../../internal/queue/rabbitmq/topology.js";
import {
  type CreatedReminder,
  createReminder,
  eventMessage,
  type Harness,
  holdWrites,
  rabbitmqctl,
  requiredEnv,
  sleepUntil,
  startHarness,
  until,
} from "./harness.js";

requiredEnv(); // fails the file at once, with the reason, when a service is not configured

/** A reminder must be delivered by notifyAt + this. */
const ON_TIME_MS = 1500;
/** How long to keep watching for a duplicate after a delivery. */
const QUIET_MS = 2000;

let h: Harness | undefined;
let rabbitStopped = false;

function harness(): Harness {
  if (!h) throw new Error("the deployment did not start (see the before hook's error)");
  return h;
}

before(
  async () => {
    h = await startHarness();
  },
  { timeout: 120_000 },
);

after(
  async () => {
    try {
      // Only if the restart test could not start the app again itself.
      if (rabbitStopped) await rabbitmqctl("start_app").then(() => rabbitmqctl("await_startup"));
    } finally {
      await h?.close();
    }
  },
  { timeout: 60_000 },
);

/** A test whose failure report carries the stderr of every process of the run. */
function e2e(name: string, timeoutMs: number, body: (t: TestContext) => Promise<void>) {
  it(name, { timeout: timeoutMs }, async (t) => {
    try {
      await body(t);
    } catch (error) {
      const report = h ? h.report() : "(no processes)";
      throw new Error(`${(error as Error).message}\n\n${report}`, { cause: error });
    }
  });
}

const id = (r: CreatedReminder) => notificationId(r.userId, r.eventId, r.notifyAt);
const iso = (ms: number) => new Date(ms).toISOString();
const user = (label: string) => `it-${harness().runId}-${label}`;

/** Waits for the first receipt of `r`, until `timeoutMs` after its notifyAt. */
async function firstReceipt(r: CreatedReminder, timeoutMs = 15_000) {
  const { receipts } = harness();
  await until(
    () => receipts.forEvent(r.eventId).length > 0,
    `a receipt for event ${r.eventId} (due ${r.notifyAt.toISOString()})`,
    r.notifyAt.getTime() + timeoutMs - Date.now(),
  );
  const first = receipts.forEvent(r.eventId)[0];
  assert.ok(first);
  return first;
}

function assertOnTime(r: CreatedReminder, receivedAt: number, deliveredAt: Date) {
  const due = r.notifyAt.getTime();
  assert.ok(
    deliveredAt.getTime() >= due && receivedAt >= due,
    `delivered early: due ${iso(due)}, delivered ${deliveredAt.toISOString()}, receipt seen ${iso(receivedAt)}`,
  );
  assert.ok(
    receivedAt <= due + ON_TIME_MS,
    `late: due ${iso(due)}, receipt seen ${iso(receivedAt)} (${receivedAt - due} ms after; allowed ${ON_TIME_MS})`,
  );
}

describe("reminders end to end", { timeout: 175_000 }, () => {
  describe("independent cases, concurrently", { concurrency: true }, () => {
    e2e("a reminder arrives on time, exactly once", 20_000, async (t) => {
      const u = user("on-time");
      const r = await createReminder(harness().client(u), u, Date.now() + 3000);
      const receipt = await firstReceipt(r);
      assert.deepEqual(
        {
          notificationId: receipt.notificationId,
          eventId: receipt.eventId,
          userId: receipt.userId,
        },
        { notificationId: id(r), eventId: r.eventId, userId: u },
      );
      assertOnTime(r, receipt.receivedAt, receipt.deliveredAt);
      t.diagnostic(`receipt seen ${receipt.receivedAt - r.notifyAt.getTime()} ms after notifyAt`);
      await sleep(QUIET_MS);
      assert.equal(harness().receipts.forEvent(r.eventId).length, 1, "delivered more than once");
      const [row] = await harness().sql<{ pending: boolean }[]>`
        select exists(select from reminders where event_id = e.id) as pending
        from events e where id = ${r.eventId}`;
      assert.equal(row?.pending, false, "marked sent in the database (its reminders row deleted)");
    });

    e2e("an occurrence of a series gets its reminder on time, exactly once", 25_000, async () => {
      const u = user("occurrence");
      // Daily from about an hour from now (a whole second, as series need),
      // reminded an hour before: the first occurrence's reminder is due in ~4 s.
      const startMs = Math.ceil((Date.now() + 4000) / 1000) * 1000 + 3_600_000;
      const { event: series } = await harness()
        .client(u)
        .createEvent({
          event: {
            ...eventMessage({
              startMs,
              durationMs: 1_800_000,
              notifyBeforeMs: 3_600_000,
              title: "daily",
            }),
            recurrence: ["RRULE:FREQ=DAILY;COUNT=3"],
            timeZone: "UTC",
          },
        });
      assert.ok(series);
      const stamp = iso(startMs)
        .replace(/\.\d{3}Z$/, "Z")
        .replaceAll("-", "")
        .replaceAll(":", "");
      const r: CreatedReminder = {
        eventId: `${series.id}_${stamp}`,
        userId: u,
        startMs,
        durationMs: 1_800_000,
        notifyBeforeMs: 3_600_000,
        notifyAt: new Date(startMs - 3_600_000),
        version: series.version,
      };
      const receipt = await firstReceipt(r);
      assert.equal(receipt.notificationId, id(r));
      assertOnTime(r, receipt.receivedAt, receipt.deliveredAt);
      await sleep(QUIET_MS);
      assert.equal(harness().receipts.forEvent(r.eventId).length, 1, "delivered more than once");
      // The next occurrence's reminder is a day away: nothing else arrived.
      const others = harness().receipts.receipts.filter(
        (x) => x.userId === u && x.eventId !== r.eventId,
      );
      assert.deepEqual(others, []);
    });

    e2e(
      "a malformed message is dead-lettered and the sender keeps delivering",
      30_000,
      async () => {
        const { names, runId, sender, receipts } = harness();
        const senderPid = sender.pid;
        const bad = [
          { messageId: `${runId}.bad-shape`, body: '{"nope":1}' },
          { messageId: `${runId}.not-json`, body: "not json" },
        ];
        await harness().withChannel(async (channel) => {
          for (const m of bad) {
            channel.publish(
              names.notificationsExchange,
              NOTIFICATION_ROUTING_KEY,
              Buffer.from(m.body),
              {
                persistent: true,
                messageId: m.messageId,
                contentType: "application/json",
              },
            );
          }
          await channel.waitForConfirms();
        });

        const dead = new Map<string, GetMessage>();
        await harness().withChannel(async (channel) => {
          await until(
            async () => {
              for (;;) {
                const m = await channel.get(names.deadLetterQueue, { noAck: true });
                if (m === false) break;
                dead.set(String(m.properties.messageId), m);
              }
              return bad.every((b) => dead.has(b.messageId));
            },
            () =>
              `both malformed messages in ${names.deadLetterQueue} (have: ${[...dead.keys()].join(", ")})`,
            15_000,
            100,
          );
        });
        assert.deepEqual(
          [...dead.keys()].sort(),
          bad.map((b) => b.messageId).sort(),
          "only ours are dead",
        );
        for (const b of bad) {
          const m = dead.get(b.messageId);
          assert.equal(m?.content.toString("utf8"), b.body, "dead-lettered unchanged");
          const deaths = m?.properties.headers?.["x-death"] as
            | { reason: string; queue: string }[]
            | undefined;
          assert.equal(deaths?.[0]?.reason, "rejected");
          assert.equal(deaths?.[0]?.queue, names.notificationsQueue);
        }
        const logged = sender
          .logged("malformed notification: dead-lettering it")
          .map((l) => l.messageId)
          .sort();
        assert.deepEqual(
          logged,
          bad.map((b) => b.messageId).sort(),
          "each logged once by the sender",
        );
        assert.equal(receipts.malformed.length, 0);

        // Still the same process, and still delivering.
        assert.ok(sender.alive(), "the sender died");
        assert.equal(sender.pid, senderPid);
        const u = user("after-malformed");
        const r = await createReminder(harness().client(u), u, Date.now() + 1500);
        const receipt = await firstReceipt(r);
        assert.equal(receipt.notificationId, id(r));
      },
    );

    e2e("an event moved later is reminded at its new time only", 30_000, async (t) => {
      const u = user("moved");
      const client = harness().client(u);
      const r = await createReminder(client, u, Date.now() + 3000);
      const { event } = await client.updateEvent({
        event: eventMessage({
          id: r.eventId,
          startMs: r.startMs + 5000,
          durationMs: r.durationMs,
          notifyBeforeMs: r.notifyBeforeMs,
        }),
        expectedVersion: r.version,
      });
      assert.ok(
        Date.now() < r.notifyAt.getTime(),
        "the update came before the old reminder was due",
      );
      assert.equal(event?.version, r.version + 1);
      const moved: CreatedReminder = {
        ...r,
        startMs: r.startMs + 5000,
        notifyAt: new Date(r.notifyAt.getTime() + 5000),
      };

      const receipt = await firstReceipt(moved);
      assert.equal(receipt.notificationId, id(moved), "the id is computed from the new notifyAt");
      assertOnTime(moved, receipt.receivedAt, receipt.deliveredAt);
      t.diagnostic(
        `receipt seen ${receipt.receivedAt - moved.notifyAt.getTime()} ms after the new notifyAt`,
      );
      await sleep(QUIET_MS);
      const all = harness().receipts.forEvent(r.eventId);
      assert.equal(all.length, 1, `expected one receipt, got ${JSON.stringify(all)}`);
      assert.equal(harness().receipts.forNotification(id(r)).length, 0, "never at the old time");
    });

    e2e("a deleted event is never reminded", 20_000, async () => {
      const u = user("deleted");
      const client = harness().client(u);
      const r = await createReminder(client, u, Date.now() + 2000);
      await client.deleteEvent({ id: r.eventId });
      assert.ok(Date.now() < r.notifyAt.getTime(), "deleted before the reminder was due");
      await sleepUntil(r.notifyAt.getTime() + 3000);
      assert.deepEqual(harness().receipts.forEvent(r.eventId), []);
      const rows = await harness().sql`select 1 from events where id = ${r.eventId}`;
      assert.equal(rows.length, 0);
    });
  });

  describe("cases that disturb the deployment, one at a time", { concurrency: 1 }, () => {
    e2e(
      "a scheduler killed between publish and mark: published again, same id",
      60_000,
      async (t) => {
        const hs = harness();
        const u = user("killed");
        const r = await createReminder(hs.client(u), u, Date.now() + 1500);

        // Hold SHARE on events and reminders: the claim's FOR UPDATE (ROW
        // SHARE) still claims the row and the reminder is published, but the
        // DELETE marking it sent (ROW EXCLUSIVE) waits.
        const hold = await holdWrites(hs);
        try {
          assert.ok(
            Date.now() < r.notifyAt.getTime(),
            "the lock was taken before the reminder was due",
          );

          const first = await firstReceipt(r);
          assert.equal(first.notificationId, id(r));
          // The scheduler is stuck on marking it sent.
          await until(
            async () => {
              const [row] = await hs.sql<{ n: number }[]>`
              select count(*)::int as n from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'
                and query ilike '%delete from reminders%'`;
              return (row?.n ?? 0) > 0;
            },
            "the scheduler's mark (DELETE) to wait on the lock",
            5000,
          );

          const killed = hs.scheduler;
          await killed.crash();
          assert.equal((await killed.exited).signal, "SIGKILL");
        } finally {
          await hold.release();
        }

        const [row] = await hs.sql<{ sent: boolean }[]>`
        select not exists(select from reminders where event_id = e.id) as sent
        from events e where id = ${r.eventId}`;
        // A new scheduler first, so that later tests have one whatever happens here.
        hs.scheduler = await hs.start("scheduler");
        const restartedAt = Date.now();
        assert.ok(row, "the event is still there");
        assert.equal(row.sent, false, "the killed scheduler's mark was rolled back");

        await until(
          () => hs.receipts.forEvent(r.eventId).length >= 2,
          "the reminder to be published again by the new scheduler",
          20_000,
        );
        t.diagnostic(`republished ${Date.now() - restartedAt} ms after the new scheduler was up`);
        // Logged after its commit, so possibly after the receipt arrived.
        await hs.scheduler.waitForLog(
          (l) => l.msg === "reminders dispatched" && Number(l.sent) >= 1,
          "that it published the duplicate (not a redelivery by RabbitMQ)",
          5000,
        );
        const second = hs.receipts.forEvent(r.eventId)[1];
        assert.equal(
          second?.notificationId,
          id(r),
          "the duplicate carries the same notificationId",
        );
        await sleep(QUIET_MS);
        assert.equal(hs.receipts.forEvent(r.eventId).length, 2, "published exactly twice");
        const [after] = await hs.sql<{ sent: boolean }[]>`
        select not exists(select from reminders where event_id = e.id) as sent
        from events e where id = ${r.eventId}`;
        assert.equal(after?.sent, true, "marked sent by the new scheduler");
      },
    );

    e2e("a RabbitMQ restart loses no reminder and needs no process restart", 150_000, async (t) => {
      const hs = harness();
      const processes = [hs.api, hs.scheduler, hs.sender];
      const pids = processes.map((p) => p.pid);
      const u = user("restart");
      const client = hs.client(u);
      const t0 = Date.now();
      const N = 20;
      const reminders = await Promise.all(
        Array.from({ length: N }, (_, i) => createReminder(client, u, t0 + 1500 + i * 700, i)),
      );
      const ids = new Set(reminders.map(id));
      const delivered = () =>
        new Set(
          hs.receipts.receipts
            .filter((x) => ids.has(x.notificationId))
            .map((x) => x.notificationId),
        );

      await sleep(3000); // a few delivered before the outage, the rest during and after
      const beforeOutage = delivered().size;
      const outage = Date.now();
      rabbitStopped = true;
      const unhealthySeen = new Set<string>();
      try {
        await rabbitmqctl("stop_app");
        // While it is down, both roles that need it say so on /healthz.
        const downUntil = Date.now() + 3000;
        while (Date.now() < downUntil) {
          for (const p of [hs.scheduler, hs.sender]) {
            if ((await p.health()) === 503) unhealthySeen.add(p.label);
          }
          await sleep(200);
        }
      } finally {
        await rabbitmqctl("start_app");
        await rabbitmqctl("await_startup");
        rabbitStopped = false;
      }
      const back = Date.now();
      t.diagnostic(
        `RabbitMQ down from +${outage - t0} ms to +${back - t0} ms; ${beforeOutage} of ${N} delivered before`,
      );

      await until(
        () => delivered().size === N,
        () => `all ${N} reminders (have ${delivered().size})`,
        t0 + 60_000 - Date.now(),
        100,
      );
      t.diagnostic(`all ${N} delivered by +${Date.now() - t0} ms`);
      await sleep(QUIET_MS);

      const counts = new Map<string, number>();
      for (const x of hs.receipts.receipts) {
        if (ids.has(x.notificationId))
          counts.set(x.notificationId, (counts.get(x.notificationId) ?? 0) + 1);
      }
      const duplicates = [...counts].filter(([, n]) => n > 1);
      const lost = [...ids].filter((x) => !counts.has(x));
      t.diagnostic(
        `duplicates: ${duplicates.length}${duplicates.length ? ` (${duplicates.map(([x, n]) => `${x}×${n}`).join(", ")})` : ""}; lost: ${lost.length}`,
      );
      assert.deepEqual(lost, [], "lost reminders");

      for (const [i, p] of processes.entries()) {
        assert.ok(p.alive(), `${p.label} died in the restart`);
        assert.equal(p.pid, pids[i]);
      }
      for (const p of [hs.scheduler, hs.sender]) {
        assert.ok(
          p.logged("reconnected to RabbitMQ").length > 0,
          `${p.label} logged its reconnect`,
        );
        assert.ok(unhealthySeen.has(p.label), `${p.label} /healthz answered 503 during the outage`);
        await until(
          async () => (await p.health()) === 200,
          `${p.label} /healthz to be 200 again`,
          10_000,
          200,
        );
      }
      const [row] = await hs.sql<{ n: number }[]>`
        select count(*)::int as n from events e
        where user_id = ${u}
          and not exists(select from reminders r where r.user_id = e.user_id and r.event_id = e.id)`;
      assert.equal(row?.n, N, "all marked sent");
      // The api never needed RabbitMQ, and still answers.
      const { event } = await client.getEvent({ id: reminders[0]?.eventId ?? "" });
      assert.equal(event?.id, reminders[0]?.eventId);
    });

    e2e("two schedulers at once: each reminder published once", 60_000, async (t) => {
      const hs = harness();
      const second = await hs.start("scheduler");
      const sentBy = (p: typeof second) =>
        p.logged("reminders dispatched").reduce((sum, l) => sum + Number(l.sent ?? 0), 0);
      const firstBefore = sentBy(hs.scheduler);
      try {
        const u = user("two-schedulers");
        const client = hs.client(u);
        const N = 30;
        const base = Date.now() + 1500;
        const reminders = await Promise.all(
          Array.from({ length: N }, (_, i) => createReminder(client, u, base + i * 50, i)),
        );
        assert.ok(Date.now() < base, "all created before the first was due");
        const ids = new Set(reminders.map(id));
        const ours = () => hs.receipts.receipts.filter((x) => ids.has(x.notificationId));
        await until(
          () => new Set(ours().map((x) => x.notificationId)).size === N,
          () =>
            `${N} distinct receipts (have ${new Set(ours().map((x) => x.notificationId)).size})`,
          base + 15_000 - Date.now(),
        );
        await sleep(QUIET_MS);
        const got = ours().map((x) => x.notificationId);
        const twice = got.filter((x, i) => got.indexOf(x) !== i);
        assert.deepEqual(twice, [], "a notificationId arrived twice");
        assert.equal(got.length, N);

        t.diagnostic(
          `published by ${hs.scheduler.label}: ${sentBy(hs.scheduler) - firstBefore}, by ${second.label}: ${sentBy(second)}`,
        );
      } finally {
        const ended = await second.stop();
        assert.deepEqual(
          ended,
          { code: 0, signal: null },
          "the second scheduler stopped cleanly on SIGTERM",
        );
      }
    });

    e2e(
      "events that ended more than the retention ago are deleted, younger ones kept",
      60_000,
      async () => {
        const hs = harness();
        const u = user("cleanup");
        const client = hs.client(u);
        const monthsAgo = (months: number) => {
          const d = new Date();
          d.setUTCMonth(d.getUTCMonth() - months);
          return d.getTime();
        };
        const HALF_HOUR = 1_800_000;
        const create = async (endMs: number) => {
          const { event } = await client.createEvent({
            event: eventMessage({
              startMs: endMs - HALF_HOUR,
              durationMs: HALF_HOUR,
              title: "past",
            }),
          });
          assert.ok(event);
          return event.id;
        };
        const old = await create(monthsAgo(13));
        const recent = await create(monthsAgo(11));

        // Every scheduler cleans up at start (RETENTION defaults to 365d).
        const cleaner = await hs.start("scheduler");
        try {
          await cleaner.waitForLog(
            (l) => l.msg === "old events deleted",
            '"old events deleted"',
            15_000,
          );
          const rows = await hs.sql<{ id: string }[]>`
          select id from events where user_id = ${u} order by end_time`;
          assert.deepEqual(
            rows.map((row) => row.id),
            [recent],
            "the 13-month-old event is gone, the 11-month-old one stays",
          );
          await assert.rejects(client.getEvent({ id: old }), (error: unknown) => {
            assert.ok(error instanceof ConnectError);
            assert.equal(error.code, Code.NotFound);
            return true;
          });
          assert.equal((await client.getEvent({ id: recent })).event?.id, recent);
        } finally {
          await cleaner.stop();
        }
      },
    );

    e2e("nothing else was dead-lettered, and every receipt was well-formed", 10_000, async (t) => {
      const hs = harness();
      const count = await hs.withChannel(
        async (channel) => (await channel.checkQueue(hs.names.deadLetterQueue)).messageCount,
      );
      assert.equal(count, 0, `unexpected messages in ${hs.names.deadLetterQueue}`);
      assert.deepEqual(hs.receipts.malformed, []);
      for (const p of [hs.api, hs.scheduler, hs.sender]) {
        assert.ok(p.alive(), `${p.label} is alive at the end`);
      }
      // Error lines other than the two malformed messages mean something went wrong unnoticed.
      const expected = new Set(["malformed notification: dead-lettering it"]);
      const errors = hs.processes.flatMap((p) =>
        p.logs
          .filter(
            (l) => (l.level === "error" || l.level === "fatal") && !expected.has(String(l.msg)),
          )
          .map((l) => `${p.label}: ${JSON.stringify(l)}`),
      );
      assert.deepEqual(errors, [], "unexpected error lines in the logs");
      for (const p of hs.processes) {
        const warnings = new Map<string, number>();
        for (const l of p.logs.filter((l) => l.level === "warn")) {
          warnings.set(String(l.msg), (warnings.get(String(l.msg)) ?? 0) + 1);
        }
        if (warnings.size > 0) {
          t.diagnostic(
            `${p.label} warnings: ${[...warnings].map(([m, n]) => `${n}× "${m}"`).join(", ")}`,
          );
        }
      }
    });
  });
});
