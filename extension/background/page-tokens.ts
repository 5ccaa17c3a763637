// Capabilities for the in-page frames (background only). Each reader or composer frame gets a
// random 128-bit token bound to the tab that asked for it; a frame acts only through its token,
// and only from that tab. Records hold no plaintext (the reader's text comes from the sealed
// plaintext cache), so they live in storage.session: memory-only, out of content scripts' reach,
// and still there when an idle MV3 worker is restarted while frames wait to be scrolled to.
import type { ReaderView } from '../messaging/messages';
import { toBase64Url } from '../protocol/encoding';
import type { SessionArea } from './lock';

export interface ReaderToken {
  kind: 'reader';
  /** The content script's frame, told the reader's height. */
  frameId: number;
  context: string;
  /** Envelope hash: the plaintext is read from the cache when the frame asks. */
  hash?: string;
  /** Status, sender and error; never the plaintext. */
  view: Omit<ReaderView, 'plaintext'>;
}

export interface ComposerToken {
  kind: 'composer';
  frameId: number;
  context: string;
  maxMessageLength: number;
  /** Names the host showed as authors (hints for recipient suggestions). */
  authors: string[];
}

export type TokenRecord = ReaderToken | ComposerToken;

type TabTokens = Record<string, TokenRecord>;

// A tab's tokens are stored in batches, one key per issue() (`veil.tab.<tab>.<i>`) plus their
// count, so issuing a batch writes only that batch: rewriting all of a tab's tokens on every
// batch made a page of 1,000 messages serialise ~6,000 records.
const countKey = (tabId: number) => `veil.tab.${tabId}`;
const batchKey = (tabId: number, i: number) => `veil.tab.${tabId}.${i}`;

export class PageTokens {
  private readonly tabs = new Map<number, { tokens: TabTokens; batches: number }>();
  private readonly writes = new Map<number, Promise<unknown>>();

  constructor(
    private readonly session: SessionArea,
    private readonly randomBytes: (n: number) => Uint8Array,
  ) {}

  /** Issues one token per record for `tabId`, stored before they are handed out. */
  issue(tabId: number, records: readonly TokenRecord[]): Promise<string[]> {
    return this.inOrder(tabId, async () => {
      const tab = await this.load(tabId);
      const batch: TabTokens = {};
      const issued = records.map((record) => {
        const token = toBase64Url(this.randomBytes(16));
        batch[token] = record;
        return token;
      });
      await this.session.set({
        [batchKey(tabId, tab.batches)]: batch,
        [countKey(tabId)]: tab.batches + 1,
      });
      tab.batches++;
      Object.assign(tab.tokens, batch);
      return issued;
    });
  }

  /** The record of `token` if it was issued to `tabId`. */
  async get(tabId: number, token: string): Promise<TokenRecord | undefined> {
    const { tokens } = await this.load(tabId);
    return Object.hasOwn(tokens, token) ? tokens[token] : undefined;
  }

  /**
   * Drops every token of a tab: its page was replaced, or (`closed`) the tab is gone. Either way
   * those frames are gone.
   */
  forgetTab(tabId: number, { closed = false } = {}): Promise<void> {
    return this.inOrder(tabId, async () => {
      const batches = this.tabs.get(tabId)?.batches ?? (await storedCount(this.session, tabId));
      this.tabs.set(tabId, { tokens: {}, batches: 0 });
      await Promise.all([
        this.session.remove(countKey(tabId)),
        ...Array.from({ length: batches }, (_, i) => this.session.remove(batchKey(tabId, i))),
      ]);
      // A closed tab's id is not used again: keep no empty entry for it in memory either.
      if (closed) this.tabs.delete(tabId);
    });
  }

  private async load(tabId: number): Promise<{ tokens: TabTokens; batches: number }> {
    let tab = this.tabs.get(tabId);
    if (!tab) {
      const batches = await storedCount(this.session, tabId);
      const stored = await Promise.all(
        Array.from({ length: batches }, (_, i) =>
          this.session.get(batchKey(tabId, i)).then((got) => got[batchKey(tabId, i)]),
        ),
      );
      const tokens: TabTokens = {};
      for (const batch of stored)
        if (typeof batch === 'object' && batch !== null) Object.assign(tokens, batch as TabTokens);
      // Another call may have loaded it meanwhile: keep the first (it may hold newer tokens).
      tab = this.tabs.get(tabId) ?? { tokens, batches };
      this.tabs.set(tabId, tab);
    }
    return tab;
  }

  /** Runs `work` after the tab's earlier writes, so two batches cannot overwrite each other. */
  private inOrder<T>(tabId: number, work: () => Promise<T>): Promise<T> {
    const run = (this.writes.get(tabId) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => undefined);
    this.writes.set(tabId, settled);
    void settled.then(() => {
      if (this.writes.get(tabId) === settled) this.writes.delete(tabId);
    });
    return run;
  }
}

async function storedCount(session: SessionArea, tabId: number): Promise<number> {
  const stored = (await session.get(countKey(tabId)))[countKey(tabId)];
  return typeof stored === 'number' && Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
}

/**
 * The `tabs.onRemoved` listener: drops a closed tab's tokens, which storage.session would
 * otherwise keep until the browser quits. Most closed tabs never held a Veil frame; for those it
 * only reads storage.session and does not start the service (`pages`). Never rejects.
 */
export function forgetClosedTab(
  session: SessionArea,
  pages: () => Promise<PageTokens>,
): (tabId: number) => Promise<void> {
  return async (tabId) => {
    try {
      if ((await storedCount(session, tabId)) === 0) return;
      await (await pages()).forgetTab(tabId, { closed: true });
    } catch {
      // Nothing to report to: the tokens go when the browser quits.
    }
  };
}
