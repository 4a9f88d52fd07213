#!/usr/bin/env node
// calctl: the command-line client of cal_service (internal/cli).
import { readFileSync } from "node:fs";
import { terminalOutput } from "../internal/cli/context.js";
import { runCalctl } from "../internal/cli/program.js";

function version(): string {
  // From source this file is cmd/calctl.ts; built, dist/cmd/calctl.js.
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")).version;
    } catch {}
  }
  return "unknown";
}

runCalctl(process.argv.slice(2), process.env, terminalOutput(process.env), version()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`calctl: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
