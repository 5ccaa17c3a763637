// Checking a tree head a contact sent against our own view (checkGossipedHead), with a split-view
// directory (tests/e2e/hostile-directory.ts: two logs under one key at /a and /b, the attacker's
// key swap only in /b): each side's lookups verify, and the split shows the first time the two
// compare heads. An honest directory's heads agree at any sizes; a head signed by another key
// (forged, or another directory under the same origin) or from another log raises nothing; an
// unreachable directory leaves the head to check later.
import 'fake-indexeddb/auto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeIdentity, publishBody, signedRequest } from '../../key-directory/client-signing';
import {
  startSplitViewDirectory,
  type SplitViewDirectory,
} from '../../tests/e2e/hostile-directory';
import type { LogAlarmView } from '../messaging/messages';
import { fromBase64Url } from '../protocol/encoding';
import { signTreeHead, type SignedTreeHead } from '../protocol/transparency';
import {
  type RunningDirectory,
  type TestProfile,
  makeProfile,
  ready,
  startDirectory,
} from './testing';
import type { ServiceOptions } from './veil-service';

async function onboard(handle: string, url: string, options: ServiceOptions = {}) {
  const p = await ready(makeProfile(options));
  await p.call({ type: 'createIdentity', handle, directoryUrl: url });
  await p.call({ type: 'publish' });
  return p;
}

async function headOf(p: TestProfile, url: string): Promise<SignedTreeHead> {
  return (await p.service.directory.state(url))!.head;
}

const alarmsOf = async (p: TestProfile) =>
  (await p.call<{ alarms: LogAlarmView[] }>({ type: 'logAlarms' })).alarms;

async function publishOther(url: string, handle: string): Promise<void> {
  const id = makeIdentity(handle);
  const req = signedRequest('PUT', handle, JSON.stringify(publishBody(id, 1)), id);
  const res = await fetch(url + req.path, { method: 'PUT', headers: req.headers, body: req.body });
  expect(res.status).toBe(201);
}

describe('a split-view directory', () => {
  let dir: SplitViewDirectory;
  let alice: TestProfile;
  let bob: TestProfile;
  beforeEach(async () => {
    dir = await startSplitViewDirectory();
    alice = await onboard('alice', dir.urlA);
    bob = await onboard('bob', dir.urlB);
    await publishOther(dir.urlA, 'carol');
  });
  afterEach(() => dir.close());

  it("each view verifies on its own; bob, shown the swap, catches it from alice's head", async () => {
    await dir.swapInB('alice');
    // A later write lands in both views, at different positions: the logs now differ.
    await publishOther(dir.urlA, 'dave');
    const found = await bob.call<{ identityKey: string }>({
      type: 'lookupContact',
      handle: 'alice',
    });
    expect(fromBase64Url(found.identityKey)).toEqual(dir.attacker.identityKey);
    // Alice's own monitor sees nothing: her view has no swap.
    const own = await alice.call<{ result: { status: string }; alarms: unknown[] }>({
      type: 'checkLog',
    });
    expect(own).toMatchObject({ result: { status: 'checked' }, alarms: [] });

    // Alice's latest verified head reaches bob inside a message.
    await alice.call({ type: 'lookupContact', handle: 'bob' });
    const aliceHead = await headOf(alice, dir.urlA);
    const result = await bob.service.checkGossipedHead(dir.urlB, aliceHead);
    expect(result).toMatchObject({ status: 'split' });
    const alarms = await alarmsOf(bob);
    expect(alarms).toEqual([
      {
        id: expect.any(String),
        kind: 'split-view',
        directoryUrl: dir.urlB,
        raisedAt: expect.any(Number),
        reason: 'inconsistent',
        treeSizes: [(await headOf(bob, dir.urlB)).treeSize, aliceHead.treeSize],
        roots: [expect.any(String), expect.any(String)],
      },
    ]);
    // The same head again: one alarm.
    expect(await bob.service.checkGossipedHead(dir.urlB, aliceHead)).toMatchObject({
      status: 'split',
    });
    expect(await alarmsOf(bob)).toHaveLength(1);

    // Bob's larger head reaches alice: her directory shows her no such size yet.
    const bobHead = await headOf(bob, dir.urlB);
    expect(await alice.service.checkGossipedHead(dir.urlA, bobHead)).toEqual({
      status: 'unchecked',
      reason: 'peer-ahead',
    });
    expect(await alarmsOf(alice)).toEqual([]);
    expect((await alice.service.directory.state(dir.urlA))!.pendingHeads).toHaveLength(1);
  });

  it('with both views kept at one size: two roots for one size, caught from either side', async () => {
    await dir.swapInB('alice', { balance: true });
    await bob.call({ type: 'lookupContact', handle: 'alice' });
    await alice.call({ type: 'lookupContact', handle: 'bob' });
    const aliceHead = await headOf(alice, dir.urlA);
    const bobHead = await headOf(bob, dir.urlB);
    expect(aliceHead.treeSize).toBe(bobHead.treeSize);
    expect(await alice.service.checkGossipedHead(dir.urlA, bobHead)).toMatchObject({
      status: 'split',
    });
    expect(await bob.service.checkGossipedHead(dir.urlB, aliceHead)).toMatchObject({
      status: 'split',
    });
    expect((await alarmsOf(alice))[0]).toMatchObject({ kind: 'split-view', reason: 'same-size' });
    expect((await alarmsOf(bob))[0]).toMatchObject({ kind: 'split-view', reason: 'same-size' });
  });

  it('before the swap the two views agree', async () => {
    await bob.call({ type: 'lookupContact', handle: 'alice' });
    expect(await bob.service.checkGossipedHead(dir.urlB, await headOf(alice, dir.urlA))).toEqual({
      status: 'consistent',
      treeSize: (await headOf(bob, dir.urlB)).treeSize,
    });
    expect(await alarmsOf(bob)).toEqual([]);
  });
});

describe('an honest directory', () => {
  let dir: RunningDirectory;
  let alice: TestProfile;
  let bob: TestProfile;
  beforeEach(async () => {
    dir = await startDirectory();
    alice = await onboard('alice', dir.url);
    bob = await onboard('bob', dir.url);
  });
  afterEach(() => dir.close());

  it('heads of any two sizes agree, whichever side is ahead', async () => {
    const small = await headOf(alice, dir.url);
    for (let i = 0; i < 9; i++) await publishOther(dir.url, `x${i}`);
    await bob.call({ type: 'lookupContact', handle: 'alice' });
    const large = await headOf(bob, dir.url);
    expect(large.treeSize).toBeGreaterThan(small.treeSize);
    expect(await bob.service.checkGossipedHead(dir.url, small)).toMatchObject({
      status: 'consistent',
    });
    // Alice is behind: she fetches a fresh head first, then checks.
    expect(await alice.service.checkGossipedHead(dir.url, large)).toEqual({
      status: 'consistent',
      treeSize: large.treeSize,
    });
    expect((await headOf(alice, dir.url)).treeSize).toBe(large.treeSize);
    expect(await alarmsOf(alice)).toEqual([]);
    expect(await alarmsOf(bob)).toEqual([]);
  });

  it('a head a contact holds, signed a day ago, that the directory still withholds from us is caught', async () => {
    // A directory that froze carol's view: her head never moves, so she would never see an
    // entry it logs for others (a key it swaps for them).
    const frozen: { head?: unknown } = {};
    let now = Date.now();
    const carol = await onboard('carol', dir.url, {
      now: () => now,
      fetch: async (input, init) =>
        frozen.head !== undefined && new URL(input).pathname === '/v1/log/head'
          ? Response.json(frozen.head)
          : fetch(input, init),
    });
    const dave = await onboard('dave', dir.url, { now: () => now });
    frozen.head = await (await fetch(`${dir.url}/v1/log/head`)).json();
    for (let i = 0; i < 3; i++) await publishOther(dir.url, `y${i}`);
    await bob.call({ type: 'lookupContact', handle: 'carol' });
    const theirs = await headOf(bob, dir.url);
    // Within a day it may be a delay: kept and checked again later.
    expect(await carol.service.checkGossipedHead(dir.url, theirs)).toEqual({
      status: 'unchecked',
      reason: 'peer-ahead',
    });
    now += 25 * 3600 * 1000;
    expect(await carol.service.checkGossipedHead(dir.url, theirs)).toMatchObject({
      status: 'split',
    });
    expect(await alarmsOf(carol)).toMatchObject([{ kind: 'split-view', reason: 'withheld' }]);
    // Where the directory does show the larger log, a day-old head is just consistent.
    expect(await dave.service.checkGossipedHead(dir.url, theirs)).toMatchObject({
      status: 'consistent',
    });
    expect(await alarmsOf(dave)).toEqual([]);
  });

  it('a forged head (not signed by the directory key) raises nothing', async () => {
    const real = await headOf(alice, dir.url);
    const forged = signTreeHead(
      { ...real, rootHash: new Uint8Array(32).fill(7) },
      ed25519.utils.randomSecretKey(),
    );
    expect(await bob.service.checkGossipedHead(dir.url, forged)).toEqual({
      status: 'other-log',
      reason: 'signature',
    });
    // A real head with its signature damaged, or moved to another size: the same.
    const damaged = { ...real, signature: real.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(await bob.service.checkGossipedHead(dir.url, damaged)).toMatchObject({
      status: 'other-log',
    });
    expect(
      await bob.service.checkGossipedHead(dir.url, { ...real, treeSize: real.treeSize + 1 }),
    ).toMatchObject({ status: 'other-log' });
    expect(await alarmsOf(bob)).toEqual([]);
  });

  it("another directory's head raises nothing, same origin name or not", async () => {
    const other = await startDirectory();
    try {
      const carol = await onboard('carol', other.url);
      const head = await headOf(carol, other.url);
      // Same default origin as ours, another key.
      expect(await bob.service.checkGossipedHead(dir.url, head)).toEqual({
        status: 'other-log',
        reason: 'signature',
      });
      expect(
        await bob.service.checkGossipedHead(dir.url, { ...head, origin: 'elsewhere.example/log' }),
      ).toEqual({ status: 'other-log', reason: 'origin' });
      expect(await alarmsOf(bob)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('a directory we never talked to → unchecked', async () => {
    const stranger = await ready(makeProfile());
    expect(await stranger.service.checkGossipedHead(dir.url, await headOf(alice, dir.url))).toEqual(
      { status: 'unchecked', reason: 'not-pinned' },
    );
  });
});

describe('a directory that cannot be reached', () => {
  let dir: SplitViewDirectory;
  afterAll(() => dir.close());

  it('leaves the head for later (no alarm); the retry decides', async () => {
    dir = await startSplitViewDirectory();
    let down = false;
    const flaky: NonNullable<ServiceOptions['fetch']> = (input, init) =>
      down ? Promise.reject(new TypeError('network')) : fetch(input, init);
    const alice = await onboard('alice', dir.urlA);
    const bob = await onboard('bob', dir.urlB, { fetch: flaky });
    await dir.swapInB('alice');
    await publishOther(dir.urlA, 'dave');
    await bob.call({ type: 'lookupContact', handle: 'alice' });
    await publishOther(dir.urlA, 'erin');
    await publishOther(dir.urlA, 'frank');
    await alice.call({ type: 'lookupContact', handle: 'bob' });
    // Alice is now ahead of what bob remembers: bob must ask the directory, which is down.
    down = true;
    const aliceHead = await headOf(alice, dir.urlA);
    expect(aliceHead.treeSize).toBeGreaterThan((await headOf(bob, dir.urlB)).treeSize);
    expect(await bob.service.checkGossipedHead(dir.urlB, aliceHead)).toEqual({
      status: 'unchecked',
      reason: 'directory-unreachable',
    });
    expect(await alarmsOf(bob)).toEqual([]);
    down = false;
    expect(await bob.service.log.gossip.retryPending(dir.urlB)).toMatchObject([
      { status: 'split' },
    ]);
    expect(await alarmsOf(bob)).toHaveLength(1);
    expect((await bob.service.directory.state(dir.urlB))!.pendingHeads).toEqual([]);
  });
});
