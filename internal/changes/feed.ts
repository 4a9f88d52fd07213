// Wake-ups for WatchEvents. A feed only says "user U has new changes": it
// carries no data, so a lost or duplicated wake-up costs at most a read. The
// truth is the store's change log, which every watcher reads from its own
// position after a wake-up (and, as a safety net, before every heartbeat).

export interface ChangeFeed {
  /** Calls `wake` whenever a change of `userId` may have been committed. */
  subscribe(userId: string, wake: () => void): () => void;
  close(): Promise<void>;
}

/**
 * The in-process feed: for the memory store and the embedded database,
 * which only this process can write. Also the fan-out half of every feed.
 */
export class LocalChangeFeed implements ChangeFeed {
  readonly #watchersByUser = new Map<string, Set<() => void>>();

  subscribe(userId: string, wake: () => void): () => void {
    let watchers = this.#watchersByUser.get(userId);
    if (!watchers) {
      watchers = new Set();
      this.#watchersByUser.set(userId, watchers);
    }
    watchers.add(wake);
    return () => {
      watchers.delete(wake);
      if (watchers.size === 0 && this.#watchersByUser.get(userId) === watchers) {
        this.#watchersByUser.delete(userId);
      }
    };
  }

  /** Wakes the watchers of `userId`. */
  publish(userId: string): void {
    for (const wake of this.#watchersByUser.get(userId) ?? []) wake();
  }

  /** Wakes every watcher: after a gap in which wake-ups may have been lost. */
  publishAll(): void {
    for (const watchers of this.#watchersByUser.values()) for (const wake of watchers) wake();
  }

  async close(): Promise<void> {
    this.#watchersByUser.clear();
  }
}
