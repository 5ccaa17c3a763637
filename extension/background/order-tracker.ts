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

/** Entries kept per tab: beyond this the oldest view of the tab is forgotten. */
export const MAX_ENTRIES_PER_TAB = 20_000;

interface TabViews {
  /** View key → stream → entries sorted by position. */
  views: Map<string, Map<string, OrderEntry[]>>;
  count: number;
}

export class OrderTracker {
  private readonly tabs = new Map<number, TabViews>();

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
      same.token = entry.token;
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
    list.splice(at, 0, { ...entry, repeat });
    tab.count++;
    this.trim(tab);
    return { repeat, retro };
  }

  /** Whether the block with `token` is a repeat (false when unknown). */
  isRepeat(tabId: number, token: string): boolean {
    const tab = this.tabs.get(tabId);
    if (!tab) return false;
    for (const streams of tab.views.values())
      for (const list of streams.values())
        for (const e of list) if (e.token === token) return e.repeat;
    return false;
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
    if (!tab) this.tabs.set(tabId, (tab = { views: new Map(), count: 0 }));
    return tab;
  }

  private trim(tab: TabViews): void {
    // Map iterates in insertion order: the first view is the oldest. The current one stays.
    while (tab.count > MAX_ENTRIES_PER_TAB && tab.views.size > 1) {
      const [oldest, streams] = tab.views.entries().next().value as [
        string,
        Map<string, OrderEntry[]>,
      ];
      for (const list of streams.values()) tab.count -= list.length;
      tab.views.delete(oldest);
    }
  }
}
