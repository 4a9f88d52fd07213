// The iCalendar subscription feed's credentials. Never edit a migration once
// it has been released: write a new numbered file instead.
import type { Migration } from "../migrate.js";

export const migration0005: Migration = {
  version: 5,
  name: "0005_feed_secrets",
  sql: `
-- One feed per user. The secret in the feed URL is never stored: only its
-- SHA-256 (looked up when a calendar app fetches the feed) and the nonce it
-- is derived from (HMAC of the feed key over user and nonce), so that
-- GetFeedUrl can give the same URL again. Rotating replaces both.
CREATE TABLE feed_secrets (
  user_id      text        NOT NULL PRIMARY KEY,
  nonce        bytea       NOT NULL,
  secret_hash  bytea       NOT NULL,
  created_at   timestamptz NOT NULL,
  -- The ETag of the feed as last served, and when it last changed: the
  -- feed's Last-Modified, which also moves when an event is deleted.
  etag         text,
  changed_at   timestamptz NOT NULL,
  CONSTRAINT feed_secrets_hash_unique UNIQUE (secret_hash)
);

-- The key feed secrets are derived with when FEED_KEY is not set: one row,
-- created on first use, shared by every api replica.
CREATE TABLE feed_key (
  singleton  boolean NOT NULL PRIMARY KEY DEFAULT true CHECK (singleton),
  key        bytea   NOT NULL
);
`,
};
