// The stack-level suite: create, get, update, delete (shared setup and helpers in ./stack.ts).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { EventSchema } from "../../../gen/calendar/v1/calendar_pb.js";
import {
  client,
  createOk,
  durMs,
  edited,
  env,
  eventOf,
  expectError,
  expectNoRow,
  expectStored,
  HOUR,
  MINUTE,
  RUN,
  rowCount,
  type Spec,
  tsMs,
  user,
  useStack,
} from "./stack.js";

useStack();

describe(`cal_service stack at ${env.API_URL} (run ${RUN}): create, get, update, delete`, {
  concurrency: true,
}, () => {
  it("an event's life: each write as stored in the database", async () => {
    const u = user("crud");
    const c = client(u);
    const id = randomUUID();
    const spec: Spec = {
      id,
      title: "  Planning  ",
      start: "2033-05-05T10:00:00.123Z",
      durationMs: HOUR + 456,
      description: "Agenda: budget, hiring — and ünïcödé",
      notifyBeforeMs: 15 * MINUTE + 1,
    };

    const created = await createOk(c, spec);
    assert.equal(created.id, id);
    assert.equal(created.userId, u);
    assert.equal(created.title, "Planning", "title trimmed");
    assert.equal(created.version, 1);
    assert.equal(tsMs(created.startTime), Date.parse("2033-05-05T10:00:00.123Z"));
    assert.equal(durMs(created.duration), HOUR + 456);
    assert.equal(durMs(created.notifyBefore), 15 * MINUTE + 1);
    assert.equal(tsMs(created.createdAt), tsMs(created.updatedAt));
    const stored = await expectStored(u, created);
    assert.equal(stored.title, "Planning");
    assert.equal(stored.reminder_due_ms, stored.notify_at_ms, "its reminder pending");

    // The same create again (a retry) returns the stored event and changes nothing.
    const again = await createOk(c, spec);
    assert.deepEqual(again, created, "a repeated create returns the stored event");
    await expectStored(u, created);
    assert.equal(await rowCount(u), 1);

    // The same id with other content is refused, and changes nothing.
    await expectError(
      c.createEvent({ event: eventOf({ ...spec, title: "Other" }) }),
      Code.AlreadyExists,
      new RegExp(`^event ${id} already exists with different content`),
    );
    await expectStored(u, created);

    const { event: fetched } = await c.getEvent({ id });
    assert.deepEqual(fetched, created);

    // Update: new title and start, no description and no reminder any more.
    const { event: updated } = await c.updateEvent({
      event: create(EventSchema, {
        id,
        title: "Planning (moved)",
        startTime: timestampFromMs(Date.parse("2033-05-05T11:30:00Z")),
        duration: durationFromMs(45 * MINUTE),
      }),
      expectedVersion: 1,
    });
    assert.ok(updated);
    assert.equal(updated.version, 2);
    assert.equal(updated.description, undefined);
    assert.equal(updated.notifyBefore, undefined);
    assert.deepEqual(updated.createdAt, created.createdAt, "created_at never changes");
    assert.ok(tsMs(updated.updatedAt) >= tsMs(created.updatedAt));
    const storedUpdate = await expectStored(u, updated);
    assert.equal(storedUpdate.notify_at_ms, null, "no reminder: notify_at cleared");

    // A stale expected_version is refused and changes nothing.
    await expectError(
      c.updateEvent({ event: edited(updated, { title: "Lost update" }), expectedVersion: 1 }),
      Code.Aborted,
      /^expected_version is 1 but the stored version is 2/,
    );
    await expectStored(u, updated);

    // Without expected_version the update applies unconditionally.
    const { event: third } = await c.updateEvent({
      event: edited(updated, { notifyBefore: durationFromMs(0) }),
    });
    assert.ok(third);
    assert.equal(third.version, 3);
    const storedThird = await expectStored(u, third);
    assert.equal(storedThird.notify_at_ms, storedThird.start_ms, "reminder at the start");

    await c.deleteEvent({ id });
    await expectNoRow(u, id);
    const gone = new RegExp(`^event ${id} not found$`);
    await expectError(c.getEvent({ id }), Code.NotFound, gone);
    await expectError(c.deleteEvent({ id }), Code.NotFound, gone);
    await expectError(c.updateEvent({ event: edited(third, {}) }), Code.NotFound, gone);
    await expectNoRow(u, id);
  });

  it("assigns a UUID when the create has no id; ids are stored in lower case", async () => {
    const u = user("ids");
    const c = client(u);
    const assigned = await createOk(c, { start: "2033-06-01T09:00:00Z", durationMs: HOUR });
    assert.match(
      assigned.id,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    await expectStored(u, assigned);

    const upper = randomUUID().toUpperCase();
    const lowered = await createOk(c, {
      id: upper,
      start: "2033-06-01T10:00:00Z",
      durationMs: HOUR,
    });
    assert.equal(lowered.id, upper.toLowerCase());
    await expectStored(u, lowered);
    const { event: byUpper } = await c.getEvent({ id: upper });
    assert.equal(byUpper?.id, upper.toLowerCase());
    assert.equal(await rowCount(u), 2);
  });

  it("not found: get, update and delete of an id nobody has", async () => {
    const u = user("not-found");
    const c = client(u);
    const id = randomUUID();
    const gone = new RegExp(`^event ${id} not found$`);
    await expectError(c.getEvent({ id }), Code.NotFound, gone);
    await expectError(
      c.updateEvent({ event: eventOf({ id, start: "2033-01-01T00:00:00Z", durationMs: HOUR }) }),
      Code.NotFound,
      gone,
    );
    await expectError(
      c.updateEvent({
        event: eventOf({ id, start: "2033-01-01T00:00:00Z", durationMs: HOUR }),
        expectedVersion: 1,
      }),
      Code.NotFound,
      gone,
    );
    await expectError(c.deleteEvent({ id }), Code.NotFound, gone);
    assert.equal(await rowCount(u), 0, "an update of a missing event creates nothing");
  });

  it("another user's event is not found, exactly as if it did not exist", async () => {
    const alice = user("alice");
    const bob = user("bob");
    const a = client(alice);
    const b = client(bob);
    const event = await createOk(a, {
      title: "Alice's",
      start: "2033-07-01T09:00:00Z",
      durationMs: HOUR,
      notifyBeforeMs: 10 * MINUTE,
    });
    const gone = new RegExp(`^event ${event.id} not found$`);
    await expectError(b.getEvent({ id: event.id }), Code.NotFound, gone);
    await expectError(
      b.updateEvent({ event: edited(event, { title: "Bob was here" }) }),
      Code.NotFound,
      gone,
    );
    await expectError(
      b.updateEvent({ event: edited(event, { title: "Bob was here" }), expectedVersion: 1 }),
      Code.NotFound,
      gone,
    );
    await expectError(b.deleteEvent({ id: event.id }), Code.NotFound, gone);
    const { events: bobsDay } = await b.listDayEvents({ date: "2033-07-01" });
    assert.deepEqual(bobsDay, [], "not in another user's listing");
    await expectStored(alice, event); // untouched
    assert.equal(await rowCount(bob), 0);

    // Ids are per user: Bob may hold the same id, at the same time, with his own content.
    const bobs = await createOk(b, {
      id: event.id,
      title: "Bob's",
      start: "2033-07-01T09:00:00Z",
      durationMs: 2 * HOUR,
    });
    assert.equal(bobs.id, event.id);
    await expectStored(bob, bobs);
    await expectStored(alice, event);
    const { event: alicesAgain } = await a.getEvent({ id: event.id });
    assert.equal(alicesAgain?.title, "Alice's");
    await b.deleteEvent({ id: event.id });
    await expectNoRow(bob, event.id);
    await expectStored(alice, event);
  });

  it("busy time: a user's events never overlap; back to back is fine", async () => {
    const u = user("busy");
    const c = client(u);
    const day = "2033-08-01";
    const at = (hhmm: string) => `${day}T${hhmm}:00Z`;
    const ten = await createOk(c, { title: "10-11", start: at("10:00"), durationMs: HOUR });
    const overlap = (id: string) =>
      new RegExp(`^the event overlaps event ${id}; a user's events may not overlap`);

    for (const [start, duration] of [
      ["10:30", HOUR], // overlaps the end
      ["09:30", HOUR], // overlaps the start
      ["10:15", 30 * MINUTE], // inside
      ["10:00", HOUR], // the same slot
      ["09:59", 2 * MINUTE], // one minute into it
    ] as const) {
      await expectError(
        c.createEvent({ event: eventOf({ start: at(start), durationMs: duration }) }),
        Code.FailedPrecondition,
        overlap(ten.id),
      );
    }
    assert.equal(await rowCount(u), 1, "refused creates store nothing");

    const eleven = await createOk(c, { title: "11-12", start: at("11:00"), durationMs: HOUR });
    const nine = await createOk(c, { title: "9-10", start: at("09:00"), durationMs: HOUR });
    await expectStored(u, eleven);
    await expectStored(u, nine);

    // Covering three events: the message names the earliest.
    await expectError(
      c.createEvent({ event: eventOf({ start: at("09:30"), durationMs: 2 * HOUR }) }),
      Code.FailedPrecondition,
      overlap(nine.id),
    );

    // An update into another event is refused and changes nothing.
    await expectError(
      c.updateEvent({
        event: edited(eleven, { startTime: timestampFromMs(Date.parse(at("10:30"))) }),
        expectedVersion: 1,
      }),
      Code.FailedPrecondition,
      overlap(ten.id),
    );
    await expectStored(u, eleven);

    // An event never conflicts with itself: 10:00-11:00 becomes 10:15-11:00.
    const { event: shortened } = await c.updateEvent({
      event: edited(ten, {
        startTime: timestampFromMs(Date.parse(at("10:15"))),
        duration: durationFromMs(45 * MINUTE),
      }),
      expectedVersion: 1,
    });
    assert.ok(shortened);
    await expectStored(u, shortened);

    // Busy time is per user: someone else may take the same slot.
    const other = user("busy-other");
    const theirs = await createOk(client(other), { start: at("10:00"), durationMs: HOUR });
    await expectStored(other, theirs);

    // Once the slot is free, it can be taken.
    await c.deleteEvent({ id: ten.id });
    await expectNoRow(u, ten.id);
    const taken = await createOk(c, { start: at("10:00"), durationMs: HOUR });
    await expectStored(u, taken);
    assert.equal(await rowCount(u), 3);
  });
});
