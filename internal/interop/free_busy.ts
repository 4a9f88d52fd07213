// Busy time: the user's events in a span, as the fewest intervals that cover
// them (overlapping or touching ones merged), clipped to the span. Works on
// whatever the listing returns, so occurrences of series count once the
// listing expands them.
import { type CalendarEvent, eventEnd, type TimeWindow } from "../domain/event.js";

export function busyIntervals(events: readonly CalendarEvent[], span: TimeWindow): TimeWindow[] {
  const clipped = events
    .map((event) => ({
      start: Math.max(event.start.getTime(), span.start.getTime()),
      end: Math.min(eventEnd(event).getTime(), span.end.getTime()),
    }))
    .filter((interval) => interval.start < interval.end)
    .sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const interval of clipped) {
    const last = merged.at(-1);
    if (last && interval.start <= last.end) last.end = Math.max(last.end, interval.end);
    else merged.push({ ...interval });
  }
  return merged.map((interval) => ({
    start: new Date(interval.start),
    end: new Date(interval.end),
  }));
}
