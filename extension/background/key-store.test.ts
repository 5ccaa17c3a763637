// The IndexedDB key store (fake-indexeddb): the ProtocolStore contract, all-or-nothing commits,
// concurrent commits, and the protocol running on it (two Veil instances talking, racing
// operations serialised by the one Veil queue).
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDB } from 'idb';
import { nobleProvider } from '../protocol/crypto/noble';
import { MemoryStore, type ProtocolStore, type StoreOp } from '../protocol/store';
import { Veil } from '../protocol/veil';
import { KeyStore } from './key-store';
import { isSealed, recordName } from './seal';

let n = 0;
const opened: KeyStore[] = [];
function freshStore(): KeyStore {
  const s = new KeyStore({ name: `key-store-test-${process.pid}-${++n}` });
  opened.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

describe('KeyStore as a ProtocolStore', () => {
  it('reads back what it committed, with bytes intact and no aliasing', async () => {
    const store = freshStore();
    const value = { id: 7, key: Uint8Array.of(1, 2, 3), nested: { list: [Uint8Array.of(9)] } };
    await store.commit([{ op: 'put', table: 'sessions', key: 'abc', value }]);
    value.key[0] = 99;
    const back = await store.get<typeof value>('sessions', 'abc');
    expect(back).toEqual({
      id: 7,
      key: Uint8Array.of(1, 2, 3),
      nested: { list: [Uint8Array.of(9)] },
    });
    expect(back!.key).toBeInstanceOf(Uint8Array);
    expect(await store.get('sessions', 'missing')).toBeUndefined();
  });

  it('matches MemoryStore on the same sequence of operations', async () => {
    const idb = freshStore();
    const mem = new MemoryStore();
    const batches: StoreOp[][] = [
      [
        { op: 'put', table: 'contacts', key: 'bob', value: { handle: 'bob', verified: false } },
        { op: 'put', table: 'contacts', key: 'carol', value: { handle: 'carol' } },
        { op: 'put', table: 'oneTimePrekeys', key: '1', value: { id: 1 } },
      ],
      [
        { op: 'delete', table: 'contacts', key: 'carol' },
        { op: 'put', table: 'contacts', key: 'bob', value: { handle: 'bob', verified: true } },
        { op: 'delete', table: 'contacts', key: 'nobody' },
      ],
      [
        { op: 'put', table: 'meta', key: 'x', value: 1 },
        { op: 'put', table: 'meta', key: 'x', value: 2 },
      ],
    ];
    const snapshot = async (s: ProtocolStore) => {
      const out: Record<string, Record<string, unknown>> = {};
      for (const t of ['contacts', 'oneTimePrekeys', 'meta'] as const) {
        out[t] = {};
        for (const k of (await s.keys(t)).sort()) out[t]![k] = await s.get(t, k);
      }
      return out;
    };
    for (const b of batches) {
      await idb.commit(b);
      await mem.commit(b);
      expect(await snapshot(idb)).toEqual(await snapshot(mem));
    }
    expect((await snapshot(idb)).meta).toEqual({ x: 2 });
  });

  it('applies nothing of a commit that fails part way', async () => {
    const store = freshStore();
    await store.commit([{ op: 'put', table: 'sessions', key: 's', value: { n: 1 } }]);
    // A function cannot be stored (DataCloneError) – it sits between two valid writes.
    await expect(
      store.commit([
        { op: 'put', table: 'sessions', key: 's', value: { n: 2 } },
        { op: 'put', table: 'contacts', key: 'bad', value: { f: () => 1 } },
        { op: 'put', table: 'contacts', key: 'good', value: { n: 3 } },
      ]),
    ).rejects.toThrow();
    expect(await store.get('sessions', 's')).toEqual({ n: 1 });
    expect(await store.keys('contacts')).toEqual([]);
  });

  it('refuses unknown tables and non-string keys', async () => {
    const store = freshStore();
    await expect(store.get('passwords' as never, 'x')).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(
      store.commit([{ op: 'put', table: 'sessions', key: 5 as never, value: 1 }]),
    ).rejects.toMatchObject({ code: 'invalid-argument' });
  });

  it('keeps every concurrent commit whole (no torn pairs, none lost)', async () => {
    const store = freshStore();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        store.commit([
          { op: 'put', table: 'sessions', key: 'a', value: i },
          { op: 'put', table: 'senderKeys', key: 'b', value: i },
          { op: 'put', table: 'oneTimePrekeys', key: `k${i}`, value: i },
        ]),
      ),
    );
    const a = await store.get<number>('sessions', 'a');
    expect(await store.get('senderKeys', 'b')).toBe(a);
    expect((await store.keys('oneTimePrekeys')).length).toBe(60);
  });

  it('is shared by two connections to the same database (a restarted worker)', async () => {
    const first = freshStore();
    await first.commit([{ op: 'put', table: 'contacts', key: 'bob', value: { v: 1 } }]);
    const second = new KeyStore({ name: first.name });
    opened.push(second);
    expect(await second.get('contacts', 'bob')).toEqual({ v: 1 });
  });

  it('clears every table at once', async () => {
    const store = freshStore();
    await store.commit([
      { op: 'put', table: 'identity', key: 'self', value: { x: 1 } },
      { op: 'put', table: 'settings', key: 'settings', value: { y: 1 } },
      { op: 'put', table: 'directory', key: 'https://d', value: { z: 1 } },
    ]);
    await store.clearAll();
    for (const t of ['identity', 'settings', 'directory'] as const)
      expect(await store.keys(t)).toEqual([]);
  });
});

describe('the protocol on the IndexedDB store', () => {
  async function pair() {
    const aliceStore = freshStore();
    const bobStore = freshStore();
    const clock = () => 1_700_000_000_000;
    const alice = await Veil.create({ store: aliceStore, crypto: nobleProvider, clock });
    const bob = await Veil.create({ store: bobStore, crypto: nobleProvider, clock });
    const aliceId = await alice.createIdentity('alice');
    await bob.createIdentity('bob');
    // Bob pinned alice (from the directory), so her messages are from a contact.
    await bob.addContact('alice', aliceId.identityKey);
    const bobPub = await bob.publicBundle({ oneTimePrekeys: 2 });
    await alice.startSession({
      handle: 'bob',
      identityKey: bobPub.identityKey,
      signedPrekey: bobPub.signedPrekey,
      oneTimePrekey: bobPub.oneTimePrekeys[0],
    });
    return { alice, bob, aliceStore, bobStore };
  }

  it('runs a conversation with state only in IndexedDB, across new instances', async () => {
    const { alice, bob, bobStore } = await pair();
    const conv = { context: 'test:room', recipients: ['bob'] };
    const [first] = await alice.encrypt(conv, 'hello bob');
    expect(await bob.decrypt('test:room', first!)).toMatchObject({
      plaintext: 'hello bob',
      sender: 'alice',
    });
    // A restarted worker: a new Veil over a new connection to the same database.
    const bob2 = await Veil.create({
      store: new KeyStore({ name: bobStore.name }),
      crypto: nobleProvider,
      clock: () => 1_700_000_000_000,
    });
    const [reply] = await bob2.encrypt({ context: 'test:room', recipients: ['alice'] }, 'hi alice');
    expect(await alice.decrypt('test:room', reply!)).toMatchObject({ plaintext: 'hi alice' });
    const [second] = await alice.encrypt(conv, 'still there?');
    expect(await bob2.decrypt('test:room', second!)).toMatchObject({ plaintext: 'still there?' });
  });

  it('serialises racing operations on one session: no reuse, no lost update', async () => {
    const { alice, bob } = await pair();
    const conv = { context: 'test:room', recipients: ['bob'] };
    const messages = await Promise.all(
      Array.from({ length: 12 }, (_, i) => alice.encrypt(conv, `message ${i}`)),
    );
    // Two renders of the same block race to decrypt it: exactly one gets the text.
    const [a, b] = await Promise.all([
      bob.decrypt('test:room', messages[0]![0]!),
      bob.decrypt('test:room', messages[0]![0]!),
    ]);
    expect([a.status, b.status].sort()).toEqual(['failed', 'unverified']);
    const rest = await Promise.all(messages.slice(1).map(([m]) => bob.decrypt('test:room', m!)));
    expect(rest.map((r) => r.plaintext)).toEqual(
      Array.from({ length: 11 }, (_, i) => `message ${i + 1}`),
    );
  });
});

describe('KeyStore batch reads and trimming', () => {
  const dataKey = new Uint8Array(32).fill(7);
  const sealedStore = () => {
    const store = freshStore();
    store.keySource = { dataKey: async () => dataKey };
    return store;
  };
  const entry = (at: number) => ({ context: 'generic:room', plaintext: `m${at}`, sender: 'a', at });

  it('under a lock, keeps records whose keys say something under names that say nothing', async () => {
    const store = sealedStore();
    const handle = 'alice@chat.example';
    await store.commit([
      { op: 'put', table: 'contacts', key: handle, value: { handle } },
      { op: 'put', table: 'plaintexts', key: 'ab'.repeat(32), value: entry(1) },
      { op: 'put', table: 'secrets', key: 'securityPhrase', value: 'purple otter' },
    ]);
    const db = await openDB(store.name);
    const rawKeys = [
      ...(await db.getAllKeys('contacts')),
      ...(await db.getAllKeys('plaintexts')),
    ].map(String);
    const rawValues = JSON.stringify([
      ...(await db.getAll('contacts')),
      ...(await db.getAll('plaintexts')),
    ]);
    db.close();
    expect(rawKeys).toHaveLength(2);
    for (const k of rawKeys) expect(k).toMatch(/^#[0-9a-f]{32}$/);
    expect(rawKeys.join(' ') + rawValues).not.toMatch(/alice|abab/);
    // Through the store: the records' own keys, and reads and deletes by them.
    expect(await store.keys('contacts')).toEqual([handle]);
    expect(await store.get('contacts', handle)).toEqual({ handle });
    expect(await store.entries('plaintexts')).toEqual([['ab'.repeat(32), entry(1)]]);
    await store.commit([{ op: 'delete', table: 'contacts', key: handle }]);
    expect(await store.count('contacts')).toBe(0);
    // A fixed name stays as it is (it says nothing).
    expect(isSealed(await store.getRaw('secrets', 'securityPhrase'))).toBe(true);
    // Locked: not even whether a record exists.
    store.keySource = {
      dataKey: async () => {
        throw Object.assign(new Error('locked'), { code: 'locked' });
      },
    };
    await expect(store.get('contacts', handle)).rejects.toMatchObject({ code: 'locked' });
    await expect(store.keys('plaintexts')).rejects.toMatchObject({ code: 'locked' });
  });

  it('reads many keys in one transaction, in order, undefined where absent', async () => {
    const store = freshStore();
    await store.commit(
      Array.from({ length: 40 }, (_, i) => ({
        op: 'put' as const,
        table: 'sessions' as const,
        key: `k${i}`,
        value: { i },
      })),
    );
    const keys = ['k3', 'nope', 'k39', 'k0', 'k3'];
    const transaction = vi.spyOn(IDBDatabase.prototype, 'transaction');
    try {
      expect(await store.getMany('sessions', keys)).toEqual([
        { i: 3 },
        undefined,
        { i: 39 },
        { i: 0 },
        { i: 3 },
      ]);
      expect(transaction).toHaveBeenCalledTimes(1);
    } finally {
      transaction.mockRestore();
    }
    expect(await store.getMany('sessions', [])).toEqual([]);
  });

  it('opens sealed values in a batch read, and refuses bad tables and keys', async () => {
    const store = sealedStore();
    await store.commit([{ op: 'put', table: 'plaintexts', key: 'h1', value: entry(1) }]);
    expect(await store.getRaw('plaintexts', 'h1')).toBeUndefined();
    expect(
      isSealed(await store.getRaw('plaintexts', recordName(dataKey, 'plaintexts', 'h1'))),
    ).toBe(true);
    expect(await store.getMany('plaintexts', ['h1', 'h2'])).toEqual([entry(1), undefined]);
    await expect(store.getMany('passwords' as never, ['x'])).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(store.getMany('plaintexts', ['x', 5 as never])).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });

  it('deletes the oldest records beyond the newest `keep`, sealed ones included', async () => {
    const store = sealedStore();
    // Written out of order: age is the value's, not the insertion order.
    const ats = Array.from({ length: 30 }, (_, i) => (i * 7) % 30);
    await store.commit(
      ats.map((at) => ({
        op: 'put' as const,
        table: 'plaintexts' as const,
        key: `h${at}`,
        value: entry(at),
      })),
    );
    expect(await store.count('plaintexts')).toBe(30);
    const left = await store.deleteOldest('plaintexts', 20, (v) => (v as { at: number }).at);
    expect(left).toBe(20);
    const kept = (await store.entries<{ at: number }>('plaintexts')).map(([, v]) => v.at);
    expect(kept.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 10));
    // Nothing beyond the limit: nothing deleted.
    expect(await store.deleteOldest('plaintexts', 25, (v) => (v as { at: number }).at)).toBe(20);
    expect(await store.count('plaintexts')).toBe(20);
  });

  it('counts a record that does not open as oldest; refuses a bad limit', async () => {
    const store = sealedStore();
    await store.commit([
      { op: 'put', table: 'plaintexts', key: 'h1', value: entry(1) },
      { op: 'put', table: 'plaintexts', key: 'h2', value: entry(2) },
    ]);
    // A record sealed for another key (moved): it no longer opens.
    const name = (key: string) => recordName(dataKey, 'plaintexts', key);
    await store.commitRaw([
      {
        op: 'put',
        table: 'plaintexts',
        key: name('h9'),
        value: await store.getRaw('plaintexts', name('h1')),
      },
    ]);
    await store.deleteOldest('plaintexts', 2, (v) => (v as { at: number }).at);
    expect((await store.keys('plaintexts')).sort()).toEqual(['h1', 'h2']);
    await expect(store.deleteOldest('plaintexts', -1, () => 0)).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });
});
