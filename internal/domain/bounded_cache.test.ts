import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BoundedCache } from "./bounded_cache.js";

describe("BoundedCache", () => {
  it("drops the least recently used entries to stay within its weight", () => {
    const cache = new BoundedCache<string, number[]>(10, (starts) => starts.length);
    cache.set("a", [1, 2, 3, 4]);
    cache.set("b", [1, 2, 3, 4]);
    assert.deepEqual(cache.get("a"), [1, 2, 3, 4]); // "b" is now the oldest
    cache.set("c", [1, 2, 3, 4]);
    assert.equal(cache.get("b"), undefined);
    assert.deepEqual(cache.get("a"), [1, 2, 3, 4]);
    assert.deepEqual(cache.get("c"), [1, 2, 3, 4]);
    assert.equal(cache.weight, 8);
  });

  it("keeps nothing heavier than its whole budget, and counts a replaced entry once", () => {
    const cache = new BoundedCache<string, number[]>(10, (starts) => starts.length);
    cache.set("huge", new Array(11).fill(0));
    assert.equal(cache.get("huge"), undefined);
    assert.equal(cache.weight, 0);
    cache.set("a", [1, 2]);
    cache.set("a", [1, 2, 3]);
    assert.equal(cache.weight, 3);
  });

  it("stays bounded however many distinct keys clients bring", () => {
    const cache = new BoundedCache<number, boolean>(100);
    for (let key = 0; key < 10_000; key++) cache.set(key, true);
    assert.equal(cache.weight, 100);
    assert.equal(cache.get(0), undefined);
    assert.equal(cache.get(9_999), true);
  });
});
