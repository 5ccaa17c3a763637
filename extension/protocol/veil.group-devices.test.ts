// Groups across linked devices (docs/protocol.md "Groups across devices", docs/devices.md): a
// sender key goes to every listed device of each member and to our own other devices; each
// device writes under its own sender key, bound to its device key and its account. Attacks
// first: a contact's list borrowing someone else's key, a device taken off a list, a device
// writing in a group its person is not in, a replayed distribution of a removed device, a
// stranger claiming to be our own device.
import { describe, expect, it } from 'vitest';
import { armor, dearmor } from './armor';
import { nobleProvider } from './crypto/noble';
import type { SignedDeviceList } from './device-list';
import {
  contextHash,
  contextTag,
  decodeEnvelope,
  encodeGroupBundle,
  parseGroupBundle,
} from './envelope';
import type { PrekeyBundle } from './identity';
import { encodePlaintext, peerTag } from './plaintext';
import {
  createSenderKey,
  distributionRecord,
  groupDecrypt,
  groupEncrypt,
  parseDistribution,
} from './sender-key';
import { sessionEncrypt, type SessionRecord } from './session';
import { MemoryStore } from './store';
import { Veil, type Conversation } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/#veil';
const GROUP_ID = contextHash(CTX);
let now = 1_700_000_000_000;
const clock = () => now;
const TEXT_200 = 'g'.repeat(200);
const ARMOR = { randomBytes: (n: number) => nobleProvider.randomBytes(n) };
const PAGE = { context: CTX, kind: 'group' as const };

interface Device {
  veil: Veil;
  store: MemoryStore;
  handle: string;
  /** This browser's own key (the account key on device 1). */
  key: Uint8Array;
  id: number;
}
interface Person {
  handle: string;
  /** The account key: what others pin. */
  key: Uint8Array;
  devices: Device[];
  list?: SignedDeviceList;
}

async function device(handle: string): Promise<Device> {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  const me = await veil.createIdentity(handle);
  return { veil, store, handle, key: me.identityKey, id: 1 };
}

async function bundle(d: Device): Promise<PrekeyBundle> {
  const pub = await d.veil.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 1 });
  return {
    handle: pub.handle,
    identityKey: pub.identityKey,
    signedPrekey: pub.signedPrekey,
    oneTimePrekey: pub.oneTimePrekeys[0]!,
    kemPrekey: pub.kemPrekeys.oneTime[0]!,
  };
}

/** One person on `n` browsers: the first holds the account key and links the others. */
async function person(handle: string, n: number): Promise<Person> {
  const first = await device(handle);
  const p: Person = { handle, key: first.key, devices: [first] };
  for (let i = 1; i < n; i++) await link(p);
  return p;
}

async function link(p: Person): Promise<Device> {
  const d = await device(p.handle);
  p.list = await p.devices[0]!.veil.linkDevice(d.key);
  d.id = p.list.devices.find((x) => x.key.every((b, i) => b === d.key[i]))!.id;
  await d.veil.joinAccount(p.list, p.key);
  for (const other of p.devices.slice(1)) await other.veil.setOwnDevices(p.list);
  p.devices.push(d);
  return d;
}

/** `from` starts a session with every device of `to` (its checked list), or of ours. */
async function sessionsTo(from: Device, to: Person): Promise<void> {
  const own = from.handle === to.handle;
  if (!own) {
    if (!(await from.veil.getContact(to.handle))) await from.veil.addContact(to.handle, to.key);
    if (to.list) await from.veil.setContactDevices(to.handle, to.list);
  }
  for (const d of to.devices) {
    if (d === from) continue;
    if (!own && d.id === 1) await from.veil.startSession(await bundle(d));
    else await from.veil.startSession(await bundle(d), { deviceId: d.id });
  }
}

const direct = (to: string): Conversation => ({ context: `dm/${to}`, recipients: [to] });
const group = (...to: string[]): Conversation => ({ context: CTX, recipients: to, kind: 'group' });
const sendGroup = async (from: Device, to: string[], text = TEXT_200) =>
  (await from.veil.encrypt(group(...to), text, { maxChunkLength: 100_000 }))[0]!;

/** Everyone has sessions with every device of everyone, answered both ways. */
async function world(...people: Person[]): Promise<void> {
  for (const p of people) for (const d of p.devices) for (const q of people) await sessionsTo(d, q);
  // Two rounds of direct messages, each read by every device, answer every session.
  for (let round = 0; round < 2; round++)
    for (const p of people)
      for (const d of p.devices)
        for (const q of people) {
          if (q === p) continue;
          const m = (await d.veil.encrypt(direct(q.handle), 'hi', { maxChunkLength: 100_000 }))[0]!;
          for (const r of [...q.devices, ...p.devices])
            if (r !== d) await r.veil.decrypt(`dm/${p.handle}`, m);
        }
}

const readAt = (d: Device, armored: string) => d.veil.decrypt(PAGE, armored);
const pairwiseCount = (armored: string) => {
  const e = decodeEnvelope(dearmor(armored));
  return e.type === 4 ? parseGroupBundle(dearmor(armored)).pairwise.length : 0;
};
const keyIdOf = (armored: string) => {
  const e = decodeEnvelope(dearmor(armored));
  const m = e.type === 4 ? e.senderKeyMessage : e.type === 3 ? e : undefined;
  return Buffer.from(m!.senderKeyId).toString('hex');
};

describe('groups across linked devices', () => {
  it('every device of every member reads a channel message; our own other devices read ours as ours', async () => {
    const alice = await person('alice', 2);
    const bob = await person('bob', 1);
    const carol = await person('carol', 1);
    await world(alice, bob, carol);
    const [alice1, alice2] = alice.devices as [Device, Device];
    const [bob1] = bob.devices as [Device];
    const [carol1] = carol.devices as [Device];

    // Bob's channel message: a pairwise part for each of Alice's browsers and for Carol's.
    const fromBob = await sendGroup(bob1, ['alice', 'carol'], 'from bob');
    expect(pairwiseCount(fromBob)).toBe(3);
    for (const d of [alice1, alice2, carol1])
      expect(await readAt(d, fromBob)).toMatchObject({
        status: 'unverified',
        sender: 'bob',
        kind: 'group',
        plaintext: 'from bob',
        moved: false,
      });

    // Alice's second browser writes: Bob and Carol read it as Alice's; her first browser as her
    // own, in this group.
    const from2 = await sendGroup(alice2, ['bob', 'carol'], 'from firefox');
    expect(pairwiseCount(from2)).toBe(3);
    for (const d of [bob1, carol1])
      expect(await readAt(d, from2)).toMatchObject({
        status: 'unverified',
        sender: 'alice',
        plaintext: 'from firefox',
        moved: false,
      });
    const own = await readAt(alice1, from2);
    expect(own).toMatchObject({
      status: 'verified',
      sender: 'alice',
      plaintext: 'from firefox',
      fromOwnDevice: true,
      moved: false,
    });
    expect(own.sealed!.groupId).toEqual(GROUP_ID);
    // Her first browser's own message reads as hers on the second; later ones need no parts.
    const from1 = await sendGroup(alice1, ['bob', 'carol'], 'from chromium');
    expect(await readAt(alice2, from1)).toMatchObject({
      plaintext: 'from chromium',
      fromOwnDevice: true,
    });
    const later = await sendGroup(alice2, ['bob', 'carol'], 'later');
    expect(pairwiseCount(later)).toBe(0);
    for (const d of [alice1, bob1, carol1])
      expect((await readAt(d, later)).plaintext).toBe('later');
    // Membership stays by account: the members are Alice's account key, not her browser's.
    expect((await bob1.veil.groupMembers(CTX))!.members.map((m) => m.identityKey)).toContainEqual(
      alice.key,
    );
    expect(await alice2.veil.groupMembers(CTX)).toEqual(await alice1.veil.groupMembers(CTX));
  });

  it('sizes of a 200-byte group message to 2 members on 1 and on 2 devices each, first and later', async () => {
    const sizes: Record<string, { first: number; later: number }> = {};
    for (const n of [1, 2]) {
      const alice = await person('alice', 1);
      const bob = await person('bob', n);
      const carol = await person('carol', n);
      await world(alice, bob, carol);
      const first = await sendGroup(alice.devices[0]!, ['bob', 'carol']);
      for (const d of [...bob.devices, ...carol.devices])
        expect((await readAt(d, first)).plaintext).toBe(TEXT_200);
      const later = await sendGroup(alice.devices[0]!, ['bob', 'carol']);
      for (const d of [...bob.devices, ...carol.devices])
        expect((await readAt(d, later)).plaintext).toBe(TEXT_200);
      sizes[`${n}`] = { first: first.length, later: later.length };
    }
    console.log('group 200-byte message, 2 members, armored characters:', JSON.stringify(sizes));
    // Later messages carry no pairwise part: the same size whatever the devices.
    expect(sizes['1']!.later).toBe(sizes['2']!.later);
    expect(sizes['1']!.later).toBeLessThanOrEqual(440);
    // The first carries one part per device (answered sessions: no pre-key headers).
    expect(sizes['1']!.first).toBeLessThanOrEqual(1_500);
    const perDevice = (sizes['2']!.first - sizes['1']!.first) / 2;
    expect(perDevice).toBeLessThanOrEqual(500);
  });

  it("a contact's list naming someone else's key gets that person no group key as the contact's", async () => {
    // Bob (with a hostile directory) names Carol's key as his device 2. Alice's channel message
    // has a part for it, bound to Bob's account: Carol's browser opens nothing and keeps nothing.
    const alice = await person('alice', 1);
    const bob = await person('bob', 1);
    const carol = await person('carol', 1);
    await world(alice, bob, carol);
    const [alice1] = alice.devices as [Device];
    const [bob1] = bob.devices as [Device];
    const [carol1] = carol.devices as [Device];
    const hostile = await bob1.veil.linkDevice(carol1.key);
    await alice1.veil.setContactDevices('bob', hostile);
    await alice1.veil.markVerified('bob');
    await alice1.veil.startSession({ ...(await bundle(carol1)), handle: 'bob' }, { deviceId: 2 });
    const m = await sendGroup(alice1, ['bob'], 'for bob only');
    expect(pairwiseCount(m)).toBe(2);
    expect((await readAt(bob1, m)).plaintext).toBe('for bob only');
    expect(await readAt(carol1, m)).toMatchObject({ status: 'failed', error: 'not-for-us' });
    expect(await readAt(carol1, await sendGroup(alice1, ['bob'], 'again'))).toMatchObject({
      status: 'failed',
      error: 'no-session',
    });
    // Carol's own channel messages still read as Carol's at Alice (never as verified Bob), and
    // out of place: her account is not in this group.
    const fromCarol = await sendGroup(carol1, ['alice'], 'it is me');
    expect(await readAt(alice1, fromCarol)).toMatchObject({
      sender: 'carol',
      status: 'moved',
      moved: true,
    });
  });

  it("a linked device's message verifies only under its own device and account", async () => {
    const own = await createSenderKey(nobleProvider);
    const received = parseDistribution(distributionRecord(own));
    const device = nobleProvider.randomBytes(32);
    const account = nobleProvider.randomBytes(32);
    const ctx = { ctxHash: GROUP_ID, ctxTag: contextTag(GROUP_ID) };
    const { envelope } = await groupEncrypt(nobleProvider, own, new Uint8Array(32), {
      ...ctx,
      senderIdentityKey: device,
      accountKey: account,
    });
    await expect(
      groupDecrypt(nobleProvider, received, envelope, {
        ...ctx,
        senderIdentityKey: device,
        accountKey: account,
      }),
    ).resolves.toBeDefined();
    for (const wrong of [
      { senderIdentityKey: device },
      { senderIdentityKey: device, accountKey: nobleProvider.randomBytes(32) },
      { senderIdentityKey: account, accountKey: device },
    ])
      await expect(
        groupDecrypt(nobleProvider, received, envelope, { ...ctx, ...wrong }),
      ).rejects.toMatchObject({ code: 'bad-signature' });
  });

  it('a device taken off a list reads nothing sent afterwards and its key stops counting', async () => {
    const alice = await person('alice', 2);
    const bob = await person('bob', 1);
    const carol = await person('carol', 1);
    await world(alice, bob, carol);
    const [alice1, alice2] = alice.devices as [Device, Device];
    const [bob1] = bob.devices as [Device];
    const [carol1] = carol.devices as [Device];
    // Everyone has everyone's sender key.
    for (const [d, to] of [
      [alice1, ['bob', 'carol']],
      [alice2, ['bob', 'carol']],
      [bob1, ['alice', 'carol']],
      [carol1, ['alice', 'bob']],
    ] as const) {
      const m = await sendGroup(d, [...to], 'hello');
      for (const r of [alice1, alice2, bob1, carol1])
        if (r !== d) expect((await readAt(r, m)).plaintext).toBe('hello');
    }
    const bobKeyBefore = keyIdOf(await sendGroup(bob1, ['alice', 'carol'], 'before'));
    // A message of Alice's second browser Bob has not read yet (the page may show it later).
    const unread = await sendGroup(alice2, ['bob', 'carol'], 'written before removal');

    now += 1000;
    alice.list = await alice1.veil.removeDevice(alice2.id);
    expect(await alice2.veil.setOwnDevices(alice.list)).toBe('removed');
    for (const d of [bob1, carol1]) await d.veil.setContactDevices('alice', alice.list);

    // Bob's next message: a new sender key, given to Alice's first browser only.
    const after = await sendGroup(bob1, ['alice', 'carol'], 'after removal');
    expect(keyIdOf(after)).not.toBe(bobKeyBefore);
    expect(pairwiseCount(after)).toBe(2);
    expect((await readAt(alice1, after)).plaintext).toBe('after removal');
    expect((await readAt(alice2, after)).plaintext).toBeUndefined();
    // Ours too: Alice's first browser replaces her key (the removed one held it).
    const ours = await sendGroup(alice1, ['bob', 'carol'], 'mine after removal');
    expect(pairwiseCount(ours)).toBe(2);
    expect((await readAt(alice2, ours)).plaintext).toBeUndefined();
    expect((await readAt(bob1, ours)).plaintext).toBe('mine after removal');
    // The removed browser's key no longer counts as Alice's, old or replayed.
    for (const m of [unread, await sendGroup(alice2, ['bob', 'carol'], 'still me?')]) {
      const r = await readAt(bob1, m);
      expect(['failed', 'unknown-sender']).toContain(r.status);
      expect(r.trust === 'verified' || r.trust === 'unverified').toBe(false);
    }
    // And the group Bob sees is as it was.
    expect((await bob1.veil.groupMembers(CTX))!.members.map((m) => m.handle)).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
  });

  it('a newly linked device of a member gets the key on our next message, without a new key', async () => {
    const alice = await person('alice', 1);
    const bob = await person('bob', 1);
    const carol = await person('carol', 1);
    await world(alice, bob, carol);
    const [bob1] = bob.devices as [Device];
    const first = await sendGroup(bob1, ['alice', 'carol'], 'one');
    for (const d of [...alice.devices, ...carol.devices]) await readAt(d, first);
    now += 1000;
    const alice2 = await link(alice);
    await alice2.veil.addContact('bob', bob.key);
    await bob1.veil.setContactDevices('alice', alice.list!);
    expect((await bob1.veil.missingSessions(['alice'])).map((m) => m.deviceId)).toEqual([2]);
    await bob1.veil.startSession(await bundle(alice2), { deviceId: 2 });
    const next = await sendGroup(bob1, ['alice', 'carol'], 'two');
    expect(keyIdOf(next)).toBe(keyIdOf(first));
    expect(pairwiseCount(next)).toBe(1);
    expect(await readAt(alice2, next)).toMatchObject({ plaintext: 'two', sender: 'bob' });
    expect((await readAt(alice.devices[0]!, next)).plaintext).toBe('two');
  });

  it('a device writing in a group its person is not in is out of place, and changes nothing', async () => {
    const alice = await person('alice', 1);
    const bob = await person('bob', 2);
    const carol = await person('carol', 1);
    await world(alice, bob, carol);
    const [alice1] = alice.devices as [Device];
    const [, bob2] = bob.devices as [Device, Device];
    // Alice's channel is Alice and Carol.
    const m = await sendGroup(alice1, ['carol'], 'just us');
    expect((await readAt(carol.devices[0]!, m)).plaintext).toBe('just us');
    const before = await alice1.veil.groupMembers(CTX);
    // Bob's linked browser writes there (with a member list naming him) anyway.
    const intrusion = await sendGroup(bob2, ['alice', 'carol'], 'let me in');
    expect(await readAt(alice1, intrusion)).toMatchObject({
      sender: 'bob',
      plaintext: 'let me in',
      moved: true,
      status: 'moved',
    });
    expect(await alice1.veil.groupMembers(CTX)).toEqual(before);
  });

  it("a stranger under a contact's handle writes as an unknown sender, not as damage, and the contact stays theirs", async () => {
    const alice = await person('alice', 1);
    const bob = await person('bob', 1);
    await world(alice, bob);
    const [alice1] = alice.devices as [Device];
    const [bob1] = bob.devices as [Device];
    // Mallory's identity is called alice too (or bob pinned a key the directory swapped): her
    // key is filed with the account the handle claims, yet her messages bind her own key only.
    const mallory = await device('alice');
    await mallory.veil.addContact('bob', bob.key);
    await mallory.veil.startSession(await bundle(bob1));
    const forged = await sendGroup(mallory, ['bob'], 'alice here, new laptop');
    expect(await readAt(bob1, forged)).toMatchObject({
      status: 'unknown-sender',
      sender: 'alice',
      plaintext: 'alice here, new laptop',
    });
    const again = await readAt(bob1, await sendGroup(mallory, ['bob'], 'and again'));
    expect(again).toMatchObject({ status: 'unknown-sender', plaintext: 'and again' });
    expect(await readAt(bob1, await sendGroup(alice1, ['bob'], 'the real one'))).toMatchObject({
      status: 'unverified',
      sender: 'alice',
      plaintext: 'the real one',
    });
    expect((await bob1.veil.groupMembers(CTX))!.members).toContainEqual({
      handle: 'alice',
      identityKey: alice.key,
    });
  });

  it("a linked browser's first channel message before its person's list is checked: unknown, then theirs", async () => {
    const alice = await person('alice', 2);
    const bob = await person('bob', 1);
    const [, alice2] = alice.devices as [Device, Device];
    const [bob1] = bob.devices as [Device];
    await alice2.veil.addContact('bob', bob.key);
    await alice2.veil.startSession(await bundle(bob1));
    await bob1.veil.addContact('alice', alice.key);
    const first = await sendGroup(alice2, ['bob'], 'from a browser bob has not checked');
    expect(await readAt(bob1, first)).toMatchObject({
      status: 'unknown-sender',
      sender: 'alice',
      plaintext: 'from a browser bob has not checked',
    });
    await bob1.veil.setContactDevices('alice', alice.list!);
    const later = await sendGroup(alice2, ['bob'], 'now checked');
    expect(pairwiseCount(later)).toBe(0);
    expect(await readAt(bob1, later)).toMatchObject({
      status: 'unverified',
      sender: 'alice',
      plaintext: 'now checked',
    });
  });

  it('a stranger claiming to be one of our devices is no device of ours', async () => {
    const alice = await person('alice', 2);
    const bob = await person('bob', 1);
    await world(alice, bob);
    const [alice1] = alice.devices as [Device];
    // Mallory's own client names itself "alice" and writes to Alice's browser (pinned under a
    // name of its choosing), sealing a sender key for Alice's channel bound to Alice's account.
    const mallory = await device('alice');
    await mallory.veil.addContact('zed', alice.key);
    await mallory.veil.startSession({ ...(await bundle(alice1)), handle: 'zed' });
    const c = (await mallory.store.get<{ session: string }>('contacts', 'zed'))!;
    const session = (await mallory.store.get<SessionRecord>('sessions', c.session))!;
    const key = await createSenderKey(nobleProvider);
    const part = await sessionEncrypt(
      nobleProvider,
      session,
      encodePlaintext([
        { type: 'group', groupId: GROUP_ID },
        { type: 'sender-key-distribution', distribution: distributionRecord(key) },
        {
          type: 'membership',
          groupId: GROUP_ID,
          epoch: 5,
          members: [{ handle: 'alice', identityKey: alice.key }],
        },
        { type: 'recipient', tag: peerTag('alice') },
        { type: 'sender-handle', handle: 'alice' },
      ]),
    );
    const { envelope } = await groupEncrypt(
      nobleProvider,
      key,
      encodePlaintext([{ type: 'text', text: 'i am your other browser' }]),
      {
        ctxHash: GROUP_ID,
        ctxTag: contextTag(GROUP_ID),
        senderIdentityKey: mallory.key,
        accountKey: alice.key,
      },
    );
    const forged = armor(encodeGroupBundle([part.envelope], envelope), ARMOR)[0]!;
    const r = await readAt(alice1, forged);
    expect(r.fromOwnDevice).toBeUndefined();
    expect(r.status).toBe('unknown-sender');
    expect(await alice1.veil.groupMembers(CTX)).toBeUndefined();
  });
});
