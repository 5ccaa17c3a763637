// Page tokens: issued per tab in batches, found again by a restarted worker (storage.session),
// dropped with their tab; a batch writes only its own records.
import { describe, expect, it } from 'vitest';
import type { SessionArea } from './lock';
import { PageTokens, type ReaderToken } from './page-tokens';

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
