// Free/busy: merging and clipping, and the RPC's checks of its span.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import {
  clientFor,
  protocolNamed,
  startTestServer,
  type TestServer,
} from "../api/testing/test_server.js";
import type { CalendarEvent } from "../domain/event.js";
import { busyIntervals } from "./free_busy.js";

const HOUR = 3_600_000;
const at = (hour: number) => new Date(Date.UTC(2026, 5, 1) + hour * HOUR);
const event = (startHour: number, hours: number): CalendarEvent => ({
  id: randomUUID(),
  userId: "u",
  title: "busy",
  start: at(startHour),
  durationMs: hours * HOUR,
  description: undefined,
  notifyBeforeMs: undefined,
  createdAt: at(0),
  updatedAt: at(0),
  version: 1,
});
const shown = (intervals: { start: Date; end: Date }[]) =>
  intervals.map((i) => [
    (i.start.getTime() - at(0).getTime()) / HOUR,
    (i.end.getTime() - at(0).getTime()) / HOUR,
  ]);

describe("busyIntervals", () => {
  it("merges touching and overlapping intervals, keeps gaps, clips to the span", () => {
    const span = { start: at(2), end: at(20) };
    const events = [
      event(12, 2),
      event(0, 3),
      event(3, 1),
      event(8, 1),
      event(13, 3),
      event(19, 5),
      event(21, 1),
    ];
    assert.deepEqual(shown(busyIntervals(events, span)), [
      [2, 4],
      [8, 9],
      [12, 16],
      [19, 20],
    ]);
  });

  it("is empty for no events, and for events outside the span", () => {
    assert.deepEqual(busyIntervals([], { start: at(0), end: at(1) }), []);
    assert.deepEqual(busyIntervals([event(5, 1)], { start: at(0), end: at(5) }), []);
  });
});

describe("GetFreeBusy", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });
  const ts = (date: Date) => ({ seconds: BigInt(date.getTime() / 1000) });

  it("answers the caller's merged busy time with local times in the asked zone", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientFor(CalendarService, protocolNamed("gRPC over HTTP/2"), server.url, user);
    for (const [start, hours] of [
      [9, 1],
      [10, 1],
      [14, 2],
    ] as const) {
      await client.createEvent({
        event: {
          title: "busy",
          startTime: ts(at(start)),
          duration: { seconds: BigInt(hours * 3600) },
        },
      });
    }
    // Someone else's event is not the caller's busy time.
    await clientFor(
      CalendarService,
      protocolNamed("gRPC over HTTP/2"),
      server.url,
      `other-${randomUUID()}`,
    ).createEvent({
      event: { title: "other", startTime: ts(at(12)), duration: { seconds: 3600n } },
    });
    const response = await client.getFreeBusy({
      timeMin: ts(at(0)),
      timeMax: ts(at(15)),
      timeZone: "Europe/Berlin",
    });
    assert.equal(response.timeZone, "Europe/Berlin");
    assert.deepEqual(
      response.busy.map((b) => [b.startLocal, b.endLocal]),
      [
        ["2026-06-01T11:00:00+02:00", "2026-06-01T13:00:00+02:00"],
        ["2026-06-01T16:00:00+02:00", "2026-06-01T17:00:00+02:00"],
      ],
    );
    assert.equal(Number(response.busy[1]?.end?.seconds), at(15).getTime() / 1000);
  });

  it("counts a series' occurrences, a moved one at its new time, a cancelled one not at all", async () => {
    const user = `user-${randomUUID()}`;
    const client = clientFor(CalendarService, protocolNamed("gRPC over HTTP/2"), server.url, user);
    // Daily 09:00-10:00 UTC for three days.
    const { event: series } = await client.createEvent({
      event: {
        title: "standup",
        startTime: ts(at(9)),
        duration: { seconds: 3600n },
        recurrence: ["RRULE:FREQ=DAILY;COUNT=3"],
        timeZone: "UTC",
      },
    });
    assert.ok(series);
    await client.updateEvent({
      event: {
        id: `${series.id}_20260602T090000Z`,
        title: "standup (moved)",
        startTime: ts(at(24 + 13)),
        duration: { seconds: 3600n },
      },
    });
    await client.deleteEvent({ id: `${series.id}_20260603T090000Z` });
    const response = await client.getFreeBusy({ timeMin: ts(at(0)), timeMax: ts(at(96)) });
    assert.deepEqual(
      response.busy.map((b) => [b.startLocal, b.endLocal]),
      [
        ["2026-06-01T09:00:00+00:00", "2026-06-01T10:00:00+00:00"],
        ["2026-06-02T13:00:00+00:00", "2026-06-02T14:00:00+00:00"],
      ],
    );
  });

  it("refuses a span over 366 days, a backwards span, a missing bound and an unknown zone", async () => {
    const client = clientFor(
      CalendarService,
      protocolNamed("Connect JSON over HTTP/1.1"),
      server.url,
      "u",
    );
    const cases = [
      [
        { timeMin: ts(at(0)), timeMax: ts(at(366 * 24 + 1)) },
        /time_max: must be at most 366 days after time_min/,
      ],
      [{ timeMin: ts(at(5)), timeMax: ts(at(5)) }, /time_max: must be after time_min/],
      [{ timeMax: ts(at(5)) }, /time_min: is required/],
      [
        { timeMin: ts(at(0)), timeMax: ts(at(5)), timeZone: "Mars/Olympus" },
        /time_zone: must be an IANA time zone/,
      ],
    ] as const;
    for (const [request, message] of cases) {
      await assert.rejects(client.getFreeBusy(request), (error: unknown) => {
        assert.ok(error instanceof ConnectError);
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.rawMessage, message);
        return true;
      });
    }
    // Exactly 366 days is allowed.
    const ok = await client.getFreeBusy({ timeMin: ts(at(0)), timeMax: ts(at(366 * 24)) });
    assert.deepEqual(ok.busy, []);
    assert.equal(ok.timeZone, "UTC");
  });
});
