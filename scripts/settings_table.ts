// Rewrites README.md's settings table from internal/config/settings.ts
// (`npm run settings:readme`); config.test.ts checks it is current.
import { readFileSync, writeFileSync } from "node:fs";
import { withSettingsTable } from "../internal/config/settings_table.js";

const path = new URL("../README.md", import.meta.url);
const before = readFileSync(path, "utf8");
const after = withSettingsTable(before);
writeFileSync(path, after);
process.stdout.write(
  before === after
    ? "README.md: settings table already current\n"
    : "README.md: settings table updated\n",
);
