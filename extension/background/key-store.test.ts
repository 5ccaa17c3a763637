// The IndexedDB key store (fake-indexeddb): the ProtocolStore contract, all-or-nothing commits,
// concurrent commits, and the protocol running on it (two Veil instances talking, racing
// operations serialised by the one Veil queue).
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { nobleProvider } from '../protocol/crypto/noble';
import { MemoryStore, type ProtocolStore, type StoreOp } from '../protocol/store';
import { Veil } from '../protocol/veil';
import { KeyStore } from './key-store';

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
    await alice.createIdentity('alice');
    await bob.createIdentity('bob');
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
