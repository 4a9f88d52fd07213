// Model-based test of sync (fast-check): random writes of single events by
// several clients of one user (series: testing/series_sync_model.ts), interleaved with incremental syncs by several replicas at random
// page sizes. The model is the set of live events as the write responses
// describe them. After every step, a replica that syncs from its last token
// must equal the model, and so must the server's own listing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import fc from "fast-check";
import { CalendarService, type Event, EventSchema } from "../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../gen/calendar/v1/sync_pb.js";
import { checkSeriesSyncModel } from "./testing/series_sync_model.js";
import { clientFor, protocols, startTestServer, type TestServer } from "./testing/test_server.js";

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 0, 1);
const REPLICAS = 3;

type Step =
  | { kind: "create"; writer: number }
  | { kind: "update"; writer: number; pick: number; move: boolean }
  | { kind: "delete"; writer: number; pick: number }
  | { kind: "sync"; replica: number; pageSize: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("create" as const), writer: fc.nat(2) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("update" as const),
      writer: fc.nat(2),
      pick: fc.nat(),
      move: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      writer: fc.nat(2),
      pick: fc.nat(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("sync" as const),
      replica: fc.nat(REPLICAS - 1),
      pageSize: fc.integer({ min: 1, max: 4 }),
    }),
  },
);

/** What the model and the replicas compare: the fields a client stores. */
function shown(event: Event): string {
  const { $typeName: _, ...fields } = event;
  return JSON.stringify(fields, (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

class Replica {
  events = new Map<string, string>();
  token = "";

  async sync(client: Client<typeof CalendarSyncService>, pageSize: number): Promise<void> {
    let pageToken = "";
    for (;;) {
      const page = await client.syncEvents({ syncToken: this.token, pageSize, pageToken });
      for (const event of page.events) this.events.set(event.id, shown(event));
      for (const id of page.deletedIds) this.events.delete(id);
      if (page.nextPageToken === "") {
        assert.notEqual(page.nextSyncToken, "", "the last page carries the next sync token");
        this.token = page.nextSyncToken;
        return;
      }
      assert.equal(page.nextSyncToken, "", "only the last page carries a sync token");
      pageToken = page.nextPageToken;
    }
  }
}

describe("sync, model-based (fast-check)", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  it("replaying a full sync and every incremental sync reproduces the server after every step", async () => {
    const transport = protocols["Connect binary over HTTP/2"] as (typeof protocols)[string];
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const user = `model-${randomUUID()}`;
        const writers = [0, 1, 2].map(() =>
          clientFor(CalendarService, transport, server.url, user),
        );
        const syncer = clientFor(CalendarSyncService, transport, server.url, user);
        const replicas = Array.from({ length: REPLICAS }, () => new Replica());
        const auditor = new Replica();
        const model = new Map<string, Event>();
        let slot = 0;
        const freshStart = () => timestampFromDate(new Date(BASE + slot++ * HOUR));

        for (const step of steps) {
          const live = [...model.values()];
          if (step.kind === "create") {
            const { event } = await (
              writers[step.writer] as Client<typeof CalendarService>
            ).createEvent({
              event: create(EventSchema, {
                title: `e${slot}`,
                startTime: freshStart(),
                duration: durationFromMs(HOUR),
              }),
            });
            assert.ok(event);
            model.set(event.id, event);
          } else if (step.kind === "update" && live.length > 0) {
            const target = live[step.pick % live.length] as Event;
            const { event } = await (
              writers[step.writer] as Client<typeof CalendarService>
            ).updateEvent({
              event: create(EventSchema, {
                ...target,
                title: `${target.title}'`,
                startTime: step.move ? freshStart() : target.startTime,
              }),
              expectedVersion: target.version,
            });
            assert.ok(event);
            model.set(event.id, event);
          } else if (step.kind === "delete" && live.length > 0) {
            const target = live[step.pick % live.length] as Event;
            await (writers[step.writer] as Client<typeof CalendarService>).deleteEvent({
              id: target.id,
            });
            model.delete(target.id);
          } else if (step.kind === "sync") {
            const replica = replicas[step.replica] as Replica;
            await replica.sync(syncer, step.pageSize);
            assert.deepEqual(replica.events, expected(model), `replica ${step.replica}`);
          }
          // After every step: an incremental sync reproduces the model...
          await auditor.sync(syncer, 2);
          assert.deepEqual(auditor.events, expected(model));
        }
        // ...and so does every replica at the end, and the server's own listing.
        for (const replica of replicas) {
          await replica.sync(syncer, 3);
          assert.deepEqual(replica.events, expected(model));
        }
        const listed = await syncer.listEvents({
          timeMin: timestampFromDate(new Date(BASE - HOUR)),
          timeMax: timestampFromDate(new Date(BASE + (slot + 1) * HOUR)),
          pageSize: 1000,
        });
        assert.deepEqual(new Map(listed.events.map((e) => [e.id, shown(e)])), expected(model));
      }),
      { numRuns: 40 },
    );
  });

  // Series, exceptions and cancellations: few runs here (each step also
  // takes a full sync and a listing); the reliability suite runs many more.
  it("replays series edits, splits, moved and cancelled occurrences exactly, after every step", async () => {
    await checkSeriesSyncModel(server.url, { numRuns: 15, maxSteps: 25 });
  });
});

function expected(model: Map<string, Event>): Map<string, string> {
  return new Map([...model.values()].map((e) => [e.id, shown(e)]));
}
