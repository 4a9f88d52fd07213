// Every migration, in the order they are applied. Migrations are TypeScript
// modules holding their SQL as a string rather than .sql files: tsc does not
// copy .sql files into dist/, and a module is found the same way from source
// (tsx) and from the build, with no path arithmetic at run time.
import type { Migration } from "../migrate.js";
import { migration0001 } from "./0001_events.js";
import { migration0002 } from "./0002_reminder_dispatch.js";
import { migration0003 } from "./0003_recurring_events.js";
import { migration0004 } from "./0004_sync.js";
import { migration0005 } from "./0005_feed_secrets.js";
import { migration0006 } from "./0006_sync_occurrences.js";
import { migration0007 } from "./0007_reminders.js";
import { migration0008 } from "./0008_sync_series_resets.js";
import { migration0009 } from "./0009_fast_write_lock.js";

export const migrations: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0007,
  migration0008,
  migration0009,
];
