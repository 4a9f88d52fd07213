// Reliability: concurrency, against one `cal_service api` child process on a
// real Postgres store (a fresh database on DATABASE_URL; embedded PGlite when
// it is unset). Crowds of clients, protocols taken in turn (Connect JSON and
// binary over HTTP/1.1 and h2c, gRPC, gRPC-Web), race on the same event or
// the same busy time, all requests of a round sent in the same tick:
//
// - Versioned updates: every client reads the event and updates it with
//   expected_version = what it read, appending its token to the description;
//   ABORTED means "someone was first", and it reads again. Every version has
//   exactly one winner (winners' versions are 2, 3, ... with no gap or
//   repeat), the final description holds every winner's token in version
//   order (no lost update), and losers got ABORTED and nothing else.
// - Blind updates (no expected_version): all succeed, the versions they get
//   are distinct and consecutive, and the last one's content is what stays.
// - Overlapping creates: exactly one wins, the others get FAILED_PRECONDITION
//   naming the winner, and a list of the day shows the winner alone.
// - Same-id creates: identical content, all get the one stored event; other
//   content, one wins and the rest get ALREADY_EXISTS.
// - Overlapping moves (UpdateEvent onto the same busy time, with and without
//   expected_version, also racing creates into it): one winner, the others
//   FAILED_PRECONDITION, every loser's event unchanged.
// - Deletes racing deletes and updates: one delete wins, the rest NOT_FOUND;
//   the event is gone afterwards.
// - Creates and moves into a busy time while its blocker is deleted: at most
//   one wins (only after the delete), every loser's FAILED_PRECONDITION names
//   an event that really was in the way.
// - Series against single events: creates of endless weekly series racing
//   creates of single events on a later occurrence, and moves of one
//   occurrence (with expected_version) racing creates onto the same time:
//   one winner each round.
// - The same id and busy time for many users at once: ids and busy time are
//   per user, so all succeed, each user seeing only their own.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import {
  assertNoServerErrors,
  h1Get,
  type ServiceUnderTest,
  startService,
  Tally,
} from "./harness.js";
import {
  type Answer,
  answer,
  as,
  type Calendar,
  crowdClient,
  describeAnswer,
  PROTOCOLS,
} from "./load_clients.js";

/** Clients in every race. */
const CLIENTS = 32;
/** Updates each client must win in the versioned race. */
const WINS_EACH = 5;
/** Rounds of each busy-time race. */
const ROUNDS = 8;

const RUN = randomBytes(3).toString("hex");
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const tally = new Tally("concurrency");

let svc: ServiceUnderTest;
let crowd: { client: Calendar; protocol: string }[] = [];

before(async () => {
  svc = await startService();
  crowd = Array.from({ length: CLIENTS }, (_, i) => crowdClient(svc.url, i));
  console.log(
    `# api at ${svc.url} (pid ${svc.pid}) on ${svc.storage}; ${CLIENTS} clients over ${PROTOCOLS.length} protocols`,
  );
});

after(async () => {
  tally.publish("concurrency");
  await svc?.stop();
});

/** Opens every client's connection, so that a race's requests leave together. */
async function warmUp(user: string): Promise<void> {
  const results = await Promise.all(
    crowd.map(({ client }) => answer(client.listDayEvents({ date: "2031-01-01" }, as(user)))),
  );
  for (const [i, result] of results.entries()) {
    assert.ok(result.ok, `warm-up over ${crowd[i]?.protocol}: ${describeAnswer(result)}`);
  }
}

type EventInit = MessageInitShape<typeof EventSchema>;

function eventAt(startMs: number, durationMs: number, title: string, id = ""): EventInit {
  return {
    id,
    title,
    startTime: timestampFromMs(startMs),
    duration: durationFromMs(durationMs),
  };
}

/** The user-chosen fields of a stored event, for an update that keeps them. */
function fieldsOf(event: Event): EventInit {
  return {
    id: event.id,
    title: event.title,
    startTime: event.startTime,
    duration: event.duration,
    description: event.description,
    notifyBefore: event.notifyBefore,
  };
}

function mustGet<T>(result: Answer<T>, what: string): T {
  if (!result.ok) assert.fail(`${what}: ${describeAnswer(result)}`);
  return result.value;
}

/** The event a successful create/get/update response carries. */
function eventOf(response: { event?: Event }, what: string): Event {
  assert.ok(response.event, `${what}: the response has no event`);
  return response.event;
}

/** The event of a call that must succeed. */
async function eventFrom(call: Promise<{ event?: Event }>, what: string): Promise<Event> {
  return eventOf(mustGet(await answer(call), what), what);
}

function firstClient(): Calendar {
  const [first] = crowd;
  assert.ok(first, "no clients");
  return first.client;
}

/** Ids of the user's events on `date` (UTC), as the first client lists them. */
async function listDay(user: string, date: string): Promise<Event[]> {
  const client = firstClient();
  return mustGet(
    await answer(client.listDayEvents({ date, timeZone: "UTC" }, as(user))),
    `ListDayEvents ${date}`,
  ).events;
}

/** "2031-01-05" for day `n` (0-based) counted from `first`. */
function dayOf(firstMs: number, n: number): { date: string; startMs: number } {
  const startMs = firstMs + n * 24 * HOUR;
  return { date: new Date(startMs).toISOString().slice(0, 10), startMs };
}

describe("concurrency", () => {
  it("racing UpdateEvent with expected_version: one winner per version, no lost update", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-versioned`;
    await warmUp(user);
    const [first] = crowd;
    assert.ok(first);
    const created = await eventFrom(
      first.client.createEvent(
        { event: eventAt(Date.UTC(2031, 0, 1, 9), HOUR, "Versioned race") },
        as(user),
      ),
      "CreateEvent",
    );

    const wins: { token: string; version: number }[] = [];
    const unexpected: string[] = [];
    let attempts = 0;
    let conflicts = 0;
    // Each client stops after this many attempts: a livelock fails the case
    // instead of hanging it.
    const maxAttempts = WINS_EACH * CLIENTS * 4;
    await Promise.all(
      crowd.map(async ({ client, protocol }, i) => {
        let won = 0;
        for (let tries = 0; won < WINS_EACH; tries++) {
          if (tries >= maxAttempts) {
            unexpected.push(`${protocol} client ${i}: ${tries} attempts, only ${won} won`);
            return;
          }
          const read = await answer(client.getEvent({ id: created.id }, as(user)));
          if (!read.ok) {
            unexpected.push(`${protocol} GetEvent: ${describeAnswer(read)}`);
            return;
          }
          const seen = eventOf(read.value, "GetEvent");
          const token = `c${i}.${won}`;
          const description = seen.description ? `${seen.description} ${token}` : token;
          attempts++;
          const result = await answer(
            client.updateEvent(
              { event: { ...fieldsOf(seen), description }, expectedVersion: seen.version },
              as(user),
            ),
          );
          if (result.ok) {
            const stored = eventOf(result.value, "UpdateEvent");
            if (stored.version !== seen.version + 1 || stored.description !== description) {
              unexpected.push(
                `${protocol} UpdateEvent from version ${seen.version} answered version ${stored.version}, description ends ${JSON.stringify(stored.description?.slice(-20))}`,
              );
            }
            wins.push({ token, version: stored.version });
            won++;
            tally.record("versioned update race: attempts answered OK or ABORTED", true);
          } else if (result.code === Code.Aborted) {
            conflicts++;
            // The message names the stored version: it must be newer than what we read.
            const stored = /stored version is (\d+)/.exec(result.message)?.[1];
            const sane = stored === undefined || Number(stored) > seen.version;
            if (!sane) unexpected.push(`${protocol} ABORTED with ${result.message}`);
            tally.record("versioned update race: attempts answered OK or ABORTED", sane);
          } else {
            unexpected.push(`${protocol} UpdateEvent: ${describeAnswer(result)}`);
            tally.record(
              "versioned update race: attempts answered OK or ABORTED",
              false,
              describeAnswer(result),
            );
          }
        }
      }),
    );

    const final = await eventFrom(first.client.getEvent({ id: created.id }, as(user)), "GetEvent");
    const byVersion = new Map<number, string[]>();
    for (const win of wins)
      byVersion.set(win.version, [...(byVersion.get(win.version) ?? []), win.token]);
    // One row per version: exactly one winner; one per winner: its change is kept.
    for (let version = 2; version <= final.version; version++) {
      const tokens = byVersion.get(version) ?? [];
      tally.record(
        "versioned update race: versions with exactly one winner",
        tokens.length === 1,
        tokens.length === 1 ? undefined : `version ${version}: ${tokens.length} winners`,
      );
    }
    tally.note(
      "versioned update race: versions with exactly one winner",
      `${final.version - 1} versions, ${wins.length} wins, ${conflicts} ABORTED of ${attempts} attempts`,
    );
    const kept = (final.description ?? "").split(" ").filter(Boolean);
    const inOrder = [...wins].sort((a, b) => a.version - b.version).map((win) => win.token);
    const lost = inOrder.filter((token) => !kept.includes(token));
    for (const [at, token] of inOrder.entries()) {
      tally.record("versioned update race: winners' changes kept, in order", kept[at] === token);
    }
    console.log(
      `# versioned race: ${wins.length} wins, ${conflicts} ABORTED of ${attempts} attempts; final version ${final.version}`,
    );

    assert.deepEqual(unexpected.slice(0, 10), [], "unexpected answers");
    assert.equal(wins.length, CLIENTS * WINS_EACH);
    assert.deepEqual(
      wins.map((win) => win.version).sort((a, b) => a - b),
      Array.from({ length: wins.length }, (_, i) => i + 2),
      "winners' versions must be distinct and consecutive from 2",
    );
    assert.equal(final.version, wins.length + 1, "the final version counts every update");
    assert.deepEqual(lost, [], "winners' changes missing from the final state");
    assert.deepEqual(
      kept,
      inOrder,
      "the final description is every winner's token, in version order",
    );
  });

  it("racing UpdateEvent without expected_version: every update applies, versions consecutive", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-blind`;
    await warmUp(user);
    const [first] = crowd;
    assert.ok(first);
    const created = await eventFrom(
      first.client.createEvent(
        { event: eventAt(Date.UTC(2031, 0, 1, 9), HOUR, "Blind race") },
        as(user),
      ),
      "CreateEvent",
    );
    const applied: { description: string; version: number }[] = [];
    const unexpected: string[] = [];
    for (let round = 0; round < WINS_EACH; round++) {
      const results = await Promise.all(
        crowd.map(({ client }, i) => {
          const description = `round ${round} client ${i}`;
          const event = {
            ...eventAt(Date.UTC(2031, 0, 1, 9), HOUR, `Blind ${round}.${i}`, created.id),
            description,
          };
          return answer(client.updateEvent({ event }, as(user))).then((result) => ({
            result,
            description,
            protocol: crowd[i]?.protocol,
          }));
        }),
      );
      for (const { result, description, protocol } of results) {
        const fine = result.ok && result.value.event?.description === description;
        tally.record(
          "blind update race: every update OK",
          fine,
          fine ? undefined : describeAnswer(result),
        );
        if (!result.ok) unexpected.push(`${protocol}: ${describeAnswer(result)}`);
        else applied.push({ description, version: result.value.event?.version ?? 0 });
      }
    }
    const final = await eventFrom(first.client.getEvent({ id: created.id }, as(user)), "GetEvent");
    const versions = applied.map((a) => a.version).sort((a, b) => a - b);
    const consecutive = versions.every((version, i) => version === i + 2);
    const last = applied.find((a) => a.version === final.version);
    tally.record(
      "blind update race: versions distinct and consecutive, last write stays",
      consecutive &&
        final.version === applied.length + 1 &&
        last?.description === final.description,
    );
    assert.deepEqual(unexpected.slice(0, 10), [], "unexpected answers");
    assert.ok(consecutive, `versions are not 2..${applied.length + 1}: ${versions.join(",")}`);
    assert.equal(final.version, applied.length + 1);
    assert.equal(final.description, last?.description, "the stored content is the last update's");
  });

  it("racing overlapping creates: one winner, the rest FAILED_PRECONDITION", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-creates`;
    await warmUp(user);
    for (let round = 0; round < ROUNDS; round++) {
      const day = dayOf(Date.UTC(2031, 1, 1), round);
      // Starts within 30 minutes of 09:00, an hour long: every pair overlaps.
      const results = await Promise.all(
        crowd.map(({ client }, i) => {
          const start = day.startMs + 9 * HOUR + ((i * 7) % 30) * MINUTE;
          const id = i % 2 === 0 ? randomUUID() : "";
          return answer(
            client.createEvent(
              { event: eventAt(start, HOUR, `Create race ${round}.${i}`, id) },
              as(user),
            ),
          );
        }),
      );
      const winners = results.filter((r) => r.ok);
      const winner = winners[0]?.ok ? winners[0].value.event?.id : undefined;
      const losersFine = results.filter(
        (r) =>
          !r.ok &&
          r.code === Code.FailedPrecondition &&
          winner !== undefined &&
          r.message.includes(winner),
      ).length;
      const listed = await listDay(user, day.date);
      const fine =
        winners.length === 1 &&
        losersFine === CLIENTS - 1 &&
        listed.length === 1 &&
        listed[0]?.id === winner;
      const odd = results.filter((r) => !(r.ok || r.code === Code.FailedPrecondition));
      tally.record(
        "overlapping create race: one winner, others FAILED_PRECONDITION naming it, list shows it alone",
        fine,
        odd[0] ? describeAnswer(odd[0]) : undefined,
      );
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} creates won`);
      assert.deepEqual(
        odd.map(describeAnswer).slice(0, 5),
        [],
        `round ${round}: losers must get FAILED_PRECONDITION`,
      );
      assert.equal(
        losersFine,
        CLIENTS - 1,
        `round ${round}: every loser's message names ${winner}`,
      );
      assert.deepEqual(
        listed.map((e) => e.id),
        [winner],
        `round ${round}: the day lists the winner alone`,
      );
    }
  });

  it("racing series against single events onto one busy time: one winner, the rest FAILED_PRECONDITION", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-series`;
    await warmUp(user);
    for (let round = 0; round < ROUNDS; round++) {
      // Winners are endless weekly series, so each round has a user of its own.
      const roundUser = `${user}-${round}`;
      if (round > 0) await warmUp(roundUser);
      const day = dayOf(Date.UTC(2031, 5, 2), 0); // a Monday
      const clash = dayOf(day.startMs, 7 * 5); // five weeks on, same weekday
      // Even clients create an endless weekly series from `day`, odd ones a
      // single event on `clash`; starts within 30 minutes of 09:00, an hour
      // long: every pair overlaps (the series on its sixth occurrence).
      const results = await Promise.all(
        crowd.map(({ client }, i) => {
          const offset = 9 * HOUR + ((i * 7) % 30) * MINUTE;
          const event: EventInit =
            i % 2 === 0
              ? {
                  ...eventAt(day.startMs + offset, HOUR, `Series race ${round}.${i}`),
                  recurrence: ["RRULE:FREQ=WEEKLY"],
                  timeZone: "UTC",
                }
              : eventAt(clash.startMs + offset, HOUR, `Single race ${round}.${i}`);
          return answer(client.createEvent({ event }, as(roundUser)));
        }),
      );
      const winners = results.filter((r) => r.ok);
      const winner = winners[0]?.ok ? winners[0].value.event?.id : undefined;
      const losersFine = results.filter(
        (r) =>
          !r.ok &&
          r.code === Code.FailedPrecondition &&
          winner !== undefined &&
          r.message.includes(winner),
      ).length;
      const listed = await listDay(roundUser, clash.date);
      const listedWinner = listed.map((e) => e.recurringEventId || e.id);
      const fine =
        winners.length === 1 &&
        losersFine === CLIENTS - 1 &&
        listedWinner.length === 1 &&
        listedWinner[0] === winner;
      const odd = results.filter((r) => !(r.ok || r.code === Code.FailedPrecondition));
      tally.record(
        "series vs single create race: one winner, others FAILED_PRECONDITION naming it",
        fine,
        odd[0] ? describeAnswer(odd[0]) : undefined,
      );
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} creates won`);
      assert.deepEqual(odd.map(describeAnswer).slice(0, 5), [], `round ${round}: odd answers`);
      assert.equal(losersFine, CLIENTS - 1, `round ${round}: every loser names ${winner}`);
      assert.deepEqual(listedWinner, [winner], `round ${round}: the day lists the winner alone`);
    }
  });

  it("racing moves of a series' occurrence against creates onto one busy time: one winner", {
    timeout: 10 * 60_000,
  }, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const user = `race-${RUN}-occurrence-${round}`;
      await warmUp(user);
      const day = dayOf(Date.UTC(2031, 8, 1), 0); // a Monday
      const series = await eventFrom(
        firstClient().createEvent(
          {
            event: {
              ...eventAt(day.startMs + 8 * HOUR, HOUR, `Weekly ${round}`),
              recurrence: ["RRULE:FREQ=WEEKLY"],
              timeZone: "UTC",
            },
          },
          as(user),
        ),
        "create series",
      );
      // The third occurrence moves to Wednesday 14:00; half the clients
      // create single events there instead.
      const third = dayOf(day.startMs, 14);
      const occurrenceId = `${series.id}_${new Date(third.startMs + 8 * HOUR)
        .toISOString()
        .replace(/\.\d{3}Z$/, "Z")
        .replaceAll("-", "")
        .replaceAll(":", "")}`;
      const target = dayOf(third.startMs, 2);
      const results = await Promise.all(
        crowd.map(({ client }, i) => {
          const start = target.startMs + 14 * HOUR + ((i * 7) % 30) * MINUTE;
          return i % 2 === 0
            ? answer(
                client.updateEvent(
                  {
                    event: eventAt(start, HOUR, `Moved ${round}.${i}`, occurrenceId),
                    // Without it, moves of one occurrence all apply in turn,
                    // as blind updates of one event do.
                    expectedVersion: series.version,
                  },
                  as(user),
                ),
              )
            : answer(
                client.createEvent(
                  { event: eventAt(start, HOUR, `Single ${round}.${i}`) },
                  as(user),
                ),
              );
        }),
      );
      const winners = results.filter((r) => r.ok);
      // Losing moves get ABORTED once another move changed the occurrence.
      const odd = results.filter(
        (r) => !(r.ok || r.code === Code.FailedPrecondition || r.code === Code.Aborted),
      );
      const listed = await listDay(user, target.date);
      const fine = winners.length === 1 && odd.length === 0 && listed.length === 1;
      tally.record(
        "occurrence move vs create race: one winner, others FAILED_PRECONDITION or ABORTED",
        fine,
        odd[0] ? describeAnswer(odd[0]) : undefined,
      );
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} writes won`);
      assert.deepEqual(odd.map(describeAnswer).slice(0, 5), [], `round ${round}: odd answers`);
      assert.equal(listed.length, 1, `round ${round}: the day lists one event`);
    }
  });

  it("racing creates of one id: same content all get the stored event; other content ALREADY_EXISTS", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-same-id`;
    await warmUp(user);
    for (let round = 0; round < ROUNDS; round++) {
      const day = dayOf(Date.UTC(2031, 2, 1), round);
      const id = randomUUID();
      const differing = round % 2 === 1;
      const results = await Promise.all(
        crowd.map(({ client }, i) =>
          answer(
            client.createEvent(
              {
                event: eventAt(
                  day.startMs + 10 * HOUR,
                  HOUR,
                  differing ? `Same id ${round}.${i}` : `Same id ${round}`,
                  id,
                ),
              },
              as(user),
            ),
          ),
        ),
      );
      const listed = await listDay(user, day.date);
      const ok = results.flatMap((r) => (r.ok && r.value.event ? [r.value.event] : []));
      const odd = results.filter((r) => !(r.ok || (differing && r.code === Code.AlreadyExists)));
      if (differing) {
        const fine =
          ok.length === 1 &&
          odd.length === 0 &&
          listed.length === 1 &&
          listed[0]?.title === ok[0]?.title;
        tally.record("same-id create race, other content: one winner, others ALREADY_EXISTS", fine);
        assert.equal(ok.length, 1, `round ${round}: ${ok.length} creates won`);
      } else {
        const createdAt = new Set(ok.map((e) => (e.createdAt ? timestampMs(e.createdAt) : 0)));
        const fine =
          ok.length === CLIENTS &&
          createdAt.size === 1 &&
          ok.every((e) => e.version === 1 && e.id === id) &&
          listed.length === 1;
        tally.record(
          "same-id create race, same content: all answered with the one stored event",
          fine,
        );
        assert.equal(
          ok.length,
          CLIENTS,
          `round ${round}: every repeat of an identical create succeeds`,
        );
        assert.equal(createdAt.size, 1, `round ${round}: all answers are the same stored event`);
        assert.ok(ok.every((e) => e.version === 1 && e.id === id));
      }
      assert.deepEqual(
        odd.map(describeAnswer).slice(0, 5),
        [],
        `round ${round}: unexpected answers`,
      );
      assert.deepEqual(
        listed.map((e) => e.id),
        [id],
        `round ${round}: the day lists one event`,
      );
    }
  });

  for (const mix of ["moves", "moves and creates"] as const) {
    it(`racing ${mix} onto one busy time: one winner, the rest FAILED_PRECONDITION, losers unchanged`, {
      timeout: 10 * 60_000,
    }, async () => {
      const user = `race-${RUN}-${mix.replaceAll(" ", "-")}`;
      await warmUp(user);
      const row = `overlapping ${mix} race: one winner, others FAILED_PRECONDITION, losers unchanged`;
      for (let round = 0; round < ROUNDS; round++) {
        const day = dayOf(Date.UTC(2031, mix === "moves" ? 3 : 4, 1), round);
        // Client i's own event sits alone at 00:00 + 40 min * i, 30 minutes
        // long; the target is 22:00 to 23:30, free of all of them.
        const movers = crowd.map((_, i) => mix === "moves" || i % 2 === 0);
        const own: (Event | undefined)[] = await Promise.all(
          crowd.map(async ({ client }, i) => {
            if (!movers[i]) return undefined;
            const start = day.startMs + i * 40 * MINUTE;
            return await eventFrom(
              client.createEvent(
                { event: eventAt(start, 30 * MINUTE, `Own ${round}.${i}`) },
                as(user),
              ),
              "CreateEvent",
            );
          }),
        );
        const results = await Promise.all(
          crowd.map(({ client }, i) => {
            const start = day.startMs + 22 * HOUR + ((i * 7) % 30) * MINUTE;
            const mine = own[i];
            if (!mine) {
              return answer(
                client.createEvent(
                  { event: eventAt(start, HOUR, `Newcomer ${round}.${i}`) },
                  as(user),
                ),
              );
            }
            return answer(
              client.updateEvent(
                {
                  event: eventAt(start, HOUR, `Moved ${round}.${i}`, mine.id),
                  // Half with the version they know (still current), half blind.
                  expectedVersion: i % 4 < 2 ? mine.version : undefined,
                },
                as(user),
              ),
            );
          }),
        );
        const winners = results.flatMap((r) => (r.ok && r.value.event ? [r.value.event] : []));
        const winner = winners[0];
        const odd = results.filter((r) => !(r.ok || r.code === Code.FailedPrecondition));
        const unnamed = results.filter(
          (r) =>
            !r.ok &&
            r.code === Code.FailedPrecondition &&
            !(winner && r.message.includes(winner.id)),
        );
        const listed = await listDay(user, day.date);
        // Every loser's own event is where it was, at version 1.
        const expected = own
          .filter((e): e is Event => e !== undefined && e.id !== winner?.id)
          .map((e) => `${e.id}@${timestampMs(e.startTime ?? timestampFromMs(0))} v1`);
        if (winner)
          expected.push(
            `${winner.id}@${timestampMs(winner.startTime ?? timestampFromMs(0))} v${winner.version}`,
          );
        const actual = listed.map(
          (e) => `${e.id}@${timestampMs(e.startTime ?? timestampFromMs(0))} v${e.version}`,
        );
        const fine =
          winners.length === 1 &&
          odd.length === 0 &&
          unnamed.length === 0 &&
          JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort());
        tally.record(row, fine, odd[0] ? describeAnswer(odd[0]) : undefined);
        assert.equal(winners.length, 1, `round ${round}: ${winners.length} won`);
        assert.deepEqual(
          odd.map(describeAnswer).slice(0, 5),
          [],
          `round ${round}: unexpected answers`,
        );
        assert.deepEqual(
          unnamed.map(describeAnswer).slice(0, 5),
          [],
          `round ${round}: losers must name ${winner?.id}`,
        );
        assert.deepEqual(
          [...actual].sort(),
          [...expected].sort(),
          `round ${round}: the day's events`,
        );
      }
    });
  }

  it("racing deletes and updates of one event: one delete wins, the event is gone", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-delete`;
    await warmUp(user);
    for (let round = 0; round < ROUNDS; round++) {
      const day = dayOf(Date.UTC(2031, 5, 1), round);
      const [first] = crowd;
      assert.ok(first);
      const target = await eventFrom(
        first.client.createEvent(
          { event: eventAt(day.startMs + 12 * HOUR, HOUR, `Doomed ${round}`) },
          as(user),
        ),
        "CreateEvent",
      );
      const deleters = crowd.map((_, i) => round % 2 === 0 || i % 2 === 0);
      const results = await Promise.all(
        crowd.map(({ client }, i) =>
          deleters[i]
            ? answer(client.deleteEvent({ id: target.id }, as(user))).then((r) => ({
                kind: "delete",
                r,
              }))
            : answer(
                client.updateEvent(
                  {
                    event: eventAt(
                      day.startMs + 12 * HOUR,
                      HOUR,
                      `Edited ${round}.${i}`,
                      target.id,
                    ),
                  },
                  as(user),
                ),
              ).then((r) => ({ kind: "update", r })),
        ),
      );
      const deleted = results.filter(({ kind, r }) => kind === "delete" && r.ok).length;
      const odd = results.filter(({ r }) => !(r.ok || r.code === Code.NotFound));
      const updateVersions = results.flatMap(({ kind, r }) =>
        kind === "update" && r.ok && "event" in r.value && r.value.event
          ? [r.value.event.version]
          : [],
      );
      const distinct = new Set(updateVersions).size === updateVersions.length;
      const after = await answer(first.client.getEvent({ id: target.id }, as(user)));
      const gone = !after.ok && after.code === Code.NotFound;
      const fine = deleted === 1 && odd.length === 0 && distinct && gone;
      tally.record(
        "delete race: one delete wins, others NOT_FOUND, updates OK or NOT_FOUND, event gone",
        fine,
        odd[0] ? describeAnswer(odd[0].r) : undefined,
      );
      assert.equal(deleted, 1, `round ${round}: ${deleted} deletes succeeded`);
      assert.deepEqual(
        odd.map(({ r }) => describeAnswer(r)).slice(0, 5),
        [],
        `round ${round}: unexpected answers`,
      );
      assert.ok(
        distinct,
        `round ${round}: updates got the same version: ${updateVersions.join(",")}`,
      );
      assert.ok(gone, `round ${round}: GetEvent after the delete: ${describeAnswer(after)}`);
    }
  });

  it("racing creates and moves into a busy time while its blocker is deleted: at most one winner", {
    timeout: 10 * 60_000,
  }, async () => {
    const user = `race-${RUN}-blocker`;
    await warmUp(user);
    const row =
      "creates and moves racing the blocker's delete: at most one winner, losers name a real conflict";
    let winnersSeen = 0;
    let namedBlocker = 0;
    let namedWinner = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const day = dayOf(Date.UTC(2031, 6, 1), round);
      const [first] = crowd;
      assert.ok(first);
      // The blocker covers 21:30 to 24:00, where every racer aims; client 0
      // deletes it while the others create or move into it. Whoever comes
      // after the delete may win, once.
      const blocker = await eventFrom(
        first.client.createEvent(
          { event: eventAt(day.startMs + 21.5 * HOUR, 2.5 * HOUR, `Blocker ${round}`) },
          as(user),
        ),
        "CreateEvent",
      );
      const own: (Event | undefined)[] = await Promise.all(
        crowd.map(async ({ client }, i) => {
          if (i === 0 || i % 2 === 0) return undefined;
          return await eventFrom(
            client.createEvent(
              {
                event: eventAt(day.startMs + i * 40 * MINUTE, 30 * MINUTE, `Own ${round}.${i}`),
              },
              as(user),
            ),
            "CreateEvent",
          );
        }),
      );
      // The delete leaves 0 to 21 ms after the racers, a different lag each
      // round, so that racers come both before and after it.
      const lagMs = (round * 3) % 22;
      const deleting = new Promise<void>((resolve) => setTimeout(resolve, lagMs)).then(() =>
        answer(first.client.deleteEvent({ id: blocker.id }, as(user))),
      );
      const racing = Promise.all(
        crowd.slice(1).map(({ client }, at) => {
          const i = at + 1;
          const start = day.startMs + 22 * HOUR + ((i * 7) % 30) * MINUTE;
          const mine = own[i];
          if (!mine) {
            return answer(
              client.createEvent(
                { event: eventAt(start, HOUR, `Newcomer ${round}.${i}`) },
                as(user),
              ),
            );
          }
          return answer(
            client.updateEvent(
              {
                event: eventAt(start, HOUR, `Moved ${round}.${i}`, mine.id),
                expectedVersion: i % 4 === 1 ? mine.version : undefined,
              },
              as(user),
            ),
          );
        }),
      );
      const [deletion, racers] = await Promise.all([deleting, racing]);
      const winners = racers.flatMap((r) => (r.ok && r.value.event ? [r.value.event] : []));
      const winner = winners[0];
      winnersSeen += winners.length;
      const odd = racers.filter(
        (r) =>
          !r.ok &&
          !(
            r.code === Code.FailedPrecondition &&
            (r.message.includes(blocker.id) || (winner && r.message.includes(winner.id)))
          ),
      );
      for (const r of racers) {
        if (r.ok) continue;
        if (r.message.includes(blocker.id)) namedBlocker++;
        else if (winner && r.message.includes(winner.id)) namedWinner++;
      }
      const listed = await listDay(user, day.date);
      const show = (e: Event) =>
        `${e.id}@${timestampMs(e.startTime ?? timestampFromMs(0))} v${e.version}`;
      const expected = own
        .filter((e): e is Event => e !== undefined && e.id !== winner?.id)
        .map(show);
      if (winner) expected.push(show(winner));
      const actual = listed.map(show);
      const fine =
        deletion.ok &&
        winners.length <= 1 &&
        odd.length === 0 &&
        JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort());
      tally.record(row, fine, odd[0] ? describeAnswer(odd[0]) : undefined);
      assert.ok(
        deletion?.ok,
        `round ${round}: deleting the blocker: ${deletion && describeAnswer(deletion)}`,
      );
      assert.ok(winners.length <= 1, `round ${round}: ${winners.length} won`);
      assert.deepEqual(
        odd.map(describeAnswer).slice(0, 5),
        [],
        `round ${round}: unexpected answers`,
      );
      assert.deepEqual(
        [...actual].sort(),
        [...expected].sort(),
        `round ${round}: the day's events`,
      );
    }
    tally.note(
      row,
      `${winnersSeen} of ${ROUNDS} rounds had a winner; losers named the blocker ${namedBlocker} times, the winner ${namedWinner}`,
    );
  });

  it("the same id and busy time for many users at once: every user gets an event of their own", {
    timeout: 10 * 60_000,
  }, async () => {
    const startMs = Date.UTC(2031, 7, 1, 9);
    for (let round = 0; round < ROUNDS; round++) {
      const id = randomUUID();
      const users = crowd.map((_, i) => `race-${RUN}-tenant${round}.${i}`);
      const results = await Promise.all(
        crowd.map(({ client }, i) =>
          answer(
            client.createEvent({ event: eventAt(startMs, HOUR, `Tenant ${i}`, id) }, as(users[i])),
          ),
        ),
      );
      const failed = results.filter((r) => !r.ok);
      const wrongOwner = results.filter(
        (r, i) =>
          r.ok && (r.value.event?.userId !== users[i] || r.value.event?.title !== `Tenant ${i}`),
      );
      const lists = await Promise.all(
        users.map((u) => answer(firstClient().listDayEvents({ date: "2031-08-01" }, as(u)))),
      );
      const listedOwn = lists.filter(
        (l, i) => l.ok && l.value.events.length === 1 && l.value.events[0]?.title === `Tenant ${i}`,
      ).length;
      const fine = failed.length === 0 && wrongOwner.length === 0 && listedOwn === CLIENTS;
      tally.record(
        "same id and time for many users: all succeed, each sees only their own",
        fine,
        failed[0] ? describeAnswer(failed[0]) : undefined,
      );
      assert.deepEqual(
        failed.map(describeAnswer).slice(0, 5),
        [],
        `round ${round}: creates failed`,
      );
      assert.equal(wrongOwner.length, 0, `round ${round}: an answer carried another user's event`);
      assert.equal(listedOwn, CLIENTS, `round ${round}: each user lists exactly their own event`);
    }
  });

  it("afterwards: the process is up and logged no errors", async () => {
    assert.equal(svc.started.child.exitCode, null, "the api process exited");
    assert.equal(await h1Get(svc.url, "/readyz"), 200);
    assertNoServerErrors(svc, tally);
  });
});
