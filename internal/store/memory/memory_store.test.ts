import { runEventStoreContract } from "../testing/contract.js";
import { runFeedStoreContract } from "../testing/feed_contract.js";
import { runReminderStoreContract } from "../testing/reminder_contract.js";
import { runSeriesContract } from "../testing/series_contract.js";
import { runSyncStoreContract } from "../testing/sync_contract.js";
import { MemoryFeedStore } from "./memory_feed_store.js";
import { MemoryEventStore } from "./memory_store.js";

runEventStoreContract("memory", async (clock) => {
  const store = new MemoryEventStore({ clock });
  return { store, dispose: () => store.close() };
});

runReminderStoreContract("memory", async (clock) => {
  const store = new MemoryEventStore({ clock });
  return { events: store, reminders: store, dispose: () => store.close() };
});

runFeedStoreContract("memory", async () => ({
  feeds: new MemoryFeedStore(),
  dispose: async () => {},
}));

runSeriesContract("memory", async (clock) => {
  const store = new MemoryEventStore({ clock });
  return { events: store, reminders: store, dispose: () => store.close() };
});

runSyncStoreContract("memory", async (clock) => {
  const store = new MemoryEventStore({ clock });
  return { store, dispose: () => store.close() };
});
