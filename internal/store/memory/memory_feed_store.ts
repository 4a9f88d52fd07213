// The FeedStore in process memory, for tests and STORAGE=memory.
import { randomBytes } from "node:crypto";
import type { FeedRecord, FeedStore } from "../feed_store.js";

export class MemoryFeedStore implements FeedStore {
  readonly #feedsByUser = new Map<string, FeedRecord>();
  #key: Buffer | undefined;

  async storedFeedKey(): Promise<Buffer> {
    this.#key ??= randomBytes(32);
    return Buffer.from(this.#key);
  }

  async getFeed(userId: string): Promise<FeedRecord | undefined> {
    const feed = this.#feedsByUser.get(userId);
    return feed && copy(feed);
  }

  async putFeed(
    userId: string,
    credential: { nonce: Buffer; secretHash: Buffer },
    now: Date,
    replace: boolean,
  ): Promise<FeedRecord> {
    const existing = this.#feedsByUser.get(userId);
    if (existing && !replace) return copy(existing);
    const feed: FeedRecord = {
      userId,
      nonce: Buffer.from(credential.nonce),
      secretHash: Buffer.from(credential.secretHash),
      etag: undefined,
      changedAt: new Date(now),
    };
    this.#feedsByUser.set(userId, feed);
    return copy(feed);
  }

  async findFeedBySecretHash(secretHash: Buffer): Promise<FeedRecord | undefined> {
    for (const feed of this.#feedsByUser.values()) {
      if (feed.secretHash.equals(secretHash)) return copy(feed);
    }
    return undefined;
  }

  async noteServedFeed(userId: string, etag: string, now: Date): Promise<Date> {
    const feed = this.#feedsByUser.get(userId);
    if (!feed) return new Date(now);
    if (feed.etag !== etag) {
      feed.etag = etag;
      feed.changedAt = new Date(now);
    }
    return new Date(feed.changedAt);
  }
}

function copy(feed: FeedRecord): FeedRecord {
  return {
    ...feed,
    nonce: Buffer.from(feed.nonce),
    secretHash: Buffer.from(feed.secretHash),
    changedAt: new Date(feed.changedAt),
  };
}
