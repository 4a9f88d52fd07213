// Feed URLs and the secrets in them. The secret is the only credential a
// calendar app can present, so it is long (256 bits), stored only as a
// SHA-256 digest, and never logged. It is derived as HMAC(key, user, nonce)
// so GetFeedUrl can hand out the same URL again without storing it;
// rotating draws a new nonce.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FeedStore } from "../store/feed_store.js";

/** Where feeds are served, under the api's PUBLIC_URL. */
export const FEED_PATH_PREFIX = "/feeds/";
const FEED_SUFFIX = ".ics";

// base64url of 32 bytes: 43 characters of [A-Za-z0-9_-].
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class FeedCredentials {
  readonly #feeds: FeedStore;
  readonly #publicUrl: () => string;
  readonly #key: () => Promise<Buffer>;

  /**
   * `configuredKey`: FEED_KEY, or undefined to use the key kept in the
   * store. `publicUrl` has no trailing slash.
   */
  constructor(feeds: FeedStore, publicUrl: () => string, configuredKey: string | undefined) {
    this.#feeds = feeds;
    this.#publicUrl = publicUrl;
    let stored: Promise<Buffer> | undefined;
    this.#key =
      configuredKey === undefined
        ? () => {
            stored ??= feeds.storedFeedKey().catch((error: unknown) => {
              stored = undefined; // try again on the next call
              throw error;
            });
            return stored;
          }
        : async () => Buffer.from(configuredKey, "utf8");
  }

  /** The user's feed URL, created on first use. */
  async urlFor(userId: string, now: Date): Promise<string> {
    const existing = await this.#feeds.getFeed(userId);
    if (existing) {
      const secret = await this.#secret(userId, existing.nonce);
      // The key changed since this URL was made (FEED_KEY set or changed):
      // the old URL still works, but it cannot be rebuilt; give a new one.
      if (!sameDigest(digest(secret), existing.secretHash)) return this.rotate(userId, now);
      return this.#url(secret);
    }
    const nonce = randomBytes(16);
    const secret = await this.#secret(userId, nonce);
    const stored = await this.#feeds.putFeed(
      userId,
      { nonce, secretHash: digest(secret) },
      now,
      false,
    );
    // A concurrent first call may have won: hand out its URL.
    return this.#url(await this.#secret(userId, stored.nonce));
  }

  /** A new URL for the user; the previous one stops matching at once. */
  async rotate(userId: string, now: Date): Promise<string> {
    const nonce = randomBytes(16);
    const secret = await this.#secret(userId, nonce);
    await this.#feeds.putFeed(userId, { nonce, secretHash: digest(secret) }, now, true);
    return this.#url(secret);
  }

  /**
   * The user a feed path segment ("<secret>.ics") belongs to, or undefined
   * for anything else, with no difference between "malformed", "unknown"
   * and "rotated away".
   */
  async resolve(fileName: string): Promise<string | undefined> {
    if (!fileName.endsWith(FEED_SUFFIX)) return undefined;
    const secret = fileName.slice(0, -FEED_SUFFIX.length);
    if (!SECRET_PATTERN.test(secret)) return undefined;
    const hash = digest(secret);
    // The lookup is by digest, so its timing says nothing about how much of
    // a guessed secret was right; the compare below is constant-time anyway.
    const feed = await this.#feeds.findFeedBySecretHash(hash);
    if (!feed || !sameDigest(feed.secretHash, hash)) return undefined;
    return feed.userId;
  }

  async #secret(userId: string, nonce: Buffer): Promise<string> {
    return createHmac("sha256", await this.#key())
      .update(userId, "utf8")
      .update("\u0000")
      .update(nonce)
      .digest("base64url");
  }

  #url(secret: string): string {
    return `${this.#publicUrl()}${FEED_PATH_PREFIX}${secret}${FEED_SUFFIX}`;
  }
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
