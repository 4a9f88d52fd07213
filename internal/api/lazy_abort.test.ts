import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LazyAbortSignal } from "./lazy_abort.js";

describe("LazyAbortSignal", () => {
  it("makes no controller until the signal is read", () => {
    let made = 0;
    const lazy = new LazyAbortSignal(() => {
      made++;
      return new AbortController();
    });
    lazy.abort(new Error("ended"));
    assert.equal(made, 0);
    assert.equal(lazy.signal, lazy.signal);
    assert.equal(made, 1);
  });

  it("is already aborted, with the first reason, when read after aborts", () => {
    const lazy = new LazyAbortSignal();
    const first = new Error("client left");
    lazy.abort(first);
    lazy.abort(new Error("call ended"));
    assert.equal(lazy.signal.aborted, true);
    assert.equal(lazy.signal.reason, first);
  });

  it("aborts a signal read before the abort", () => {
    const lazy = new LazyAbortSignal();
    const signal = lazy.signal;
    assert.equal(signal.aborted, false);
    const reason = new Error("deadline");
    lazy.abort(reason);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reason);
  });

  it("hands out the controller it is given (a linked one follows its sources)", () => {
    const source = new AbortController();
    const lazy = new LazyAbortSignal(() => {
      const linked = new AbortController();
      source.signal.addEventListener("abort", () => linked.abort(source.signal.reason));
      return linked;
    });
    const signal = lazy.signal;
    source.abort("shutdown");
    assert.equal(signal.reason, "shutdown");
  });
});
