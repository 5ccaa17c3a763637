// One contract, two stores: SQLite (a temp file) and PostgreSQL (DATABASE_URL_TEST, a schema of
// its own). Writes are all-or-nothing, the log's proofs verify, bundles never share a prekey.
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  encodeLogEntry,
  leafHash,
  verifyConsistency,
  verifyInclusion,
  verifySignedTreeHead,
} from '../extension/protocol/transparency';
import { buildProof, consistencyPlan, inclusionPlan, rootAt } from './log';
import type { DirectoryStore, OneTimePrekeyRecord, PublishInput } from './store';
import { type OpenedStore, TEST_ORIGIN, storeFactories, testSigner, writeContext } from './testing';

const signer = testSigner();
const trust = { origin: TEST_ORIGIN, publicKey: signer.publicKey };
let now = Date.UTC(2026, 0, 1);
const ctx = (nonce?: string) => writeContext(signer, (now += 1000), nonce);

function key(): Uint8Array {
  return ed25519.getPublicKey(ed25519.utils.randomSecretKey());
}

function prekeys(count: number, first = 1): OneTimePrekeyRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: first + i,
    publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()),
  }));
}

function input(
  handle: string,
  identityKey: Uint8Array,
  expected: Uint8Array | null,
  otpks = prekeys(3),
): PublishInput {
  return {
    handle,
    identityKey,
    signedPrekey: {
      id: 7,
      publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()),
      signature: new Uint8Array(64).fill(1),
    },
    oneTimePrekeys: otpks,
    fingerprint: 'f'.repeat(64),
    safetyNumberHalf: '1'.repeat(30),
    expectedCurrentKey: expected,
    maxStoredOneTimePrekeys: 20,
  };
}

async function checkLog(store: DirectoryStore): Promise<void> {
  const head = (await store.latestHead())!;
  verifySignedTreeHead({ origin: TEST_ORIGIN, ...head }, trust);
  expect(await rootAt(store, head.treeSize)).toEqual(head.rootHash);
  const entries = await store.getLogEntries(0, head.treeSize + 5);
  expect(entries.map((e) => e.index)).toEqual([...Array(head.treeSize).keys()]);
  for (const e of entries) {
    const { proof } = await buildProof(store, inclusionPlan(e.index, head.treeSize));
    verifyInclusion(leafHash(encodeLogEntry(e)), e.index, head.treeSize, proof, head.rootHash);
  }
  for (let m = 0; m <= head.treeSize; m++) {
    const { proof } = await buildProof(store, consistencyPlan(m, head.treeSize));
    verifyConsistency(m, head.treeSize, await rootAt(store, m), head.rootHash, proof);
  }
}

for (const factory of storeFactories()) {
  describe.skipIf(factory.skip !== undefined)(`store contract: ${factory.name}`, () => {
    let opened: OpenedStore;
    let store: DirectoryStore;

    beforeAll(async () => {
      opened = await factory.open();
      store = opened.store;
      await store.ensureHead(now, signer.signHead);
    });
    afterAll(async () => {
      await opened?.cleanup();
    });

    it('migrates down and up again', async () => {
      expect(await store.schemaVersion()).toBe(1);
      const temp = await factory.open();
      try {
        await temp.store.migrate(0);
        expect(await temp.store.schemaVersion()).toBe(0);
        await expect(temp.store.stats()).rejects.toThrow();
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(1);
        expect(await temp.store.stats()).toEqual({ identities: 0, oneTimePrekeys: 0, logSize: 0 });
      } finally {
        await temp.cleanup();
      }
    });

    it('keeps its directory key and signs the empty tree once', async () => {
      let generated = 0;
      const gen = () => {
        generated++;
        return ed25519.utils.randomSecretKey();
      };
      const a = await store.loadOrCreateDirectoryKey(gen, now);
      const b = await store.loadOrCreateDirectoryKey(gen, now);
      expect(b).toEqual(a);
      expect(generated).toBeLessThanOrEqual(2); // PostgreSQL draws one and discards it on conflict
      await store.ensureHead(now + 5000, signer.signHead);
      const head = (await store.latestHead())!;
      expect(head.treeSize).toBe(0);
      expect(head.rootHash).toEqual(EMPTY_ROOT);
      verifySignedTreeHead({ origin: TEST_ORIGIN, ...head }, trust);
    });

    it('claims, refuses a second claim and replays, updates, rotates and deletes', async () => {
      const k1 = key();
      const r1 = await store.publish(input('alice', k1, null), ctx());
      expect(r1).toMatchObject({ ok: true, status: 'created', sequence: 1, oneTimePrekeys: 3 });
      const index1 = r1.ok ? r1.logIndex : -1;

      expect(await store.publish(input('alice', key(), null), ctx())).toEqual({
        ok: false,
        reason: 'handle-taken',
      });
      const replayed = ctx('same-nonce-for-replay');
      expect((await store.publish(input('alice', k1, k1, prekeys(1, 50)), replayed)).ok).toBe(true);
      expect(
        await store.publish(input('alice', k1, k1, prekeys(1, 60)), {
          ...replayed,
          now: (now += 1000),
        }),
      ).toEqual({
        ok: false,
        reason: 'replay',
      });
      expect(await store.countOneTimePrekeys('alice')).toBe(4);

      // A same-key update adds prekeys and writes no log entry.
      const sizeBefore = (await store.latestHead())!.treeSize;
      const r2 = await store.publish(input('alice', k1, k1, prekeys(2, 10)), ctx());
      expect(r2).toMatchObject({
        ok: true,
        status: 'updated',
        sequence: 1,
        logIndex: index1,
        oneTimePrekeys: 6,
      });
      expect((await store.latestHead())!.treeSize).toBe(sizeBefore);

      // Stale expectation: the write is refused and nothing changes.
      const stale = await store.publish(input('alice', key(), key()), ctx());
      expect(stale).toEqual({ ok: false, reason: 'conflict' });

      // Rotation: new key, new log entry, old one-time prekeys dropped.
      const k2 = key();
      const r3 = await store.publish(input('alice', k2, k1, prekeys(2, 100)), ctx());
      expect(r3).toMatchObject({ ok: true, status: 'rotated', sequence: 2, oneTimePrekeys: 2 });
      const alice = (await store.getIdentity('alice'))!;
      expect(alice.identityKey).toEqual(k2);
      expect(alice.logAction).toBe('rotate');
      expect(alice.sequence).toBe(2);

      // Too many prekeys: the whole write rolls back.
      const before = await store.countOneTimePrekeys('alice');
      const tooMany = await store.publish(input('alice', k2, k2, prekeys(19, 200)), ctx());
      expect(tooMany).toEqual({ ok: false, reason: 'too-many-prekeys' });
      expect(await store.countOneTimePrekeys('alice')).toBe(before);
      expect((await store.getIdentity('alice'))!.updatedAt).toBe(alice.updatedAt);

      // Delete, then the handle can be claimed again and its sequence continues.
      expect(
        await store.deleteIdentity({ handle: 'alice', expectedCurrentKey: k1 }, ctx()),
      ).toEqual({ ok: false, reason: 'conflict' });
      const d = await store.deleteIdentity({ handle: 'alice', expectedCurrentKey: k2 }, ctx());
      expect(d).toMatchObject({ ok: true, sequence: 3 });
      expect(await store.getIdentity('alice')).toBeUndefined();
      expect(await store.countOneTimePrekeys('alice')).toBe(0);
      expect(await store.takeBundle('alice')).toBeUndefined();
      expect(await store.latestLogEntry('alice')).toMatchObject({
        action: 'delete',
        sequence: 3,
        identityKey: k2,
      });
      expect(
        await store.deleteIdentity({ handle: 'alice', expectedCurrentKey: k2 }, ctx()),
      ).toEqual({ ok: false, reason: 'not-found' });
      const k3 = key();
      expect(await store.publish(input('alice', k3, null), ctx())).toMatchObject({
        ok: true,
        status: 'created',
        sequence: 4,
      });
      await checkLog(store);
    });

    it("lists a handle's entries in sequence order, after a sequence, at most a limit", async () => {
      // alice's history from the test above: publish, rotate, delete, publish again.
      const all = await store.logEntriesForHandle('alice', 0, 100);
      expect(all.map((e) => [e.sequence, e.action])).toEqual([
        [1, 'publish'],
        [2, 'rotate'],
        [3, 'delete'],
        [4, 'publish'],
      ]);
      for (const [i, e] of all.entries()) {
        expect(e.handle).toBe('alice');
        if (i > 0) expect(e.index).toBeGreaterThan(all[i - 1]!.index);
        expect((await store.getLogEntries(e.index, 1))[0]).toEqual(e);
      }
      expect((await store.logEntriesForHandle('alice', 1, 2)).map((e) => e.sequence)).toEqual([
        2, 3,
      ]);
      expect(await store.logEntriesForHandle('alice', 4, 10)).toEqual([]);
      expect(await store.logEntriesForHandle('nobody', 0, 10)).toEqual([]);
    });

    it('hands out one-time prekeys in order, then bundles without one', async () => {
      const k = key();
      await store.publish(input('bob', k, null, prekeys(3, 5)), ctx());
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) ids.push((await store.takeBundle('bob'))!.oneTimePrekey!.id);
      expect(ids).toEqual([5, 6, 7]);
      const empty = (await store.takeBundle('bob'))!;
      expect(empty.oneTimePrekey).toBeUndefined();
      expect(empty.identity.identityKey).toEqual(k);
      expect(await store.takeBundle('nobody')).toBeUndefined();
    });

    it('50 concurrent bundle fetches never share a one-time prekey', async () => {
      const k = key();
      const stock = prekeys(20, 1000);
      await store.publish(
        { ...input('carol', k, null, stock), maxStoredOneTimePrekeys: 100 },
        ctx(),
      );
      await store.publish(
        { ...input('carol', k, k, prekeys(20, 2000)), maxStoredOneTimePrekeys: 100 },
        ctx(),
      );
      const bundles = await Promise.all(
        Array.from({ length: 50 }, () => store.takeBundle('carol')),
      );
      const handedOut = bundles.flatMap((b) => (b!.oneTimePrekey ? [b!.oneTimePrekey.id] : []));
      expect(handedOut.length).toBe(40);
      expect(new Set(handedOut).size).toBe(40);
      expect(await store.countOneTimePrekeys('carol')).toBe(0);
    });

    it('keeps a verifiable log across many appends', async () => {
      for (let i = 0; i < 12; i++) await store.publish(input(`user${i}`, key(), null, []), ctx());
      await checkLog(store);
      const stats = await store.stats();
      expect(stats.logSize).toBe((await store.latestHead())!.treeSize);
      expect(stats.identities).toBeGreaterThanOrEqual(14);
      expect((await store.getLogEntries(2, 3)).map((e) => e.index)).toEqual([2, 3, 4]);
    });

    it('forgets nonces once they expire', async () => {
      const k = key();
      const c1 = ctx('expiring-nonce-0001');
      await store.publish(input('dave', k, null), { ...c1, nonceExpiresAt: c1.now + 1000 });
      now += 10_000;
      const again = await store.publish(input('dave', k, k), { ...ctx('expiring-nonce-0001') });
      expect(again.ok).toBe(true);
    });
  });
}
