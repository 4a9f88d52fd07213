// Feed URLs: stable, rotatable, resolved only by their exact secret, and
// rebuilt when the key they were derived with changes.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { MemoryFeedStore } from "../store/memory/memory_feed_store.js";
import { FeedCredentials } from "./feed_credentials.js";

const NOW = new Date("2026-06-01T12:00:00Z");
const base = () => "https://cal.example.com";
const fileOf = (url: string) => url.slice(url.lastIndexOf("/") + 1);

describe("FeedCredentials", () => {
  it("stores only a digest of the secret", async () => {
    const feeds = new MemoryFeedStore();
    const url = await new FeedCredentials(feeds, base, undefined).urlFor("anna", NOW);
    const secret = fileOf(url).replace(".ics", "");
    const stored = await feeds.getFeed("anna");
    assert.ok(stored);
    assert.deepEqual(stored.secretHash, createHash("sha256").update(secret).digest());
    assert.ok(!JSON.stringify(stored).includes(secret));
  });

  it("resolves the exact file name only", async () => {
    const credentials = new FeedCredentials(new MemoryFeedStore(), base, undefined);
    const file = fileOf(await credentials.urlFor("anna", NOW));
    assert.equal(await credentials.resolve(file), "anna");
    const secret = file.replace(".ics", "");
    const flipped = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}.ics`;
    for (const wrong of [secret, flipped, `${secret}.ics.ics`, "", ".ics", `${secret}x.ics`]) {
      assert.equal(await credentials.resolve(wrong), undefined, wrong);
    }
  });

  it("gives a new URL when FEED_KEY changes, since the old one cannot be rebuilt", async () => {
    const feeds = new MemoryFeedStore();
    const before = new FeedCredentials(feeds, base, "a".repeat(32));
    const old = await before.urlFor("anna", NOW);
    assert.equal(await before.urlFor("anna", NOW), old);
    const after = new FeedCredentials(feeds, base, "b".repeat(32));
    const renewed = await after.urlFor("anna", NOW);
    assert.notEqual(renewed, old);
    assert.equal(await after.urlFor("anna", NOW), renewed);
    assert.equal(await after.resolve(fileOf(old)), undefined);
    assert.equal(await after.resolve(fileOf(renewed)), "anna");
  });

  it("agrees across api replicas sharing the stored key", async () => {
    const feeds = new MemoryFeedStore();
    const one = new FeedCredentials(feeds, base, undefined);
    const two = new FeedCredentials(feeds, base, undefined);
    assert.equal(await two.urlFor("anna", NOW), await one.urlFor("anna", NOW));
  });
});
