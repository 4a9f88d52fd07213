import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeNotification, encodeNotification } from "./codec.js";
import { notificationMessage } from "./message.js";
import { idOf, type Notification } from "./notification.js";

const sample: Notification = {
  eventId: "8a1c1d0e-5b0f-4c55-9a53-6a3e9d4a3b21",
  userId: "alice",
  title: "Standup",
  startTime: new Date("2026-12-01T09:00:00.000Z"),
  notifyAt: new Date("2026-12-01T08:55:00.250Z"),
};

const body = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8");
const wire = { ...JSON.parse(encodeNotification(sample).toString("utf8")) } as Record<
  string,
  unknown
>;

function decodeError(input: Uint8Array): string {
  const result = decodeNotification(input);
  assert.equal(result.ok, false, "expected the body to be refused");
  return result.ok ? "" : result.error;
}

describe("encodeNotification", () => {
  it("writes the proto3 JSON mapping of calendar.v1.Notification", () => {
    assert.deepEqual(wire, {
      eventId: "8a1c1d0e-5b0f-4c55-9a53-6a3e9d4a3b21",
      title: "Standup",
      startTime: "2026-12-01T09:00:00Z",
      userId: "alice",
      notifyAt: "2026-12-01T08:55:00.250Z",
    });
  });

  it("carries an occurrence's series id and original start, and reads them back", () => {
    const occurrence: Notification = {
      ...sample,
      eventId: "8a1c1d0e-5b0f-4c55-9a53-6a3e9d4a3b21_20261201T090000Z",
      recurringEventId: "8a1c1d0e-5b0f-4c55-9a53-6a3e9d4a3b21",
      originalStart: new Date("2026-12-01T09:00:00.000Z"),
    };
    const encoded = encodeNotification(occurrence);
    assert.deepEqual(
      {
        recurringEventId: JSON.parse(encoded.toString("utf8")).recurringEventId,
        originalStartTime: JSON.parse(encoded.toString("utf8")).originalStartTime,
      },
      {
        recurringEventId: "8a1c1d0e-5b0f-4c55-9a53-6a3e9d4a3b21",
        originalStartTime: "2026-12-01T09:00:00Z",
      },
    );
    assert.deepEqual(decodeNotification(encoded), { ok: true, value: occurrence });
  });

  it("refuses a time outside google.protobuf.Timestamp's range", () => {
    assert.throws(() =>
      encodeNotification({ ...sample, notifyAt: new Date("0000-06-01T00:00:00Z") }),
    );
  });
});

describe("decodeNotification", () => {
  it("reads back what encodeNotification wrote, for any notification", () => {
    const text = fc.string({ minLength: 1, maxLength: 50 }).filter((s) => s.trim() !== "");
    const instant = fc
      .integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 })
      .map((ms) => new Date(ms));
    fc.assert(
      fc.property(
        fc.record({
          eventId: text,
          userId: text,
          title: text,
          startTime: instant,
          notifyAt: instant,
        }),
        (generated) => {
          const n = { ...generated };
          assert.deepEqual(decodeNotification(encodeNotification(n)), { ok: true, value: n });
        },
      ),
    );
  });

  it("accepts proto field names, offsets and ignores unknown fields", () => {
    const result = decodeNotification(
      body({
        event_id: sample.eventId,
        title: sample.title,
        start_time: "2026-12-01T10:00:00+01:00",
        user_id: sample.userId,
        notify_at: "2026-12-01T08:55:00.250000000Z",
        addedLater: true,
      }),
    );
    assert.deepEqual(result, { ok: true, value: sample });
  });

  const cases: [string, Uint8Array, RegExp][] = [
    ["not UTF-8", Buffer.from([0x7b, 0xff, 0x7d]), /^body: must be UTF-8/],
    ["not JSON", Buffer.from("{nope"), /^body: must be JSON/],
    ["empty body", Buffer.alloc(0), /^body: must be JSON/],
    ["a JSON array", body([wire]), /^body: must be a JSON object \(got an array\)/],
    ["JSON null", body(null), /^body: must be a JSON object \(got null\)/],
    ["a JSON string", body("hello"), /^body: must be a JSON object/],
    ...(["eventId", "title", "startTime", "userId", "notifyAt"] as const).flatMap(
      (field): [string, Uint8Array, RegExp][] => [
        [
          `${field} missing`,
          body({ ...wire, [field]: undefined }),
          new RegExp(`^${field}: is required`),
        ],
        [`${field} null`, body({ ...wire, [field]: null }), new RegExp(`^${field}: is required`)],
        [`${field} a number`, body({ ...wire, [field]: 5 }), new RegExp(`^${field}: must be`)],
        [`${field} empty`, body({ ...wire, [field]: "" }), new RegExp(`^${field}: must`)],
      ],
    ),
    ...(["eventId", "title", "userId"] as const).map((field): [string, Uint8Array, RegExp] => [
      `${field} blank`,
      body({ ...wire, [field]: "  " }),
      new RegExp(`^${field}: must not be empty`),
    ]),
    ...[
      "nope",
      "2026-12-01",
      "2026-12-01 09:00:00Z",
      "2026-12-01T09:00:00",
      "2026-12-01t09:00:00z",
      "2026-02-30T09:00:00Z",
      "2026-13-01T09:00:00Z",
      "2026-12-01T24:00:00Z",
      "2026-12-01T09:60:00Z",
      "2026-12-01T09:00:60Z",
      "2026-12-01T09:00:00+24:00",
      "2026-12-01T09:00:00.1234567890Z",
      "0000-12-31T23:59:59Z",
      "0001-01-01T00:00:00+00:01",
      "10000-01-01T00:00:00Z",
    ].map((value): [string, Uint8Array, RegExp] => [
      `startTime ${value}`,
      body({ ...wire, startTime: value }),
      /^startTime: must be/,
    ]),
  ];
  for (const [name, input, expected] of cases) {
    it(`refuses ${name}, naming the field`, () => {
      assert.match(decodeError(input), expected);
    });
  }

  it("accepts the edges of the timestamp range and leap days", () => {
    for (const value of [
      "0001-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999Z",
      "2024-02-29T00:00:00Z",
    ]) {
      const result = decodeNotification(body({ ...wire, startTime: value }));
      assert.equal(result.ok, true, value);
    }
  });
});

describe("notificationMessage", () => {
  it("carries the stable id as message-id and the JSON body", () => {
    assert.deepEqual(notificationMessage(sample), {
      messageId: idOf(sample),
      contentType: "application/json",
      body: encodeNotification(sample),
    });
  });
});
