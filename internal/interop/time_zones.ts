// TZID parameters as calendar apps write them, turned into IANA names:
// IANA names as they are (Google, Apple), Windows names (Outlook: "W. Europe
// Standard Time", mapped with the CLDR table that windows-iana carries), and
// IANA names behind a vendor prefix ("/mozilla.org/20050126_1/Europe/Berlin").
import { Temporal } from "temporal-polyfill";
import { findIana } from "windows-iana";

// Names only: Temporal would also take offsets and ISO strings as a zone.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

/** The IANA zone `tzid` names, or undefined when it names none we know. */
export function ianaZoneOf(tzid: string): string | undefined {
  const name = tzid.trim();
  const direct = knownZone(name);
  if (direct) return direct;
  // The first entry of the CLDR mapping is the zone for territory "001",
  // the one Windows itself means by the name.
  const windows = findIana(name)[0];
  if (windows !== undefined && knownZone(windows)) return knownZone(windows);
  const parts = name.split("/").filter((part) => part !== "");
  for (let i = 1; i < parts.length; i++) {
    const suffix = knownZone(parts.slice(i).join("/"));
    if (suffix) return suffix;
  }
  return undefined;
}

function knownZone(name: string): string | undefined {
  if (name.length > 64 || !ZONE_NAME.test(name)) return undefined;
  try {
    return Temporal.Now.zonedDateTimeISO(name).timeZoneId;
  } catch {
    return undefined;
  }
}
