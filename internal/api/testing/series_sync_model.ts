// Model-based check of sync with recurring events (fast-check), shared by
// the unit test (a few runs) and the reliability suite (many): random writes
// from several clients of one user (single events; series created, their
// rule edited, split "this and following"; occurrences moved, retitled and
// cancelled; deletions), interleaved with incremental syncs by several
// replicas at random page sizes. After every step, each copy built only from
// its syncs must equal the server's state as a full sync reports it (series
// with their exceptions and cancellations), and its expansion must equal the
// server's own ListEvents.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  durationFromMs,
  durationMs,
  timestampDate,
  timestampFromDate,
} from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import {
  CalendarService,
  type Event,
  EventSchema,
  UpdateEventRequest_Scope,
} from "../../../gen/calendar/v1/calendar_pb.js";
import { CalendarSyncService } from "../../../gen/calendar/v1/sync_pb.js";
import type { CalendarEvent } from "../../domain/event.js";
import { expandReplica, SyncReplica } from "../../testing/sync_replica.js";
import { eventToProto } from "../mapping.js";
import { clientFor, protocols } from "./test_server.js";

const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
const BASE = Date.UTC(2026, 0, 5);
/** Every event lives in a lane of its own (2 h apart, in the first week), so no write overlaps another. */
const LANE = 2 * HOUR;
const WINDOW = { start: new Date(BASE - HOUR), end: new Date(BASE + 8 * WEEK) };
const REPLICAS = 3;
const WRITERS = 3;

type Step =
  | { kind: "createSingle"; writer: number }
  | { kind: "createSeries"; writer: number; count: number }
  | { kind: "editSeries"; writer: number; pick: number; count: number; retitle: boolean }
  | { kind: "split"; writer: number; pick: number; occurrence: number }
  | { kind: "editOccurrence"; writer: number; pick: number; occurrence: number; move: boolean }
  | { kind: "cancel"; writer: number; pick: number; occurrence: number }
  | { kind: "editSingle"; writer: number; pick: number; move: boolean }
  | { kind: "delete"; writer: number; pick: number }
  | { kind: "sync"; replica: number; pageSize: number };

const writer = fc.nat(WRITERS - 1);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("createSingle" as const), writer }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("createSeries" as const),
      writer,
      count: fc.integer({ min: 1, max: 6 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("editSeries" as const),
      writer,
      pick: fc.nat(),
      count: fc.integer({ min: 1, max: 6 }),
      retitle: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("split" as const),
      writer,
      pick: fc.nat(),
      occurrence: fc.nat(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("editOccurrence" as const),
      writer,
      pick: fc.nat(),
      occurrence: fc.nat(),
      move: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("cancel" as const),
      writer,
      pick: fc.nat(),
      occurrence: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("editSingle" as const),
      writer,
      pick: fc.nat(),
      move: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("delete" as const), writer, pick: fc.nat() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("sync" as const),
      replica: fc.nat(REPLICAS - 1),
      pageSize: fc.integer({ min: 1, max: 4 }),
    }),
  },
);

/** What copies are compared by: every field a client stores, keys in order. */
function shown(event: Event): string {
  const { $typeName: _, ...fields } = event;
  return JSON.stringify(fields, (_, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
  });
}

/** The protobuf event as the domain has it, to expand a series as the server does. */
function toDomain(event: Event): CalendarEvent {
  const date = (ts: Event["startTime"]) => timestampDate(ts ?? timestampFromDate(new Date(0)));
  return {
    id: event.id,
    userId: event.userId,
    title: event.title,
    start: date(event.startTime),
    durationMs: event.duration ? durationMs(event.duration) : 0,
    description: event.description,
    notifyBeforeMs: event.notifyBefore ? durationMs(event.notifyBefore) : undefined,
    ...(event.timeZone === "" ? {} : { timeZone: event.timeZone }),
    ...(event.recurrence.length > 0 ? { recurrence: [...event.recurrence] } : {}),
    ...(event.recurringEventId === ""
      ? {}
      : { recurringEventId: event.recurringEventId, originalStart: date(event.originalStartTime) }),
    createdAt: date(event.createdAt),
    updatedAt: date(event.updatedAt),
    version: event.version,
  };
}

class Copy {
  readonly replica = new SyncReplica<Event>();
  token = "";

  async sync(client: Client<typeof CalendarSyncService>, pageSize: number): Promise<void> {
    let pageToken = "";
    for (;;) {
      const page = await client.syncEvents({ syncToken: this.token, pageSize, pageToken });
      this.replica.applyPage(page.events, page.deletedIds);
      if (page.nextPageToken === "") {
        assert.notEqual(page.nextSyncToken, "", "the last page carries the next sync token");
        this.token = page.nextSyncToken;
        return;
      }
      assert.equal(page.nextSyncToken, "", "only the last page carries a sync token");
      pageToken = page.nextPageToken;
    }
  }

  state() {
    return {
      events: new Map([...this.replica.events].map(([id, e]) => [id, shown(e)])),
      hidden: new Set(this.replica.hidden),
    };
  }

  /** What the copy shows in the window, as ListEvents would list it. */
  expanded(): string[] {
    const domain = new SyncReplica<CalendarEvent>();
    for (const event of this.replica.events.values()) domain.events.set(event.id, toDomain(event));
    for (const id of this.replica.hidden) domain.hidden.add(id);
    return expandReplica(domain, WINDOW).map((e) => shown(eventToProto(e)));
  }
}

/** Runs the property against the api at `url`; `numRuns` sequences of up to `maxSteps` steps. */
export async function checkSeriesSyncModel(
  url: string,
  options: { numRuns: number; maxSteps: number },
): Promise<void> {
  const transport = protocols["Connect binary over HTTP/2"] as (typeof protocols)[string];
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArb, { minLength: 1, maxLength: options.maxSteps }),
      async (steps) => {
        const user = `series-model-${randomUUID()}`;
        const writers = Array.from({ length: WRITERS }, () =>
          clientFor(CalendarService, transport, url, user),
        );
        const syncer = clientFor(CalendarSyncService, transport, url, user);
        const replicas = Array.from({ length: REPLICAS }, () => new Copy());
        const auditor = new Copy();
        let lane = 0;
        const freshStart = () => timestampFromDate(new Date(BASE + lane++ * LANE));

        /** The server's state: a full sync from nothing, and its listing. */
        const truth = async () => {
          const full = new Copy();
          await full.sync(syncer, 5);
          const listed = await syncer.listEvents({
            timeMin: timestampFromDate(WINDOW.start),
            timeMax: timestampFromDate(WINDOW.end),
            pageSize: 1000,
          });
          return { full, listed: listed.events };
        };
        const compare = async (copy: Copy, what: string) => {
          const { full, listed } = await truth();
          assert.deepEqual(copy.state(), full.state(), `${what}: the copy against a full sync`);
          assert.deepEqual(
            copy.expanded(),
            listed.map(shown),
            `${what}: expanded against ListEvents`,
          );
        };

        for (const [n, step] of steps.entries()) {
          const { full, listed } = await truth();
          const top = [...full.replica.events.values()].filter((e) => e.recurringEventId === "");
          const series = top.filter((e) => e.recurrence.length > 0);
          const singles = top.filter((e) => e.recurrence.length === 0);
          const pickFrom = <T>(list: T[], pick: number) =>
            list.length > 0 ? (list[pick % list.length] as T) : undefined;
          const occurrenceOf = (pick: number, occurrence: number) => {
            const s = pickFrom(series, pick);
            return (
              s &&
              pickFrom(
                listed.filter((e) => e.recurringEventId === s.id),
                occurrence,
              )
            );
          };
          const calendar = writers[("writer" in step ? step.writer : 0) % WRITERS] as Client<
            typeof CalendarService
          >;
          const what = `step ${n} ${JSON.stringify(step)}`;
          // A write the server refuses because it would make two of the
          // user's events share an instant (e.g. an edit that brings back an
          // occurrence a split moved to the new series) is a right answer:
          // nothing changed, and the syncs below must still match the server.
          try {
            switch (step.kind) {
              case "createSingle":
                await calendar.createEvent({
                  event: create(EventSchema, {
                    title: `single ${lane}`,
                    startTime: freshStart(),
                    duration: durationFromMs(HOUR),
                  }),
                });
                break;
              case "createSeries":
                await calendar.createEvent({
                  event: create(EventSchema, {
                    title: `series ${lane}`,
                    startTime: freshStart(),
                    duration: durationFromMs(HOUR),
                    recurrence: [`RRULE:FREQ=WEEKLY;COUNT=${step.count}`],
                    timeZone: "UTC",
                  }),
                });
                break;
              case "editSeries": {
                const target = pickFrom(series, step.pick);
                if (!target) break;
                // A rule change: fewer weeks drop exceptions, more bring
                // occurrences back (the case a replayed copy once got wrong).
                await calendar.updateEvent({
                  event: create(EventSchema, {
                    id: target.id,
                    title: step.retitle ? `${target.title}'` : target.title,
                    startTime: target.startTime,
                    duration: target.duration,
                    recurrence: [`RRULE:FREQ=WEEKLY;COUNT=${step.count}`],
                    timeZone: "UTC",
                  }),
                  expectedVersion: target.version,
                });
                break;
              }
              case "split": {
                const target = occurrenceOf(step.pick, step.occurrence);
                if (!target?.originalStartTime) break;
                await calendar.updateEvent({
                  event: create(EventSchema, {
                    id: target.id,
                    title: `${target.title} (following)`,
                    startTime: target.originalStartTime,
                    duration: target.duration,
                  }),
                  scope: UpdateEventRequest_Scope.THIS_AND_FOLLOWING,
                });
                break;
              }
              case "editOccurrence": {
                const target = occurrenceOf(step.pick, step.occurrence);
                if (!target?.originalStartTime) break;
                const original = timestampDate(target.originalStartTime).getTime();
                await calendar.updateEvent({
                  event: create(EventSchema, {
                    id: target.id,
                    title: step.move ? target.title : `${target.title}*`,
                    // Within its lane: half an hour later, or back.
                    startTime: step.move
                      ? timestampFromDate(
                          new Date(
                            timestampDate(
                              target.startTime ?? target.originalStartTime,
                            ).getTime() === original
                              ? original + HOUR / 2
                              : original,
                          ),
                        )
                      : target.startTime,
                    duration: target.duration,
                  }),
                });
                break;
              }
              case "cancel": {
                const target = occurrenceOf(step.pick, step.occurrence);
                if (target) await calendar.deleteEvent({ id: target.id });
                break;
              }
              case "editSingle": {
                const target = pickFrom(singles, step.pick);
                if (!target) break;
                await calendar.updateEvent({
                  event: create(EventSchema, {
                    ...target,
                    title: `${target.title}'`,
                    startTime: step.move ? freshStart() : target.startTime,
                  }),
                  expectedVersion: target.version,
                });
                break;
              }
              case "delete": {
                const target = pickFrom(top, step.pick);
                if (target) await calendar.deleteEvent({ id: target.id });
                break;
              }
              case "sync": {
                const replica = replicas[step.replica] as Copy;
                await replica.sync(syncer, step.pageSize);
                await compare(replica, `${what}: replica ${step.replica}`);
                break;
              }
            }
          } catch (error) {
            if (!isOverlapRefusal(error)) throw error;
          }
          // After every step: an incremental sync reproduces the server.
          await auditor.sync(syncer, 2);
          await compare(auditor, `${what}: the auditor`);
        }
        // At the end, every replica does too, however long since its last sync.
        for (const [i, replica] of replicas.entries()) {
          await replica.sync(syncer, 3);
          await compare(replica, `the end: replica ${i}`);
        }
      },
    ),
    { numRuns: options.numRuns },
  );
}

/** FAILED_PRECONDITION for overlapping events: busy time refused the write. */
function isOverlapRefusal(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    error.code === Code.FailedPrecondition &&
    error.rawMessage.includes("overlaps")
  );
}
