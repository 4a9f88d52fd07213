// Busy time between two series, decided exactly for every date however far
// in the future, by expanding a bounded stretch of both (rrule-temporal
// expands; nothing here generates occurrences by hand).
//
// The argument. Write a series' occurrences as the set of instants its rule
// yields. Three facts make that set periodic from some instant on:
// 1. A rule's local date-times repeat: shifting every local date by P_local
//    days maps the rule's local date-times onto themselves (from DTSTART on),
//    where P_local is
//    - for DAILY/WEEKLY rules using only INTERVAL, BYDAY (no ordinals), WKST,
//      COUNT, UNTIL ("week-patterned"): INTERVAL days (DAILY; lcm with 7 when
//      BYDAY filters weekdays) or 7 x INTERVAL days (WEEKLY);
//    - for every other rule, the Gregorian calendar's own period, 400 years =
//      146,097 days = 20,871 weeks = 4,800 months exactly (dates, weekdays,
//      leap days and week numbers all repeat), combined with INTERVAL:
//      lcm(146,097, n) days (DAILY), lcm(20,871 x 7, 7n) days (WEEKLY),
//      lcm(4,800, n) months (MONTHLY), lcm(400, n) years (YEARLY).
// 2. A zone's offsets repeat: a zone with no transition after the instant
//    the comparison starts has one offset; any other zone follows tzdata's
//    last annual rule forever (tzdata's explicit transitions end by 2037, so
//    from 2038-01-01 on; ZONE_RULES_SETTLED), and annual rules repeat with the
//    400-year cycle. So the instants repeat with P = P_local (fixed offset)
//    or lcm(P_local, 146,097) days (DST), from T_zone = the comparison's start
//    or 2038-01-01, whichever is later.
// 3. RDATE, EXDATE and stored exceptions are finitely many: after the last
//    of them (T_dated) the set is the rule's alone.
// Let L = lcm(P_a, P_b) and T0 = max(later start, T_zone, T_dated). From T0
// on, instant x starts an occurrence of either series exactly when x + L
// does (within its COUNT/UNTIL, which only end a series). A clash is a pair
// of occurrences a, b with a < b + d_b and b < a + d_a. If a clash has
// min(a, b) >= T0 + L, moving both back by L (again and again) gives a clash
// with min(a, b) in [T0, T0 + L), so both start before T0 + L + maxDuration.
// Any clash has max(a, b) >= later start, so min(a, b) > later start -
// maxDuration. Hence: the two series clash at some date if and only if they
// clash among the occurrences starting in [later start - maxDuration,
// T0 + L + maxDuration), cut at the earlier series' end. That window is
// expanded in chunks (the library gives up on long spans), in time order,
// stopping at the first clash; the earliest clash is the one reported.
//
// Cheap cases: week-patterned rules in fixed-offset zones (UTC, Asia/Tokyo,
// ...) have L of days or weeks. Two series in one DST zone, one of them
// week-patterned, would need L = 400 years of both; wallClockApart() decides
// them on the wall clock instead (see there), in milliseconds. Series in two
// different DST zones, or both calendar-bound, take the general window.
//
// Bound: the window's size in FREQ periods of both rules is computed before
// anything is expanded; above seriesCheckLimits.maxPeriods the write is
// refused as uncheckable rather than accepted with a possible clash (e.g. a
// WEEKLY series in New York against a WEEKLY one in Berlin, 2 x 20,871 weeks
// over 400 years, is within it; a DAILY one in either zone, 146,097 days,
// is not). docs/RECURRENCE.md gives the measured worst case.
import { Temporal } from "temporal-polyfill";
import { BoundedCache } from "./bounded_cache.js";
import { type Recurrence, type RuleShape, Schedule } from "./recurrence.js";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const CYCLE_DAYS = 146_097n;
const CYCLE_MS = Number(CYCLE_DAYS) * DAY_MS;
/** From here on every zone follows its last tzdata rule (zic writes explicit transitions up to 2037). */
const ZONE_RULES_SETTLED = Date.UTC(2038, 0, 1);
/** Far enough from the ends of Date's and Temporal's range (about 270,000 years). */
const LATEST_WINDOW_END = Date.UTC(200_000, 0, 1);

export const seriesCheckLimits = {
  /**
   * FREQ periods (days of a DAILY rule, weeks of a WEEKLY one, ...) that one
   * comparison may expand, both series together: two weekly series in two
   * DST zones (about 43,000 over 412 years) fit. It keeps the check well
   * inside a call's 3 s budget: measured 0.2 to 0.65 s at 43,000 periods on
   * a loaded 2-core machine (docs/RECURRENCE.md).
   */
  maxPeriods: 50_000,
} as const;

export interface SeriesSide {
  start: Date;
  durationMs: number;
  recurrence: Recurrence;
  /** Original starts (epoch ms) that have an exception: not generated. */
  overridden: ReadonlySet<number>;
}

export type SeriesComparison =
  | { kind: "apart" }
  /** `start`: the first occurrence of the second series that the first one's occurrences overlap. */
  | { kind: "clash"; start: Date }
  | { kind: "uncheckable"; reason: string };

/** Do `mine` and `theirs` share an instant at any date? See the argument above. */
export function compareSeries(mine: SeriesSide, theirs: SeriesSide): SeriesComparison {
  const a = { side: mine, schedule: Schedule.of(mine.start, mine.recurrence) };
  const b = { side: theirs, schedule: Schedule.of(theirs.start, theirs.recurrence) };
  const from = Math.max(mine.start.getTime(), theirs.start.getTime());
  const maxDuration = Math.max(mine.durationMs, theirs.durationMs);
  const lastA = a.schedule.last()?.getTime() ?? Number.POSITIVE_INFINITY;
  const lastB = b.schedule.last()?.getTime() ?? Number.POSITIVE_INFINITY;
  // Every occurrence of a clash starts before the earlier series' last start plus a duration.
  const bounded = Math.min(lastA, lastB) + maxDuration + 1;
  if (bounded <= from - maxDuration) return { kind: "apart" };

  const wall = wallClockApart(mine, theirs, a.schedule.shape, b.schedule.shape, from);
  if (wall.kind !== "unknown") return wall;

  const dst = [mine, theirs].some((side) => !offsetFixedAfter(side.recurrence.timeZone, from));
  const periodDays = lcm(
    lcm(localPeriodDays(a.schedule.shape), localPeriodDays(b.schedule.shape)),
    dst ? CYCLE_DAYS : 1n,
  );
  const dated = [a, b].flatMap(({ side, schedule }) => [
    ...side.overridden,
    schedule.shape.lastDatedLine ?? Number.NEGATIVE_INFINITY,
  ]);
  const t0 = Math.max(from, dst ? ZONE_RULES_SETTLED : from, Math.max(...dated) + 1);
  const periodicEnd =
    periodDays * BigInt(DAY_MS) > BigInt(LATEST_WINDOW_END)
      ? Number.POSITIVE_INFINITY
      : t0 + Number(periodDays) * DAY_MS + maxDuration;
  const end = Math.min(periodicEnd, bounded);
  const windowStart = from - maxDuration;
  const periods =
    periodsIn(a.schedule.shape, end - windowStart) + periodsIn(b.schedule.shape, end - windowStart);
  if (!(end <= LATEST_WINDOW_END) || periods > seriesCheckLimits.maxPeriods) {
    const years = Number(periodDays) / 365.2425;
    return {
      kind: "uncheckable",
      reason:
        `the two series repeat together only every ${years >= 1 ? Math.round(years).toLocaleString("en") : Math.round(Number(periodDays))} ${years >= 1 ? "years" : "days"}` +
        ` (their rules${dst ? " and time zones' daylight-saving rules" : ""}); checking every date exactly would expand` +
        ` ${Number.isFinite(periods) ? Math.round(periods).toLocaleString("en") : "unboundedly many"} periods, more than ${seriesCheckLimits.maxPeriods.toLocaleString("en")}:` +
        " give one of them a COUNT or UNTIL, a simpler rule, or the other's time zone",
    };
  }
  const clash = firstClashIn(a, b, windowStart, end, maxDuration);
  return clash === undefined ? { kind: "apart" } : { kind: "clash", start: new Date(clash) };
}

interface Side {
  side: SeriesSide;
  schedule: Schedule;
}

/**
 * The earliest start of an occurrence of `b` that an occurrence of `a`
 * overlaps, among a's occurrences starting in [from, to); expanded chunk by
 * chunk, stopping once no later chunk can hold an earlier clash.
 */
function firstClashIn(a: Side, b: Side, from: number, to: number, maxDuration: number) {
  // Chunks, sized for the denser rule, grow from a few of its periods: a
  // clash is usually near, and then found cheaply.
  const largest = Math.min(chunkMs(a.schedule.shape), chunkMs(b.schedule.shape));
  let chunk = Math.min(largest, largest / 250);
  let best: number | undefined;
  for (let at = from; at < to; at += chunk, chunk = Math.min(2 * chunk, largest)) {
    // b's clashing occurrences start after a's start minus b's duration.
    if (best !== undefined && at - b.side.durationMs >= best) break;
    const chunkEnd = Math.min(at + chunk, to);
    const mine = startsOf(a, at, chunkEnd);
    if (mine.length === 0) continue;
    const theirs = startsOf(b, at - maxDuration, chunkEnd + maxDuration);
    const hit = firstPair(mine, a.side.durationMs, theirs, b.side.durationMs);
    if (hit !== undefined && (best === undefined || hit < best)) best = hit;
  }
  return best;
}

/** Generated, not overridden starts in [from, to), in order; long spans in halves (the library caps its work). */
function startsOf(side: Side, from: number, to: number): number[] {
  if (from >= to) return [];
  try {
    return side.schedule
      .startsBetween(new Date(from), new Date(to))
      .map((start) => start.getTime())
      .filter((start) => !side.side.overridden.has(start));
  } catch (error) {
    if (!/Maximum iterations/.test(String(error)) || to - from <= 7 * DAY_MS) throw error;
    const middle = from + Math.floor((to - from) / 2);
    return [...startsOf(side, from, middle), ...startsOf(side, middle, to)];
  }
}

/** The earliest b in `theirs` that some a in `mine` overlaps (both sorted). */
function firstPair(
  mine: readonly number[],
  mineDuration: number,
  theirs: readonly number[],
  theirDuration: number,
): number | undefined {
  let i = 0;
  for (const b of theirs) {
    while (i < mine.length && (mine[i] as number) + mineDuration <= b) i++;
    if (i === mine.length) return undefined;
    if ((mine[i] as number) < b + theirDuration) return b;
  }
  return undefined;
}

const WEEK_PATTERN_PARTS = new Set(["FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST", "BYDAY"]);

/** A DAILY or WEEKLY rule whose local dates repeat every few days or weeks (see the argument). */
function weekPatterned(shape: RuleShape): boolean {
  return (
    (shape.freq === "DAILY" || shape.freq === "WEEKLY") &&
    [...shape.parts.keys()].every((part) => WEEK_PATTERN_PARTS.has(part)) &&
    !/\d/.test(shape.parts.get("BYDAY") ?? "")
  );
}

/** P_local of the argument, in days. */
export function localPeriodDays(shape: RuleShape): bigint {
  const n = BigInt(shape.interval);
  if (weekPatterned(shape)) {
    if (shape.freq === "WEEKLY") return 7n * n;
    return shape.parts.has("BYDAY") ? lcm(n, 7n) : n;
  }
  switch (shape.freq) {
    case "DAILY":
      return lcm(CYCLE_DAYS, n);
    case "WEEKLY":
      return lcm(CYCLE_DAYS, 7n * n);
    case "MONTHLY":
      return (lcm(4_800n, n) / 4_800n) * CYCLE_DAYS;
    case "YEARLY":
      return (lcm(400n, n) / 400n) * CYCLE_DAYS;
  }
}

const PERIOD_MS: Record<RuleShape["freq"], number> = {
  DAILY: DAY_MS,
  WEEKLY: 7 * DAY_MS,
  MONTHLY: 30.436875 * DAY_MS,
  YEARLY: 365.2425 * DAY_MS,
};

/** How many FREQ periods a span holds (what the library walks through, INTERVAL or not). */
function periodsIn(shape: RuleShape, spanMs: number): number {
  return Math.max(0, spanMs) / PERIOD_MS[shape.freq];
}

/** A span the library expands in one call without hitting its iteration cap, in most cases. */
function chunkMs(shape: RuleShape): number {
  return Math.min(2_000 * PERIOD_MS[shape.freq] * shape.interval, 50 * 365.2425 * DAY_MS);
}

function gcd(x: bigint, y: bigint): bigint {
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function lcm(x: bigint, y: bigint): bigint {
  return (x / gcd(x, y)) * y;
}

// Keyed by zone and month: bounded, as clients choose both.
const fixedOffsetCache = new BoundedCache<string, boolean>(10_000);

/** True when `zone` has no offset change after `at` (UTC, Asia/Tokyo, a zone that dropped DST). */
export function offsetFixedAfter(zone: string, at: number): boolean {
  const key = `${zone}\n${Math.floor(at / (30 * DAY_MS))}`;
  let fixed = fixedOffsetCache.get(key);
  if (fixed === undefined) {
    fixed =
      Temporal.Instant.fromEpochMilliseconds(at)
        .toZonedDateTimeISO(zone)
        .getTimeZoneTransition("next") === null;
    fixedOffsetCache.set(key, fixed);
  }
  return fixed;
}

interface Transition {
  at: number;
  /** Offsets (ms) before and after. */
  before: number;
  after: number;
}

/** A zone's transitions in [from, to), by the API. */
function transitionsBetween(zone: string, from: number, to: number): Transition[] {
  const found: Transition[] = [];
  let zdt = Temporal.Instant.fromEpochMilliseconds(from).toZonedDateTimeISO(zone);
  for (;;) {
    const next = zdt.getTimeZoneTransition("next");
    if (next === null || next.epochMilliseconds >= to) return found;
    found.push({
      at: next.epochMilliseconds,
      before: next.subtract({ nanoseconds: 1 }).offsetNanoseconds / 1e6,
      after: next.offsetNanoseconds / 1e6,
    });
    zdt = next;
  }
}

// One 400-year block of a zone's transitions from ZONE_RULES_SETTLED; every
// later block is this one shifted (fact 2). About 0.35 s to build for a DST
// zone (800 look-ups), once per zone and process.
// Bounded by transitions held (about 800 per DST zone): 64 zones at most.
const cycleCache = new BoundedCache<string, Transition[]>(51_200, (cycle) => cycle.length);

function settledCycle(zone: string): Transition[] {
  let cycle = cycleCache.get(zone);
  if (!cycle) {
    cycle = transitionsBetween(zone, ZONE_RULES_SETTLED, ZONE_RULES_SETTLED + CYCLE_MS);
    cycleCache.set(zone, cycle);
  }
  return cycle;
}

/** Every transition of `zone` in [from, to), calling `visit` in order until it returns false. */
function eachTransition(
  zone: string,
  from: number,
  to: number,
  visit: (transition: Transition) => boolean,
): void {
  for (const transition of transitionsBetween(zone, from, Math.min(to, ZONE_RULES_SETTLED))) {
    if (!visit(transition)) return;
  }
  const cycle = settledCycle(zone);
  const first = Math.max(0, Math.floor((from - ZONE_RULES_SETTLED) / CYCLE_MS));
  for (let k = first; ZONE_RULES_SETTLED + k * CYCLE_MS < to; k++) {
    for (const transition of cycle) {
      const at = transition.at + k * CYCLE_MS;
      if (at < from) continue;
      if (at >= to) return;
      if (!visit({ ...transition, at })) return;
    }
  }
}

// One period of a series' wall-clock starts, by series: a write compares
// against the same standing series again and again (a monthly one holds
// 4,800 starts per 400 years; about 60 ms to expand, then free).
// Bounded by starts held (8 bytes each): at most 4 MB, whatever rules
// clients send (one calendar-bound DAILY rule holds 146,097 starts).
const wallCache = new BoundedCache<string, { origin: number; period: number; starts: number[] }>(
  500_000,
  (entry) => entry.starts.length,
);

/**
 * The series' wall-clock starts in [from, to), from one expanded period
 * shifted by whole periods (fact 1: the wall pattern repeats every P_local
 * from DTSTART on).
 */
function wallPattern(side: SeriesSide, shape: RuleShape): (from: number, to: number) => number[] {
  const key = `${side.start.getTime()}\n${side.recurrence.timeZone}\n${side.recurrence.lines.join("\n")}`;
  let entry = wallCache.get(key);
  if (!entry) {
    const schedule = Schedule.wallClock(side.start, side.recurrence);
    const origin = schedule.start.getTime();
    const period = Number(localPeriodDays(shape)) * DAY_MS;
    const whole = { side: { ...side, overridden: new Set<number>() }, schedule };
    const starts: number[] = [];
    for (let at = origin; at < origin + period; at += chunkMs(shape)) {
      starts.push(...startsOf(whole, at, Math.min(at + chunkMs(shape), origin + period)));
    }
    entry = { origin, period, starts };
    wallCache.set(key, entry);
  }
  const { origin, period, starts } = entry;
  return (from, to) => {
    const found: number[] = [];
    for (let k = Math.max(0, Math.floor((from - origin) / period)); origin + k * period < to; k++) {
      for (const start of starts) {
        const shifted = start + k * period;
        if (shifted >= to) break;
        if (shifted >= from) found.push(shifted);
      }
    }
    return found;
  };
}

/**
 * Two series in one zone, at least one of them week-patterned (S; the other
 * is B), compared on the wall clock: a cheap proof that they never clash, or
 * their first clash, where the general window would be 400 years of both.
 *
 * The real occurrences are wall-clock occurrences (the rule's local
 * date-times, Schedule.wallClock) minus some (bounds, exclusions, DST gaps),
 * each at instant wall - offset(wall). On the wall clock S repeats every P_S
 * days and both together every J = lcm(P_S, P_B) days. Let spread be the
 * zone's largest offset minus its smallest. For occurrences a, b at one
 * offset, real and wall-clock gaps are equal; at different offsets they
 * differ by at most spread, and a transition lies between their instants,
 * its wall time within spread of the pair. So, over one J of B's wall
 * occurrences (S's found by shifting into its first periods):
 * - no pair within spread of each other: apart;
 * - else the real series can clash only at a wall-clock clash (checked with
 *   the real series there, in order; the first real one is an upper bound)
 *   or at a transition whose wall time falls, modulo J, in a close pair's
 *   span: every such transition over lcm(J, 400 years) (after which wall
 *   pattern and transitions repeat together, fact 2) is checked with the
 *   real series around it;
 * - if the wall-clock clashes of the first J all straddle a transition,
 *   later copies of them might not: unknown (the general check decides).
 */
function wallClockApart(
  mine: SeriesSide,
  theirs: SeriesSide,
  mineShape: RuleShape,
  theirShape: RuleShape,
  from: number,
): SeriesComparison | { kind: "unknown" } {
  const unknown = { kind: "unknown" } as const;
  const zone = mine.recurrence.timeZone;
  if (
    zone !== theirs.recurrence.timeZone ||
    mineShape.hasRDates ||
    theirShape.hasRDates ||
    offsetFixedAfter(zone, from)
  ) {
    return unknown;
  }
  const a = { side: mine, schedule: Schedule.of(mine.start, mine.recurrence) };
  const b = { side: theirs, schedule: Schedule.of(theirs.start, theirs.recurrence) };
  const shortFirst = [
    { s: a, sShape: mineShape, other: b, oShape: theirShape },
    { s: b, sShape: theirShape, other: a, oShape: mineShape },
  ]
    .filter(({ sShape }) => weekPatterned(sShape))
    .sort((x, y) => Number(localPeriodDays(x.sShape) - localPeriodDays(y.sShape)));
  const pick = shortFirst[0];
  if (!pick) return unknown;
  const { s: short, other: long, oShape: longShape } = pick;
  const shortPeriod = Number(localPeriodDays(pick.sShape)) * DAY_MS;
  const periodDays = lcm(localPeriodDays(pick.sShape), localPeriodDays(longShape));
  const period = Number(periodDays) * DAY_MS;
  const horizon = Math.max(from, ZONE_RULES_SETTLED) + Number(lcm(periodDays, CYCLE_DAYS)) * DAY_MS;
  if (horizon > LATEST_WINDOW_END) return unknown;
  if (periodsIn(longShape, period) > seriesCheckLimits.maxPeriods) return unknown;

  const offsets = [
    Temporal.Instant.fromEpochMilliseconds(from).toZonedDateTimeISO(zone).offsetNanoseconds / 1e6,
  ];
  eachTransition(zone, from, ZONE_RULES_SETTLED + CYCLE_MS, (t) => {
    offsets.push(t.before, t.after);
    return true;
  });
  const spread = Math.max(...offsets) - Math.min(...offsets);
  const wallFrom = from + (offsets[0] as number);
  const maxDuration = Math.max(mine.durationMs, theirs.durationMs);
  const margin = maxDuration + spread;

  // S's wall starts over its first periods; any later ones are these shifted
  // by k x P_S. S's wall-clock start is at most `anchor` (a fall-back hour
  // can put a start just before `from` after wallFrom on the wall clock).
  const anchor = wallFrom + spread;
  const shortBase = Schedule.wallClock(short.side.start, short.side.recurrence)
    .startsBetween(new Date(wallFrom - 2 * margin), new Date(anchor + 2 * shortPeriod + 4 * margin))
    .map((date) => date.getTime());
  const shortNear = (x0: number, x1: number): number[] => {
    const k = Math.max(0, Math.floor((x0 - anchor) / shortPeriod));
    const shift = k * shortPeriod;
    return shortBase.filter((x) => x >= x0 - shift && x < x1 - shift).map((x) => x + shift);
  };
  const longWall = wallPattern(long.side, longShape);

  const danger: [number, number][] = [];
  const wallClashes: number[] = [];
  for (const y of longWall(wallFrom - margin, wallFrom + period + margin)) {
    const dy = long.side.durationMs;
    const dx = short.side.durationMs;
    for (const x of shortNear(y - dx - spread, y + dy + spread)) {
      const gap = Math.max(y - (x + dx), x - (y + dy));
      if (gap >= spread) continue;
      if (gap < 0) wallClashes.push(Math.min(x, y));
      danger.push([
        Math.min(x, y) - spread - wallFrom,
        Math.max(x + dx, y + dy) + spread - wallFrom,
      ]);
    }
  }
  if (danger.length === 0) return { kind: "apart" };
  danger.sort((x, y) => x[0] - y[0]);
  const inDanger = (wall: number) => {
    const phase = (((wall - wallFrom) % period) + period) % period;
    return [-1, 0, 1].some((k) => {
      const p = phase + k * period;
      // Spans are short and sorted by start: look at those starting at most `reach` before p.
      let lo = 0;
      let hi = danger.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((danger[mid] as [number, number])[0] <= p) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo - 1; i >= 0; i--) {
        const [start, end] = danger[i] as [number, number];
        if (p - start > 2 * margin + 2 * maxDuration) break;
        if (p <= end) return true;
      }
      return false;
    });
  };
  const reach = margin + spread + HOUR_MS;
  const realClashNear = (instant: number) =>
    firstClashIn(a, b, instant - reach, instant + reach, maxDuration);

  // The first wall-clock clash that is real bounds the answer from above
  // (wall - offset at `from` is within `spread` of the real instants;
  // realClashNear looks further).
  const real = (wall: number) => realClashNear(wall - (offsets[0] as number));
  let best: number | undefined;
  const straddling: number[] = [];
  for (const wall of wallClashes.sort((x, y) => x - y)) {
    best = real(wall);
    if (best !== undefined) break;
    straddling.push(wall);
  }
  if (wallClashes.length > 0 && best === undefined) return unknown;
  // A wall-clock clash that straddled a DST change may be real one J later.
  for (const wall of straddling) {
    for (let later = wall + period; best !== undefined && later - spread < best; later += period) {
      const clash = real(later);
      if (clash !== undefined && clash < best) best = clash;
    }
  }
  eachTransition(
    zone,
    from,
    best === undefined ? horizon : Math.min(horizon, best + reach),
    (t) => {
      if (!inDanger(t.at + t.before) && !inDanger(t.at + t.after)) return true;
      const clash = realClashNear(t.at);
      if (clash !== undefined && (best === undefined || clash < best)) best = clash;
      return clash === undefined;
    },
  );
  return best === undefined ? { kind: "apart" } : { kind: "clash", start: new Date(best) };
}
