// The plaintext cache stays bounded: once it may exceed its cap by the slack, the oldest entries
// (by when they were read or sent) go, the newest survive; counted once, not on every write;
// nothing happens while locked, and the next write after unlocking trims.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackgroundError } from './errors';
import { KeyStore } from './key-store';
import {
  MAX_CACHED_PLAINTEXTS,
  noteCachedPlaintexts,
  type CachedPlaintext,
} from './plaintext-cache';

let n = 0;
const opened: KeyStore[] = [];
function freshStore(): KeyStore {
  const s = new KeyStore({ name: `plaintext-cache-test-${process.pid}-${++n}` });
  opened.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

const limits = { max: 10, slack: 5 };
const entry = (at: number): CachedPlaintext => ({
  context: 'generic:room',
  plaintext: `message ${at}`,
  sender: 'alice',
  at,
});

/** Stores entries read at the given times, as the page handler does, and tells the cache. */
async function cache(store: KeyStore, ats: number[]): Promise<void> {
  await store.commit(
    ats.map((at) => ({
      op: 'put' as const,
      table: 'plaintexts' as const,
      key: `h${at}`,
      value: entry(at),
    })),
  );
  await noteCachedPlaintexts(store, ats.length, limits);
}

const cachedAts = async (store: KeyStore) =>
  (await store.entries<CachedPlaintext>('plaintexts')).map(([, e]) => e.at).sort((a, b) => a - b);

describe('plaintext cache cap', () => {
  it('has a cap', () => {
    expect(MAX_CACHED_PLAINTEXTS).toBeGreaterThanOrEqual(1_000);
  });

  it('drops the oldest entries past cap + slack, keeping the newest `max`', async () => {
    const store = freshStore();
    await cache(store, [3, 1, 2, 0, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await store.count('plaintexts')).toBe(12); // within the slack: no pass yet
    await cache(store, [15, 12, 14, 13]);
    expect(await cachedAts(store)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    // Our own sent messages are entries like any other.
    await cache(store, [20, 16, 17, 18, 19, 21]);
    expect(await cachedAts(store)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });

  it('counts the table once, then keeps count of what is added', async () => {
    const store = freshStore();
    const count = vi.spyOn(store, 'count');
    const trim = vi.spyOn(store, 'deleteOldest');
    for (let i = 0; i < 15; i++) await cache(store, [i]);
    expect(count).toHaveBeenCalledTimes(1);
    expect(trim).not.toHaveBeenCalled();
    await cache(store, [15]);
    expect(trim).toHaveBeenCalledTimes(1);
    expect(await store.count('plaintexts')).toBe(10);
  });

  it('trims nothing while locked, and trims on the next write once unlocked', async () => {
    const store = freshStore();
    await cache(
      store,
      Array.from({ length: 15 }, (_, i) => i),
    );
    let locked = true;
    const key = new Uint8Array(32).fill(1);
    store.keySource = {
      dataKey: async () => {
        if (locked) throw new BackgroundError('locked', 'Veil is locked');
        return key;
      },
    };
    await expect(noteCachedPlaintexts(store, 1, limits)).rejects.toMatchObject({
      code: 'locked',
    });
    expect(await store.count('plaintexts')).toBe(15);
    locked = false;
    await cache(store, [15]);
    expect(await cachedAts(store)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });
});
