// The rows the iCalendar feed is written from: events as stored, not as a
// listing expands them. A series is one row (its recurrence lines), each
// exception another (cancelled ones included, so the feed can exclude them).
import type { CalendarEvent, TimeWindow } from "../domain/event.js";

export interface FeedRow {
  /** A single event, a series (with `recurrence`), or an exception (with `recurringEventId`). */
  event: CalendarEvent;
  /** True for a cancelled occurrence of a series. */
  cancelled: boolean;
}

export interface FeedRowStore {
  /**
   * The user's single events and series that overlap the window, plus every
   * exception of those series (moved or cancelled, wherever it lies), in
   * start-then-id order, at most `limit` rows.
   */
  listFeedRows(userId: string, window: TimeWindow, limit: number): Promise<FeedRow[]>;
}
