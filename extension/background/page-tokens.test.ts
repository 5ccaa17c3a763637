// Page tokens: issued per tab in batches, found again by a restarted worker (storage.session),
// dropped with their tab (reloaded or closed); a batch writes only its own records.
import { fakeBrowser } from 'wxt/testing';
import { describe, expect, it, vi } from 'vitest';
import background from '../entrypoints/background';
import type { SessionArea } from './lock';
import { forgetClosedTab, PageTokens, type ReaderToken } from './page-tokens';
import { browserSessionArea } from './veil-service';

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
  };
  return { area, data, written };
}

let seed = 0;
const random = (n: number) => Uint8Array.from({ length: n }, () => (seed++ * 37) & 0xff);
const reader = (i: number): ReaderToken => ({
  kind: 'reader',
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
});
