// Records every module URL a process loads, one a line, into the file named
// by RECORD_LOADS_TO. Preload it with `--import` (NODE_OPTIONS): in the main
// thread it registers itself as a module hook; in the hooks thread its
// `load` hook appends each URL before loading it. Plain JavaScript, because
// the hooks thread does not go through tsx. For cmd/roles_load.test.ts.
import { appendFileSync } from "node:fs";
import { register } from "node:module";
import { isMainThread } from "node:worker_threads";

let file;

export function initialize(data) {
  file = data.file;
}

export async function load(url, context, nextLoad) {
  if (file) appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}

if (isMainThread && process.env.RECORD_LOADS_TO) {
  register(import.meta.url, { data: { file: process.env.RECORD_LOADS_TO } });
}
