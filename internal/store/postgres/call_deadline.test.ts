// withinDeadline's answers, without a database (the server side is in
// call_deadline.integration.test.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreUnavailableError } from "../store.js";
import { withinDeadline } from "./call_deadline.js";

/** An error as postgres.js reports one the server sent. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "PostgresError", code });
}

const options = { endIdleTransactions: true };

describe("withinDeadline", () => {
  // The server ends a transaction left idle at the deadline; in a busy api
  // process its error can be handled before our own timer fires. It was
  // answered INTERNAL (fuzz suite, machine saturated).
  for (const [code, message] of [
    ["25P03", "terminating connection due to idle-in-transaction timeout"],
    ["57014", "canceling statement due to statement timeout"],
  ] as const) {
    it(`answers the server ending the work at the deadline (${code}) as unavailable`, async () => {
      await assert.rejects(
        withinDeadline("write", 60_000, options, () => Promise.reject(serverError(code, message))),
        StoreUnavailableError,
      );
    });
  }

  it("passes other errors through as they are", async () => {
    const unique = serverError("23505", "duplicate key value violates unique constraint");
    await assert.rejects(
      withinDeadline("write", 60_000, options, () => Promise.reject(unique)),
      (error) => error === unique,
    );
  });
});
