import { runEventStoreContract } from "../testing/contract.js";
import { MemoryEventStore } from "./memory_store.js";

runEventStoreContract("memory", async (clock) => {
  const store = new MemoryEventStore({ clock });
  return { store, dispose: () => store.close() };
});
