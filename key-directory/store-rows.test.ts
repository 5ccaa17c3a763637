// The publish and device-list decisions both stores take (planPublish, planDeviceList), checked
// without a database: which writes are refused, which log a key or a list, and what the rows hold.
import { describe, expect, it } from 'vitest';
import { type SignedDeviceList, deviceListDigest } from '../extension/protocol/device-list';
import type { IdentityRecord, PublishInput } from './store';
import {
  deviceListFromRow,
  deviceListLogEntry,
  deviceListRowValues,
  deviceListUpsertSql,
  identityRowValues,
  identityUpsertSql,
  planDeviceList,
  planPublish,
} from './store-rows';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0, 750);
const NOW_SECONDS = Math.floor(NOW / 1000);
const oldKey = new Uint8Array(32).fill(1);
const newKey = new Uint8Array(32).fill(2);

function stored(overrides: Partial<IdentityRecord> = {}): IdentityRecord {
  return {
    handle: 'alice',
    identityKey: oldKey,
    signedPrekey: { id: 1, publicKey: new Uint8Array(32), signature: new Uint8Array(64) },
    fingerprint: 'f'.repeat(64),
    safetyNumberHalf: '1'.repeat(30),
    logIndex: 17,
    logAction: 'rotate',
    sequence: 5,
    logTimestamp: 1_700_000_000,
    createdAt: 1_600_000_000_000,
    updatedAt: 1_650_000_000_000,
    ...overrides,
  };
}

function publishing(identityKey: Uint8Array, expectedCurrentKey: Uint8Array | null): PublishInput {
  return {
    handle: 'alice',
    identityKey,
    signedPrekey: { id: 9, publicKey: new Uint8Array(32).fill(3), signature: new Uint8Array(64) },
    oneTimePrekeys: [],
    fingerprint: 'e'.repeat(64),
    safetyNumberHalf: '2'.repeat(30),
    expectedCurrentKey,
    maxStoredOneTimePrekeys: 10,
  };
}

describe('planPublish', () => {
  it('claims a free handle: logs a publish with the next sequence', () => {
    expect(planPublish(publishing(newKey, null), undefined, 0, NOW)).toEqual({
      ok: true,
      status: 'created',
      entry: {
        handle: 'alice',
        identityKey: newKey,
        action: 'publish',
        sequence: 1,
        timestamp: NOW_SECONDS,
      },
      loggedAt: undefined,
      dropOneTimePrekeys: false,
      createdAt: NOW,
      updatedAt: NOW,
    });
  });

  it('continues the sequence of a handle claimed again after a deletion', () => {
    const plan = planPublish(publishing(newKey, null), undefined, 6, NOW);
    expect(plan).toMatchObject({ ok: true, status: 'created', entry: { sequence: 7 } });
  });

  it('refuses a claim of a handle that has a key, even the same key', () => {
    for (const key of [oldKey, newKey])
      expect(planPublish(publishing(key, null), stored(), 5, NOW)).toEqual({
        ok: false,
        reason: 'handle-taken',
      });
  });

  it('refuses a write signed by a key that is no longer current (conflict)', () => {
    // Deleted meanwhile, or rotated to another key meanwhile.
    expect(planPublish(publishing(oldKey, oldKey), undefined, 5, NOW)).toEqual({
      ok: false,
      reason: 'conflict',
    });
    expect(planPublish(publishing(newKey, newKey), stored(), 5, NOW)).toEqual({
      ok: false,
      reason: 'conflict',
    });
  });

  it('the same key refreshes prekeys only: no log entry, the row keeps its entry', () => {
    // Equal bytes in another array: keys are compared by value.
    const plan = planPublish(publishing(oldKey.slice(), oldKey.slice()), stored(), 5, NOW);
    expect(plan).toEqual({
      ok: true,
      status: 'updated',
      entry: {
        handle: 'alice',
        identityKey: oldKey,
        action: 'rotate',
        sequence: 5,
        timestamp: 1_700_000_000,
      },
      loggedAt: 17,
      dropOneTimePrekeys: false,
      createdAt: 1_600_000_000_000,
      updatedAt: NOW,
    });
  });

  it('a new key signed by the current one rotates: logged, old prekeys dropped', () => {
    expect(planPublish(publishing(newKey, oldKey), stored(), 5, NOW)).toEqual({
      ok: true,
      status: 'rotated',
      entry: {
        handle: 'alice',
        identityKey: newKey,
        action: 'rotate',
        sequence: 6,
        timestamp: NOW_SECONDS,
      },
      loggedAt: undefined,
      dropOneTimePrekeys: true,
      createdAt: 1_600_000_000_000,
      updatedAt: NOW,
    });
  });
});

describe('planPublish after device-list entries', () => {
  it('a rotation takes the sequence after the latest entry, not after the key entry', () => {
    // The row's key entry is sequence 5; lists were logged as 6 and 7.
    const plan = planPublish(publishing(newKey, oldKey), stored(), 7, NOW);
    expect(plan).toMatchObject({ ok: true, status: 'rotated', entry: { sequence: 8 } });
  });
});

const list: SignedDeviceList = {
  handle: 'alice',
  version: 4,
  devices: [
    { id: 1, key: new Uint8Array(32).fill(7), addedAt: 1_700_000_000 },
    { id: 3, key: new Uint8Array(32).fill(8), addedAt: 1_700_000_500 },
  ],
  signature: new Uint8Array(64).fill(9),
};

describe('planDeviceList', () => {
  const put = { handle: 'alice', list, expectedCurrentKey: oldKey };
  it('refuses a handle without identity, a moved key, and a version not above the stored one', () => {
    expect(planDeviceList(put, undefined, undefined)).toEqual({ ok: false, reason: 'not-found' });
    expect(planDeviceList({ ...put, expectedCurrentKey: newKey }, stored(), undefined)).toEqual({
      ok: false,
      reason: 'conflict',
    });
    expect(planDeviceList(put, stored(), 4)).toEqual({ ok: false, reason: 'stale' });
    expect(planDeviceList(put, stored(), 9)).toEqual({ ok: false, reason: 'stale' });
  });
  it('accepts the first list at any version, and a newer one', () => {
    expect(planDeviceList(put, stored(), undefined)).toBeUndefined();
    expect(planDeviceList(put, stored(), 3)).toBeUndefined();
  });
});

describe('device-list rows', () => {
  it('logs the digest as a devices entry and round-trips the row', () => {
    const entry = deviceListLogEntry(list, 6, NOW);
    expect(entry).toEqual({
      handle: 'alice',
      identityKey: deviceListDigest(list),
      action: 'devices',
      sequence: 6,
      timestamp: NOW_SECONDS,
    });
    const sql = deviceListUpsertSql((n) => `$${n}`);
    const columns = /INSERT INTO device_lists \(([^)]*)\)/
      .exec(sql)![1]!
      .split(',')
      .map((c) => c.trim());
    expect(/VALUES \(([^)]*)\)/.exec(sql)![1]).toBe(columns.map((_, i) => `$${i + 1}`).join(', '));
    const values = deviceListRowValues(list, entry, 42, NOW);
    expect(values.length).toBe(columns.length);
    const row = Object.fromEntries(columns.map((c, i) => [c, values[i]]));
    expect(row).toMatchObject({
      handle: 'alice',
      version: 4,
      signature: Buffer.from(list.signature),
      log_index: 42,
      sequence: 6,
      log_timestamp: NOW_SECONDS,
      updated_at: NOW,
    });
    expect(deviceListFromRow(row)).toEqual({
      list,
      logIndex: 42,
      sequence: 6,
      logTimestamp: NOW_SECONDS,
      updatedAt: NOW,
    });
  });
});

describe('identityUpsertSql and identityRowValues', () => {
  it('put each value in its column', () => {
    const sql = identityUpsertSql((n) => `$${n}`);
    const columns = /INSERT INTO identities \(([^)]*)\)/
      .exec(sql)![1]!
      .split(',')
      .map((c) => c.trim());
    expect(/VALUES \(([^)]*)\)/.exec(sql)![1]).toBe(columns.map((_, i) => `$${i + 1}`).join(', '));
    const input = publishing(newKey, oldKey);
    const plan = planPublish(input, stored(), 5, NOW);
    if (!plan.ok) throw new Error('expected a rotation');
    const values = identityRowValues(input, plan, 42);
    expect(values.length).toBe(columns.length);
    const row = Object.fromEntries(columns.map((c, i) => [c, values[i]]));
    expect(row).toEqual({
      handle: 'alice',
      identity_key: Buffer.from(newKey),
      spk_id: 9,
      spk_public_key: Buffer.from(input.signedPrekey.publicKey),
      spk_signature: Buffer.from(input.signedPrekey.signature),
      fingerprint: input.fingerprint,
      safety_number_half: input.safetyNumberHalf,
      log_index: 42,
      log_action: 'rotate',
      sequence: 6,
      log_timestamp: NOW_SECONDS,
      created_at: 1_600_000_000_000,
      updated_at: NOW,
    });
  });
});
