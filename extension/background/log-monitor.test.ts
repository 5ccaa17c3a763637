// The own-handle log monitor through the background's messages, against the real directory and
// against directories that lie (tests/e2e/hostile-directory.ts): an honest log full of other
// people's entries stays quiet; a rotation of our handle to an attacker's key, served to a
// contact at first lookup (which verifies for them), raises a persisted alarm for its owner;
// a directory that omits or alters entries in /v1/log/entries (to hide that rotation) or
// serves a wrong compact range is refused, never passed as checked.
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeIdentity, publishBody, signedRequest } from '../../key-directory/client-signing';
import { writeContext } from '../../key-directory/testing';
import {
  logKeySwap,
  startKeySwapDirectory,
  type KeySwapDirectory,
} from '../../tests/e2e/hostile-directory';
import type { DirectoryKeyView, LogAlarmView, LogCheckResult } from '../messaging/messages';
import { fromBase64Url, toBase64Url } from '../protocol/encoding';
import { fingerprintHalf } from '../protocol/safety-number';
import { directoryKeyFingerprint } from '../protocol/transparency';
import { identityDhPublic } from '../protocol/identity';
import type { DirectoryState } from './directory-client';
import { deviceListMessage, type DeviceList } from '../protocol/device-list';
import { foreignEntryReason } from './log-monitor';
import {
  type TestProfile,
  makeProfile,
  ready,
  startDirectory,
  type RunningDirectory,
} from './testing';
import type { ServiceOptions } from './veil-service';

type Json = Record<string, unknown>;
type Fetch = NonNullable<ServiceOptions['fetch']>;
type CheckReply = { result: LogCheckResult; alarms: LogAlarmView[] };

async function onboard(handle: string, url: string, options: ServiceOptions = {}) {
  const p = await ready(makeProfile(options));
  await p.call({ type: 'createIdentity', handle, directoryUrl: url });
  await p.call({ type: 'publish' });
  return p;
}

const check = (p: TestProfile) => p.call<CheckReply>({ type: 'checkLog' });

/** Publishes `handle` straight over HTTP (someone else's entry in the log). */
async function publishOther(url: string, handle: string): Promise<void> {
  const id = makeIdentity(handle);
  const req = signedRequest('PUT', handle, JSON.stringify(publishBody(id, 1)), id);
  const res = await fetch(url + req.path, { method: 'PUT', headers: req.headers, body: req.body });
  expect(res.status).toBe(201);
}

/** Rewrites `/v1/log/entries` answers: what a directory hiding an entry from monitors does. */
function editingEntries(edit: (entries: Json[]) => Json[]): Fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!new URL(input).pathname.endsWith('/v1/log/entries') || !res.ok) return res;
    const json = (await res.json()) as { entries: Json[] };
    return Response.json({ entries: edit(json.entries) });
  };
}

describe('an honest directory', () => {
  let dir: RunningDirectory;
  beforeAll(async () => {
    dir = await startDirectory();
  });
  afterAll(() => dir.close());

  it('with many other handles in the log: checked to the signed root, no alarm', async () => {
    for (let i = 0; i < 5; i++) await publishOther(dir.url, `before${i}`);
    const alice = await onboard('alice', dir.url);
    for (let i = 0; i < 60; i++) await publishOther(dir.url, `other${i}`);
    const first = await check(alice);
    expect(first.result).toMatchObject({ status: 'checked', newAlarms: 0 });
    expect(first.alarms).toEqual([]);
    // From our publish entry (index 5; our device list is 6) to the head: 62 entries, all folded.
    expect(first.result).toMatchObject({ treeSize: 67, entries: 62 });

    // The next pass starts where this one ended.
    for (let i = 0; i < 3; i++) await publishOther(dir.url, `later${i}`);
    expect((await check(alice)).result).toMatchObject({ status: 'checked', entries: 3 });
    const state = (await alice.service.directory.state(dir.url)) as DirectoryState;
    expect(state.monitor).toMatchObject({ handle: 'alice', start: 5 });
    expect(state.monitor!.range!.size).toBe(70);
    expect(state.head.treeSize).toBe(70);

    // A restarted worker continues from the stored range.
    const restarted = await ready(alice.restartWorker());
    await publishOther(dir.url, 'after-restart');
    expect((await check(restarted)).result).toMatchObject({ status: 'checked', entries: 1 });
  });

  it("shows the pinned directory key as the directory's own page does", async () => {
    const p = await onboard('pinner', dir.url);
    const view = await p.call<DirectoryKeyView>({ type: 'directoryKey' });
    const expected = directoryKeyFingerprint(dir.signer.origin, dir.signer.publicKey);
    expect(view).toMatchObject({ url: dir.url, pinned: { fingerprint: expected } });
    const page = await (await fetch(`${dir.url}/`)).text();
    expect(page).toContain(`<code data-veil="directory-key">${expected}</code>`);
    // Another directory URL: nothing pinned until Veil talks to it.
    await p.call({ type: 'setSettings', directoryUrl: 'https://other.example' });
    expect(await p.call({ type: 'directoryKey' })).toEqual({ url: 'https://other.example' });
  });

  it('before publishing there is nothing to watch', async () => {
    const p = await ready(makeProfile());
    await p.call({ type: 'createIdentity', handle: 'quiet', directoryUrl: dir.url });
    expect((await check(p)).result).toEqual({ status: 'not-published' });
  });

  it('an unreachable directory → unchecked, no alarm', async () => {
    const closed = await startDirectory();
    const p = await onboard('gone', closed.url);
    await closed.close();
    const reply = await check(p);
    expect(reply.result).toEqual({ status: 'unchecked', code: 'directory-unreachable' });
    expect(reply.alarms).toEqual([]);
    const view = await p.call<{ monitor?: { failure?: { code: string } } }>({
      type: 'directoryKey',
    });
    expect(view.monitor?.failure?.code).toBe('directory-unreachable');
  });
});

describe('a directory that swaps a key at first lookup', () => {
  let dir: KeySwapDirectory;
  let erins = 0;
  beforeAll(async () => {
    dir = await startKeySwapDirectory();
  });
  afterAll(() => dir.close());

  it("serves the attacker's key to a new contact (the proof verifies) and alice's monitor raises the alarm", async () => {
    const alice = await onboard('alice', dir.url);
    for (let i = 0; i < 12; i++) await publishOther(dir.url, `crowd${i}`);
    expect((await check(alice)).result).toMatchObject({ status: 'checked', newAlarms: 0 });

    dir.arm('alice');
    const bob = await onboard('bob', dir.url);
    // The attack works on Bob: his lookup verifies against the log and names Mallory's key.
    const found = await bob.call<{ identityKey: string }>({
      type: 'lookupContact',
      handle: 'alice',
    });
    expect(fromBase64Url(found.identityKey)).toEqual(dir.attacker.identityKey);
    const swapIndex = dir.swaps[0]!.logIndex;

    const reply = await check(alice);
    expect(reply.result).toMatchObject({ status: 'checked', newAlarms: 1 });
    const expectedFingerprint = fingerprintHalf({
      id: 'alice',
      identityKey: identityDhPublic(dir.attacker.identityKey),
    });
    expect(reply.alarms).toEqual([
      {
        id: expect.any(String),
        kind: 'foreign-entry',
        directoryUrl: dir.url,
        raisedAt: expect.any(Number),
        reason: 'foreign-key',
        handle: 'alice',
        action: 'rotate',
        index: swapIndex,
        // 1 is alice's publish, 2 her device list.
        sequence: 3,
        loggedAt: expect.any(Number),
        fingerprint: expectedFingerprint,
      },
    ]);

    // Persisted and loud: still there after a worker restart, not doubled by another pass.
    const restarted = await ready(alice.restartWorker());
    await check(restarted);
    const { alarms } = await restarted.call<{ alarms: LogAlarmView[] }>({ type: 'logAlarms' });
    expect(alarms.map((a) => (a.kind === 'foreign-entry' ? a.index : -1))).toEqual([swapIndex]);
    // Dismissed by the user: gone, and the same evidence does not bring it back.
    const after = await restarted.call<{ alarms: LogAlarmView[] }>({
      type: 'dismissLogAlarm',
      id: alarms[0]!.id,
    });
    expect(after.alarms).toEqual([]);
    expect((await check(restarted)).alarms).toEqual([]);
  });

  it('a device list logged for our handle that Veil did not publish raises an alarm', async () => {
    // Whoever holds the account key (stolen, or a directory that logs without checking) links a
    // device of their own: everyone who looks the list up would send to it.
    const fay = await onboard('fay', dir.url);
    const svc = fay.service;
    const own = (await svc.profile())!.identityKey;
    const theirs = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const unsigned: DeviceList = {
      handle: 'fay',
      // Newer than the one fay's browser published (its version is the time in seconds).
      version: 4_000_000_000,
      devices: [
        { id: 1, key: own, addedAt: 1 },
        { id: 2, key: theirs, addedAt: 2 },
      ],
    };
    const list = { ...unsigned, signature: await svc.veil.sign(deviceListMessage(unsigned)) };
    await svc.directory.publishDeviceList(dir.url, svc.veil, list);
    const reply = await check(fay);
    // Her own list (published with her identity) is known as hers: one alarm, for this one.
    expect(reply.alarms).toMatchObject([
      { kind: 'foreign-entry', reason: 'unexpected-devices', handle: 'fay', action: 'devices' },
    ]);
  });

  it('a deletion of our handle that we did not make raises an alarm', async () => {
    const carol = await onboard('carol', dir.url);
    const key = (await carol.service.profile())!.identityKey;
    await dir.store.deleteIdentity(
      { handle: 'carol', expectedCurrentKey: key },
      writeContext(dir.signer, Date.now()),
    );
    const reply = await check(carol);
    expect(reply.alarms).toMatchObject([
      { kind: 'foreign-entry', reason: 'unexpected-delete', handle: 'carol', action: 'delete' },
    ]);
  });

  it('an entry with another key logged for our handle just before our publish raises an alarm', async () => {
    // The directory lets mallory claim "dana", then (lying) rotates it to dana's key, so dana's
    // publish goes through: anyone who looked dana up before got mallory's key.
    const mallory = makeIdentity('dana');
    const claim = signedRequest('PUT', 'dana', JSON.stringify(publishBody(mallory, 1)), mallory);
    await fetch(dir.url + claim.path, { method: 'PUT', headers: claim.headers, body: claim.body });
    const dana = await ready(makeProfile());
    await dana.call({ type: 'createIdentity', handle: 'dana', directoryUrl: dir.url });
    const key = (await dana.service.veil.getIdentity())!.identityKey;
    await logKeySwap(dir.store, dir.signer, 'dana', { ...dir.attacker, identityKey: key });
    await dana.call({ type: 'publish' });
    const reply = await check(dana);
    // The entry before our publish (mallory's key), and the rotation we never made.
    expect(reply.alarms).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'foreign-key', handle: 'dana', action: 'publish' }),
        expect.objectContaining({ reason: 'unexpected-rotate', handle: 'dana' }),
      ]),
    );
  });

  it('a handle someone else held and deleted before we claimed it raises nothing', async () => {
    const former = makeIdentity('erin');
    const claim = signedRequest('PUT', 'erin', JSON.stringify(publishBody(former, 1)), former);
    await fetch(dir.url + claim.path, { method: 'PUT', headers: claim.headers, body: claim.body });
    const gone = signedRequest('DELETE', 'erin', '', former);
    await fetch(dir.url + gone.path, { method: 'DELETE', headers: gone.headers });
    const erin = await onboard('erin', dir.url);
    const reply = await check(erin);
    expect(reply.result).toMatchObject({ status: 'checked', newAlarms: 0 });
    expect(reply.alarms).toEqual([]);
  });

  /** Whether `e` is the attacker's rotation of the handle with `label` (base64url). */
  const isSwap = (e: Json, label: string) => e.label === label && e.action === 'rotate';
  it.each([
    {
      lie: 'alters the swap entry into a publish of our own key',
      edit: (handle: string, ownKey: string) => (entries: Json[]) =>
        entries.map((e) =>
          isSwap(e, handle) ? { ...e, identityKey: ownKey, action: 'publish' } : e,
        ),
    },
    {
      lie: "alters the swap entry into someone else's",
      edit: (handle: string) => (entries: Json[]) =>
        entries.map((e) =>
          isSwap(e, handle) ? { ...e, label: toBase64Url(new Uint8Array(32).fill(7)) } : e,
        ),
    },
    {
      lie: 'omits the swap entry and renumbers the rest',
      edit: (handle: string) => (entries: Json[]) => {
        const first = entries[0]?.index as number;
        return entries
          .filter((e) => !isSwap(e, handle))
          .map((e, i) => ({ ...e, index: first + i }));
      },
    },
    {
      lie: 'omits the swap entry and leaves a gap',
      edit: (handle: string) => (entries: Json[]) => entries.filter((e) => !isSwap(e, handle)),
    },
    { lie: 'answers with no entries', edit: () => () => [] },
  ])('a directory that $lie → refused, no alarm, no progress', async ({ edit: makeEdit }) => {
    const handle = `erin${++erins}`;
    let edit: ((entries: Json[]) => Json[]) | undefined;
    const fetchFn = editingEntries((entries) => (edit ? edit(entries) : entries));
    const erin = await onboard(handle, dir.url, { fetch: fetchFn });
    const ownKey = toBase64Url((await erin.service.profile())!.identityKey);
    expect((await check(erin)).result.status).toBe('checked');
    const monitor = (await erin.service.directory.state(dir.url))!.monitor!;
    const before = monitor.range!.size;
    // The monitor learnt erin's label (verified VRF proof); the log's entries carry only it.
    const label = toBase64Url(hexToBytes(monitor.label!));

    dir.arm(handle);
    const bob = await onboard(`bob-${handle}`, dir.url);
    await bob.call({ type: 'lookupContact', handle });
    await publishOther(dir.url, `pad-${handle}`);
    edit = makeEdit(label, ownKey);
    const reply = await check(erin);
    expect(reply.result).toMatchObject({ status: 'refused', code: 'bad-proof' });
    expect(reply.alarms).toEqual([]);
    const state = (await erin.service.directory.state(dir.url))!;
    expect(state.monitor!.range!.size).toBe(before);
    expect(state.monitor!.lastFailure?.code).toBe('bad-proof');

    // Once the directory answers truthfully, the entry is found.
    edit = undefined;
    const honest = await check(erin);
    expect(honest.alarms).toMatchObject([{ handle, reason: 'foreign-key' }]);
  });

  it('a wrong compact range for our start → refused', async () => {
    for (let i = 0; i < 3; i++) await publishOther(dir.url, `range${i}`);
    const lying: Fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!new URL(input).pathname.endsWith('/v1/log/compact-range')) return res;
      const json = (await res.json()) as { hashes: string[] };
      json.hashes = json.hashes.map((h, i) => (i === 0 ? toBase64Url(new Uint8Array(32)) : h));
      return Response.json(json);
    };
    const frank = await onboard('frank', dir.url, { fetch: lying });
    expect((await check(frank)).result).toMatchObject({
      status: 'refused',
      message: expect.stringMatching(/signed head/),
    });
  });
});

describe('which entries of our handle are ours', () => {
  const own = { handle: 'alice', identityKey: new Uint8Array(32).fill(1) };
  const entry = (
    action: 'publish' | 'rotate' | 'delete' | 'devices',
    fill: number,
    handle = 'alice',
  ) => ({
    handle,
    action,
    identityKey: new Uint8Array(32).fill(fill),
    sequence: 1,
    timestamp: 0,
  });
  it.each([
    { what: 'publish of our key', e: entry('publish', 1), reason: undefined },
    { what: 'publish of another key', e: entry('publish', 2), reason: 'foreign-key' },
    { what: 'rotate to another key', e: entry('rotate', 2), reason: 'foreign-key' },
    { what: 'rotate to our own key', e: entry('rotate', 1), reason: 'unexpected-rotate' },
    { what: 'delete of our key', e: entry('delete', 1), reason: 'unexpected-delete' },
    { what: "another handle's entry", e: entry('rotate', 2, 'bob'), reason: undefined },
    // Veil publishes no device list yet: one for our handle links a device behind our back,
    // even when its digest happens to equal our key's bytes.
    { what: 'a device list', e: entry('devices', 1), reason: 'unexpected-devices' },
    { what: "another handle's device list", e: entry('devices', 1, 'bob'), reason: undefined },
  ])('$what → $reason', ({ e, reason }) => {
    expect(foreignEntryReason(e, own)).toBe(reason);
  });
});
