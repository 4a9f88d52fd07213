// Reliability: the .ics importer under hostile files, against `cal_service
// api` as a child process on a real Postgres store (see harness.ts).
//
//   FUZZ_RUNS=200  (default, CI)   FUZZ_RUNS=2000 (the full run)
//
// Files are the Google, Outlook and Apple fixtures (single events, and series
// with moved and cancelled occurrences) mutated line by line
// (dropped, repeated, truncated, refolded, values replaced by hostile text,
// hostile properties and components inserted), and random text. Over every
// protocol, ImportEvents must answer success or a caller's-fault code, never
// INTERNAL, UNKNOWN or UNAVAILABLE, and never half an import:
//   - a refused file wrote nothing (no event under any id its UIDs map to,
//     nothing in the user's feed);
//   - an accepted file has one result per VEVENT it holds, and every event
//     reported created, updated or unchanged reads back;
//   - importing an accepted file again creates nothing.
// POST /import with random bodies and content types answers 200, 400, 401,
// 413 or 415. Afterwards the server logged no unexpected errors.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import ICAL from "ical.js";
import { CalendarService } from "../../gen/calendar/v1/calendar_pb.js";
import { ImportResult_Status as Status } from "../../gen/calendar/v1/interop_pb.js";
import { clientFor, protocolNamed, protocols } from "../../internal/api/testing/test_server.js";
import { eventIdFromUid } from "../../internal/interop/event_uid.js";
import { parseKeepingBadRules } from "../../internal/interop/ics_reader.js";
import { hostileString } from "./arbitraries.js";
import {
  assertNoServerErrors,
  fuzzRuns,
  type ServiceUnderTest,
  startService,
  Tally,
} from "./harness.js";

const RUNS = fuzzRuns();
const tally = new Tally("ical import");
const FIXTURES = [
  "google.ics",
  "outlook.ics",
  "apple.ics",
  "google_series.ics",
  "outlook_series.ics",
  "apple_series.ics",
].map((name) =>
  readFileSync(new URL(`../../internal/interop/testdata/${name}`, import.meta.url), "utf8"),
);
const CALLER_FAULTS = new Set([Code.InvalidArgument, Code.ResourceExhausted]);

let svc: ServiceUnderTest;

before(async () => {
  svc = await startService();
  console.log(`# api at ${svc.url} (pid ${svc.pid}) on ${svc.storage}; FUZZ_RUNS=${RUNS}`);
});

after(async () => {
  tally.publish(`ical import fuzzing (FUZZ_RUNS=${RUNS})`);
  await svc?.stop();
});

// ---------------------------------------------------------------------------
// Files.

const dateValue = fc.oneof(
  fc
    .date({ min: new Date("0001-01-01"), max: new Date("9999-12-31"), noInvalidDate: true })
    .map((d) =>
      d
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, ""),
    ),
  fc.constantFrom(
    "20270101",
    "20270230",
    "99991231T235959Z",
    "00000000T000000",
    "2027-01-01",
    "20270101T250000",
    "T",
    "",
  ),
);

/** Content lines a hostile file might hold. */
const hostileLine: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        "DTSTART",
        "DTEND",
        "RECURRENCE-ID",
        "EXDATE",
        "DUE",
        "TRIGGER;VALUE=DATE-TIME",
      ),
      dateValue,
    )
    .map(([n, v]) => `${n}:${v}`),
  fc
    .tuple(
      fc.constantFrom("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE"),
      fc.oneof(
        hostileString(40),
        fc.constantFrom("Europe/Berlin", "W. Europe Standard Time", "America/Los_Angeles"),
      ),
      dateValue,
    )
    .map(([n, tz, v]) => `${n};TZID=${tz.replace(/[\r\n:;]/g, "")}:${v}`),
  fc
    .tuple(
      fc.constantFrom(
        "SUMMARY",
        "DESCRIPTION",
        "UID",
        "LOCATION",
        "STATUS",
        "TZID",
        "X-WR-TIMEZONE",
      ),
      hostileString(300),
    )
    .map(([n, v]) => `${n}:${v.replace(/[\r\n]/g, "\\n")}`),
  fc.constantFrom(
    "DURATION:P1000000W",
    "DURATION:-PT1H",
    "DURATION:PT",
    "DURATION:P1D",
    "TRIGGER:-P400D",
    "TRIGGER:PT5M",
    "TRIGGER;RELATED=END:-PT5M",
    "RRULE:FREQ=DAILY",
    "RRULE:FREQ=SECONDLY;INTERVAL=0",
    "RRULE:FREQ=HOURLY;COUNT=3",
    "RRULE:FREQ=FOO;INTERVAL=abc",
    "RRULE:BYDAY=XX",
    "RRULE:FREQ=DAILY;BYHOUR=9,17",
    "RRULE:FREQ=WEEKLY;COUNT=1001",
    "RRULE:FREQ=YEARLY;UNTIL=99991231T235959Z",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2",
    "RRULE:FREQ=DAILY;INTERVAL=9999;UNTIL=20270101",
    "EXDATE;VALUE=DATE:20270105",
    "RDATE;VALUE=PERIOD:20270101T100000Z/PT1H",
    "RECURRENCE-ID;RANGE=THISANDFUTURE:20270105T090000Z",
    "RECURRENCE-ID;VALUE=DATE:20270303",
    "STATUS:CANCELLED",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "BEGIN:VALARM",
    "END:VALARM",
    "BEGIN:VTIMEZONE",
    "END:VTIMEZONE",
    "BEGIN:VCALENDAR",
    "END:VCALENDAR",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+9999",
    "TZOFFSETTO:-0000",
    "END:STANDARD",
    ":",
    ";",
    "X-;=:",
    " folded continuation",
  ),
);

type Mutation =
  | { kind: "drop"; at: number }
  | { kind: "repeat"; at: number }
  | { kind: "insert"; at: number; line: string }
  | { kind: "replace"; at: number; line: string }
  | { kind: "truncate"; at: number }
  | { kind: "refold"; at: number; cut: number }
  | { kind: "lf-only" };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("repeat" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), line: hostileLine }),
  fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), line: hostileLine }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("refold" as const), at: fc.nat(), cut: fc.nat() }),
  fc.constant({ kind: "lf-only" as const }),
);

function mutate(file: string, mutations: readonly Mutation[]): string {
  let lines = file.split("\r\n").join("\n").split("\n");
  let eol = "\r\n";
  for (const m of mutations) {
    const at = "at" in m ? m.at % Math.max(lines.length, 1) : 0;
    switch (m.kind) {
      case "drop":
        lines.splice(at, 1);
        break;
      case "repeat":
        lines.splice(at, 0, lines[at] ?? "");
        break;
      case "insert":
        lines.splice(at, 0, m.line);
        break;
      case "replace":
        lines[at] = m.line;
        break;
      case "truncate":
        lines = lines.slice(0, at + 1);
        break;
      case "refold": {
        const line = lines[at] ?? "";
        const cut = m.cut % Math.max(line.length, 1);
        lines[at] = `${line.slice(0, cut)}\n ${line.slice(cut)}`;
        break;
      }
      case "lf-only":
        eol = "\n";
        break;
    }
  }
  return lines.join("\n").split("\n").join(eol);
}

const icsArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom(...FIXTURES), fc.array(mutationArb, { minLength: 1, maxLength: 6 }))
      .map(([file, ms]) => mutate(file, ms)),
  },
  { weight: 1, arbitrary: hostileString(2000) },
  {
    weight: 1,
    arbitrary: fc
      .array(hostileLine, { maxLength: 30 })
      .map((lines) => ["BEGIN:VCALENDAR", ...lines, "END:VCALENDAR"].join("\r\n")),
  },
);

// ---------------------------------------------------------------------------
// Checks.

/** UIDs written in the file, read the way a test may: unfolded lines, no parser. */
function uidsIn(ics: string): string[] {
  return ics
    .replace(/\r?\n[ \t]/g, "")
    .split(/\r?\n/)
    .filter((line) => line.toUpperCase().startsWith("UID:"))
    .map((line) => line.slice(4));
}

/**
 * The VEVENTs ical.js finds in an accepted file, in file order (parsed as
 * the importer parses it: an RRULE ical.js cannot read fails its VEVENT, not
 * the file).
 */
function veventsOf(ics: string): ICAL.Component[] {
  const parsed: unknown = parseKeepingBadRules(ics);
  const roots = Array.isArray(parsed) && parsed.every(Array.isArray) ? parsed : [parsed];
  return roots
    .map((root) => new ICAL.Component(root as never))
    .flatMap((calendar) => calendar.getAllSubcomponents("vevent"));
}

/** True for an override that cancels its occurrence (RECURRENCE-ID and STATUS:CANCELLED). */
function cancelsOccurrence(vevent: ICAL.Component | undefined): boolean {
  try {
    return (
      vevent?.hasProperty("recurrence-id") === true &&
      String(vevent.getFirstPropertyValue("status") ?? "").toUpperCase() === "CANCELLED"
    );
  } catch {
    return false;
  }
}

async function feedEventCount(client: Client<typeof CalendarService>): Promise<number> {
  const { url } = await client.getFeedUrl({});
  const response = await fetch(`${svc.url}${new URL(url).pathname}`);
  assert.equal(response.status, 200);
  return (await response.text()).split("\r\n").filter((line) => line === "BEGIN:VEVENT").length;
}

describe("ImportEvents under hostile files", () => {
  // The baseline the mutations start from, on this Postgres store: the
  // series fixtures import whole (series, moved and cancelled occurrences),
  // and again as unchanged.
  it("imports the series fixtures whole, and again unchanged", async () => {
    for (const ics of FIXTURES.filter((file) => file.includes("RRULE:"))) {
      const client = clientFor(
        CalendarService,
        protocolNamed("Connect JSON over HTTP/1.1"),
        svc.url,
        `fuzz-${randomUUID()}`,
      );
      const first = await client.importEvents({ ics });
      assert.ok(first.results.length >= 2);
      assert.ok(
        first.results.every((r) => r.status === Status.CREATED),
        JSON.stringify(first.results),
      );
      const again = await client.importEvents({ ics });
      assert.ok(
        again.results.every((r) => r.status === Status.UNCHANGED),
        JSON.stringify(again.results),
      );
    }
  });

  for (const [protocol, transport] of Object.entries(protocols)) {
    it(`answers success or a caller's fault, never half an import (${protocol})`, async () => {
      const name = `ImportEvents, ${protocol}`;
      await fc.assert(
        fc.asyncProperty(icsArb, async (ics) => {
          const client = clientFor(CalendarService, transport, svc.url, `fuzz-${randomUUID()}`);
          let failure: string | undefined;
          try {
            const { results } = await client.importEvents({ ics });
            const vevents = veventsOf(ics);
            assert.equal(results.length, vevents.length, "one result per VEVENT");
            for (const [at, result] of results.entries()) {
              if (result.status === Status.REJECTED) {
                assert.equal(result.eventId, "");
                assert.ok(result.reason !== "", "a rejection says why");
              } else {
                assert.ok(
                  [Status.CREATED, Status.UPDATED, Status.UNCHANGED].includes(result.status),
                  `status ${result.status}`,
                );
                if (cancelsOccurrence(vevents[at])) {
                  await assert.rejects(
                    client.getEvent({ id: result.eventId }),
                    (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound,
                    "a cancelled occurrence still reads back",
                  );
                } else {
                  await client.getEvent({ id: result.eventId });
                }
              }
            }
            const again = await client.importEvents({ ics });
            assert.ok(
              !again.results.some((r) => r.status === Status.CREATED),
              "a re-import created events",
            );
          } catch (error) {
            if (!(error instanceof ConnectError)) throw error;
            if (!CALLER_FAULTS.has(error.code)) {
              failure = `${Code[error.code]}: ${error.rawMessage.slice(0, 200)}`;
            } else {
              // Refused as a whole: nothing of it was written.
              for (const uid of uidsIn(ics)) {
                await assert.rejects(
                  client.getEvent({ id: eventIdFromUid(uid) }),
                  (e: unknown) => e instanceof ConnectError && e.code === Code.NotFound,
                );
              }
              assert.equal(await feedEventCount(client), 0, "a refused file left events behind");
            }
          }
          tally.record(name, failure === undefined, failure);
          assert.equal(failure, undefined, failure);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("POST /import answers 200, 400, 401, 413 or 415 to anything", async () => {
    const name = "POST /import";
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(icsArb, hostileString(200)),
        fc.constantFrom(
          "text/calendar",
          "text/calendar; charset=utf-8",
          "TEXT/CALENDAR",
          "application/json",
          "text/plain",
          "",
          "multipart/form-data; boundary=x",
        ),
        fc.option(fc.constantFrom("fuzz-user", "", "a".repeat(200), "tab\tuser"), {
          nil: undefined,
        }),
        async (body, contentType, user) => {
          const headers: Record<string, string> = {};
          if (contentType !== "") headers["content-type"] = contentType;
          if (user !== undefined) headers["x-user-id"] = user;
          const response = await fetch(`${svc.url}/import`, { method: "POST", body, headers });
          const text = await response.text();
          const ok = [200, 400, 401, 413, 415].includes(response.status);
          tally.record(name, ok, ok ? undefined : `${response.status}: ${text.slice(0, 200)}`);
          assert.ok(ok, `${response.status}: ${text.slice(0, 200)}`);
          if (response.status !== 200 && response.status !== 415) {
            assert.ok(typeof (JSON.parse(text) as { code?: unknown }).code === "string");
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("the server logged no unexpected errors", () => {
    assertNoServerErrors(svc, tally);
  });
});
