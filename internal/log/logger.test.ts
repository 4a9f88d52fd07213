// Log format: JSON lines for machines, readable lines for a person at a
// terminal, and LOG_FORMAT to force either.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveLogFormat } from "./logger.js";

const ENTRY = fileURLToPath(new URL("../../cmd/cal_service.ts", import.meta.url));
const API_ENV = { STORAGE: "memory", API_PORT: "0", API_HOST: "127.0.0.1" };
const HAS_SCRIPT = spawnSync("script", ["--version"]).status === 0;

/**
 * Runs the api until it logs that it listens, then stops it, and returns
 * what it wrote. With `terminal`, under script(1), so that its stderr is a
 * pseudo-terminal as when a person runs it.
 */
async function apiOutput(env: Record<string, string>, terminal: boolean): Promise<string> {
  const command = [process.execPath, "--import", "tsx", ENTRY, "api"];
  const [file, args] = terminal
    ? ["script", ["-qec", command.join(" "), "/dev/null"]]
    : [process.execPath, command.slice(1)];
  const child = spawn(file, args, {
    env: { PATH: process.env.PATH ?? "", ...API_ENV, ...env },
    detached: true,
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const deadline = Date.now() + 30_000;
  while (!output.includes("api listening") && Date.now() < deadline && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  await exited;
  assert.ok(output.includes("api listening"), `the api did not start:\n${output}`);
  return output;
}

const ESCAPE = "\u001b[";
const jsonLines = (output: string) =>
  output
    .split(/\r?\n/)
    // script(1) says so when it is stopped; it is not the api's output.
    .filter((line) => line !== "" && !line.startsWith("Session terminated"))
    .map((line) => JSON.parse(line));

describe("log format", () => {
  it("auto is pretty on a terminal and JSON elsewhere; json and pretty force it", () => {
    assert.equal(resolveLogFormat("auto", true), "pretty");
    assert.equal(resolveLogFormat("auto", false), "json");
    assert.equal(resolveLogFormat("json", true), "json");
    assert.equal(resolveLogFormat("pretty", false), "pretty");
  });

  it("writes JSON lines when stderr is not a terminal", async () => {
    const lines = jsonLines(await apiOutput({}, false));
    assert.ok(
      lines.some((l) => l.msg === "api listening" && l.role === "api" && l.level === "info"),
    );
  });

  it("LOG_FORMAT=pretty writes readable lines, without colour, to a pipe", async () => {
    const output = await apiOutput({ LOG_FORMAT: "pretty" }, false);
    assert.match(output, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: api: api listening$/m);
    assert.ok(!output.includes(ESCAPE), output);
    assert.throws(() => jsonLines(output));
  });

  it("is readable and coloured on a terminal", {
    skip: !HAS_SCRIPT && "script(1) is not installed, so no pseudo-terminal",
  }, async () => {
    const output = await apiOutput({}, true);
    assert.match(output, /INFO.*: .*api: api listening/);
    assert.ok(output.includes(ESCAPE), "no colour on a terminal");
  });

  it("never colours with NO_COLOR, and LOG_FORMAT=json keeps JSON on a terminal", {
    skip: !HAS_SCRIPT && "script(1) is not installed, so no pseudo-terminal",
  }, async () => {
    const plain = await apiOutput({ NO_COLOR: "1" }, true);
    assert.match(plain, /INFO: api: api listening/);
    assert.ok(!plain.includes(ESCAPE), plain);
    const json = jsonLines(await apiOutput({ LOG_FORMAT: "json" }, true));
    assert.ok(json.some((l) => l.msg === "api listening"));
  });
});

/**
 * Runs `then` in a process of its own right after it logs one line, and
 * returns what reached its stderr (a pipe, as in a container).
 */
function afterOneLine(batched: boolean, then: string): string {
  const logger = new URL("./logger.ts", import.meta.url).href;
  const script = `
    import { createLogger } from ${JSON.stringify(logger)};
    const log = createLogger("info", "json", { batched: ${batched} });
    log.info("the line");
    ${then}`;
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script],
    { encoding: "utf8", timeout: 20_000 },
  );
  return run.stderr;
}

describe("log writes", () => {
  it("unbatched (every role but the api): the line is written when info() returns", () => {
    // The sender acks a reminder right after its delivery line: a SIGKILL
    // at that moment must not lose the line.
    const output = afterOneLine(false, `process.kill(process.pid, "SIGKILL");`);
    assert.match(output, /"msg":"the line"/);
  });

  it("batched (the api): lines wait for a batch, and are written by 100 ms or at exit", () => {
    assert.doesNotMatch(
      afterOneLine(true, `process.kill(process.pid, "SIGKILL");`),
      /the line/,
      "a batched line was written at once: the api pays a write(2) per RPC again",
    );
    assert.match(afterOneLine(true, "process.exit(0);"), /"msg":"the line"/);
    assert.match(
      afterOneLine(true, `setTimeout(() => process.kill(process.pid, "SIGKILL"), 400);`),
      /"msg":"the line"/,
    );
  });
});
