// Schema migrations (fake-indexeddb): a database written by every earlier version upgrades to
// the current one with its data intact; every migration has a fixture; a newer database is
// refused with a clear code; an old connection steps aside for an upgrade.
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { KeyStore } from './key-store';
import { ALL_TABLES, MIGRATIONS, SCHEMA_VERSION, openVeilDb } from './schema';

let n = 0;
const dbName = () => `schema-test-${process.pid}-${++n}`;

interface Fixture {
  /** Writes what a profile at this version holds, through a connection at this version. */
  seed(name: string): Promise<void>;
  /** Checks the upgraded store still holds it. */
  check(store: KeyStore): Promise<void>;
}

const identityRecord = {
  handle: 'alice',
  publicKey: new Uint8Array(32).fill(1),
  privateKey: new Uint8Array(32).fill(2),
  createdAt: 1,
  signedPrekeyId: 1,
  nextOneTimePrekeyId: 21,
};
const contactRecord = {
  handle: 'bob',
  identityKey: new Uint8Array(32).fill(3),
  verified: true,
  firstSeen: 5,
};

async function seedAt(name: string, version: number, rows: [string, string, unknown][]) {
  const db = await openVeilDb({ name, version });
  const tx = db.transaction([...new Set(rows.map(([t]) => t))], 'readwrite');
  await Promise.all([...rows.map(([t, k, v]) => tx.objectStore(t).put(v, k)), tx.done]);
  db.close();
}

/** One fixture per version a user's database can be at before this code opens it. */
const FIXTURES: Record<number, Fixture> = {
  // No database yet: a first install.
  0: {
    seed: async () => undefined,
    async check(store) {
      for (const t of ALL_TABLES) expect(await store.keys(t)).toEqual([]);
    },
  },
  1: {
    seed: (name) =>
      seedAt(name, 1, [
        ['identity', 'self', identityRecord],
        ['contacts', 'bob', contactRecord],
        ['sessions', 'ab12', { version: 1, state: { n: 3 } }],
      ]),
    async check(store) {
      expect(await store.get('identity', 'self')).toEqual(identityRecord);
      expect(await store.get('contacts', 'bob')).toEqual(contactRecord);
      expect(await store.get('sessions', 'ab12')).toEqual({ version: 1, state: { n: 3 } });
      expect(await store.keys('settings')).toEqual([]);
    },
  },
  2: {
    seed: (name) =>
      seedAt(name, 2, [
        ['identity', 'self', identityRecord],
        [
          'settings',
          'settings',
          { directoryUrl: 'https://d.example', enabledSites: ['a.example'] },
        ],
        ['state', 'profile', { handle: 'alice', identityKey: identityRecord.publicKey }],
        ['secrets', 'securityPhrase', 'blue heron'],
      ]),
    async check(store) {
      expect(await store.get('identity', 'self')).toEqual(identityRecord);
      expect(await store.get('settings', 'settings')).toEqual({
        directoryUrl: 'https://d.example',
        enabledSites: ['a.example'],
      });
      expect(await store.get('secrets', 'securityPhrase')).toBe('blue heron');
      expect(await store.keys('plaintexts')).toEqual([]);
    },
  },
  3: {
    seed: (name) =>
      seedAt(name, 3, [
        ['identity', 'self', identityRecord],
        ['plaintexts', 'ab'.repeat(32), { context: 'generic:room', plaintext: 'hi', own: true }],
      ]),
    async check(store) {
      expect(await store.get('identity', 'self')).toEqual(identityRecord);
      expect(await store.get('plaintexts', 'ab'.repeat(32))).toEqual({
        context: 'generic:room',
        plaintext: 'hi',
        own: true,
      });
      expect(await store.keys('senders')).toEqual([]);
    },
  },
  4: {
    seed: (name) =>
      seedAt(name, 4, [
        ['identity', 'self', identityRecord],
        ['senders', 'https://d.example alice 01', { standing: 'current', at: 5 }],
      ]),
    async check(store) {
      expect(await store.get('identity', 'self')).toEqual(identityRecord);
      expect(await store.get('senders', 'https://d.example alice 01')).toEqual({
        standing: 'current',
        at: 5,
      });
      expect(await store.keys('kemPrekeys')).toEqual([]);
    },
  },
  5: {
    seed: (name) =>
      seedAt(name, 5, [
        ['identity', 'self', identityRecord],
        ['kemPrekeys', '7', { id: 7, lastResort: true }],
      ]),
    async check(store) {
      expect(await store.get('identity', 'self')).toEqual(identityRecord);
      expect(await store.get('kemPrekeys', '7')).toEqual({ id: 7, lastResort: true });
      expect(await store.keys('archive')).toEqual([]);
    },
  },
  6: {
    seed: (name) =>
      seedAt(name, 6, [
        ['identity', 'self', identityRecord],
        ['archive', '000000000001', { seq: 1, text: 'hi' }],
      ]),
    async check(store) {
      expect(await store.get('identity', 'self')).toEqual(identityRecord);
      expect(await store.get('archive', '000000000001')).toEqual({ seq: 1, text: 'hi' });
    },
  },
};

describe('schema migrations', () => {
  it('numbers migrations 1…n and has a fixture for every version from 0 to n', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    for (let v = 0; v <= SCHEMA_VERSION; v++)
      expect(FIXTURES[v], `fixture for v${v}`).toBeDefined();
  });

  it.each(Array.from({ length: SCHEMA_VERSION + 1 }, (_, v) => v))(
    'upgrades a database at version %i to the current schema with its data intact',
    async (from) => {
      const name = dbName();
      await FIXTURES[from]!.seed(name);
      const store = new KeyStore({ name });
      try {
        await FIXTURES[from]!.check(store);
        const db = await openDB(name);
        expect(db.version).toBe(SCHEMA_VERSION);
        expect([...db.objectStoreNames].sort()).toEqual([...ALL_TABLES].sort());
        db.close();
        // Still writable everywhere after the upgrade.
        await store.commit(
          ALL_TABLES.map((table) => ({ op: 'put' as const, table, key: 'probe', value: 1 })),
        );
      } finally {
        await store.close();
      }
    },
  );

  it('applies each migration step by step to the same result as all at once', async () => {
    const stepwise = dbName();
    for (let v = 1; v <= SCHEMA_VERSION; v++)
      (await openVeilDb({ name: stepwise, version: v })).close();
    const direct = dbName();
    (await openVeilDb({ name: direct })).close();
    const stores = async (name: string) => {
      const db = await openDB(name);
      const names = [...db.objectStoreNames].sort();
      db.close();
      return names;
    };
    expect(await stores(stepwise)).toEqual(await stores(direct));
  });

  it('refuses a database written by a newer version of Veil, leaving it alone', async () => {
    const name = dbName();
    const newer = await openDB(name, SCHEMA_VERSION + 1, {
      upgrade(db) {
        db.createObjectStore('fromTheFuture');
      },
    });
    newer.close();
    await expect(openVeilDb({ name })).rejects.toMatchObject({ code: 'unknown-version' });
    const db = await openDB(name);
    expect(db.version).toBe(SCHEMA_VERSION + 1);
    db.close();
  });

  it('closes an old connection when a newer version needs to upgrade', async () => {
    const name = dbName();
    let stepped = false;
    const old = await openVeilDb({ name, version: 1, onBlocking: () => (stepped = true) });
    const upgraded = await openVeilDb({ name });
    expect(stepped).toBe(true);
    expect(upgraded.version).toBe(SCHEMA_VERSION);
    upgraded.close();
    old.close();
  });
});
