// The behaviour every FeedStore must have. Each implementation's test file
// calls runFeedStoreContract with a factory.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { FeedStore } from "../feed_store.js";

export interface FeedStoreUnderTest {
  feeds: FeedStore;
  dispose(): Promise<void>;
}

const credential = () => ({ nonce: randomBytes(16), secretHash: randomBytes(32) });
const T0 = new Date("2026-06-01T12:00:00.000Z");
const later = (ms: number) => new Date(T0.getTime() + ms);

export function runFeedStoreContract(name: string, open: () => Promise<FeedStoreUnderTest>): void {
  describe(`FeedStore contract: ${name}`, () => {
    let subject: FeedStoreUnderTest;
    let feeds: FeedStore;
    const newUser = () => `user-${randomUUID()}`;

    before(async () => {
      subject = await open();
      feeds = subject.feeds;
    });
    after(async () => {
      await subject.dispose();
    });

    it("keeps one stored key for every caller", async () => {
      const first = await feeds.storedFeedKey();
      const second = await feeds.storedFeedKey();
      assert.equal(first.length, 32);
      assert.deepEqual(second, first);
    });

    it("creates a credential once and keeps it unless told to replace it", async () => {
      const user = newUser();
      assert.equal(await feeds.getFeed(user), undefined);
      const first = credential();
      const stored = await feeds.putFeed(user, first, T0, false);
      assert.deepEqual(stored.nonce, first.nonce);
      assert.deepEqual(stored.secretHash, first.secretHash);
      assert.equal(stored.etag, undefined);
      assert.equal(stored.changedAt.getTime(), T0.getTime());

      const kept = await feeds.putFeed(user, credential(), later(1000), false);
      assert.deepEqual(kept.secretHash, first.secretHash);
      assert.deepEqual((await feeds.getFeed(user))?.nonce, first.nonce);
    });

    it("replacing a credential makes the old secret unknown at once", async () => {
      const user = newUser();
      const first = credential();
      await feeds.putFeed(user, first, T0, false);
      assert.equal((await feeds.findFeedBySecretHash(first.secretHash))?.userId, user);

      const second = credential();
      const replaced = await feeds.putFeed(user, second, later(1000), true);
      assert.deepEqual(replaced.secretHash, second.secretHash);
      assert.equal(await feeds.findFeedBySecretHash(first.secretHash), undefined);
      assert.equal((await feeds.findFeedBySecretHash(second.secretHash))?.userId, user);
    });

    it("finds nothing for a hash nobody has", async () => {
      assert.equal(await feeds.findFeedBySecretHash(randomBytes(32)), undefined);
    });

    it("moves changedAt only when the served ETag changes", async () => {
      const user = newUser();
      await feeds.putFeed(user, credential(), T0, false);
      assert.equal(
        (await feeds.noteServedFeed(user, '"a"', later(1000))).getTime(),
        later(1000).getTime(),
      );
      assert.equal(
        (await feeds.noteServedFeed(user, '"a"', later(2000))).getTime(),
        later(1000).getTime(),
      );
      assert.equal(
        (await feeds.noteServedFeed(user, '"b"', later(3000))).getTime(),
        later(3000).getTime(),
      );
      assert.equal((await feeds.getFeed(user))?.etag, '"b"');
    });

    it("keeps users apart", async () => {
      const [a, b] = [newUser(), newUser()];
      const ca = credential();
      const cb = credential();
      await feeds.putFeed(a, ca, T0, false);
      await feeds.putFeed(b, cb, T0, false);
      await feeds.putFeed(a, credential(), T0, true);
      assert.equal((await feeds.findFeedBySecretHash(cb.secretHash))?.userId, b);
    });
  });
}
