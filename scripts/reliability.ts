// Runs the reliability suite (tests/reliability/*.reliability.test.ts, one
// file at a time, each against processes of its own) and prints one summary
// table of every case at the end, whatever passed or failed.
//
//   DATABASE_URL=postgres://root@127.0.0.1:5432/test AMQP_URL=amqp://guest:guest@127.0.0.1:5672 \
//     node --import tsx scripts/reliability.ts [file ...]
//
// Each file appends its rows to RELIABILITY_SUMMARY_FILE (a temporary file
// this script chooses) through Tally.publish; the exit code is the test
// runner's.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { summaryTable, type TallyRow } from "../tests/reliability/harness.js";

const SUITE_DIR = "tests/reliability";

const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : readdirSync(SUITE_DIR)
        .filter((name) => name.endsWith(".reliability.test.ts"))
        .sort()
        .map((name) => path.join(SUITE_DIR, name));

const dir = mkdtempSync(path.join(tmpdir(), "cal-reliability-"));
const summaryFile = path.join(dir, "summary.jsonl");

const code = await new Promise<number>((resolve) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", "--test-concurrency=1", ...files],
    { stdio: "inherit", env: { ...process.env, RELIABILITY_SUMMARY_FILE: summaryFile } },
  );
  // Ctrl-C reaches the runner through the terminal too; wait for it to clean up.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
  child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});

const rows: TallyRow[] = existsSync(summaryFile)
  ? readFileSync(summaryFile, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as TallyRow)
  : [];
rmSync(dir, { recursive: true, force: true });

const settings = ["FUZZ_RUNS", "RELIABILITY_LOAD_SECONDS", "RELIABILITY_FAULT_SECONDS"]
  .filter((name) => process.env[name])
  .map((name) => `${name}=${process.env[name]}`)
  .join(" ");
console.log(`\n# reliability suite summary${settings ? ` (${settings})` : ""}`);
console.log(summaryTable(rows.map((row) => ({ ...row, name: `${row.file}: ${row.name}` }))));
console.log(code === 0 ? "\n# every file passed" : `\n# the test runner failed (exit ${code})`);
process.exit(code);
