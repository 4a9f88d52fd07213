// Wake-ups for WatchEvents. A feed only says "user U has new changes": it
// carries no data, so a lost or duplicated wake-up costs at most a read. The
// truth is the store's change log, which every watcher reads from its own
// position after a wake-up (and, as a safety net, before every heartbeat).

export interface ChangeFeed {
  /** Calls `wake` whenever a change of `userId` may have been committed. */
  subscribe(userId: string, wake: () => void): () => void;
  /**
   * How many wake-ups the user's watchers have had: a read that starts
   * after seeing generation g sees every change announced up to g, so
   * watchers at the same position and generation can share one read.
   */
  generation(userId: string): number;
  close(): Promise<void>;
}

/**
 * The in-process feed: for the memory store and the embedded database,
 * which only this process can write. Also the fan-out half of every feed.
 */
export class LocalChangeFeed implements ChangeFeed {
  readonly #watchersByUser = new Map<string, Set<() => void>>();
  #generation = 0;
  readonly #generationByUser = new Map<string, number>();

  subscribe(userId: string, wake: () => void): () => void {
    let watchers = this.#watchersByUser.get(userId);
    if (!watchers) {
      watchers = new Set();
      this.#watchersByUser.set(userId, watchers);
    }
    watchers.add(wake);
    // A new watcher must not share a read that began before it subscribed.
    this.#generationByUser.set(userId, ++this.#generation);
    return () => {
      watchers.delete(wake);
      if (watchers.size === 0 && this.#watchersByUser.get(userId) === watchers) {
        this.#watchersByUser.delete(userId);
        this.#generationByUser.delete(userId);
      }
    };
  }

  /** Wakes the watchers of `userId`. */
  publish(userId: string): void {
    const watchers = this.#watchersByUser.get(userId);
    if (!watchers) return;
    // One counter for all users: a user's entry only needs to change.
    this.#generationByUser.set(userId, ++this.#generation);
    for (const wake of watchers) wake();
  }

  /** Wakes every watcher: after a gap in which wake-ups may have been lost. */
  publishAll(): void {
    for (const userId of this.#watchersByUser.keys()) this.publish(userId);
  }

  generation(userId: string): number {
    return this.#generationByUser.get(userId) ?? 0;
  }

  async close(): Promise<void> {
    this.#watchersByUser.clear();
  }
}
