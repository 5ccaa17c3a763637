// One contract, two stores: SQLite (a temp file) and PostgreSQL (DATABASE_URL_TEST, a schema of
// its own). Writes are all-or-nothing, the log's proofs verify, bundles never share a prekey.
import { randomBytes } from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignedDeviceList, deviceListDigest } from '../extension/protocol/device-list';
import {
  EMPTY_ROOT,
  encodeLogEntry,
  leafHash,
  verifyConsistency,
  verifyInclusion,
  verifySignedTreeHead,
} from '../extension/protocol/transparency';
import { buildProof, consistencyPlan, inclusionPlan, rootAt } from './log';
import { LATEST_VERSION } from './migrations/index';
import type {
  DirectoryStore,
  KemPrekeyRecord,
  KemPrekeysInput,
  OneTimePrekeyRecord,
  PublishInput,
  PutDeviceListInput,
} from './store';
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

/** KEM prekey records: the store neither parses nor verifies them (the app does). */
function kemPrekeys(count: number, first = 1, lastResort = false): KemPrekeyRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    id: first + i,
    publicKey: new Uint8Array(randomBytes(1184)),
    signature: new Uint8Array(randomBytes(64)),
    lastResort,
  }));
}

function withKem(base: PublishInput, kem: KemPrekeysInput, maxStoredKemPrekeys = 10): PublishInput {
  return { ...base, kemPrekeys: kem, maxStoredKemPrekeys };
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

/** A device list record: the store neither parses the JSON nor checks the signature (the app does). */
function deviceList(handle: string, version: number, count = 2): SignedDeviceList {
  return {
    handle,
    version,
    devices: Array.from({ length: count }, (_, i) => ({
      id: i + 1,
      key: key(),
      addedAt: 1000 + i,
    })),
    signature: new Uint8Array(randomBytes(64)),
  };
}

function listInput(list: SignedDeviceList, expectedCurrentKey: Uint8Array): PutDeviceListInput {
  return { handle: list.handle, list, expectedCurrentKey };
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
      expect(LATEST_VERSION).toBe(6);
      expect(await store.schemaVersion()).toBe(LATEST_VERSION);
      const temp = await factory.open();
      try {
        await temp.store.migrate(0);
        expect(await temp.store.schemaVersion()).toBe(0);
        await expect(temp.store.stats()).rejects.toThrow();
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        expect(await temp.store.stats()).toEqual({
          identities: 0,
          oneTimePrekeys: 0,
          kemOneTimePrekeys: 0,
          logSize: 0,
        });
      } finally {
        await temp.cleanup();
      }
    });

    it('migration 2 (KEM prekeys) goes down and up under existing identities', async () => {
      const temp = await factory.open();
      try {
        await temp.store.ensureHead(now, signer.signHead);
        const k = key();
        const kem = { lastResort: kemPrekeys(1, 1, true)[0], oneTime: kemPrekeys(2, 2) };
        expect((await temp.store.publish(withKem(input('erin', k, null), kem), ctx())).ok).toBe(
          true,
        );
        await temp.store.migrate(1);
        expect(await temp.store.schemaVersion()).toBe(1);
        await expect(temp.store.countKemPrekeys('erin')).rejects.toThrow();
        expect((await temp.store.getIdentity('erin'))!.identityKey).toEqual(k);
        expect(await temp.store.countOneTimePrekeys('erin')).toBe(3);
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        expect(await temp.store.countKemPrekeys('erin')).toEqual({
          oneTime: 0,
          lastResortId: null,
        });
        const bundle = (await temp.store.takeBundle('erin'))!;
        expect(bundle.identity.identityKey).toEqual(k);
        expect(bundle.kemPrekey).toBeUndefined();
      } finally {
        await temp.cleanup();
      }
    });

    it('migration 3 (device lists) goes down and up under existing identities and log entries', async () => {
      const temp = await factory.open();
      try {
        await temp.store.ensureHead(now, signer.signHead);
        const k = key();
        expect((await temp.store.publish(input('erin', k, null), ctx())).ok).toBe(true);
        expect((await temp.store.publish(input('finn', key(), null), ctx())).ok).toBe(true);
        await temp.store.migrate(2);
        expect(await temp.store.schemaVersion()).toBe(2);
        await expect(temp.store.getDeviceList('erin')).rejects.toThrow();
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        // The rebuilt log table kept every entry, its index and its constraints.
        await checkLog(temp.store);
        expect((await temp.store.getIdentity('erin'))!.identityKey).toEqual(k);
        const d = await temp.store.putDeviceList(listInput(deviceList('erin', 1), k), ctx());
        expect(d).toEqual({ ok: true, logIndex: 2, sequence: 2 });
        expect(await temp.store.publish(input('erin', key(), null), ctx())).toEqual({
          ok: false,
          reason: 'handle-taken',
        });
        await checkLog(temp.store);

        // With a 'devices' entry in the log, down is refused and changes nothing: an
        // append-only log cannot forget the entry, and the old schema cannot hold it.
        await expect(temp.store.migrate(2)).rejects.toThrow();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        expect((await temp.store.getDeviceList('erin'))!.list.version).toBe(1);
        await checkLog(temp.store);
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
      expect(await store.latestKeyEntry('alice')).toMatchObject({
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

    it('stores a device list, logs its digest, refuses stale versions, replays and a moved key', async () => {
      const k1 = key();
      expect(await store.putDeviceList(listInput(deviceList('gina', 1), k1), ctx())).toEqual({
        ok: false,
        reason: 'not-found',
      });
      const published = await store.publish(input('gina', k1, null), ctx());
      expect(published).toMatchObject({ ok: true, sequence: 1 });
      const keyIndex = published.ok ? published.logIndex : -1;
      expect(await store.getDeviceList('gina')).toBeUndefined();

      const v1 = deviceList('gina', 1);
      const c1 = ctx('device-list-nonce-0001');
      const r1 = await store.putDeviceList(listInput(v1, k1), c1);
      expect(r1).toEqual({ ok: true, logIndex: keyIndex + 1, sequence: 2 });
      const stored = (await store.getDeviceList('gina'))!;
      expect(stored).toEqual({
        list: v1,
        logIndex: keyIndex + 1,
        sequence: 2,
        logTimestamp: Math.floor(c1.now / 1000),
        updatedAt: c1.now,
      });
      expect((await store.getLogEntries(keyIndex + 1, 1))[0]).toEqual({
        index: keyIndex + 1,
        handle: 'gina',
        identityKey: deviceListDigest(v1),
        action: 'devices',
        sequence: 2,
        timestamp: Math.floor(c1.now / 1000),
      });

      // The same nonce again is a replay, whatever the list.
      expect(
        await store.putDeviceList(listInput(deviceList('gina', 5), k1), {
          ...c1,
          now: (now += 1000),
        }),
      ).toEqual({ ok: false, reason: 'replay' });
      // Not newer than the stored version: refused, nothing logged.
      const size = (await store.latestHead())!.treeSize;
      expect(await store.putDeviceList(listInput(deviceList('gina', 1), k1), ctx())).toEqual({
        ok: false,
        reason: 'stale',
      });
      // Checked against a key the handle no longer has (a rotation meanwhile): refused.
      expect(await store.putDeviceList(listInput(deviceList('gina', 2), key()), ctx())).toEqual({
        ok: false,
        reason: 'conflict',
      });
      expect((await store.latestHead())!.treeSize).toBe(size);
      expect((await store.getDeviceList('gina'))!.list).toEqual(v1);

      const v3 = deviceList('gina', 3, 4);
      expect(await store.putDeviceList(listInput(v3, k1), ctx())).toEqual({
        ok: true,
        logIndex: size,
        sequence: 3,
      });
      expect((await store.getDeviceList('gina'))!.list).toEqual(v3);
      expect(await store.putDeviceList(listInput(deviceList('gina', 2), k1), ctx())).toEqual({
        ok: false,
        reason: 'stale',
      });

      // The identity still points at its key entry; the latest key entry skips the lists.
      const gina = (await store.getIdentity('gina'))!;
      expect(gina).toMatchObject({ logIndex: keyIndex, logAction: 'publish', sequence: 1 });
      expect(await store.latestKeyEntry('gina')).toMatchObject({
        index: keyIndex,
        action: 'publish',
        sequence: 1,
        identityKey: k1,
      });
      // A same-key update keeps the list and logs nothing.
      expect(await store.publish(input('gina', k1, k1, prekeys(1, 40)), ctx())).toMatchObject({
        ok: true,
        status: 'updated',
        logIndex: keyIndex,
        sequence: 1,
      });
      expect((await store.getDeviceList('gina'))!.list).toEqual(v3);

      // A rotation continues the one sequence and drops the list; the new key starts at 1.
      const k2 = key();
      expect(await store.publish(input('gina', k2, k1), ctx())).toMatchObject({
        ok: true,
        status: 'rotated',
        sequence: 4,
      });
      expect(await store.getDeviceList('gina')).toBeUndefined();
      expect(await store.putDeviceList(listInput(deviceList('gina', 1), k1), ctx())).toEqual({
        ok: false,
        reason: 'conflict',
      });
      expect(await store.putDeviceList(listInput(deviceList('gina', 1), k2), ctx())).toMatchObject({
        ok: true,
        sequence: 5,
      });
      expect(await store.latestKeyEntry('gina')).toMatchObject({ action: 'rotate', sequence: 4 });

      // A deletion continues it too and drops the list.
      expect(
        await store.deleteIdentity({ handle: 'gina', expectedCurrentKey: k2 }, ctx()),
      ).toMatchObject({ ok: true, sequence: 6 });
      expect(await store.getDeviceList('gina')).toBeUndefined();
      expect(await store.latestKeyEntry('gina')).toMatchObject({ action: 'delete', sequence: 6 });
      const k3 = key();
      expect(await store.publish(input('gina', k3, null), ctx())).toMatchObject({
        ok: true,
        status: 'created',
        sequence: 7,
      });
      expect(await store.getDeviceList('gina')).toBeUndefined();
      expect(
        (await store.logEntriesForHandle('gina', 0, 100)).map((e) => [e.sequence, e.action]),
      ).toEqual([
        [1, 'publish'],
        [2, 'devices'],
        [3, 'devices'],
        [4, 'rotate'],
        [5, 'devices'],
        [6, 'delete'],
        [7, 'publish'],
      ]);
      await checkLog(store);
    });

    it('concurrent device-list writes: each version logged at most once, the newest kept', async () => {
      const k = key();
      await store.publish(input('hana', k, null), ctx());
      const versions = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7];
      const results = await Promise.all(
        versions.map((v) => store.putDeviceList(listInput(deviceList('hana', v), k), ctx())),
      );
      const accepted = versions.filter((_, i) => results[i]!.ok);
      expect(new Set(accepted).size).toBe(accepted.length);
      for (const r of results) if (!r.ok) expect(r.reason).toBe('stale');
      expect((await store.getDeviceList('hana'))!.list.version).toBe(9);
      const logged = (await store.logEntriesForHandle('hana', 0, 100)).filter(
        (e) => e.action === 'devices',
      );
      expect(logged.length).toBe(accepted.length);
      expect(logged.map((e) => e.sequence)).toEqual(accepted.map((_, i) => i + 2));
      await checkLog(store);
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

    it('stores KEM prekeys: one-time ones handed out once in id order, then the last-resort one', async () => {
      const k = key();
      const lastResort = kemPrekeys(1, 100, true)[0]!;
      const oneTime = kemPrekeys(3, 10);
      const r1 = await store.publish(
        withKem(input('kem1', k, null, prekeys(2)), {
          lastResort,
          oneTime: oneTime.slice().reverse(),
        }),
        ctx(),
      );
      expect(r1).toMatchObject({
        ok: true,
        status: 'created',
        oneTimePrekeys: 2,
        kemOneTimePrekeys: 3,
      });
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 3, lastResortId: 100 });
      const bundles = [];
      for (let i = 0; i < 5; i++) bundles.push((await store.takeBundle('kem1'))!);
      expect(bundles.map((b) => b.kemPrekey)).toEqual([...oneTime, lastResort, lastResort]);
      // Taken together with the X25519 one-time prekey, in the same transaction.
      expect(bundles.map((b) => b.oneTimePrekey?.id)).toEqual([
        1,
        2,
        undefined,
        undefined,
        undefined,
      ]);
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 0, lastResortId: 100 });

      // Same key, no KEM prekeys: they stay as they are.
      expect(await store.publish(input('kem1', k, k, []), ctx())).toMatchObject({
        ok: true,
        status: 'updated',
        kemOneTimePrekeys: 0,
      });
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 0, lastResortId: 100 });
      // A new last-resort key replaces the old one; a stored one-time id is overwritten.
      const newLastResort = kemPrekeys(1, 101, true)[0]!;
      await store.publish(withKem(input('kem1', k, k, []), { oneTime: kemPrekeys(2, 20) }), ctx());
      const replaced = kemPrekeys(1, 21);
      expect(
        await store.publish(
          withKem(input('kem1', k, k, []), { lastResort: newLastResort, oneTime: replaced }),
          ctx(),
        ),
      ).toMatchObject({ ok: true, kemOneTimePrekeys: 2 });
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 2, lastResortId: 101 });
      expect((await store.takeBundle('kem1'))!.kemPrekey!.id).toBe(20);
      expect((await store.takeBundle('kem1'))!.kemPrekey).toEqual(replaced[0]);
      expect((await store.takeBundle('kem1'))!.kemPrekey).toEqual(newLastResort);

      // Too many one-time KEM prekeys: the whole write rolls back (X25519 prekeys, the
      // last-resort key, the identity row).
      await store.publish(withKem(input('kem1', k, k, []), { oneTime: kemPrekeys(8, 30) }), ctx());
      const identityBefore = await store.getIdentity('kem1');
      const x25519Before = await store.countOneTimePrekeys('kem1');
      const tooMany = await store.publish(
        withKem(input('kem1', k, k, prekeys(2, 50)), {
          lastResort: kemPrekeys(1, 102, true)[0],
          oneTime: kemPrekeys(3, 40),
        }),
        ctx(),
      );
      expect(tooMany).toEqual({ ok: false, reason: 'too-many-kem-prekeys' });
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 8, lastResortId: 101 });
      expect(await store.countOneTimePrekeys('kem1')).toBe(x25519Before);
      expect(await store.getIdentity('kem1')).toEqual(identityBefore);

      // Rotation drops every KEM prekey of the old key, and keeps those the rotation brings.
      const k2 = key();
      expect(
        await store.publish(
          withKem(input('kem1', k2, k, []), { oneTime: kemPrekeys(1, 1) }),
          ctx(),
        ),
      ).toMatchObject({ ok: true, status: 'rotated', kemOneTimePrekeys: 1 });
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 1, lastResortId: null });
      await store.publish(
        withKem(input('kem1', k2, k2, []), { lastResort: kemPrekeys(1, 7, true)[0] }),
        ctx(),
      );
      const k3 = key();
      await store.publish(input('kem1', k3, k2, []), ctx());
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 0, lastResortId: null });
      expect((await store.takeBundle('kem1'))!.kemPrekey).toBeUndefined();

      // Deletion drops them too.
      await store.publish(
        withKem(input('kem1', k3, k3, []), {
          lastResort: kemPrekeys(1, 8, true)[0],
          oneTime: kemPrekeys(2, 1),
        }),
        ctx(),
      );
      expect((await store.stats()).kemOneTimePrekeys).toBeGreaterThanOrEqual(2);
      expect(
        await store.deleteIdentity({ handle: 'kem1', expectedCurrentKey: k3 }, ctx()),
      ).toMatchObject({
        ok: true,
      });
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 0, lastResortId: null });
      await store.publish(input('kem1', key(), null), ctx());
      expect(await store.countKemPrekeys('kem1')).toEqual({ oneTime: 0, lastResortId: null });
    });

    it('50 concurrent bundle fetches never share a one-time prekey', async () => {
      const k = key();
      const stock = prekeys(20, 1000);
      const lastResort = kemPrekeys(1, 9999, true)[0]!;
      await store.publish(
        withKem(
          { ...input('carol', k, null, stock), maxStoredOneTimePrekeys: 100 },
          { lastResort, oneTime: kemPrekeys(20, 1000) },
          100,
        ),
        ctx(),
      );
      await store.publish(
        withKem(
          { ...input('carol', k, k, prekeys(20, 2000)), maxStoredOneTimePrekeys: 100 },
          { oneTime: kemPrekeys(20, 2000) },
          100,
        ),
        ctx(),
      );
      const bundles = await Promise.all(
        Array.from({ length: 50 }, () => store.takeBundle('carol')),
      );
      const handedOut = bundles.flatMap((b) => (b!.oneTimePrekey ? [b!.oneTimePrekey.id] : []));
      expect(handedOut.length).toBe(40);
      expect(new Set(handedOut).size).toBe(40);
      expect(await store.countOneTimePrekeys('carol')).toBe(0);
      // KEM one-time prekeys: never the same one twice; the rest got the last-resort one.
      const kem = bundles.map((b) => b!.kemPrekey!);
      const kemOneTime = kem.filter((p) => !p.lastResort).map((p) => p.id);
      expect(kemOneTime.length).toBe(40);
      expect(new Set(kemOneTime).size).toBe(40);
      expect(kem.filter((p) => p.lastResort)).toEqual(Array(10).fill(lastResort));
      expect(await store.countKemPrekeys('carol')).toEqual({ oneTime: 0, lastResortId: 9999 });
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
