// A least-recently-used map bounded by the total weight of what it holds.
// The busy-time caches are filled from what clients send (zones, rules,
// dates), so a count alone would not bound them: one wall-clock pattern may
// hold 5 starts or 146,097. An entry heavier than the whole budget is simply
// not kept (it is computed again when needed, within the check's own bound).
export class BoundedCache<K, V> {
  readonly #entries = new Map<K, { value: V; weight: number }>();
  #weight = 0;

  constructor(
    readonly maxWeight: number,
    readonly weigh: (value: V) => number = () => 1,
  ) {}

  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    // Re-inserting moves the key to the end: Map keeps insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    this.#remove(key);
    const weight = this.weigh(value);
    if (weight > this.maxWeight) return;
    while (this.#weight + weight > this.maxWeight) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#remove(oldest.value);
    }
    this.#entries.set(key, { value, weight });
    this.#weight += weight;
  }

  /** What the entries weigh together. */
  get weight(): number {
    return this.#weight;
  }

  #remove(key: K): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }
}
