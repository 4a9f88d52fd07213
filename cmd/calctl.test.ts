// calctl end to end: a real api process (cal_service api, in memory) and
// calctl run as a person or a script runs it, reading its stdout, stderr
// and exit status.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type Started, startCalService, waitForLog } from "../internal/testing/process.js";

const CALCTL = fileURLToPath(new URL("./calctl.ts", import.meta.url));
const HAS_SCRIPT = spawnSync("script", ["--version"]).status === 0;
const NO_PTY = !HAS_SCRIPT && "script(1) is not installed, so no pseudo-terminal";
const ESCAPE = "\u001b[";

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("calctl against a running api", () => {
  let api: Started;
  let url: string;

  before(async () => {
    api = startCalService(["api"], { STORAGE: "memory", API_PORT: "0", API_HOST: "127.0.0.1" });
    const listening = await waitForLog(api, (line) => line.msg === "api listening");
    url = String(listening.url);
  });
  after(async () => {
    api.child.kill("SIGTERM");
    await api.exited;
  });

  /** calctl with stdout and stderr on pipes, as in a script. */
  function calctl(
    args: string[],
    env: Record<string, string> = {},
    input?: string,
  ): Promise<Outcome> {
    const child = spawn(process.execPath, ["--import", "tsx", CALCTL, ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        CAL_URL: url,
        CAL_USER: "alice",
        TZ: "America/New_York",
        ...env,
      },
    });
    child.stdin.end(input);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  }

  /** calctl on a pseudo-terminal (script(1)), writing `answer` once it asks. */
  function calctlOnTerminal(
    args: string[],
    env: Record<string, string>,
    answer?: string,
  ): Promise<Outcome> {
    const command = [process.execPath, "--import", "tsx", CALCTL, ...args]
      .map((word) => `'${word.replaceAll("'", "'\\''")}'`)
      .join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", CAL_URL: url, TZ: "America/New_York", ...env },
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      if (answer !== undefined && output.includes("[y/N]")) {
        child.stdin.write(answer);
        answer = undefined;
      }
    });
    return new Promise((resolve) =>
      child.on("close", (code) => resolve({ code, stdout: output, stderr: "" })),
    );
  }

  const idOf = (outcome: Outcome): string => JSON.parse(outcome.stdout).event.id;

  it("adds an event and shows it as an agenda line in the local zone", async () => {
    const added = await calctl(
      ["add", "Team", "standup", "--at", "2030-01-07 09:00", "--for", "15m", "--remind", "5m"],
      { CAL_USER: "adder" },
    );
    assert.equal(added.stderr, "");
    assert.equal(added.code, 0);
    const id = /([0-9a-f-]{36})$/m.exec(added.stdout)?.[1];
    assert.ok(id, added.stdout);
    assert.equal(added.stdout, `Mon 7 Jan 2030\n  09:00-09:15  Team standup  🔔 5m  ${id}\n`);
  });

  it("prints a week as days with start-end, title, reminder mark and id", async () => {
    const env = { CAL_USER: "weekly" };
    const add = async (args: string[]) => idOf(await calctl(["--json", "add", ...args], env));
    const standup = await add([
      "Standup",
      "--at",
      "2030-03-04 09:00",
      "--for",
      "15m",
      "--remind",
      "10m",
    ]);
    const night = await add(["Night shift", "--at", "2030-03-04 23:00", "--for", "2h"]);
    const review = await add(["Review", "--at", "2030-03-06 14:00", "--for", "1h30m"]);
    await add(["Next week", "--at", "2030-03-11 10:00"]);

    const week = await calctl(["week", "2030-03-04"], env);
    assert.equal(week.code, 0);
    assert.equal(week.stderr, "");
    assert.equal(
      week.stdout,
      [
        "Mon 4 Mar 2030",
        `  09:00-09:15     Standup  🔔 10m  ${standup}`,
        `  23:00-01:00+1d  Night shift  ${night}`,
        "",
        "Wed 6 Mar 2030",
        `  14:00-15:30     Review  ${review}`,
        "",
      ].join("\n"),
    );
    // The same events in another zone: 09:00 New York is 15:00 in Berlin.
    const berlin = await calctl(["day", "2030-03-04", "--tz", "Europe/Berlin"], env);
    assert.match(berlin.stdout, /^ {2}15:00-15:15 +Standup/m);
    const empty = await calctl(["day", "2030-03-05"], { CAL_USER: "nobody" });
    assert.deepEqual(empty, { code: 0, stdout: "No events on Tue 5 Mar 2030.\n", stderr: "" });
  });

  it("--json prints the API's JSON, times in UTC", async () => {
    const env = { CAL_USER: "scripted" };
    await calctl(["add", "Call", "--at", "2030-05-02 08:30", "--for", "30m"], env);
    const listed = await calctl(["day", "2030-05-02", "--json"], env);
    assert.equal(listed.code, 0);
    const body = JSON.parse(listed.stdout);
    assert.equal(body.events.length, 1);
    assert.equal(body.events[0].title, "Call");
    assert.equal(body.events[0].startTime, "2030-05-02T12:30:00Z"); // EDT is UTC-4
    assert.equal(body.events[0].duration, "1800s");
    assert.equal(body.events[0].userId, "scripted");
  });

  it("shows, edits and removes an event by id", async () => {
    const env = { CAL_USER: "editor" };
    const id = idOf(
      await calctl(["add", "Lunch", "--at", "2030-06-03 12:00", "--json", "--remind", "1h"], env),
    );
    const edited = await calctl(
      ["edit", id, "--at", "2030-06-03 12:30", "--title", "Team lunch", "--remind", "none"],
      env,
    );
    assert.equal(edited.code, 0, edited.stderr);
    assert.equal(edited.stdout, `Mon 3 Jun 2030\n  12:30-13:30  Team lunch  ${id}\n`);

    const shown = await calctl(["show", id], env);
    assert.equal(
      shown.stdout,
      [
        "Team lunch",
        "  when      Mon 3 Jun 2030 12:30-13:30 (America/New_York)",
        "  duration  1h",
        "  reminder  none",
        `  id        ${id}`,
        "  version   2",
        "",
      ].join("\n"),
    );
    // Off a terminal nobody can answer, so rm does not ask.
    const removed = await calctl(["rm", id], env);
    assert.deepEqual(removed, { code: 0, stdout: `Deleted ${id}.\n`, stderr: "" });
    const gone = await calctl(["show", id], env);
    assert.equal(gone.code, 1);
    assert.equal(gone.stdout, "");
    assert.equal(gone.stderr, `calctl: event ${id} not found (not_found)\n`);
  });

  it("adds a weekly series, lists its occurrences marked ↻, and splits it from one on", async () => {
    const env = { CAL_USER: "repeater" };
    const added = await calctl(
      [
        "add",
        "Standup",
        "--at",
        "2030-03-04 09:00",
        "--for",
        "15m",
        "--repeat",
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "--json",
      ],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    const series = JSON.parse(added.stdout).event;
    assert.deepEqual(series.recurrence, ["RRULE:FREQ=WEEKLY;BYDAY=MO"]);
    assert.equal(series.timeZone, "America/New_York");

    // 09:00 local every Monday, across the DST change of 10 March (14:00Z, then 13:00Z).
    const first = await calctl(["week", "2030-03-04"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      first.stdout,
      `Mon 4 Mar 2030\n  09:00-09:15  Standup  ↻  ${series.id}_20300304T140000Z\n`,
    );
    const second = await calctl(["week", "2030-03-11"], env);
    assert.equal(
      second.stdout,
      `Mon 11 Mar 2030\n  09:00-09:15  Standup  ↻  ${series.id}_20300311T130000Z\n`,
    );

    // From the third Monday on: an hour later, under a new title.
    const edited = await calctl(
      [
        "edit",
        `${series.id}_20300318T130000Z`,
        "--this-and-following",
        "--at",
        "2030-03-18 10:00",
        "--title",
        "Late standup",
      ],
      env,
    );
    assert.equal(edited.code, 0, edited.stderr);
    const following = /^ {2}10:00-10:15 {2}Late standup {2}↻ {2}(\S+)$/m.exec(edited.stdout)?.[1];
    assert.ok(following && following !== series.id, edited.stdout);
    assert.equal(
      (await calctl(["week", "2030-03-11"], env)).stdout,
      second.stdout,
      "the occurrences before the split stay as they were",
    );
    assert.equal(
      (await calctl(["week", "2030-03-25"], env)).stdout,
      `Mon 25 Mar 2030\n  10:00-10:15  Late standup  ↻  ${following}_20300325T140000Z\n`,
    );
    const shown = await calctl(["show", following], env);
    assert.match(shown.stdout, /^ {2}repeats +RRULE:FREQ=WEEKLY;BYDAY=MO \(America\/New_York\)$/m);
  });

  it("sees only its user's events", async () => {
    const id = idOf(
      await calctl(["add", "Private", "--at", "2030-07-01 10:00", "--json"], { CAL_USER: "carol" }),
    );
    const other = await calctl(["--user", "dave", "show", id], { CAL_USER: "carol" });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /not_found/);
    const day = await calctl(["day", "2030-07-01"], { CAL_USER: "dave" });
    assert.equal(day.stdout, "No events on Mon 1 Jul 2030.\n");
  });

  it("exits 1 with the server's message and code when the server refuses", async () => {
    const env = { CAL_USER: "busy" };
    const first = idOf(
      await calctl(["add", "First", "--at", "2030-08-01 10:00", "--for", "1h", "--json"], env),
    );
    const clash = await calctl(["add", "Second", "--at", "2030-08-01 10:30"], env);
    assert.equal(clash.code, 1);
    assert.equal(clash.stdout, "");
    assert.match(clash.stderr, /^calctl: the event overlaps event .* \(failed_precondition\)\n$/);
    assert.ok(clash.stderr.includes(first), clash.stderr);
  });

  it("exits 1 naming the URL when the api cannot be reached", async () => {
    const down = await calctl(["today"], { CAL_URL: "http://127.0.0.1:1" });
    assert.equal(down.code, 1);
    assert.equal(down.stdout, "");
    assert.match(
      down.stderr,
      /^calctl: cannot reach http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED.*\(unavailable\)\n$/,
    );
  });

  it("exits 2 on a usage error, saying what is allowed, and sends nothing", async () => {
    const env = { CAL_USER: "typo" };
    const cases: [string[], RegExp][] = [
      [
        ["add", "X", "--at", "next tuesday"],
        /--at: "next tuesday" is not a time; use "YYYY-MM-DD HH:MM"/,
      ],
      [
        ["add", "X", "--at", "2030-09-01 10:00", "--for", "ages"],
        /--for: "ages" is not a duration/,
      ],
      [["add", "X"], /required option '--at <when>' not specified/],
      [["day", "2030-02-30"], /DATE: "2030-02-30" is not a date; use YYYY-MM-DD/],
      [["week", "--tz", "Mars/Olympus"], /--tz: unknown time zone "Mars\/Olympus"/],
      [["edit", "00000000-0000-4000-8000-000000000000"], /nothing to change/],
      [
        ["edit", "00000000-0000-4000-8000-000000000000", "--this-and-following"],
        /nothing to change/,
      ],
      [
        ["edit", "00000000-0000-4000-8000-000000000000", "--this-and-following", "--for", "1h"],
        /--this-and-following: "00000000-0000-4000-8000-000000000000" is not an occurrence's id/,
      ],
      [
        ["add", "X", "--at", "2030-09-01 10:00", "--repeat", "every monday"],
        /--repeat: "every monday" is not a rule; use RFC 5545 RRULE parts/,
      ],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["show"], /missing required argument 'id'/],
      [["--url", "ftp://x", "today"], /--url: "ftp:\/\/x" must start with http/],
    ];
    for (const [args, message] of cases) {
      const outcome = await calctl(args, env);
      assert.equal(outcome.code, 2, `${args.join(" ")}: ${outcome.stderr}`);
      assert.match(outcome.stderr, message);
      assert.equal(outcome.stdout, "");
    }
    const month = await calctl(["month", "2030-09-01", "--json"], env);
    assert.deepEqual(JSON.parse(month.stdout), {});
  });

  it("watch prints changes as they happen, and stops cleanly on Ctrl-C", async () => {
    const env = { CAL_USER: "watcher" };
    const watcher = spawn(process.execPath, ["--import", "tsx", CALCTL, "watch"], {
      env: { PATH: process.env.PATH ?? "", CAL_URL: url, TZ: "UTC", ...env },
    });
    let stdout = "";
    watcher.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => watcher.on("close", resolve));
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 20_000;
      while (!stdout.includes(text) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(stdout.includes(text), `watch did not print ${text}:\n${stdout}`);
    };
    // Changes made before the watch is connected may be missed: add until one shows.
    let id = "";
    for (let attempt = 0; attempt < 40 && !(id && stdout.includes(id)); attempt++) {
      id = idOf(
        await calctl(
          [
            "add",
            `Watched ${attempt}`,
            "--at",
            `2031-01-01 ${String(attempt % 24).padStart(2, "0")}:00`,
            "--for",
            "30m",
            "--json",
          ],
          env,
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await waitFor(id);
    assert.match(stdout, new RegExp(`^changed: .*Watched \\d+  ${id}$`, "m"));
    await calctl(["rm", id], env);
    await waitFor(`deleted: ${id}`);
    watcher.kill("SIGINT");
    assert.equal(await exited, 0);
  });

  const ics = (...events: string[]) =>
    [
      "BEGIN:VCALENDAR",
      "VERSION:2.0",
      "PRODID:-//calctl test//EN",
      ...events.flatMap((body) => ["BEGIN:VEVENT", body, "END:VEVENT"]),
      "END:VCALENDAR",
      "",
    ].join("\r\n");
  const planning = [
    "UID:planning@example.com",
    "DTSTAMP:20300101T000000Z",
    "DTSTART:20300204T150000Z",
    "DTEND:20300204T160000Z",
    "SUMMARY:Planning",
  ].join("\r\n");
  // A rule the service does not take: rejected, with the validation's reason.
  const hourly = [
    "UID:hourly@example.com",
    "DTSTAMP:20300101T000000Z",
    "DTSTART:20300205T150000Z",
    "DTEND:20300205T160000Z",
    "RRULE:FREQ=HOURLY",
    "SUMMARY:Hourly",
  ].join("\r\n");

  it("import prints what happened to each VEVENT, and a re-import changes nothing", async () => {
    const env = { CAL_USER: "importer" };
    const dir = mkdtempSync(join(tmpdir(), "calctl-import-"));
    const file = join(dir, "calendar.ics");
    writeFileSync(file, ics(planning, hourly));

    const first = await calctl(["import", file], env);
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.split("\n");
    assert.match(lines[0] ?? "", /^created {4}planning@example\.com {2}[0-9a-f-]{36}$/);
    assert.match(
      lines[1] ?? "",
      /^rejected {3}hourly@example\.com {2}invalid content: RRULE FREQ=HOURLY: /,
    );
    assert.equal(lines.length, 3, first.stdout);
    assert.equal(first.stderr, "1 created, 1 rejected.\n");
    const id = /([0-9a-f-]{36})$/m.exec(first.stdout)?.[1] ?? "";
    const day = await calctl(["day", "2030-02-04"], env);
    assert.equal(day.stdout, `Mon 4 Feb 2030\n  10:00-11:00  Planning  ${id}\n`);

    // The same file again, from stdin this time.
    const again = await calctl(["import", "-"], env, ics(planning));
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `unchanged  planning@example.com  ${id}\n`);

    const json = await calctl(["--json", "import", file], env);
    assert.equal(json.code, 0);
    const body = JSON.parse(json.stdout);
    assert.equal(body.results[0].status, "STATUS_UNCHANGED");
    assert.equal(body.results[1].status, "STATUS_REJECTED");
  });

  it("import exits 1 when the server refuses the file, 2 when it cannot be read", async () => {
    const env = { CAL_USER: "badfile" };
    const refused = await calctl(["import", "-"], env, "this is not iCalendar\n");
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /^calctl: .* \(invalid_argument\)\n$/);
    assert.equal((await calctl(["today"], env)).stdout.startsWith("No events"), true);

    const missing = await calctl(["import", "/nonexistent/calendar.ics"], env);
    assert.equal(missing.code, 2);
    assert.equal(missing.stdout, "");
    assert.match(missing.stderr, /FILE: cannot read "\/nonexistent\/calendar\.ics" \(ENOENT\)/);
  });

  it("feed prints the subscription URL; --rotate replaces it", async () => {
    const env = { CAL_USER: "subscriber" };
    const first = await calctl(["feed"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, "");
    assert.match(first.stdout, /^https?:\/\/\S+\n$/);
    assert.equal((await calctl(["feed"], env)).stdout, first.stdout);
    // The URL serves the calendar.
    // The api listens on a free port, so the URL's own origin (PUBLIC_URL unset) is not it.
    const onApi = (feedUrl: string) => {
      const { pathname, search } = new URL(feedUrl.trim());
      return new URL(pathname + search, url);
    };
    const served = await fetch(onApi(first.stdout));
    assert.equal(served.status, 200);
    assert.match(await served.text(), /^BEGIN:VCALENDAR/);

    // Off a terminal nobody can answer, so --rotate does not ask.
    const rotated = await calctl(["feed", "--rotate"], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^https?:\/\/\S+\n$/);
    assert.notEqual(rotated.stdout, first.stdout);
    assert.equal((await calctl(["feed"], env)).stdout, rotated.stdout);
    assert.equal((await fetch(onApi(first.stdout))).status, 404);

    const json = await calctl(["feed", "--json"], env);
    assert.deepEqual(JSON.parse(json.stdout), { url: rotated.stdout.trim() });
  });

  it("free prints busy time and the free gaps day by day in the local zone", async () => {
    const env = { CAL_USER: "freebusy" };
    await calctl(["add", "A", "--at", "2030-04-01 09:00", "--for", "1h"], env);
    await calctl(["add", "B", "--at", "2030-04-01 10:00", "--for", "30m"], env);
    await calctl(["add", "Late", "--at", "2030-04-01 23:00", "--for", "2h"], env);
    const free = await calctl(["free", "--from", "2030-04-01", "--to", "2030-04-02"], env);
    assert.equal(free.code, 0, free.stderr);
    assert.equal(free.stderr, "");
    assert.equal(
      free.stdout,
      [
        "Mon 1 Apr 2030",
        "  free  00:00-09:00",
        "  busy  09:00-10:30", // touching events merge
        "  free  10:30-23:00",
        "  busy  23:00-24:00",
        "",
        "Tue 2 Apr 2030",
        "  busy  00:00-01:00",
        "  free  01:00-24:00",
        "",
      ].join("\n"),
    );
    const part = await calctl(
      ["free", "--from", "2030-04-01 08:00", "--to", "2030-04-01 12:00", "--tz", "Europe/Berlin"],
      env,
    );
    // 09:00 New York is 15:00 Berlin, so 08:00-12:00 Berlin is all free.
    assert.equal(part.stdout, "Mon 1 Apr 2030\n  free  08:00-12:00\n");

    const json = await calctl(
      ["--json", "free", "--from", "2030-04-01", "--to", "2030-04-01"],
      env,
    );
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), {
      busy: [
        {
          start: "2030-04-01T13:00:00Z",
          end: "2030-04-01T14:30:00Z",
          startLocal: "2030-04-01T09:00:00-04:00",
          endLocal: "2030-04-01T10:30:00-04:00",
        },
        {
          start: "2030-04-02T03:00:00Z",
          end: "2030-04-02T04:00:00Z",
          startLocal: "2030-04-01T23:00:00-04:00",
          endLocal: "2030-04-02T00:00:00-04:00",
        },
      ],
      timeZone: "America/New_York",
    });

    const reversed = await calctl(["free", "--from", "2030-04-02", "--to", "2030-04-01"], env);
    assert.deepEqual(reversed, {
      code: 2,
      stdout: "",
      stderr: "calctl: --to: must be after --from\n",
    });
    const bad = await calctl(["free", "--from", "soon"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--from: "soon" is not a time/);
    const tooLong = await calctl(["free", "--from", "2030-01-01", "--to", "2032-01-01"], env);
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /366 days.*\(invalid_argument\)\n$/);
  });

  it("prints help and version on stdout with exit 0", async () => {
    const help = await calctl(["--help"]);
    assert.equal(help.code, 0);
    for (const verb of [
      "add",
      "today",
      "day",
      "week",
      "month",
      "show",
      "edit",
      "rm",
      "watch",
      "import",
      "feed",
      "free",
    ]) {
      assert.match(help.stdout, new RegExp(`^ {2}${verb}\\b`, "m"));
    }
    assert.match(help.stdout, /CAL_URL/);
    const version = await calctl(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it("never colours a pipe", async () => {
    await calctl(["add", "Piped", "--at", "2030-10-01 10:00", "--remind", "5m"], {
      CAL_USER: "pipe",
    });
    const listed = await calctl(["day", "2030-10-01"], { CAL_USER: "pipe" });
    assert.match(listed.stdout, /Piped/);
    assert.ok(!listed.stdout.includes(ESCAPE));
  });

  it("colours on a terminal, and not with NO_COLOR", { skip: NO_PTY }, async () => {
    const env = { CAL_USER: "tty" };
    await calctl(["add", "Coloured", "--at", "2030-10-02 10:00"], env);
    const coloured = await calctlOnTerminal(["day", "2030-10-02"], env);
    assert.equal(coloured.code, 0);
    assert.ok(coloured.stdout.includes(`${ESCAPE}1mWed 2 Oct 2030${ESCAPE}22m`), coloured.stdout);
    const plain = await calctlOnTerminal(["day", "2030-10-02"], { ...env, NO_COLOR: "1" });
    assert.match(plain.stdout, /Coloured/);
    assert.ok(!plain.stdout.includes(ESCAPE), plain.stdout);
  });

  it("rm asks on a terminal, and keeps the event unless told yes", { skip: NO_PTY }, async () => {
    const env = { CAL_USER: "asker", NO_COLOR: "1" };
    const id = idOf(await calctl(["add", "Keep me", "--at", "2030-11-02 10:00", "--json"], env));
    const declined = await calctlOnTerminal(["rm", id], env, "n\n");
    assert.equal(declined.code, 0);
    assert.match(declined.stdout, /Delete "Keep me" \(Sat 2 Nov 2030 10:00-11:00\)\? \[y\/N\]/);
    assert.match(declined.stdout, /Not deleted\./);
    assert.equal((await calctl(["show", id], env)).code, 0);

    const accepted = await calctlOnTerminal(["rm", id], env, "y\n");
    assert.match(accepted.stdout, new RegExp(`Deleted ${id}\\.`));
    assert.equal((await calctl(["show", id], env)).code, 1);

    const id2 = idOf(await calctl(["add", "Skip", "--at", "2030-11-03 10:00", "--json"], env));
    const yes = await calctlOnTerminal(["rm", "--yes", id2], env);
    assert.doesNotMatch(yes.stdout, /\[y\/N\]/);
    assert.match(yes.stdout, new RegExp(`Deleted ${id2}\\.`));
  });

  it("feed --rotate asks on a terminal, and keeps the URL unless told yes", {
    skip: NO_PTY,
  }, async () => {
    const env = { CAL_USER: "rotator", NO_COLOR: "1" };
    const url = (await calctl(["feed"], env)).stdout.trim();
    const declined = await calctlOnTerminal(["feed", "--rotate"], env, "n\n");
    assert.equal(declined.code, 0);
    assert.match(declined.stdout, /Replace the feed URL\?.*\[y\/N\]/);
    assert.match(declined.stdout, /Not rotated\./);
    assert.equal((await calctl(["feed"], env)).stdout.trim(), url);

    const accepted = await calctlOnTerminal(["feed", "--rotate"], env, "y\n");
    const rotated = (await calctl(["feed"], env)).stdout.trim();
    assert.notEqual(rotated, url);
    assert.ok(accepted.stdout.includes(rotated), accepted.stdout);

    const yes = await calctlOnTerminal(["feed", "--rotate", "--yes"], env);
    assert.doesNotMatch(yes.stdout, /\[y\/N\]/);
    assert.notEqual((await calctl(["feed"], env)).stdout.trim(), rotated);
  });
});
