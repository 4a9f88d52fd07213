import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeReceipt, encodeReceipt } from "./receipt.js";

const receipt = {
  notificationId: "5d1e6c4a-9f3b-5a2e-8c1d-0b7a6e5f4d3c",
  eventId: "event-1",
  userId: "alice",
  deliveredAt: new Date("2026-12-01T08:55:01.125Z"),
};

describe("receipt", () => {
  it("is JSON with an RFC 3339 delivery time, and reads back", () => {
    const body = encodeReceipt(receipt);
    assert.deepEqual(JSON.parse(body.toString("utf8")), {
      ...receipt,
      deliveredAt: "2026-12-01T08:55:01.125Z",
    });
    assert.deepEqual(decodeReceipt(body), { ok: true, value: receipt });
  });

  it("refuses a receipt with a field missing or malformed", () => {
    const wire = JSON.parse(encodeReceipt(receipt).toString("utf8"));
    for (const [field, value] of [
      ["notificationId", undefined],
      ["eventId", ""],
      ["userId", 7],
      ["deliveredAt", "yesterday"],
    ] as const) {
      const result = decodeReceipt(Buffer.from(JSON.stringify({ ...wire, [field]: value })));
      assert.equal(result.ok, false);
      assert.match(result.ok ? "" : result.error, new RegExp(`^${field}: `));
    }
  });
});
