// Capabilities for the in-page frames (background only). Each reader or composer frame gets a
// random 128-bit token bound to the tab that asked for it, and a random 128-bit key. The token is
// in the frame's URL, which the page can read; the key the content script hands only to the
// frame it made (frame-keys.ts). A frame acts only with both, only from that tab, and only from
// the first frame document that used them (until the content script says its frame reloaded). Records hold no plaintext (the reader's text comes from the sealed
// plaintext cache), so they live in storage.session: memory-only, out of content scripts' reach,
// and still there when an idle MV3 worker is restarted while frames wait to be scrolled to.
// Composer drafts are plaintext: kept apart from the records under one key, written only while
// unlocked and dropped on lock (dropDrafts), so none outlives the lock or its tab.
import type { ReaderView } from '../messaging/messages';
import type { PageView } from '../protocol/placement';
import { toBase64Url } from '../protocol/encoding';
import type { SessionArea } from './lock';

interface FrameRecord {
  /** The frame's secret (base64url, 128 bits): the token alone opens nothing. */
  key: string;
  /** The host page's origin when it was issued: a frame in a tab now elsewhere is refused. */
  origin?: string;
}

export interface ReaderToken extends FrameRecord {
  kind: 'reader';
  /** The content script's frame, told the reader's height. */
  frameId: number;
  context: string;
  /** What the page said of the conversation the block was shown in (placement is judged on it). */
  page?: PageView;
  /** Envelope hash: the plaintext is read from the cache when the frame asks. */
  hash?: string;
  /** Status, sender and error; never the plaintext. */
  view: Omit<ReaderView, 'plaintext'>;
  /** Its place in its sender's sealed order on this page view (order-tracker.ts). */
  order?: { view: string; stream: string; pos: number; seq: number };
  /** Shown out of order (or twice) when it was placed; a later block can also make it so. */
  repeat?: true;
}

export interface ComposerToken extends FrameRecord {
  kind: 'composer';
  frameId: number;
  context: string;
  /** Direct or group, and the shown name, as the page said (sealed in what is sent). */
  conversation?: 'direct' | 'group';
  name?: string;
  /** The page's host, from the browser (sealed as the site). */
  site?: string;
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

/** Composer drafts by tab and token, all under one key so locking drops them in one write. */
type Drafts = Record<string, Record<string, string>>;
const DRAFTS_KEY = 'veil.drafts';
// One composer is open per frame; a tab whose user opened many keeps the latest drafts only.
const MAX_DRAFTS_PER_TAB = 8;

/**
 * Tokens a tab holds at most: a page cannot fill storage.session (10 MB, shared by every tab)
 * with reader records. Beyond this the tab's oldest batches go (their frames read as expired).
 */
export const MAX_TOKENS_PER_TAB = 5_000;
/** Bytes of records one tab may keep in storage.session (its oldest batches go first) … */
export const MAX_TAB_BYTES = 2 * 1024 * 1024;
/**
 * … and all tabs together: storage.session holds 10 MB for everything (the unlocked data key,
 * drafts, the monitor's state too). Over it, the least recently used tab's oldest batches go.
 */
export const MAX_TOTAL_BYTES = 6 * 1024 * 1024;

/** Per tab, what its records take and when it last used them (to drop the least recent). */
type TabIndex = Record<string, { bytes: number; used: number }>;
const INDEX_KEY = 'veil.tabs';

const utf8 = new TextEncoder();
/** What storage.session counts for one stored item: its key and its JSON. */
function storedBytes(key: string, value: unknown): number {
  return utf8.encode(key).length + utf8.encode(JSON.stringify(value)).length;
}

interface TabState {
  tokens: TabTokens;
  /**
   * The frame document each token was first used from (memory only: after a worker restart the
   * key alone binds it again).
   */
  bound: Map<string, string>;
  /** Batches issued so far (the next batch's index). */
  batches: number;
  /** Token ids and stored bytes per batch still held, by batch index, oldest first. */
  held: Map<number, { ids: string[]; bytes: number }>;
  count: number;
  bytes: number;
}

export class PageTokens {
  private readonly tabs = new Map<number, TabState>();
  private drafts: Drafts | undefined;
  private index: TabIndex | undefined;
  /** A clock for "least recently used" that only moves forward. */
  private clock = 0;
  private readonly writes = new Map<'tokens' | 'drafts', Promise<unknown>>();

  constructor(
    private readonly session: SessionArea,
    private readonly randomBytes: (n: number) => Uint8Array,
  ) {}

  /** Fresh tokens, for a caller that needs them before it can write the records (issue). */
  newTokens(n: number): string[] {
    return Array.from({ length: n }, () => toBase64Url(this.randomBytes(16)));
  }

  /**
   * Issues one token per record for `tabId` (the given `tokens`, else new ones), stored before
   * they are handed out.
   */
  issue(
    tabId: number,
    records: readonly TokenRecord[],
    tokens?: readonly string[],
  ): Promise<string[]> {
    return this.inOrder('tokens', async () => {
      const tab = await this.load(tabId);
      const index = await this.loadIndex();
      const batch: TabTokens = {};
      const issued = records.map((record, i) => {
        const token = tokens?.[i] ?? toBase64Url(this.randomBytes(16));
        batch[token] = record;
        return token;
      });
      const at = tab.batches;
      const key = batchKey(tabId, at);
      const bytes = storedBytes(key, batch);
      tab.held.set(at, { ids: issued, bytes });
      tab.batches++;
      Object.assign(tab.tokens, batch);
      tab.count += issued.length;
      tab.bytes += bytes;
      index[tabId] = { bytes: tab.bytes, used: this.tick() };
      // Room first (a full storage.session refuses the write): this tab's own bounds, then all
      // tabs' together, dropping the least recently used tab's oldest batches.
      const dropped: string[] = [];
      while (tab.count > MAX_TOKENS_PER_TAB || tab.bytes > MAX_TAB_BYTES) {
        const gone = this.dropOldest(tabId, tab, at);
        if (!gone) break;
        dropped.push(gone);
      }
      for (let total = totalBytes(index); total > MAX_TOTAL_BYTES; total = totalBytes(index)) {
        const victim = await this.leastRecent(index, tabId);
        const state = victim === tabId ? tab : await this.load(victim);
        const gone = this.dropOldest(victim, state, victim === tabId ? at : -1);
        if (gone) dropped.push(gone);
        else if (victim !== tabId)
          delete index[victim]; // nothing left of it: a stale entry
        else break;
      }
      for (const k of dropped) await this.session.remove(k);
      await this.session.set({ [key]: batch, [countKey(tabId)]: tab.batches, [INDEX_KEY]: index });
      return issued;
    });
  }

  /**
   * Drops the oldest batch of `tabId` (never batch `keep`) from memory and the index; returns
   * its storage key, or null when there is none to drop.
   */
  private dropOldest(tabId: number, tab: TabState, keep: number): string | null {
    for (const [i, { ids, bytes }] of tab.held) {
      if (i === keep) continue;
      for (const id of ids) {
        delete tab.tokens[id];
        tab.bound.delete(id);
      }
      tab.count -= ids.length;
      tab.bytes -= bytes;
      tab.held.delete(i);
      const entry = this.index?.[tabId];
      if (entry) {
        entry.bytes = tab.bytes;
        if (tab.bytes <= 0) delete this.index![tabId];
      }
      return batchKey(tabId, i);
    }
    return null;
  }

  /** The tab that used its records least recently (`current` only when it is the only one). */
  private async leastRecent(index: TabIndex, current: number): Promise<number> {
    let victim = current;
    let oldest = Infinity;
    for (const [id, { used, bytes }] of Object.entries(index)) {
      const tabId = Number(id);
      if (tabId === current || bytes <= 0 || used >= oldest) continue;
      victim = tabId;
      oldest = used;
    }
    return victim;
  }

  private tick(): number {
    this.clock = Math.max(this.clock + 1, Date.now());
    return this.clock;
  }

  /** Every reader record of `tabId` with its token (to rebuild what is kept in memory). */
  async readers(tabId: number): Promise<[string, ReaderToken][]> {
    const { tokens } = await this.load(tabId);
    return Object.entries(tokens).filter((e): e is [string, ReaderToken] => e[1].kind === 'reader');
  }

  /** The record of `token` if it was issued to `tabId`. */
  async get(tabId: number, token: string): Promise<TokenRecord | undefined> {
    const { tokens } = await this.load(tabId);
    return Object.hasOwn(tokens, token) ? tokens[token] : undefined;
  }

  /**
   * The `kind` record of `token` for the frame document `doc` that presents `key`: 'unknown'
   * unless such a token was issued to `tabId` (and is still held), 'refused' unless the key is
   * its key and no other document used it first.
   */
  async redeem<K extends TokenRecord['kind']>(
    tabId: number,
    token: string,
    key: string,
    doc: string,
    kind: K,
  ): Promise<Extract<TokenRecord, { kind: K }> | 'unknown' | 'refused'> {
    const tab = await this.load(tabId);
    const record = Object.hasOwn(tab.tokens, token) ? tab.tokens[token] : undefined;
    if (record?.kind !== kind) return 'unknown';
    if (typeof record.key !== 'string' || !sameSecret(record.key, key)) return 'refused';
    const first = tab.bound.get(token);
    if (first === undefined) tab.bound.set(token, doc);
    else if (first !== doc) return 'refused';
    const entry = (await this.loadIndex())[tabId];
    if (entry) entry.used = this.tick(); // kept in memory; written with the next batch
    return record as Extract<TokenRecord, { kind: K }>;
  }

  /**
   * The content script's frame for `token` loaded a new document (the host moved it): the
   * next document to present the key binds it.
   */
  async unbind(tabId: number, token: string): Promise<void> {
    (await this.load(tabId)).bound.delete(token);
  }

  /**
   * Keeps `text` as the draft of composer `token` in `tabId`; empty text clears it. Only while
   * the token is still the tab's: a frame's last save can arrive after its page was replaced.
   */
  setDraft(tabId: number, token: string, text: string): Promise<void> {
    return this.inOrder('drafts', async () => {
      const [{ tokens }, drafts] = await Promise.all([this.load(tabId), this.loadDrafts()]);
      const tab = { ...drafts[tabId] };
      delete tab[token];
      if (text !== '' && tokens[token]?.kind === 'composer') {
        tab[token] = text;
        for (const old of Object.keys(tab).slice(0, -MAX_DRAFTS_PER_TAB)) delete tab[old];
      }
      const next = { ...drafts };
      if (Object.keys(tab).length > 0) next[tabId] = tab;
      else delete next[tabId];
      await this.saveDrafts(next);
    });
  }

  /** The draft of composer `token` in `tabId`, if one is kept. */
  async draft(tabId: number, token: string): Promise<string | undefined> {
    const tab = (await this.loadDrafts())[tabId];
    return tab && Object.hasOwn(tab, token) ? tab[token] : undefined;
  }

  /** Tabs whose token state is held in memory. */
  memorySize(): number {
    return this.tabs.size + (this.index ? 1 : 0) + (this.drafts ? 1 : 0);
  }

  /** Forgets what memory holds of storage.session (which delete-everything clears itself). */
  forgetMemory(): void {
    this.tabs.clear();
    this.index = undefined;
    this.drafts = undefined;
  }

  /** Drops every tab's drafts (Veil was locked): no plaintext stays in memory behind the lock. */
  dropDrafts(): Promise<void> {
    return this.inOrder('drafts', () => this.saveDrafts({}));
  }

  /**
   * Drops every token of a tab, and its drafts: its page was replaced, or (`closed`) the tab is
   * gone. Either way those frames are gone.
   */
  forgetTab(tabId: number, { closed = false } = {}): Promise<void> {
    return this.inOrder('tokens', async () => {
      const batches = this.tabs.get(tabId)?.batches ?? (await storedCount(this.session, tabId));
      this.tabs.set(tabId, {
        tokens: {},
        bound: new Map(),
        batches: 0,
        held: new Map(),
        count: 0,
        bytes: 0,
      });
      const index = await this.loadIndex();
      const indexed = Object.hasOwn(index, tabId);
      delete index[tabId];
      await Promise.all([
        indexed ? this.session.set({ [INDEX_KEY]: index }) : undefined,
        this.session.remove(countKey(tabId)),
        ...Array.from({ length: batches }, (_, i) => this.session.remove(batchKey(tabId, i))),
        // Queued after the tokens were cleared: a draft saved later finds no token to keep.
        this.inOrder('drafts', async () => {
          const drafts = await this.loadDrafts();
          if (!Object.hasOwn(drafts, tabId)) return;
          const { [tabId]: _gone, ...rest } = drafts;
          await this.saveDrafts(rest);
        }),
      ]);
      // A closed tab's id is not used again: keep no empty entry for it in memory either.
      if (closed) this.tabs.delete(tabId);
    });
  }

  private async load(tabId: number): Promise<TabState> {
    let tab = this.tabs.get(tabId);
    if (!tab) {
      const batches = await storedCount(this.session, tabId);
      const stored = await Promise.all(
        Array.from({ length: batches }, (_, i) =>
          this.session.get(batchKey(tabId, i)).then((got) => got[batchKey(tabId, i)]),
        ),
      );
      const tokens: TabTokens = {};
      const held = new Map<number, { ids: string[]; bytes: number }>();
      let count = 0;
      let bytes = 0;
      stored.forEach((batch, i) => {
        if (typeof batch !== 'object' || batch === null) return; // dropped, or never written
        Object.assign(tokens, batch as TabTokens);
        const ids = Object.keys(batch);
        const size = storedBytes(batchKey(tabId, i), batch);
        held.set(i, { ids, bytes: size });
        count += ids.length;
        bytes += size;
      });
      // Another call may have loaded it meanwhile: keep the first (it may hold newer tokens).
      tab = this.tabs.get(tabId) ?? { tokens, bound: new Map(), batches, held, count, bytes };
      this.tabs.set(tabId, tab);
    }
    return tab;
  }

  private async loadIndex(): Promise<TabIndex> {
    if (!this.index) {
      const stored = (await this.session.get(INDEX_KEY))[INDEX_KEY];
      this.index ??=
        typeof stored === 'object' && stored !== null ? { ...(stored as TabIndex) } : {};
    }
    return this.index;
  }

  private async loadDrafts(): Promise<Drafts> {
    if (!this.drafts) {
      const stored = (await this.session.get(DRAFTS_KEY))[DRAFTS_KEY];
      // Another call may have loaded (or changed) them meanwhile: keep that.
      this.drafts ??=
        typeof stored === 'object' && stored !== null ? { ...(stored as Drafts) } : {};
    }
    return this.drafts;
  }

  /** Replaces the drafts, in memory first: whatever the write does, dropped ones are gone here. */
  private async saveDrafts(drafts: Drafts): Promise<void> {
    this.drafts = drafts;
    if (Object.keys(drafts).length === 0) await this.session.remove(DRAFTS_KEY);
    else await this.session.set({ [DRAFTS_KEY]: drafts });
  }

  /**
   * Runs `work` after the earlier writes of the tokens (of any tab: one tab's batch may drop
   * another's) or of the drafts, so no two overwrite each other.
   */
  private inOrder<T>(chain: 'tokens' | 'drafts', work: () => Promise<T>): Promise<T> {
    const run = (this.writes.get(chain) ?? Promise.resolve()).then(work, work);
    const settled = run.catch(() => undefined);
    this.writes.set(chain, settled);
    void settled.then(() => {
      if (this.writes.get(chain) === settled) this.writes.delete(chain);
    });
    return run;
  }
}

/** Compares two secrets without stopping at the first difference. */
function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function totalBytes(index: TabIndex): number {
  let total = 0;
  for (const { bytes } of Object.values(index)) total += bytes;
  return total;
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
