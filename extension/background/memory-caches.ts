// Every cache the background keeps in memory, in one registry (background only), so that
// delete-everything empties all of them and a test can check none was left out: whatever a
// cache holds (derived fingerprints, who wrote in which conversation, imported keys, token
// state) must not outlive the profile it came from.

export interface MemoryCache {
  /** Entries held now. */
  size(): number;
  clear(): void;
  /** The Map or Set behind it, if any: the registry test matches fields against these. */
  holds?: object;
}

export class MemoryCaches {
  private readonly caches = new Map<string, MemoryCache>();

  add(name: string, cache: MemoryCache): void {
    this.caches.set(name, cache);
  }

  /** A Map or Set as a cache. */
  addCollection(name: string, collection: Map<unknown, unknown> | Set<unknown>): void {
    this.add(name, {
      size: () => collection.size,
      clear: () => collection.clear(),
      holds: collection,
    });
  }

  clearAll(): void {
    for (const cache of this.caches.values()) cache.clear();
  }

  /** Each cache's entry count, by name. */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.caches].map(([name, c]) => [name, c.size()]));
  }

  /** The Maps and Sets registered. */
  collections(): Set<object> {
    return new Set([...this.caches.values()].flatMap((c) => (c.holds ? [c.holds] : [])));
  }
}
