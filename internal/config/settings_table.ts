// The README's settings table, rendered from the declarations. The README
// holds a copy between two markers; config.test.ts fails when it differs,
// and `npm run settings:readme` writes it.
import { settingList } from "./settings.js";

export const TABLE_START = "<!-- settings:start -->";
export const TABLE_END = "<!-- settings:end -->";

const cell = (value: string) => value.replaceAll("|", "\\|");

export function settingsTable(): string {
  const rows = settingList.map(
    (s) =>
      `| \`${s.name}\` | ${s.default === undefined ? "unset" : `\`${s.default}\``} | ${cell(s.parser.accepts)} | ${cell(s.doc)} |`,
  );
  return ["| variable | default | accepts | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** `readme` with the text between the markers replaced by the current table. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README lacks ${TABLE_START} ... ${TABLE_END}`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${settingsTable()}\n${readme.slice(end)}`;
}
