// Linking a second browser through the handlers, against the real directory (SQLite, loopback):
// the account's browser shows a code, the new one joins through the relay, both read what a
// contact sends and each other's messages; an unlinked browser reads nothing sent afterwards.
// Attacks first: a request answered with the wrong code, a code pasted twice, a browser that
// already has an identity, a stale code.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DevicesView, LinkState } from '../messaging/messages';
import { dearmor } from '../protocol/armor';
import { decodeEnvelope } from '../protocol/envelope';
import { forgetDeviceLists } from './linked-devices';
import {
  makeProfile,
  readOnPage,
  ready,
  startDirectory,
  type RunningDirectory,
  type TestProfile,
} from './testing';

let dir: RunningDirectory;
beforeAll(async () => {
  dir = await startDirectory();
});
afterAll(async () => {
  await dir.close();
});

let time = Date.now();
const clock = () => time;
// Each test starts at the directory's time (some move the browsers' clocks on).
beforeEach(() => {
  time = Date.now();
});
const CTX = 'thelounge:127.0.0.1/alice-bob';
const GROUP_CTX = 'thelounge:127.0.0.1/#veil';

async function onboard(handle: string): Promise<TestProfile> {
  const p = await ready(makeProfile({ now: clock }));
  await p.call({ type: 'createIdentity', handle, directoryUrl: dir.url });
  await p.call({ type: 'publish' });
  return p;
}

async function codeOf(p: TestProfile, message: Record<string, unknown>): Promise<string> {
  try {
    await p.call(message);
    return 'none';
  } catch (e) {
    return (e as { code?: string }).code ?? 'thrown';
  }
}

/** alice1 (account key) links a fresh browser, alice2, with one code. */
async function linkPair(handle: string) {
  const alice1 = await onboard(handle);
  const alice2 = await ready(makeProfile({ now: clock }));
  const { code } = await alice1.call<{ code: string }>({ type: 'startLink' });
  expect(await alice1.call<LinkState>({ type: 'linkStatus' })).toMatchObject({ state: 'waiting' });
  const waiting = await alice2.call<LinkState>({ type: 'joinWithCode', code });
  expect(waiting).toMatchObject({ state: 'waiting', fingerprint: expect.any(String) });
  expect(await alice2.call<LinkState>({ type: 'joinStatus' })).toMatchObject({ state: 'waiting' });
  // The account's browser shows the new one's fingerprint; the person compares, then links.
  const asked = await alice1.call<LinkState>({ type: 'linkStatus' });
  expect(asked).toEqual({
    state: 'confirm',
    fingerprint: (waiting as { fingerprint: string }).fingerprint,
  });
  expect(await alice1.call<LinkState>({ type: 'confirmLink', accept: true })).toEqual({
    state: 'linked',
    deviceId: 2,
  });
  expect(await alice2.call<LinkState>({ type: 'joinStatus' })).toEqual({
    state: 'joined',
    handle,
    deviceId: 2,
  });
  return { alice1, alice2, code };
}

const send = async (p: TestProfile, to: string, plaintext: string) =>
  (
    await p.call<{ chunks: string[] }>({
      type: 'encrypt',
      context: CTX,
      recipients: [to],
      plaintext,
    })
  ).chunks.join('\n');
const read = (p: TestProfile, armored: string) => p.service.veil.decrypt(CTX, armored);

describe('linking a browser to an account', () => {
  it('joins with one code: same account key and safety number, its own device key', async () => {
    const { alice1, alice2 } = await linkPair('link-a');
    const id1 = await alice1.call<{ identity: { identityKey: string; fingerprint: string } }>({
      type: 'status',
    });
    const id2 = await alice2.call<{ identity: { identityKey: string; fingerprint: string } }>({
      type: 'status',
    });
    expect(id2.identity.identityKey).toBe(id1.identity.identityKey);
    expect(id2.identity.fingerprint).toBe(id1.identity.fingerprint);
    const v1 = await alice1.call<DevicesView>({ type: 'listDevices' });
    const v2 = await alice2.call<DevicesView>({ type: 'listDevices' });
    expect(v1.devices.map((d) => [d.id, d.thisDevice])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(v2.devices.map((d) => [d.id, d.thisDevice])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect([v1.holdsAccountKey, v2.holdsAccountKey]).toEqual([true, false]);
    // Only the account key's browser links or unlinks.
    expect(await codeOf(alice2, { type: 'startLink' })).toBe('invalid-argument');
    expect(await codeOf(alice2, { type: 'removeDevice', deviceId: 1 })).not.toBe('none');
  });

  it('carries contacts and their verification to the new browser', async () => {
    const bob = await onboard('link-bob-c');
    const alice1 = await onboard('link-c');
    await alice1.call({ type: 'addContact', handle: 'link-bob-c' });
    await alice1.call({ type: 'markVerified', handle: 'link-bob-c', verified: true });
    const alice2 = await ready(makeProfile({ now: clock }));
    const { code } = await alice1.call<{ code: string }>({ type: 'startLink' });
    await alice2.call({ type: 'joinWithCode', code });
    await alice1.call({ type: 'linkStatus' });
    await alice1.call({ type: 'confirmLink', accept: true });
    await alice2.call({ type: 'joinStatus' });
    const contacts = await alice2.call<{ contacts: { handle: string; status: string }[] }>({
      type: 'listContacts',
    });
    expect(contacts.contacts).toEqual([
      expect.objectContaining({ handle: 'link-bob-c', status: 'verified' }),
    ]);
    expect(bob).toBeDefined();
  });

  it('all three read a conversation; an unlinked browser reads nothing sent afterwards', async () => {
    const bob = await onboard('link-bob-d');
    const { alice1, alice2 } = await linkPair('link-d');
    for (const a of [alice1, alice2]) await a.call({ type: 'addContact', handle: 'link-bob-d' });
    await bob.call({ type: 'addContact', handle: 'link-d' });

    const fromBob = await send(bob, 'link-d', 'to both of your browsers');
    expect(decodeEnvelope(dearmor(fromBob)).type).toBe(6);
    for (const a of [alice1, alice2])
      expect(await read(a, fromBob)).toMatchObject({
        sender: 'link-bob-d',
        plaintext: 'to both of your browsers',
      });
    const from2 = await send(alice2, 'link-bob-d', 'from the second browser');
    expect(await read(bob, from2)).toMatchObject({
      status: 'unverified',
      sender: 'link-d',
      plaintext: 'from the second browser',
    });
    expect(await read(alice1, from2)).toMatchObject({
      plaintext: 'from the second browser',
      fromOwnDevice: true,
    });
    const from1 = await send(alice1, 'link-bob-d', 'from the first browser');
    expect(await read(bob, from1)).toMatchObject({ plaintext: 'from the first browser' });
    expect(await read(alice2, from1)).toMatchObject({ plaintext: 'from the first browser' });

    // Unlinked: the list is published and logged; bob's next send leaves it out.
    time += 61_000;
    for (const p of [alice1, alice2, bob]) forgetDeviceLists(p.service);
    const before = await bob.call<{ contacts: { handle: string; devices?: number }[] }>({
      type: 'listContacts',
    });
    expect(before.contacts.find((c) => c.handle === 'link-d')).toMatchObject({ devices: 2 });
    const after = await alice1.call<DevicesView>({ type: 'removeDevice', deviceId: 2 });
    expect(after.devices.map((d) => d.id)).toEqual([1]);
    const later = await send(bob, 'link-d', 'after unlinking');
    // Bob's contact list shows it quietly: one browser now, and when it changed.
    const noted = await bob.call<{
      contacts: { handle: string; devices?: number; devicesChangedAt?: number }[];
    }>({ type: 'listContacts' });
    expect(noted.contacts.find((c) => c.handle === 'link-d')).toMatchObject({
      devicesChangedAt: expect.any(Number),
    });
    expect(noted.contacts.find((c) => c.handle === 'link-d')!.devices).toBeUndefined();
    expect(await read(alice1, later)).toMatchObject({ plaintext: 'after unlinking' });
    expect(await read(alice2, later)).toMatchObject({ status: 'failed' });
    const mine = await send(alice1, 'link-bob-d', 'mine after unlinking');
    expect((await read(alice2, mine)).plaintext).toBeUndefined();
    // The unlinked browser learns it the next time it sends.
    expect(
      await codeOf(alice2, {
        type: 'encrypt',
        context: CTX,
        recipients: ['link-bob-d'],
        plaintext: 'x',
      }),
    ).toBe('device-removed');
  });

  it('a channel: every browser of each member reads it; an unlinked browser reads nothing sent afterwards', async () => {
    const bob = await onboard('link-bob-k');
    const carol = await onboard('link-carol-k');
    const { alice1, alice2 } = await linkPair('link-k');
    for (const p of [alice1, alice2, bob, carol])
      for (const h of ['link-k', 'link-bob-k', 'link-carol-k'])
        if (h !== (await p.service.veil.getIdentity())!.handle)
          await p.call({ type: 'addContact', handle: h });
    const channel = async (p: TestProfile, to: string[], plaintext: string) =>
      (
        await p.call<{ chunks: string[] }>({
          type: 'encrypt',
          context: GROUP_CTX,
          recipients: to,
          plaintext,
        })
      ).chunks.join('\n');
    const readIn = (p: TestProfile, armored: string) =>
      p.service.veil.decrypt({ context: GROUP_CTX, kind: 'group' }, armored);

    // Bob's first channel message: his sender key to each of alice's browsers and to carol.
    const fromBob = await channel(bob, ['link-k', 'link-carol-k'], 'to the channel');
    const bundle = decodeEnvelope(dearmor(fromBob));
    expect(bundle.type === 4 && bundle.pairwise.length).toBe(3);
    for (const p of [alice1, alice2, carol])
      expect(await readIn(p, fromBob)).toMatchObject({
        sender: 'link-bob-k',
        plaintext: 'to the channel',
      });
    // Alice's second browser writes: bob and carol read it as hers, her first browser as its own.
    const from2 = await channel(alice2, ['link-bob-k', 'link-carol-k'], 'from the second');
    // Bob fetched alice's logged list when he wrote: her browser counts as her. Carol has not
    // written yet (the page would ask the directory: sender-trust.ts).
    expect(await readIn(bob, from2)).toMatchObject({
      status: 'unverified',
      sender: 'link-k',
      plaintext: 'from the second',
    });
    expect(await readIn(carol, from2)).toMatchObject({
      sender: 'link-k',
      plaintext: 'from the second',
    });
    expect(await readIn(alice1, from2)).toMatchObject({
      plaintext: 'from the second',
      fromOwnDevice: true,
    });

    // Unlinked: bob's next channel message is under a new key, which the browser never gets.
    time += 61_000;
    for (const p of [alice1, alice2, bob, carol]) forgetDeviceLists(p.service);
    await alice1.call({ type: 'removeDevice', deviceId: 2 });
    const later = await channel(bob, ['link-k', 'link-carol-k'], 'after unlinking');
    expect(await readIn(alice1, later)).toMatchObject({ plaintext: 'after unlinking' });
    expect(await readIn(carol, later)).toMatchObject({ plaintext: 'after unlinking' });
    expect((await readIn(alice2, later)).plaintext).toBeUndefined();
  });

  it('someone who saw the code and answered first is shown, refused, and linked to nothing', async () => {
    const alice1 = await onboard('link-f');
    const real = await ready(makeProfile({ now: clock }));
    const snoop = await ready(makeProfile({ now: clock }));
    const { code } = await alice1.call<{ code: string }>({ type: 'startLink' });
    const theirs = await snoop.call<LinkState>({ type: 'joinWithCode', code });
    // The real browser comes second: the relay holds one request per code.
    expect(await codeOf(real, { type: 'joinWithCode', code })).toBe('conflict');
    // Nothing was left behind there: it can still start on its own.
    expect(
      await real.call({ type: 'createIdentity', handle: 'link-f2', directoryUrl: dir.url }),
    ).toMatchObject({
      handle: 'link-f2',
    });
    const asked = await alice1.call<LinkState>({ type: 'linkStatus' });
    expect(asked).toEqual({
      state: 'confirm',
      fingerprint: (theirs as { fingerprint: string }).fingerprint,
    });
    expect(await alice1.call<LinkState>({ type: 'confirmLink', accept: false })).toEqual({
      state: 'none',
    });
    expect((await alice1.call<DevicesView>({ type: 'listDevices' })).devices).toHaveLength(1);
    expect(await snoop.call<LinkState>({ type: 'joinStatus' })).toMatchObject({ state: 'waiting' });
    expect(await codeOf(alice1, { type: 'confirmLink', accept: true })).toBe('link-expired');
  });

  it('on the page: her linked browser counts as her from the logged list, her own shows as hers, an unlinked one stops counting within a minute', async () => {
    const bob = await onboard('link-bob-g');
    const { alice1, alice2 } = await linkPair('link-g');
    for (const a of [alice1, alice2]) await a.call({ type: 'addContact', handle: 'link-bob-g' });
    await bob.call({ type: 'addContact', handle: 'link-g' });
    // Bob has never fetched Alice's list: the reader asks the directory, which names the device.
    const from2 = await send(alice2, 'link-bob-g', 'hello from the new browser');
    expect(await readOnPage(bob, CTX, from2)).toMatchObject({
      status: 'unverified',
      sender: 'link-g',
      plaintext: 'hello from the new browser',
    });
    // Alice's first browser shows it as her own message.
    expect(await readOnPage(alice1, CTX, from2)).toMatchObject({
      own: true,
      plaintext: 'hello from the new browser',
    });
    // Unlinked: the page (not a message) decides, from the list the directory logged.
    time += 61_000;
    await alice1.call({ type: 'removeDevice', deviceId: 2 });
    time += 61_000;
    // A message the removed browser seals on its still-open session is no longer hers.
    const late = (
      await alice2.service.veil.encrypt({ context: CTX, recipients: ['link-bob-g'] }, 'still me')
    ).join('\n');
    expect(await readOnPage(bob, CTX, late)).toMatchObject({ status: 'unknown-sender' });
  });

  it('a browser whose join was refused or ran out starts afresh', async () => {
    const alice1 = await onboard('link-h');
    const b = await ready(makeProfile({ now: clock }));
    const { code } = await alice1.call<{ code: string }>({ type: 'startLink' });
    await b.call({ type: 'joinWithCode', code });
    await alice1.call({ type: 'linkStatus' });
    await alice1.call({ type: 'confirmLink', accept: false });
    time += 21 * 60_000;
    expect(await codeOf(b, { type: 'joinStatus' })).toBe('link-expired');
    expect(await b.call({ type: 'joinStatus' })).toEqual({ state: 'none' });
    expect(
      await b.call({ type: 'createIdentity', handle: 'link-h2', directoryUrl: dir.url }),
    ).toMatchObject({ handle: 'link-h2' });
  });

  it('refuses a second browser on a spent code, a browser that has an identity, and a stale code', async () => {
    const { alice1, code } = await linkPair('link-e');
    const third = await ready(makeProfile({ now: clock }));
    // The relay holds one request per code, and the answer was read: nothing to join.
    const second = await codeOf(third, { type: 'joinWithCode', code });
    if (second === 'none') {
      expect(await alice1.call<LinkState>({ type: 'linkStatus' })).toEqual({ state: 'none' });
      time += 25 * 60_000;
      expect(await codeOf(third, { type: 'joinStatus' })).toBe('link-expired');
      time -= 25 * 60_000;
    } else expect(second).not.toBe('none');
    expect(await codeOf(alice1, { type: 'joinWithCode', code })).toBe('identity-exists');
    const { code: stale } = await alice1.call<{ code: string }>({ type: 'startLink' });
    time += 11 * 60_000;
    const late = await ready(makeProfile({ now: clock }));
    expect(await codeOf(late, { type: 'joinWithCode', code: stale })).toBe('invalid-argument');
    expect(await codeOf(late, { type: 'joinWithCode', code: 'veil-link:not-a-code' })).toBe(
      'invalid-argument',
    );
    expect(await alice1.call<LinkState>({ type: 'linkStatus' })).toEqual({ state: 'none' });
  });
});
