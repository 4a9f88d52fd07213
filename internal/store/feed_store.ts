// The storage port of the iCalendar subscription feed: which user a feed
// secret belongs to, and what the feed looked like when last served. Every
// implementation passes the contract suite in ./testing/feed_contract.ts.

/** A user's feed credential as stored: never the secret itself. */
export interface FeedRecord {
  userId: string;
  /** Random bytes the secret is derived from (with the feed key). */
  nonce: Buffer;
  /** SHA-256 of the secret in the URL. */
  secretHash: Buffer;
  /** The ETag of the feed as last served; undefined before the first fetch. */
  etag: string | undefined;
  /** When the served feed last changed (its Last-Modified). */
  changedAt: Date;
}

export interface FeedStore {
  /**
   * The key feed secrets are derived with when FEED_KEY is not set: created
   * on first call, the same for every caller afterwards.
   */
  storedFeedKey(): Promise<Buffer>;

  getFeed(userId: string): Promise<FeedRecord | undefined>;

  /**
   * Stores a credential for the user. With `replace` false it keeps an
   * existing one (two first calls racing agree on one); with `replace` true
   * the old credential stops matching at once. Returns what is stored.
   */
  putFeed(
    userId: string,
    credential: { nonce: Buffer; secretHash: Buffer },
    now: Date,
    replace: boolean,
  ): Promise<FeedRecord>;

  /** The feed whose secret hashes to `secretHash`, if any. */
  findFeedBySecretHash(secretHash: Buffer): Promise<FeedRecord | undefined>;

  /**
   * Records that the user's feed was served with `etag`; when it differs from
   * the stored one, changedAt becomes `now`. Returns the changedAt in force.
   */
  noteServedFeed(userId: string, etag: string, now: Date): Promise<Date>;
}
