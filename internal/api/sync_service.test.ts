// CalendarSyncService end to end through the generated clients, over every
// protocol: paged listing, full and incremental sync, token errors, and the
// watch stream (changes, heartbeats, slow watchers, shutdown, metrics).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { CalendarService, type Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService, type WatchEventsResponse } from "../../gen/calendar/v1/sync_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { MemoryEventStore } from "../store/memory/memory_store.js";
import { StoreUnavailableError } from "../store/store.js";
import { clientFor, protocols, startTestServer, type TestServer } from "./testing/test_server.js";

const HOUR = 3_600_000;

function eventAt(start: string, title = "Synced"): Event {
  return create(EventSchema, {
    title,
    startTime: timestampFromDate(new Date(start)),
    duration: durationFromMs(HOUR),
  });
}

async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("expected the call to fail");
}

/** The next message of a stream, or a failure after `ms`. */
async function nextOf(
  stream: AsyncIterator<WatchEventsResponse>,
  ms = 5000,
): Promise<WatchEventsResponse> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watch message within ${ms} ms`)), ms);
  });
  try {
    const next = await Promise.race([stream.next(), timeout]);
    assert.ok(!next.done, "the stream ended");
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

describe("CalendarSyncService", () => {
  let server: TestServer;
  const store = new MemoryEventStore();
  before(async () => {
    server = await startTestServer({ store, watch: { heartbeatMs: 300, maxBacklog: 5 } });
  });
  after(async () => {
    await server.close();
  });

  for (const [protocol, transport] of Object.entries(protocols)) {
    describe(protocol, () => {
      const asNewUser = () => {
        const user = `user-${randomUUID()}`;
        return {
          user,
          calendar: clientFor(CalendarService, transport, server.url, user),
          sync: clientFor(CalendarSyncService, transport, server.url, user),
        };
      };

      it("lists any span in start order, in keyset pages that survive writes in between", async () => {
        const { calendar, sync } = asNewUser();
        const ids: string[] = [];
        for (let day = 1; day <= 5; day++) {
          const { event } = await calendar.createEvent({
            event: eventAt(`2026-05-0${day}T09:00:00Z`),
          });
          ids.push(event?.id ?? "");
        }
        const window = {
          timeMin: timestampFromDate(new Date("2026-05-01T00:00:00Z")),
          timeMax: timestampFromDate(new Date("2026-06-01T00:00:00Z")),
          timeZone: "Europe/Berlin",
          pageSize: 2,
        };
        const first = await sync.listEvents(window);
        assert.deepEqual(
          first.events.map((e) => e.id),
          ids.slice(0, 2),
        );
        assert.notEqual(first.nextPageToken, "");
        // An event before the cursor goes away: the next page neither skips nor repeats.
        await calendar.deleteEvent({ id: ids[0] ?? "" });
        const second = await sync.listEvents({ ...window, pageToken: first.nextPageToken });
        assert.deepEqual(
          second.events.map((e) => e.id),
          ids.slice(2, 4),
        );
        const third = await sync.listEvents({ ...window, pageToken: second.nextPageToken });
        assert.deepEqual(
          third.events.map((e) => e.id),
          ids.slice(4),
        );
        assert.equal(third.nextPageToken, "");
        // Default page size holds them all.
        const all = await sync.listEvents({ ...window, pageSize: 0 });
        assert.equal(all.events.length, 4);
        assert.equal(all.nextPageToken, "");
      });

      it("refuses bad listing requests with INVALID_ARGUMENT naming the field", async () => {
        const { sync } = asNewUser();
        const min = timestampFromDate(new Date("2026-05-01T00:00:00Z"));
        const max = timestampFromDate(new Date("2026-05-02T00:00:00Z"));
        const cases: [Parameters<typeof sync.listEvents>[0], RegExp][] = [
          [{ timeMax: max }, /^time_min: is required/],
          [{ timeMin: min }, /^time_max: is required/],
          [{ timeMin: max, timeMax: min }, /^time_max: must be after time_min/],
          [{ timeMin: min, timeMax: max, pageSize: 1001 }, /^page_size: must be from 1 to 1000/],
          [{ timeMin: min, timeMax: max, pageSize: -1 }, /^page_size/],
          [{ timeMin: min, timeMax: max, timeZone: "Mars/Base" }, /^time_zone/],
          [{ timeMin: min, timeMax: max, pageToken: "garbage!" }, /^page_token: is not a token/],
        ];
        for (const [request, message] of cases) {
          const error = await failureOf(sync.listEvents(request));
          assert.equal(error.code, Code.InvalidArgument, message.source);
          assert.match(error.rawMessage, message);
        }
      });

      it("refuses a page token from another user or another window", async () => {
        const a = asNewUser();
        const b = asNewUser();
        for (const day of [1, 2])
          await a.calendar.createEvent({ event: eventAt(`2026-05-0${day}T09:00:00Z`) });
        const window = {
          timeMin: timestampFromDate(new Date("2026-05-01T00:00:00Z")),
          timeMax: timestampFromDate(new Date("2026-06-01T00:00:00Z")),
          pageSize: 1,
        };
        const { nextPageToken } = await a.sync.listEvents(window);
        const foreign = await failureOf(b.sync.listEvents({ ...window, pageToken: nextPageToken }));
        assert.equal(foreign.code, Code.InvalidArgument);
        assert.match(foreign.rawMessage, /^page_token: was issued to another user/);
        const otherWindow = await failureOf(
          a.sync.listEvents({ ...window, timeZone: "Asia/Tokyo", pageToken: nextPageToken }),
        );
        assert.equal(otherWindow.code, Code.InvalidArgument);
        assert.match(otherWindow.rawMessage, /^page_token: belongs to a listing with another/);
      });

      it("syncs in full, then incrementally with deletions, reproducing the server's state", async () => {
        const { calendar, sync } = asNewUser();
        const made: Event[] = [];
        for (let day = 1; day <= 3; day++) {
          const { event } = await calendar.createEvent({
            event: eventAt(`2026-05-0${day}T09:00:00Z`),
          });
          assert.ok(event);
          made.push(event);
        }
        // Full sync in pages of 2.
        const replica = new Map<string, Event>();
        let response = await sync.syncEvents({ pageSize: 2 });
        assert.equal(response.nextSyncToken, "");
        for (const e of response.events) replica.set(e.id, e);
        response = await sync.syncEvents({ pageSize: 2, pageToken: response.nextPageToken });
        for (const e of response.events) replica.set(e.id, e);
        assert.equal(response.nextPageToken, "");
        assert.notEqual(response.nextSyncToken, "");
        assert.deepEqual([...replica.keys()].sort(), made.map((e) => e.id).sort());

        const [first, second] = made;
        assert.ok(first && second);
        const { event: moved } = await calendar.updateEvent({
          event: create(EventSchema, { ...first, title: "Moved" }),
        });
        await calendar.deleteEvent({ id: second.id });
        const { event: added } = await calendar.createEvent({
          event: eventAt("2026-05-09T09:00:00Z"),
        });

        const delta = await sync.syncEvents({ syncToken: response.nextSyncToken });
        assert.deepEqual(
          delta.events.map((e) => [e.id, e.title, e.version]),
          [
            [first.id, "Moved", 2],
            [added?.id, "Synced", 1],
          ],
        );
        assert.deepEqual(delta.deletedIds, [second.id]);
        assert.deepEqual(delta.events[0], moved);
        for (const e of delta.events) replica.set(e.id, e);
        for (const id of delta.deletedIds) replica.delete(id);
        const all = await sync.listEvents({
          timeMin: timestampFromDate(new Date("2026-01-01T00:00:00Z")),
          timeMax: timestampFromDate(new Date("2027-01-01T00:00:00Z")),
        });
        assert.deepEqual(
          [...replica.values()].sort((a, b) => a.id.localeCompare(b.id)),
          [...all.events].sort((a, b) => a.id.localeCompare(b.id)),
        );
        // Nothing since: empty, and a token again.
        const quiet = await sync.syncEvents({ syncToken: delta.nextSyncToken });
        assert.deepEqual([quiet.events, quiet.deletedIds], [[], []]);
        assert.notEqual(quiet.nextSyncToken, "");
      });

      it("refuses another user's or a damaged sync token with INVALID_ARGUMENT", async () => {
        const a = asNewUser();
        const b = asNewUser();
        const { nextSyncToken } = await a.sync.syncEvents({});
        const foreign = await failureOf(b.sync.syncEvents({ syncToken: nextSyncToken }));
        assert.equal(foreign.code, Code.InvalidArgument);
        assert.match(foreign.rawMessage, /^sync_token: was issued to another user/);
        const damaged = await failureOf(a.sync.syncEvents({ syncToken: `${nextSyncToken}x` }));
        assert.equal(damaged.code, Code.InvalidArgument);
        const watchForeign = await failureOf(
          (async () => {
            for await (const _ of b.sync.watchEvents({ syncToken: nextSyncToken })) break;
          })(),
        );
        assert.equal(watchForeign.code, Code.InvalidArgument);
        // A page token used with another sync token.
        for (let i = 0; i < 3; i++)
          await a.calendar.createEvent({ event: eventAt(`2026-05-0${i + 1}T09:00:00Z`) });
        const paged = await a.sync.syncEvents({ pageSize: 1 });
        const mixed = await failureOf(
          a.sync.syncEvents({ syncToken: nextSyncToken, pageToken: paged.nextPageToken }),
        );
        assert.equal(mixed.code, Code.InvalidArgument);
        assert.match(mixed.rawMessage, /^page_token: belongs to a sync with another sync_token/);
      });

      it("answers an expired token FAILED_PRECONDITION with ErrorInfo SYNC_TOKEN_EXPIRED", async () => {
        const { calendar, sync } = asNewUser();
        const { event } = await calendar.createEvent({ event: eventAt("2026-05-01T09:00:00Z") });
        const { nextSyncToken } = await sync.syncEvents({});
        await calendar.deleteEvent({ id: event?.id ?? "" });
        while ((await store.purgeTombstones(new Date("9999-01-01T00:00:00Z"), 1000)) > 0) {}
        for (const call of [
          () => sync.syncEvents({ syncToken: nextSyncToken }),
          async () => {
            for await (const _ of sync.watchEvents({ syncToken: nextSyncToken })) break;
          },
        ]) {
          const error = await failureOf(call());
          assert.equal(error.code, Code.FailedPrecondition);
          assert.match(error.rawMessage, /^sync_token: is older than/);
          const [info] = error.findDetails(ErrorInfoSchema);
          assert.equal(info?.reason, "SYNC_TOKEN_EXPIRED");
          assert.equal(info?.domain, "calendar.v1");
        }
        // A full sync still works, and its token is good.
        const full = await sync.syncEvents({});
        assert.deepEqual(full.events, []);
        await sync.syncEvents({ syncToken: full.nextSyncToken });
      });

      it("watches: what changed since the token, then each change as committed, then heartbeats", async () => {
        const { calendar, sync } = asNewUser();
        const { event: before } = await calendar.createEvent({
          event: eventAt("2026-05-01T09:00:00Z"),
        });
        const stopped = new AbortController();
        const stream = sync.watchEvents({}, { signal: stopped.signal })[Symbol.asyncIterator]();
        try {
          // No token: starts from now with the current token.
          const first = await nextOf(stream);
          assert.equal(first.heartbeat, true);
          const { event: created } = await calendar.createEvent({
            event: eventAt("2026-05-02T09:00:00Z"),
          });
          const gotCreate = await nextOf(stream);
          assert.deepEqual(gotCreate.event, created);
          await calendar.deleteEvent({ id: before?.id ?? "" });
          const gotDelete = await nextOf(stream);
          assert.equal(gotDelete.deletedId, before?.id);
          assert.equal(gotDelete.event, undefined);
          // Idle: a heartbeat carrying the same token.
          const beat = await nextOf(stream);
          assert.equal(beat.heartbeat, true);
          assert.equal(beat.syncToken, gotDelete.syncToken);

          // Resuming from the first message's token replays both changes.
          const replay = sync.watchEvents(
            { syncToken: first.syncToken },
            { signal: stopped.signal },
          );
          const again = replay[Symbol.asyncIterator]();
          assert.deepEqual((await nextOf(again)).event, created);
          assert.equal((await nextOf(again)).deletedId, before?.id);
          // And SyncEvents accepts a watch token.
          const delta = await sync.syncEvents({ syncToken: gotCreate.syncToken });
          assert.deepEqual(delta.deletedIds, [before?.id]);
        } finally {
          stopped.abort();
        }
      });

      it("closes a watcher too far behind with RESOURCE_EXHAUSTED", async () => {
        const { calendar, sync } = asNewUser();
        const { nextSyncToken } = await sync.syncEvents({});
        for (let day = 1; day <= 7; day++) {
          await calendar.createEvent({ event: eventAt(`2026-05-0${day}T09:00:00Z`) });
        }
        const error = await failureOf(
          (async () => {
            for await (const _ of sync.watchEvents({ syncToken: nextSyncToken })) {
            }
          })(),
        );
        assert.equal(error.code, Code.ResourceExhausted);
        assert.match(error.rawMessage, /catch up with SyncEvents/);
      });
    });
  }

  for (const [thrown, code] of [
    [new StoreUnavailableError("database down"), Code.Unavailable],
    [new Error("a bug"), Code.Internal],
  ] as const) {
    it(`ends a watch whose store read fails mid-stream with ${Code[code]}`, async () => {
      const failing = new MemoryEventStore();
      let reads = 0;
      const readChanges = failing.readChanges.bind(failing);
      failing.readChanges = (...args) =>
        ++reads > 1 ? Promise.reject(thrown) : readChanges(...args);
      const own = await startTestServer({ store: failing });
      try {
        const user = `user-${randomUUID()}`;
        const sync = clientFor(
          CalendarSyncService,
          protocols["gRPC over HTTP/2"] as never,
          own.url,
          user,
        );
        const calendar = clientFor(
          CalendarService,
          protocols["Connect JSON over HTTP/1.1"] as never,
          own.url,
          user,
        );
        const stream = sync.watchEvents({})[Symbol.asyncIterator]();
        await nextOf(stream);
        await calendar.createEvent({ event: eventAt("2026-05-02T09:00:00Z") });
        const error = await nextOf(stream).then(
          () => assert.fail("expected the stream to fail"),
          (e: unknown) => ConnectError.from(e),
        );
        assert.equal(error.code, code);
        assert.doesNotMatch(error.rawMessage, /a bug|database down/);
        const metrics = await (await fetch(`${own.url}/metrics`)).text();
        assert.match(
          metrics,
          new RegExp(
            `rpc_requests_total\\{service="calendar.v1.CalendarSyncService",method="WatchEvents",code="${code === Code.Internal ? "internal" : "unavailable"}"\\} 1`,
          ),
        );
      } finally {
        await own.close();
      }
    });
  }

  it("ends open watches with UNAVAILABLE on shutdown, and /metrics counts them", async () => {
    const own = await startTestServer({ watch: { heartbeatMs: 60_000 } });
    let closed = false;
    try {
      const user = `user-${randomUUID()}`;
      const sync = clientFor(
        CalendarSyncService,
        protocols["gRPC over HTTP/2"] as never,
        own.url,
        user,
      );
      const calendar = clientFor(
        CalendarService,
        protocols["Connect JSON over HTTP/1.1"] as never,
        own.url,
        user,
      );
      const stream = sync.watchEvents({})[Symbol.asyncIterator]();
      await nextOf(stream);
      await calendar.createEvent({ event: eventAt("2026-05-02T09:00:00Z") });
      await nextOf(stream);
      const metrics = await (await fetch(`${own.url}/metrics`)).text();
      assert.match(metrics, /^watch_streams_open 1$/m);
      assert.match(metrics, /^watch_changes_sent_total 1$/m);

      const ending = nextOf(stream).then(
        () => assert.fail("expected the stream to fail"),
        (error: unknown) => ConnectError.from(error),
      );
      const closing = own.close();
      closed = true;
      const error = await ending;
      assert.equal(error.code, Code.Unavailable);
      assert.match(error.rawMessage, /reconnect with your last sync_token/);
      await closing;
    } finally {
      if (!closed) await own.close();
    }
  });
});
