// MemoryStore copies values in and out: nothing a caller holds aliases what is stored.
import { describe, expect, it } from 'vitest';
import { MemoryStore } from './store';

describe('MemoryStore', () => {
  it('stores deep copies and hands out deep copies', async () => {
    const store = new MemoryStore();
    const value = {
      key: Uint8Array.of(1, 2, 3),
      big: new Uint8Array(1000).fill(7),
      list: [1, 2, 3],
      nested: [{ a: Uint8Array.of(9), b: 'text', c: null, d: undefined, e: true }],
      n: 5,
    };
    await store.commit([{ op: 'put', table: 'sessions', key: 'k', value }]);
    value.key[0] = 99;
    value.big[0] = 99;
    value.list[0] = 99;
    value.nested[0]!.a[0] = 99;
    const got = await store.get<typeof value>('sessions', 'k');
    expect(got).toEqual({
      key: Uint8Array.of(1, 2, 3),
      big: new Uint8Array(1000).fill(7),
      list: [1, 2, 3],
      nested: [{ a: Uint8Array.of(9), b: 'text', c: null, d: undefined, e: true }],
      n: 5,
    });
    expect(got!.key).toBeInstanceOf(Uint8Array);
    got!.key[1] = 42;
    got!.list.push(4);
    got!.nested[0]!.b = 'changed';
    const again = await store.get<typeof value>('sessions', 'k');
    expect(again!.key).toEqual(Uint8Array.of(1, 2, 3));
    expect(again!.list).toEqual([1, 2, 3]);
    expect(again!.nested[0]!.b).toBe('text');
    expect(again!.key.buffer).not.toBe(got!.key.buffer);
    expect(again!.big.buffer).not.toBe(got!.big.buffer);
  });

  it('copies a byte view, not the buffer behind it; lists of mixed items item by item', async () => {
    const store = new MemoryStore();
    const backing = Uint8Array.of(0, 1, 2, 3, 4, 5);
    await store.commit([
      { op: 'put', table: 'meta', key: 'v', value: { view: backing.subarray(2, 4) } },
      { op: 'put', table: 'meta', key: 'mixed', value: [1, 'two', [3], { four: 4 }] },
      { op: 'put', table: 'meta', key: 'plain', value: 'just text' },
    ]);
    const { view } = (await store.get<{ view: Uint8Array }>('meta', 'v'))!;
    expect(view).toEqual(Uint8Array.of(2, 3));
    expect(view.buffer).not.toBe(backing.buffer);
    expect(await store.get('meta', 'mixed')).toEqual([1, 'two', [3], { four: 4 }]);
    expect(await store.get('meta', 'plain')).toBe('just text');
  });

  it('applies deletes and lists keys', async () => {
    const store = new MemoryStore();
    await store.commit([
      { op: 'put', table: 'contacts', key: 'a', value: 1 },
      { op: 'put', table: 'contacts', key: 'b', value: 2 },
    ]);
    await store.commit([{ op: 'delete', table: 'contacts', key: 'a' }]);
    expect(await store.keys('contacts')).toEqual(['b']);
    expect(await store.get('contacts', 'a')).toBeUndefined();
    expect(await store.keys('sessions')).toEqual([]);
  });
});
