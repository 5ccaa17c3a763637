// Which blocks a page shows out of their sealed order (background only; no I/O). Each message
// seals its sender's per-conversation sequence (docs/protocol.md "Sealed conversation, time
// and order"). On one page view, a block is a `repeat` when a block above it (earlier on the
// page) from the same sender's stream has the same or a higher sequence: the page re-posted an
// old message, or showed one as new after later ones. History re-rendered in order is not a
// repeat, and a reload or a re-rendered list starts a new view. The verdict does not depend on
// the order blocks are decrypted in: a block placed later can turn an earlier-decrypted one
// below it into a repeat, and `note` returns those so their readers can be told.

export interface OrderEntry {
  /** Position on the page (the content script's order; larger is lower on the page). */
  pos: number;
  seq: number;
  /** The reader token of the block. */
  token: string;
  repeat: boolean;
}

/**
 * Entries kept per tab: beyond this the tab's oldest views are forgotten, then the current
 * view's highest blocks (furthest up the page), so a page that posts blocks without end keeps
 * this bounded and each note cheap.
 */
export const MAX_ENTRIES_PER_TAB = 5_000;

interface TabViews {
  /** View key → stream → entries sorted by position. */
  views: Map<string, Map<string, OrderEntry[]>>;
  count: number;
  byToken: Map<string, OrderEntry>;
}

export class OrderTracker {
  private readonly tabs = new Map<number, TabViews>();

  /** Tabs tracked. */
  size(): number {
    return this.tabs.size;
  }

  clear(): void {
    this.tabs.clear();
  }

  /**
   * Records a block at `pos` with sequence `seq` in `stream`, seen in `view` of tab `tabId`
   * (the content script's list generation and conversation). Returns whether this block is a
   * repeat, and the tokens of blocks recorded before that became repeats because of it.
   */
  note(
    tabId: number,
    view: string,
    stream: string,
    entry: Omit<OrderEntry, 'repeat'>,
  ): { repeat: boolean; retro: string[] } {
    const tab = this.tab(tabId);
    let streams = tab.views.get(view);
    if (!streams) tab.views.set(view, (streams = new Map()));
    let list = streams.get(stream);
    if (!list) streams.set(stream, (list = []));
    // The same block again (a re-scan of the same position) keeps its verdict.
    const same = list.find((e) => e.pos === entry.pos && e.seq === entry.seq);
    if (same) {
      tab.byToken.delete(same.token);
      same.token = entry.token;
      tab.byToken.set(same.token, same);
      return { repeat: same.repeat, retro: [] };
    }
    let at = list.length;
    while (at > 0 && list[at - 1]!.pos > entry.pos) at--;
    const repeat = list.slice(0, at).some((e) => e.seq >= entry.seq);
    const retro: string[] = [];
    for (const e of list.slice(at))
      if (!e.repeat && e.seq <= entry.seq) {
        e.repeat = true;
        retro.push(e.token);
      }
    const added = { ...entry, repeat };
    list.splice(at, 0, added);
    tab.byToken.set(added.token, added);
    tab.count++;
    this.trim(tab);
    return { repeat, retro };
  }

  /** Whether the block with `token` is a repeat (false when unknown). */
  isRepeat(tabId: number, token: string): boolean {
    return this.tabs.get(tabId)?.byToken.get(token)?.repeat ?? false;
  }

  /** Whether anything is kept for the tab (else a restarted worker rebuilds it first). */
  knows(tabId: number): boolean {
    return this.tabs.has(tabId);
  }

  /** Marks the tab as known, holding nothing yet. */
  touch(tabId: number): void {
    this.tab(tabId);
  }

  forgetTab(tabId: number): void {
    this.tabs.delete(tabId);
  }

  private tab(tabId: number): TabViews {
    let tab = this.tabs.get(tabId);
    if (!tab) this.tabs.set(tabId, (tab = { views: new Map(), count: 0, byToken: new Map() }));
    return tab;
  }

  private trim(tab: TabViews): void {
    // Map iterates in insertion order: the first view is the oldest.
    while (tab.count > MAX_ENTRIES_PER_TAB && tab.views.size > 1) {
      const [oldest, streams] = tab.views.entries().next().value as [
        string,
        Map<string, OrderEntry[]>,
      ];
      for (const list of streams.values()) this.drop(tab, list.splice(0));
      tab.views.delete(oldest);
    }
    if (tab.count <= MAX_ENTRIES_PER_TAB) return;
    // One view over the bound: its topmost entries go, from its longest stream.
    const streams = [...tab.views.values()][0]!;
    let longest: OrderEntry[] = [];
    for (const list of streams.values()) if (list.length > longest.length) longest = list;
    this.drop(tab, longest.splice(0, tab.count - MAX_ENTRIES_PER_TAB));
  }

  private drop(tab: TabViews, entries: readonly OrderEntry[]): void {
    for (const e of entries) tab.byToken.delete(e.token);
    tab.count -= entries.length;
  }
}
