// Page tokens: issued per tab in batches, found again by a restarted worker (storage.session),
// dropped with their tab (reloaded or closed); a batch writes only its own records. Composer
// drafts: kept per composer token, dropped with their tab and all at once on lock.
import { fakeBrowser } from 'wxt/testing';
import { describe, expect, it, vi } from 'vitest';
import background from '../entrypoints/background';
import type { SessionArea } from './lock';
import {
  forgetClosedTab,
  MAX_TAB_BYTES,
  MAX_TOKENS_PER_TAB,
  MAX_TOTAL_BYTES,
  PageTokens,
  type ComposerToken,
  type ReaderToken,
} from './page-tokens';
import { browserSessionArea, getService } from './veil-service';

function memorySession() {
  const data = new Map<string, unknown>();
  const written: string[] = [];
  const area: SessionArea = {
    get: async (key) => (data.has(key) ? { [key]: structuredClone(data.get(key)) } : {}),
    set: async (items) => {
      for (const [k, v] of Object.entries(items)) {
        data.set(k, structuredClone(v));
        written.push(k);
      }
    },
    remove: async (key) => void data.delete(key),
    clear: () => data.clear(),
  };
  return { area, data, written };
}

let seed = 0;
const random = (n: number) => Uint8Array.from({ length: n }, () => (seed++ * 37) & 0xff);
const KEY = 'k'.repeat(22);
const reader = (i: number): ReaderToken => ({
  kind: 'reader',
  key: `${KEY.slice(0, 20)}${String(i % 100).padStart(2, '0')}`,
  frameId: 0,
  context: 'generic:room',
  view: { status: 'unverified', sender: `s${i}` },
});

describe('PageTokens', () => {
  it('keeps every batch, also for a restarted worker, and writes only the new batch', async () => {
    const s = memorySession();
    const pages = new PageTokens(s.area, random);
    const first = await pages.issue(7, [reader(0), reader(1)]);
    s.written.length = 0;
    const second = await pages.issue(7, [reader(2)]);
    const batchWrites = s.written.filter((k) => k.startsWith('veil.tab.7.'));
    expect(batchWrites).toEqual(['veil.tab.7.1']);
    expect((s.data.get('veil.tab.7.1') as object) ?? {}).toHaveProperty(second[0]!);
    expect(Object.keys(s.data.get('veil.tab.7.1') as object)).toHaveLength(1);

    const restarted = new PageTokens(s.area, random);
    expect(await restarted.get(7, first[1]!)).toEqual(reader(1));
    expect(await restarted.get(7, second[0]!)).toEqual(reader(2));
    expect(await restarted.get(8, first[0]!)).toBeUndefined();
    const third = await restarted.issue(7, [reader(3)]);
    expect(await new PageTokens(s.area, random).get(7, third[0]!)).toEqual(reader(3));
  });

  it('holds at most MAX_TOKENS_PER_TAB tokens a tab: a flooding page loses its oldest, others keep theirs', async () => {
    const s = memorySession();
    const realRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    const pages = new PageTokens(s.area, realRandom);
    const quiet = await pages.issue(2, [reader(0)]);
    const first = await pages.issue(1, [reader(1)]);
    for (let i = 0; i < MAX_TOKENS_PER_TAB / 100 + 5; i++)
      await pages.issue(
        1,
        Array.from({ length: 100 }, (_, j) => reader(j)),
      );
    const last = await pages.issue(1, [reader(9)]);
    expect(await pages.get(1, first[0]!)).toBeUndefined();
    expect(await pages.get(1, last[0]!)).toEqual(reader(9));
    expect(await pages.get(2, quiet[0]!)).toEqual(reader(0));
    const stored = [...s.data.keys()].filter((k) => /^veil\.tab\.1\.\d+$/.test(k));
    const held = stored.reduce((n, k) => n + Object.keys(s.data.get(k) as object).length, 0);
    expect(held).toBeLessThanOrEqual(MAX_TOKENS_PER_TAB);
    // A restarted worker sees the same.
    const restarted = new PageTokens(s.area, realRandom);
    expect(await restarted.get(1, first[0]!)).toBeUndefined();
    expect(await restarted.get(1, last[0]!)).toEqual(reader(9));
  });

  it('forgets a tab, also one it has not loaded yet', async () => {
    const s = memorySession();
    const pages = new PageTokens(s.area, random);
    const [a] = await pages.issue(3, [reader(0)]);
    await pages.issue(3, [reader(1)]);
    await pages.issue(4, [reader(2)]);
    await new PageTokens(s.area, random).forgetTab(3);
    expect([...s.data.keys()].filter((k) => k.startsWith('veil.tab.3'))).toEqual([]);
    expect(await new PageTokens(s.area, random).get(3, a!)).toBeUndefined();
    expect([...s.data.keys()].some((k) => k.startsWith('veil.tab.4'))).toBe(true);
    await pages.forgetTab(3);
    expect(await pages.get(3, a!)).toBeUndefined();
  });
});

const composer: ComposerToken = {
  kind: 'composer',
  key: KEY,
  frameId: 0,
  context: 'generic:room',
  maxMessageLength: 350,
  authors: [],
};

describe('redeem', () => {
  it('opens a token only with its key, for the first document that used it, in its tab', async () => {
    const pages = new PageTokens(memorySession().area, random);
    const [a, b] = await pages.issue(5, [reader(1), reader(2)]);
    expect(await pages.redeem(5, a!, reader(2).key, 'doc-1', 'reader')).toBe('refused');
    expect(await pages.redeem(5, a!, 'x'.repeat(22), 'doc-1', 'reader')).toBe('refused');
    expect(await pages.redeem(6, a!, reader(1).key, 'doc-1', 'reader')).toBe('unknown');
    expect(await pages.redeem(5, 'y'.repeat(22), reader(1).key, 'doc-1', 'reader')).toBe('unknown');
    expect(await pages.redeem(5, a!, reader(1).key, 'doc-1', 'reader')).toEqual(reader(1));
    // Another document with the right key: refused, while the first still opens it.
    expect(await pages.redeem(5, a!, reader(1).key, 'doc-2', 'reader')).toBe('refused');
    expect(await pages.redeem(5, a!, reader(1).key, 'doc-1', 'reader')).toEqual(reader(1));
    // The content script saw its frame load again: the next document binds it.
    await pages.unbind(5, a!);
    expect(await pages.redeem(5, a!, reader(1).key, 'doc-2', 'reader')).toEqual(reader(1));
    expect(await pages.redeem(5, a!, reader(1).key, 'doc-1', 'reader')).toBe('refused');
    // A reader token is no composer's.
    expect(await pages.redeem(5, b!, reader(2).key, 'doc-3', 'composer')).toBe('unknown');
    // Bonds are per token.
    expect(await pages.redeem(5, b!, reader(2).key, 'doc-1', 'reader')).toEqual(reader(2));
  });

  it('refuses a record stored without a key (issued by an older version)', async () => {
    const s = memorySession();
    const pages = new PageTokens(s.area, random);
    const { key: _key, ...old } = reader(1);
    const [a] = await pages.issue(5, [old as ReaderToken]);
    expect(await new PageTokens(s.area, random).redeem(5, a!, reader(1).key, 'd', 'reader')).toBe(
      'refused',
    );
  });
});

describe('drafts', () => {
  it('are kept for a composer token of that tab only, also for a restarted worker', async () => {
    const s = memorySession();
    const pages = new PageTokens(s.area, random);
    const [mine] = await pages.issue(3, [composer]);
    const [read] = await pages.issue(3, [reader(0)]);
    await pages.setDraft(3, mine!, 'half a thought');
    await pages.setDraft(3, read!, 'not a composer');
    await pages.setDraft(4, mine!, 'not its tab');
    expect(await pages.draft(3, mine!)).toBe('half a thought');
    expect(await pages.draft(3, read!)).toBeUndefined();
    expect(await pages.draft(4, mine!)).toBeUndefined();
    expect(await new PageTokens(s.area, random).draft(3, mine!)).toBe('half a thought');
    await pages.setDraft(3, mine!, '');
    expect(await pages.draft(3, mine!)).toBeUndefined();
    expect(await new PageTokens(s.area, random).draft(3, mine!)).toBeUndefined();
  });

  it('are dropped all at once, stored and in memory, also those of tabs not loaded', async () => {
    const s = memorySession();
    const before = new PageTokens(s.area, random);
    const [a] = await before.issue(3, [composer]);
    const [b] = await before.issue(4, [composer]);
    await before.setDraft(3, a!, 'one');
    await before.setDraft(4, b!, 'two');
    const pages = new PageTokens(s.area, random);
    expect(await pages.draft(3, a!)).toBe('one');
    await pages.dropDrafts();
    expect(await pages.draft(3, a!)).toBeUndefined();
    expect(await new PageTokens(s.area, random).draft(4, b!)).toBeUndefined();
    expect(JSON.stringify([...s.data.values()])).not.toMatch(/one|two/);
  });

  it('go with their tab, and a save arriving after its page was replaced keeps nothing', async () => {
    const s = memorySession();
    const pages = new PageTokens(s.area, random);
    const [a] = await pages.issue(3, [composer]);
    const [b] = await pages.issue(4, [composer]);
    await pages.setDraft(3, a!, 'one');
    await pages.setDraft(4, b!, 'two');
    await pages.forgetTab(3);
    expect(await pages.draft(3, a!)).toBeUndefined();
    expect(await new PageTokens(s.area, random).draft(3, a!)).toBeUndefined();
    await pages.setDraft(3, a!, 'late');
    expect(await pages.draft(3, a!)).toBeUndefined();
    expect(await new PageTokens(s.area, random).draft(3, a!)).toBeUndefined();
    expect(await pages.draft(4, b!)).toBe('two');
  });

  it('are kept for the latest few composers of a tab', async () => {
    const pages = new PageTokens(memorySession().area, random);
    const tokens = await pages.issue(
      3,
      Array.from({ length: 10 }, () => composer),
    );
    for (const [i, token] of tokens.entries()) await pages.setDraft(3, token, `draft ${i}`);
    await pages.setDraft(3, tokens[0]!, 'draft 0 again');
    const kept = await Promise.all(tokens.map((t) => pages.draft(3, t)));
    expect(kept.filter((d) => d !== undefined)).toHaveLength(8);
    expect(kept[0]).toBe('draft 0 again');
    expect(kept.slice(1, 3)).toEqual([undefined, undefined]);
  });
});

describe('closed tabs', () => {
  it("drop the tab's tokens, stored and in memory, and only that tab's", async () => {
    const s = memorySession();
    const pages = new PageTokens(s.area, random);
    const [a] = await pages.issue(3, [reader(0)]);
    await pages.issue(3, [reader(1)]);
    const [b] = await pages.issue(4, [reader(2)]);
    await forgetClosedTab(s.area, async () => pages)(3);
    expect([...s.data.keys()].filter((k) => k.startsWith('veil.tab.3'))).toEqual([]);
    expect(await pages.get(3, a!)).toBeUndefined();
    expect(await pages.get(4, b!)).toEqual(reader(2));
    // No empty entry is kept per closed tab in a long-lived worker.
    await forgetClosedTab(s.area, async () => pages)(4);
    expect((pages as unknown as { tabs: Map<number, unknown> }).tabs.has(4)).toBe(false);
  });

  it('do not start the service for a tab that held no tokens, and never reject', async () => {
    const s = memorySession();
    const pages = vi.fn(async () => new PageTokens(s.area, random));
    await forgetClosedTab(s.area, pages)(9);
    expect(pages).not.toHaveBeenCalled();

    await new PageTokens(s.area, random).issue(9, [reader(0)]);
    const failing = vi.fn(async (): Promise<PageTokens> => {
      throw new Error('IndexedDB is gone');
    });
    await expect(forgetClosedTab(s.area, failing)(9)).resolves.toBeUndefined();
    expect(failing).toHaveBeenCalledOnce();
  });

  it('are forgotten by the background entry point on tabs.onRemoved', async () => {
    fakeBrowser.reset();
    fakeBrowser.runtime.getManifest = () => ({ manifest_version: 3, name: 'Veil', version: '0' });
    background.main();
    const session = browserSessionArea();
    const [token] = await new PageTokens(session, random).issue(12, [reader(0)]);
    expect(await session.get('veil.tab.12')).toEqual({ 'veil.tab.12': 1 });
    await fakeBrowser.tabs.onRemoved.trigger(12, { windowId: 1, isWindowClosing: false });
    expect(await session.get('veil.tab.12')).toEqual({});
    expect(await session.get('veil.tab.12.0')).toEqual({});
    expect(await new PageTokens(session, random).get(12, token!)).toBeUndefined();
  });

  it("take the tab's page report and picker with them", async () => {
    fakeBrowser.reset();
    fakeBrowser.runtime.getManifest = () => ({ manifest_version: 3, name: 'Veil', version: '0' });
    background.main();
    const svc = await getService();
    const health = {
      adapter: { name: 'Any page', markup: 'heuristic' as const },
      composeBox: true,
      messageList: true,
    };
    svc.tabHealth.set(13, { host: 'chat.example', health });
    svc.tabHealth.set(14, { host: 'chat.example', health });
    svc.picks.set(13, { token: 'x', at: 0 });
    await fakeBrowser.tabs.onRemoved.trigger(13, { windowId: 1, isWindowClosing: false });
    await vi.waitFor(() => expect(svc.tabHealth.has(13)).toBe(false));
    expect(svc.picks.has(13)).toBe(false);
    expect(svc.tabHealth.has(14)).toBe(true);
  });
});

describe('storage budgets', () => {
  /** storage.session as Chrome bounds it: 10 MB for keys and JSON together, else it throws. */
  function boundedSession(quota = 10 * 1024 * 1024) {
    const base = memorySession();
    const size = () => {
      let n = 0;
      for (const [k, v] of base.data) n += k.length + JSON.stringify(v).length;
      return n;
    };
    const area: SessionArea = {
      ...base.area,
      set: async (items) => {
        const before = new Map(base.data);
        await base.area.set(items);
        if (size() > quota) {
          base.data.clear();
          for (const [k, v] of before) base.data.set(k, v);
          throw new Error('Session storage quota bytes exceeded.');
        }
      },
    };
    return { area, data: base.data, size };
  }
  const realRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  /** A reader record as a flooding page makes them: the longest conversation id allowed. */
  const heavy = (i: number): ReaderToken => ({
    ...reader(i),
    context: `generic:${'x'.repeat(500)}`,
    page: { context: `generic:${'x'.repeat(500)}`, kind: 'group' },
  });

  it('a flooding tab cannot fill storage.session: every tab can still get tokens and open them', async () => {
    const s = boundedSession();
    const pages = new PageTokens(s.area, realRandom);
    // 40 batches of 200 heavy records: ~8,000 junk blocks, over 10 MB if all were kept.
    for (let i = 0; i < 40; i++)
      await pages.issue(
        1,
        Array.from({ length: 200 }, (_, j) => heavy(j)),
      );
    for (let t = 3; t < 8; t++)
      for (let i = 0; i < 10; i++)
        await pages.issue(
          t,
          Array.from({ length: 200 }, (_, j) => heavy(j)),
        );
    expect(s.size()).toBeLessThan(MAX_TOTAL_BYTES + 512 * 1024);
    // Another tab still gets a token and its frame opens it.
    const [fresh] = await pages.issue(9, [reader(5)]);
    expect(await pages.redeem(9, fresh!, reader(5).key, 'doc', 'reader')).toEqual(reader(5));
    // No tab holds more than its share.
    for (const t of [1, 3, 4, 5, 6, 7]) {
      const held = [...s.data.keys()].filter((k) => k.startsWith(`veil.tab.${t}.`));
      const bytes = held.reduce((n, k) => n + k.length + JSON.stringify(s.data.get(k)).length, 0);
      expect(bytes).toBeLessThanOrEqual(MAX_TAB_BYTES);
    }
  });

  it('drops the least recently used tab first, and keeps the index across a worker restart', async () => {
    const s = boundedSession();
    const pages = new PageTokens(s.area, realRandom);
    const batch = () => Array.from({ length: 200 }, (_, j) => heavy(j));
    const [old] = await pages.issue(1, batch());
    const [kept] = await pages.issue(2, batch());
    // Tab 2 is read again (its frame opens a token): tab 1 is now the least recently used.
    await pages.redeem(2, kept!, heavy(0).key, 'd', 'reader');
    const restarted = new PageTokens(s.area, realRandom);
    // Tabs 3…: enough to go over the total.
    for (let t = 3; t < 3 + Math.ceil(MAX_TOTAL_BYTES / MAX_TAB_BYTES) + 1; t++)
      for (let i = 0; i < 8; i++) await restarted.issue(t, batch());
    expect(await restarted.get(1, old!)).toBeUndefined();
    expect(s.size()).toBeLessThan(MAX_TOTAL_BYTES + 512 * 1024);
  });
});
