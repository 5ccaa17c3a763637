// One contract, two stores: SQLite (a temp file) and PostgreSQL (DATABASE_URL_TEST, a schema of
// its own). Writes are all-or-nothing, the log's proofs verify, bundles never share a prekey.
import { randomBytes } from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SignedDeviceList, deviceListDigest } from '../extension/protocol/device-list';
import {
  EMPTY_ROOT,
  encodeLogEntry,
  type LeafEntry,
  leafHash,
  verifyConsistency,
  verifyInclusion,
  verifySignedTreeHead,
} from '../extension/protocol/transparency';
import { buildProof, consistencyPlan, inclusionPlan, rootAt } from './log';
import { LATEST_VERSION } from './migrations/index';
import type {
  DirectoryStore,
  LoggedEntry,
  StoredLogEntry,
  KemPrekeyRecord,
  KemPrekeysInput,
  DevicePrekeysInput,
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

/** Prekeys of device `deviceId` (listed with `deviceKey`); the app verified them. */
function deviceKeysInput(
  handle: string,
  deviceId: number,
  deviceKey: Uint8Array,
  otpks = prekeys(3),
  kem: KemPrekeysInput = {},
): DevicePrekeysInput {
  return {
    handle,
    deviceId,
    deviceKey,
    signedPrekey: {
      id: 3,
      publicKey: x25519.getPublicKey(x25519.utils.randomSecretKey()),
      signature: new Uint8Array(64).fill(2),
    },
    oneTimePrekeys: otpks,
    kemPrekeys: kem,
    maxStoredOneTimePrekeys: 20,
    maxStoredKemPrekeys: 10,
  };
}

/** A handle `handle` published under a fresh account key, with a list of it (device 1) and `others`. */
async function withDevices(store: DirectoryStore, handle: string, others = 1) {
  const account = key();
  await store.publish(input(handle, account, null), ctx());
  const list: SignedDeviceList = {
    handle,
    version: 1,
    devices: [
      { id: 1, key: account, addedAt: 1000 },
      ...Array.from({ length: others }, (_, i) => ({ id: i + 2, key: key(), addedAt: 1001 + i })),
    ],
    signature: new Uint8Array(randomBytes(64)),
  };
  expect((await store.putDeviceList(listInput(list, account), ctx())).ok).toBe(true);
  return { account, list, device: (id: number) => list.devices.find((d) => d.id === id)!.key };
}

function listInput(list: SignedDeviceList, expectedCurrentKey: Uint8Array): PutDeviceListInput {
  return { handle: list.handle, list, expectedCurrentKey };
}

/** The leaf data of a stored entry (v1, v2) or its kept hash's preimage is unknown (redacted). */
function leafData(e: LoggedEntry): Uint8Array {
  if ('redacted' in e) throw new Error('redacted entries are checked by their leaf hash');
  return encodeLogEntry(e as LeafEntry);
}

/** The entry's leaf hash: of its data, or the one kept for a redacted entry. */
function entryLeaf(e: LoggedEntry): Uint8Array {
  return 'redacted' in e ? e.leafHash : leafHash(leafData(e));
}

async function checkLog(store: DirectoryStore): Promise<void> {
  const head = (await store.latestHead())!;
  verifySignedTreeHead({ origin: TEST_ORIGIN, ...head }, trust);
  expect(await rootAt(store, head.treeSize)).toEqual(head.rootHash);
  const entries = await store.getLogEntries(0, head.treeSize + 5);
  expect(entries.map((e) => e.index)).toEqual([...Array(head.treeSize).keys()]);
  for (const e of entries) {
    const { proof } = await buildProof(store, inclusionPlan(e.index, head.treeSize));
    verifyInclusion(entryLeaf(e), e.index, head.treeSize, proof, head.rootHash);
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
      expect(LATEST_VERSION).toBe(7);
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
        // Written before handle labels (schema 3): migration 5's down is refused once the log
        // holds a labelled entry (see the migration 5 test).
        await temp.store.migrate(3);
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
        await temp.store.migrate(3);
        await temp.store.ensureHead(now, signer.signHead);
        const k = key();
        expect((await temp.store.publish(input('erin', k, null), ctx())).ok).toBe(true);
        expect((await temp.store.publish(input('finn', key(), null), ctx())).ok).toBe(true);
        await temp.store.migrate(2);
        expect(await temp.store.schemaVersion()).toBe(2);
        await expect(temp.store.getDeviceList('erin')).rejects.toThrow();
        await temp.store.migrate(3);
        expect(await temp.store.schemaVersion()).toBe(3);
        // The rebuilt log table kept every entry, its index and its constraints.
        await checkLog(temp.store);
        expect((await temp.store.getIdentity('erin'))!.identityKey).toEqual(k);
        // The store's code is the latest schema's (it also drops listed devices' prekeys).
        await temp.store.migrate();
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

    it('migration 4 (device keys, sync blobs) goes down and up under existing data', async () => {
      const temp = await factory.open();
      try {
        // Below schema 5 the store writes v1 entries, which migration 5's down can hold.
        await temp.store.migrate(4);
        await temp.store.ensureHead(now, signer.signHead);
        const { account, device } = await withDevices(temp.store, 'erin');
        expect(
          (await temp.store.putDevicePrekeys(deviceKeysInput('erin', 2, device(2)), ctx())).ok,
        ).toBe(true);
        expect(
          await temp.store.putSyncBlob(
            { handle: 'erin', version: 1, ciphertext: new Uint8Array([1]), signerKey: account },
            ctx(),
          ),
        ).toEqual({ ok: true });
        await temp.store.migrate(3);
        expect(await temp.store.schemaVersion()).toBe(3);
        await expect(temp.store.getSyncBlob('erin')).rejects.toThrow();
        await expect(temp.store.takeDeviceBundle('erin', 2)).rejects.toThrow();
        expect((await temp.store.getDeviceList('erin'))!.list.version).toBe(1);
        expect((await temp.store.getIdentity('erin'))!.identityKey).toEqual(account);
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        expect(await temp.store.getSyncBlob('erin')).toBeUndefined();
        expect(await temp.store.takeDeviceBundle('erin', 2)).toBeUndefined();
        expect((await temp.store.takeDeviceBundle('erin', 1))!.device.key).toEqual(account);
        await checkLog(temp.store);
      } finally {
        await temp.cleanup();
      }
    });

    it('migration 5 (handle labels): old proofs still verify, new entries are labelled, delete redacts, down refused after', async () => {
      const temp = await factory.open();
      try {
        await temp.store.migrate(4);
        await temp.store.ensureHead(now, signer.signHead);
        const k = key();
        expect((await temp.store.publish(input('erin', k, null), ctx())).ok).toBe(true);
        expect(
          (await temp.store.putDeviceList(listInput(deviceList('erin', 1), k), ctx())).ok,
        ).toBe(true);
        expect((await temp.store.publish(input('finn', key(), null), ctx())).ok).toBe(true);
        const old = (await temp.store.latestHead())!;
        const oldLeaves = (await temp.store.getLogEntries(0, 10)).map(entryLeaf);
        expect(((await temp.store.getLogEntries(0, 1))[0] as StoredLogEntry).handle).toBe('erin');

        // Up to 5 and down again with only v1 entries: nothing lost.
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        await temp.store.migrate(4);
        await temp.store.migrate();
        await checkLog(temp.store);
        // The old leaves hash as before: proofs made for the old head still verify.
        expect((await temp.store.getLogEntries(0, 10)).map(entryLeaf)).toEqual(oldLeaves);
        expect(await rootAt(temp.store, old.treeSize)).toEqual(old.rootHash);

        // New entries carry erin's label, and her sequence continues across the migration.
        const { label } = await temp.store.handleLabel('erin');
        const d = await temp.store.putDeviceList(listInput(deviceList('erin', 2), k), ctx());
        expect(d).toEqual({ ok: true, logIndex: 3, sequence: 3 });
        const added = (await temp.store.getLogEntries(3, 1))[0] as StoredLogEntry;
        expect(added.label).toEqual(label);
        expect(added.handle).toBeUndefined();
        const { proof } = await buildProof(temp.store, consistencyPlan(old.treeSize, 4));
        verifyConsistency(old.treeSize, 4, old.rootHash, await rootAt(temp.store, 4), proof);

        // Delete: her v1 entries lose handle and key, keep their leaf hash and sequence.
        expect(
          (await temp.store.deleteIdentity({ handle: 'erin', expectedCurrentKey: k }, ctx())).ok,
        ).toBe(true);
        const after = await temp.store.getLogEntries(0, 10);
        expect(after.map(entryLeaf).slice(0, 3)).toEqual(oldLeaves);
        expect(after[0]).toEqual({
          index: 0,
          redacted: true,
          leafHash: oldLeaves[0],
          sequence: 1,
        });
        expect(after[1]).toMatchObject({ index: 1, redacted: true, sequence: 2 });
        expect((after[2] as StoredLogEntry).handle).toBe('finn');
        expect(after[4]).toMatchObject({ action: 'delete', sequence: 4, label });
        expect(
          (await temp.store.logEntriesForHandle('erin', 0, 10)).map((e) => e.sequence),
        ).toEqual([1, 2, 3, 4]);
        await checkLog(temp.store);

        // Down is refused and changes nothing: the old schema cannot hold a label.
        await expect(temp.store.migrate(3)).rejects.toThrow();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
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
      const all = (await store.logEntriesForHandle('alice', 0, 100)) as StoredLogEntry[];
      expect(all.map((e) => [e.sequence, e.action])).toEqual([
        [1, 'publish'],
        [2, 'rotate'],
        [3, 'delete'],
        [4, 'publish'],
      ]);
      const { label } = await store.handleLabel('alice');
      for (const [i, e] of all.entries()) {
        // Logged since handle labels: alice's label, never her handle.
        expect(e.label).toEqual(label);
        expect(e.handle).toBeUndefined();
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
        label: (await store.handleLabel('gina')).label,
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
        ((await store.logEntriesForHandle('gina', 0, 100)) as StoredLogEntry[]).map((e) => [
          e.sequence,
          e.action,
        ]),
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
      const logged = ((await store.logEntriesForHandle('hana', 0, 100)) as StoredLogEntry[]).filter(
        (e) => e.action === 'devices',
      );
      expect(logged.length).toBe(accepted.length);
      expect(logged.map((e) => e.sequence)).toEqual(accepted.map((_, i) => i + 2));
      await checkLog(store);
    });

    it("stores a listed device's prekeys, tops them up and serves them once each", async () => {
      const { account, device } = await withDevices(store, 'dina', 2);
      const d2 = device(2);
      // Unlisted id, a key listed under another id, the account device, no identity: refused.
      for (const [id, k] of [
        [9, d2],
        [3, d2],
        [1, account],
      ] as const)
        expect(await store.putDevicePrekeys(deviceKeysInput('dina', id, k), ctx())).toEqual({
          ok: false,
          reason: 'not-listed',
        });
      expect(await store.putDevicePrekeys(deviceKeysInput('nobody', 2, d2), ctx())).toEqual({
        ok: false,
        reason: 'not-listed',
      });
      const c = ctx();
      const lastResort = kemPrekeys(1, 50, true)[0]!;
      const first = deviceKeysInput('dina', 2, d2, prekeys(3, 10), {
        lastResort,
        oneTime: kemPrekeys(2, 60),
      });
      expect(await store.putDevicePrekeys(first, c)).toEqual({
        ok: true,
        oneTimePrekeys: 3,
        kemOneTimePrekeys: 2,
      });
      expect(await store.putDevicePrekeys(first, c)).toEqual({ ok: false, reason: 'replay' });
      // Top up (id 12 overwritten), new signed prekey; too many is refused with nothing written.
      const second = deviceKeysInput('dina', 2, d2, prekeys(3, 12));
      expect(await store.putDevicePrekeys(second, ctx())).toMatchObject({ oneTimePrekeys: 5 });
      expect(
        await store.putDevicePrekeys(deviceKeysInput('dina', 2, d2, prekeys(16, 100)), ctx()),
      ).toEqual({ ok: false, reason: 'too-many-prekeys' });
      expect(
        await store.putDevicePrekeys(
          deviceKeysInput('dina', 2, d2, [], { oneTime: kemPrekeys(9, 200) }),
          ctx(),
        ),
      ).toEqual({ ok: false, reason: 'too-many-kem-prekeys' });
      expect(await store.countDevicePrekeys('dina', 2, d2)).toEqual({
        signedPrekeyId: 3,
        oneTimePrekeys: 5,
        kem: { oneTime: 2, lastResortId: 50 },
      });
      expect(await store.countDevicePrekeys('dina', 2, account)).toBeUndefined();
      expect(await store.countDevicePrekeys('dina', 3, device(3))).toBeUndefined();
      // The identity's own prekeys are untouched.
      expect(await store.countOneTimePrekeys('dina')).toBe(3);

      const taken = [];
      for (let i = 0; i < 6; i++) taken.push((await store.takeDeviceBundle('dina', 2))!);
      expect(taken.map((b) => b.oneTimePrekey?.id)).toEqual([10, 11, 12, 13, 14, undefined]);
      expect(taken.map((b) => b.kemPrekey!.id)).toEqual([60, 61, 50, 50, 50, 50]);
      expect(taken[0]!.signedPrekey).toEqual(second.signedPrekey);
      expect(taken[0]!.device.key).toEqual(d2);
      expect(taken[0]!.deviceList.list.version).toBe(1);
      // Device 1 is the account: its bundle is the identity's.
      const own = (await store.takeDeviceBundle('dina', 1))!;
      expect(own.device.key).toEqual(account);
      expect(own.signedPrekey).toEqual((await store.getIdentity('dina'))!.signedPrekey);
      expect(own.oneTimePrekey!.id).toBe(1);
      expect(await store.countOneTimePrekeys('dina')).toBe(2);
      // Listed but never published, unknown id, unknown handle.
      expect(await store.takeDeviceBundle('dina', 3)).toBeUndefined();
      expect(await store.takeDeviceBundle('dina', 4)).toBeUndefined();
      expect(await store.takeDeviceBundle('nobody', 1)).toBeUndefined();
    });

    it("drops a device's prekeys when a new list leaves it out or gives its id another key, and on rotation", async () => {
      const { account, list, device } = await withDevices(store, 'dora', 2);
      for (const id of [2, 3])
        expect(
          (await store.putDevicePrekeys(deviceKeysInput('dora', id, device(id)), ctx())).ok,
        ).toBe(true);
      const moved = key();
      const v2: SignedDeviceList = {
        ...list,
        version: 2,
        devices: [list.devices[0]!, { id: 3, key: moved, addedAt: 2000 }],
      };
      expect((await store.putDeviceList(listInput(v2, account), ctx())).ok).toBe(true);
      expect(await store.takeDeviceBundle('dora', 2)).toBeUndefined();
      expect(await store.countDevicePrekeys('dora', 2, device(2))).toBeUndefined();
      expect(await store.countDevicePrekeys('dora', 3, device(3))).toBeUndefined();
      expect(await store.takeDeviceBundle('dora', 3)).toBeUndefined();
      // A removed device cannot publish again.
      expect(await store.putDevicePrekeys(deviceKeysInput('dora', 2, device(2)), ctx())).toEqual({
        ok: false,
        reason: 'not-listed',
      });
      expect((await store.putDevicePrekeys(deviceKeysInput('dora', 3, moved), ctx())).ok).toBe(
        true,
      );
      expect(await store.countDevicePrekeys('dora', 3, moved)).toMatchObject({
        oneTimePrekeys: 3,
      });
      // A rotation drops the list and every device's prekeys.
      await store.publish(input('dora', key(), account), ctx());
      expect(await store.countDevicePrekeys('dora', 3, moved)).toBeUndefined();
    });

    it('50 concurrent device bundle fetches never share a one-time prekey', async () => {
      const { device } = await withDevices(store, 'dana');
      const d2 = device(2);
      const lastResort = kemPrekeys(1, 999, true)[0]!;
      const stock = {
        ...deviceKeysInput('dana', 2, d2, prekeys(30, 1), {
          lastResort,
          oneTime: kemPrekeys(30, 100),
        }),
        maxStoredOneTimePrekeys: 100,
        maxStoredKemPrekeys: 100,
      };
      expect((await store.putDevicePrekeys(stock, ctx())).ok).toBe(true);
      const bundles = await Promise.all(
        Array.from({ length: 50 }, () => store.takeDeviceBundle('dana', 2)),
      );
      const handedOut = bundles.flatMap((b) => (b!.oneTimePrekey ? [b!.oneTimePrekey.id] : []));
      expect(handedOut.length).toBe(30);
      expect(new Set(handedOut).size).toBe(30);
      const kem = bundles.map((b) => b!.kemPrekey!);
      const kemOneTime = kem.filter((p) => !p.lastResort).map((p) => p.id);
      expect(new Set(kemOneTime).size).toBe(30);
      expect(kem.filter((p) => p.lastResort)).toEqual(Array(20).fill(lastResort));
      expect(await store.countDevicePrekeys('dana', 2, d2)).toMatchObject({
        oneTimePrekeys: 0,
        kem: { oneTime: 0, lastResortId: 999 },
      });
    });

    it('keeps one sync blob per handle: version + 1 only, listed signers only, gone with the identity', async () => {
      const { account, list, device } = await withDevices(store, 'sia');
      const other = await withDevices(store, 'sol');
      const blob = (version: number, signerKey = account, handle = 'sia') => ({
        handle,
        version,
        ciphertext: new Uint8Array(randomBytes(100)),
        signerKey,
      });
      expect(await store.getSyncBlob('sia')).toBeUndefined();
      expect(await store.putSyncBlob(blob(2), ctx())).toEqual({
        ok: false,
        reason: 'stale',
        storedVersion: 0,
      });
      const v1 = blob(1);
      const c1 = ctx();
      expect(await store.putSyncBlob(v1, c1)).toEqual({ ok: true });
      expect(await store.putSyncBlob(v1, c1)).toEqual({ ok: false, reason: 'replay' });
      expect(await store.putSyncBlob(blob(1), ctx())).toEqual({
        ok: false,
        reason: 'stale',
        storedVersion: 1,
      });
      // Another handle's device, or its account key, is not a signer for this handle.
      expect(await store.putSyncBlob(blob(2, other.device(2)), ctx())).toEqual({
        ok: false,
        reason: 'not-listed',
      });
      expect(await store.putSyncBlob(blob(2, other.account), ctx())).toEqual({
        ok: false,
        reason: 'not-listed',
      });
      const v2 = blob(2, device(2));
      const c2 = ctx();
      expect(await store.putSyncBlob(v2, c2)).toEqual({ ok: true });
      expect(await store.getSyncBlob('sia')).toEqual({
        version: 2,
        ciphertext: v2.ciphertext,
        updatedAt: c2.now,
      });
      // Once device 2 is off the list it can no longer write.
      const v2list = { ...list, version: 2, devices: [list.devices[0]!] };
      expect((await store.putDeviceList(listInput(v2list, account), ctx())).ok).toBe(true);
      expect(await store.putSyncBlob(blob(3, device(2)), ctx())).toEqual({
        ok: false,
        reason: 'not-listed',
      });
      // Concurrent writers of the same next version: exactly one wins.
      const racing = await Promise.all(
        Array.from({ length: 8 }, () => store.putSyncBlob(blob(3), ctx())),
      );
      expect(racing.filter((r) => r.ok).length).toBe(1);
      for (const r of racing)
        if (!r.ok) expect(r).toEqual({ ok: false, reason: 'stale', storedVersion: 3 });
      expect(await store.putSyncBlob(blob(1, account, 'nobody'), ctx())).toEqual({
        ok: false,
        reason: 'not-found',
      });
      expect(
        (await store.deleteIdentity({ handle: 'sia', expectedCurrentKey: account }, ctx())).ok,
      ).toBe(true);
      expect(await store.getSyncBlob('sia')).toBeUndefined();
      // A new claim of the handle starts again at version 1.
      const next = key();
      await store.publish(input('sia', next, null), ctx());
      expect(await store.putSyncBlob(blob(1, next), ctx())).toEqual({ ok: true });
    });

    it("keeps each device's last signed request: the later time wins, per handle, gone with the identity", async () => {
      const { account } = await withDevices(store, 'seo');
      await withDevices(store, 'sev');
      expect(await store.devicesSeen('seo')).toEqual([]);
      await store.noteDeviceSeen('seo', 2, 5_000);
      await store.noteDeviceSeen('seo', 1, 7_000);
      // An older time (a slow request finishing late) does not move it back.
      await store.noteDeviceSeen('seo', 2, 4_000);
      await store.noteDeviceSeen('sev', 2, 9_000);
      expect(await store.devicesSeen('seo')).toEqual([
        { deviceId: 1, at: 7_000 },
        { deviceId: 2, at: 5_000 },
      ]);
      await store.noteDeviceSeen('seo', 2, 8_000);
      expect(await store.devicesSeen('seo')).toContainEqual({ deviceId: 2, at: 8_000 });
      expect(
        (await store.deleteIdentity({ handle: 'seo', expectedCurrentKey: account }, ctx())).ok,
      ).toBe(true);
      expect(await store.devicesSeen('seo')).toEqual([]);
      expect(await store.devicesSeen('sev')).toEqual([{ deviceId: 2, at: 9_000 }]);
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
