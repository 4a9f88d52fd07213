import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { idOf, notificationId } from "./notification.js";

const at = new Date("2026-12-01T08:55:00.000Z");

describe("notificationId", () => {
  it("is a UUIDv5 that never changes for the same inputs", () => {
    const id = notificationId("alice", "event-1", at);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Pinned: a change here re-ids every reminder in flight during a deploy.
    assert.equal(id, "38cbee0d-1a7e-5204-b8d0-8914305a0ac5");
  });

  it("is given for any user id, even one holding half a surrogate pair", () => {
    assert.match(notificationId("\ud800alice", "event-1", at), /^[0-9a-f-]{36}$/);
  });

  it("differs by user, event and due time", () => {
    const id = notificationId("alice", "event-1", at);
    assert.notEqual(id, notificationId("bob", "event-1", at));
    assert.notEqual(id, notificationId("alice", "event-2", at));
    assert.notEqual(id, notificationId("alice", "event-1", new Date(at.getTime() + 1)));
  });

  it("cannot be forged by moving a separator between user and event", () => {
    assert.notEqual(notificationId("a/b", "c", at), notificationId("a", "b/c", at));
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (u1, e1, u2, e2) => {
        fc.pre(u1 !== u2 || e1 !== e2);
        assert.notEqual(notificationId(u1, e1, at), notificationId(u2, e2, at));
      }),
    );
  });

  it("idOf reads the same fields", () => {
    assert.equal(
      idOf({ userId: "alice", eventId: "event-1", notifyAt: at }),
      notificationId("alice", "event-1", at),
    );
  });
});
