// The EventStore that announces each successful write once it has
// committed: to a LocalChangeFeed when this process is the only writer (the
// memory store, the embedded database), or as a NOTIFY to every replica
// (postgres_feed.ts). The retention cleanup's deletions go around it;
// watchers pick them up at their next heartbeat read.
import type { EventStore } from "../store/store.js";

export function publishingStore(
  store: EventStore,
  feed: { publish(userId: string): void },
): EventStore {
  return {
    async createEvent(userId, id, fields) {
      const result = await store.createEvent(userId, id, fields);
      if (result.ok) feed.publish(userId);
      return result;
    },
    async updateEvent(userId, id, fields, expectedVersion, scope) {
      const result = await store.updateEvent(userId, id, fields, expectedVersion, scope);
      if (result.ok) feed.publish(userId);
      return result;
    },
    async deleteEvent(userId, id) {
      const result = await store.deleteEvent(userId, id);
      if (result.ok) feed.publish(userId);
      return result;
    },
    getEvent: (userId, id) => store.getEvent(userId, id),
    listEvents: (userId, window, limit, after) => store.listEvents(userId, window, limit, after),
    readChanges: (userId, after, limit, mode) => store.readChanges(userId, after, limit, mode),
    syncPosition: (userId) => store.syncPosition(userId),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
