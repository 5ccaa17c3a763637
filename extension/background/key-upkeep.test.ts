// Keys that look after themselves, against the real directory (SQLite, loopback): after 30
// bundles are taken the log watch tops the one-time prekeys up again; a user's publish tops up
// rather than piling more on; a signed prekey past its age is replaced. (With every one-time
// prekey taken a session starts from the signed prekey alone: protocol/session.test.ts.)
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNED_PREKEY_ROTATION_MS } from '../protocol/veil';
import { KEM_PREKEY_TARGET, PREKEY_LOW_WATER, PREKEY_TARGET, upkeepKeys } from './key-upkeep';
import { watchLog } from './log-schedule';
import {
  makeProfile,
  ready,
  startDirectory,
  type RunningDirectory,
  type TestProfile,
} from './testing';

let dir: RunningDirectory;
beforeAll(async () => {
  // The rotation test moves the profile's clock a week on: the directory accepts its requests.
  dir = await startDirectory(undefined, { clockSkewSeconds: 8 * 24 * 3600 });
});
afterAll(async () => {
  await dir.close();
});

let time = Date.now();
const clock = () => time;

async function onboard(handle: string): Promise<TestProfile> {
  const p = await ready(makeProfile({ now: clock }));
  await p.call({ type: 'createIdentity', handle, directoryUrl: dir.url });
  await p.call({ type: 'publish' });
  return p;
}

const status = (p: TestProfile, handle: string) =>
  p.service.directory.prekeyStatus(dir.url, p.service.veil, handle);
const left = async (p: TestProfile, handle: string) => (await status(p, handle)).oneTimePrekeys;
const kemLeft = async (p: TestProfile, handle: string) =>
  (await status(p, handle)).kemOneTimePrekeys;

/** Takes `n` bundles as other people would; returns how many carried the last-resort KEM key. */
async function takeBundles(handle: string, n: number): Promise<number> {
  let lastResort = 0;
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${dir.url}/v1/identities/${handle}/bundle`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { kemPrekey?: { lastResort?: boolean } };
    expect(body.kemPrekey).toBeDefined();
    if (body.kemPrekey?.lastResort) lastResort++;
  }
  return lastResort;
}

describe('one-time prekeys are kept on the directory', () => {
  it('refill after 30 bundles are taken, at the next log watch', async () => {
    const p = await onboard('upkeep-a');
    expect(await left(p, 'upkeep-a')).toBe(PREKEY_TARGET);
    expect(await kemLeft(p, 'upkeep-a')).toBe(KEM_PREKEY_TARGET);
    // 30 sessions: the KEM one-time keys run out after 20, the last-resort one serves the rest.
    expect(await takeBundles('upkeep-a', 30)).toBe(30 - KEM_PREKEY_TARGET);
    expect(await left(p, 'upkeep-a')).toBe(PREKEY_TARGET - 30);
    expect(await kemLeft(p, 'upkeep-a')).toBe(0);
    expect(PREKEY_TARGET - 30).toBeLessThan(PREKEY_LOW_WATER);
    await watchLog(p.service, true);
    expect(await left(p, 'upkeep-a')).toBe(PREKEY_TARGET);
    expect(await kemLeft(p, 'upkeep-a')).toBe(KEM_PREKEY_TARGET);
    // Above the low-water marks nothing is uploaded.
    await takeBundles('upkeep-a', 5);
    expect(await upkeepKeys(p.service)).toEqual({ uploaded: 0, uploadedKem: 0, rotated: false });
    expect(await left(p, 'upkeep-a')).toBe(PREKEY_TARGET - 5);
  });

  it('a publish by the user tops up to the target instead of adding more each time', async () => {
    const p = await onboard('upkeep-b');
    for (let i = 0; i < 3; i++) await p.call({ type: 'publish' });
    // The account's device list (this browser alone) is published once, signed and logged.
    const key = (await p.service.profile())!.identityKey;
    const list = await p.service.directory.deviceList(dir.url, 'upkeep-b', key);
    expect(list.devices).toEqual([{ id: 1, key, addedAt: expect.any(Number) }]);
    const history = await p.service.directory.history(dir.url, 'upkeep-b');
    expect(history.entries.filter((e) => e.action === 'devices')).toHaveLength(1);
    expect(await left(p, 'upkeep-b')).toBe(PREKEY_TARGET);
    expect(await kemLeft(p, 'upkeep-b')).toBe(KEM_PREKEY_TARGET);
  });

  it('rotates the signed prekey once it is due, and the directory serves the new one', async () => {
    const p = await onboard('upkeep-c');
    const before = await p.service.directory.prekeyStatus(dir.url, p.service.veil, 'upkeep-c');
    time += SIGNED_PREKEY_ROTATION_MS + 1;
    expect(await upkeepKeys(p.service)).toEqual({ uploaded: 0, uploadedKem: 0, rotated: true });
    const after = await p.service.directory.prekeyStatus(dir.url, p.service.veil, 'upkeep-c');
    expect(after.signedPrekeyId).toBe(before.signedPrekeyId + 1);
    // The last-resort KEM prekey is replaced on the same schedule.
    expect(after.kemLastResortId).not.toBe(before.kemLastResortId);
    expect(await upkeepKeys(p.service)).toEqual({ uploaded: 0, uploadedKem: 0, rotated: false });
  });

  it('does nothing for an identity not published to the directory in Settings', async () => {
    const p = await ready(makeProfile({ now: clock }));
    await p.call({ type: 'createIdentity', handle: 'upkeep-d', directoryUrl: dir.url });
    expect(await upkeepKeys(p.service)).toBeNull();
  });
});
