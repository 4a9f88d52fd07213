// UIDs written by the feed and ids derived from imported UIDs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateEventId } from "../domain/validation.js";
import { eventIdFromUid, feedUid } from "./event_uid.js";

describe("event UIDs", () => {
  const id = "8a1c1d0e-5b0f-4c55-9a53-6a3e9d4a3b21";

  it("gives two users' events with the same id different feed UIDs, stable for each", () => {
    assert.equal(feedUid("alice", id), feedUid("alice", id));
    assert.notEqual(feedUid("alice", id), feedUid("bob", id));
    assert.ok(!feedUid("alice", id).includes("alice"), "the user id is not written into the UID");
  });

  it("derives the same valid UUID (version 5) from a UID every time, and different ones from different UIDs", () => {
    const derived = eventIdFromUid("4s1ot1c3kq0c9ejt7o1q6ktd3k@google.com");
    assert.equal(eventIdFromUid("4s1ot1c3kq0c9ejt7o1q6ktd3k@google.com"), derived);
    assert.notEqual(eventIdFromUid("4s1ot1c3kq0c9ejt7o1q6ktd3k@google.co"), derived);
    assert.ok(validateEventId("id", derived).ok);
    assert.match(derived, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
