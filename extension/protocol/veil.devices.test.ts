// Linked devices through the Veil API (docs/devices.md): one person on two browsers under one
// account key, a contact on a third. Messages fan out to every device of the peer and to the
// sender's own other devices, each reading the same conversation; removing a device stops it
// reading what is sent afterwards. Attacks first: a device the account's list does not name, a
// list not signed by the pinned key or older than one seen, a text swapped under another's
// wraps, two wraps for one reader, a key wrap outside a fan-out.
import { describe, expect, it } from 'vitest';
import { armor, dearmor } from './armor';
import { concatBytes } from './bytes';
import { nobleProvider } from './crypto/noble';
import { signDeviceList, type SignedDeviceList } from './device-list';
import { decodeEnvelope, encodeFanout, parseFanout } from './envelope';
import type { PrekeyBundle } from './identity';
import { MemoryStore } from './store';
import { Veil, type Conversation } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/alice-bob';
let now = 1_700_000_000_000;
const clock = () => now;
const TEXT_200 = 'y'.repeat(200);
const ARMOR = { randomBytes: (n: number) => nobleProvider.randomBytes(n) };

async function party(handle: string) {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  const me = await veil.createIdentity(handle);
  return { veil, store, handle, key: me.identityKey };
}
type Party = Awaited<ReturnType<typeof party>>;

async function bundle(p: Party): Promise<PrekeyBundle> {
  const pub = await p.veil.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 1 });
  return {
    handle: pub.handle,
    identityKey: pub.identityKey,
    signedPrekey: pub.signedPrekey,
    oneTimePrekey: pub.oneTimePrekeys[0]!,
    kemPrekey: pub.kemPrekeys.oneTime[0]!,
  };
}

const to = (handle: string): Conversation => ({ context: CTX, recipients: [handle] });
const page = (peer: string) => ({ context: CTX, kind: 'direct' as const, peers: [peer] });
const send = async (from: Party, peer: string, text = TEXT_200) =>
  (await from.veil.encrypt(to(peer), text, { maxChunkLength: 100_000 }))[0]!;

/** Alice on two browsers (alice1 holds the account key), Bob on one; sessions everywhere. */
async function linkedWorld() {
  const alice1 = await party('alice');
  const alice2 = await party('alice');
  const bob = await party('bob');
  const deviceKey2 = (await alice2.veil.getIdentity())!.identityKey;
  const list = await alice1.veil.linkDevice(deviceKey2);
  await alice2.veil.joinAccount(list, alice1.key);
  await bob.veil.addContact('alice', alice1.key);
  await alice1.veil.addContact('bob', bob.key);
  await alice2.veil.addContact('bob', bob.key);
  await bob.veil.setContactDevices('alice', list);
  // Bob: a session with each of Alice's devices (the account key's through /bundle).
  await bob.veil.startSession(await bundle(alice1));
  for (const m of await bob.veil.missingSessions(['alice'])) {
    expect(m).toMatchObject({ handle: 'alice', deviceId: 2 });
    await bob.veil.startSession(await bundle(alice2), { deviceId: m.deviceId });
  }
  // Alice's browsers: Bob, and each other.
  await alice1.veil.startSession(await bundle(bob));
  await alice2.veil.startSession(await bundle(bob));
  const [other1] = await alice1.veil.missingSessions(['bob']);
  expect(other1).toMatchObject({ handle: 'alice', deviceId: 2 });
  await alice1.veil.startSession(await bundle(alice2), { deviceId: 2 });
  const [other2] = await alice2.veil.missingSessions(['bob']);
  expect(other2).toMatchObject({ handle: 'alice', deviceId: 1 });
  await alice2.veil.startSession(await bundle(alice1), { deviceId: 1 });
  return { alice1, alice2, bob, list };
}

describe('linked devices', () => {
  it('a linked browser speaks for the account: same identity key and safety number', async () => {
    const { alice1, alice2, bob } = await linkedWorld();
    const id2 = (await alice2.veil.getIdentity())!;
    expect(id2.identityKey).toEqual(alice1.key);
    expect(id2.deviceId).toBe(2);
    expect(id2.deviceKey).not.toEqual(alice1.key);
    expect(await alice2.veil.safetyNumber('bob')).toBe(await alice1.veil.safetyNumber('bob'));
    expect(await bob.veil.safetyNumber('alice')).toBe(await alice1.veil.safetyNumber('bob'));
  });

  it('every device of both people reads every message, placed in the same conversation', async () => {
    const { alice1, alice2, bob } = await linkedWorld();
    await bob.veil.markVerified('alice');
    // Bob → Alice: one text, a wrap for each of her devices.
    const fromBob = await send(bob, 'alice', 'hello both of you');
    expect(decodeEnvelope(dearmor(fromBob)).type).toBe(6);
    for (const a of [alice1, alice2])
      expect(await a.veil.decrypt(page('bob'), fromBob)).toMatchObject({
        status: 'unverified',
        sender: 'bob',
        plaintext: 'hello both of you',
      });
    // Alice's first browser → Bob, and her second reads it as her own, with Bob.
    const from1 = await send(alice1, 'bob', 'from the laptop');
    expect(parseFanout(dearmor(from1)).wraps).toHaveLength(2);
    expect(await bob.veil.decrypt(page('alice'), from1)).toMatchObject({
      status: 'verified',
      sender: 'alice',
      plaintext: 'from the laptop',
    });
    expect(await alice2.veil.decrypt(page('bob'), from1)).toMatchObject({
      status: 'verified',
      sender: 'alice',
      plaintext: 'from the laptop',
      fromOwnDevice: true,
      moved: false,
    });
    // Her second browser → Bob: verified too (one verification per person, not per device).
    const from2 = await send(alice2, 'bob', 'from the phone');
    expect(await bob.veil.decrypt(page('alice'), from2)).toMatchObject({
      status: 'verified',
      sender: 'alice',
      plaintext: 'from the phone',
    });
    expect(await alice1.veil.decrypt(page('bob'), from2)).toMatchObject({
      plaintext: 'from the phone',
      fromOwnDevice: true,
      moved: false,
    });
    // Our own message names the conversation it was written in (the reader shows it).
    expect(await alice1.veil.decrypt(page('carol'), await send(alice2, 'bob'))).toMatchObject({
      sealed: { origin: { name: CTX } },
    });
    // Answers go on the sessions the first messages set up: no pre-key headers any more.
    const later = await send(bob, 'alice');
    for (const w of parseFanout(dearmor(later)).wraps) expect(w.type).toBe(2);
  });

  it('a 200-byte message: ≤ 420 characters to one device, ≤ 130 more per further device', async () => {
    const { alice1, alice2, bob } = await linkedWorld();
    // Settle every session (answers on both sides), then measure.
    for (let i = 0; i < 2; i++) {
      const b = await send(bob, 'alice');
      await alice1.veil.decrypt(page('bob'), b);
      await alice2.veil.decrypt(page('bob'), b);
      const a = await send(alice1, 'bob');
      await bob.veil.decrypt(page('alice'), a);
      await alice2.veil.decrypt(page('bob'), a);
      const c = await send(alice2, 'bob');
      await bob.veil.decrypt(page('alice'), c);
      await alice1.veil.decrypt(page('bob'), c);
    }
    const carol = await party('carol');
    await carol.veil.addContact('bob', bob.key);
    await carol.veil.startSession(await bundle(bob));
    await bob.veil.addContact('carol', carol.key);
    await bob.veil.decrypt(page('carol'), await send(carol, 'bob'));
    await carol.veil.decrypt(page('bob'), await send(bob, 'carol'));
    const oneDevice = (await send(carol, 'bob')).length;
    const twoDevices = (await send(bob, 'alice')).length;
    expect(oneDevice).toBeLessThanOrEqual(420);
    expect(twoDevices - oneDevice).toBeLessThanOrEqual(130);
    expect(twoDevices).toBeLessThanOrEqual(420 + 130);
  });

  it('a removed device reads nothing sent afterwards, from the contact or from us', async () => {
    const { alice1, alice2, bob } = await linkedWorld();
    expect(await alice2.veil.decrypt(page('bob'), await send(bob, 'alice'))).toMatchObject({
      status: 'unverified',
    });
    now += 1000;
    const without = await alice1.veil.removeDevice(2);
    expect(without.devices.map((d) => d.id)).toEqual([1]);
    expect(await alice2.veil.setOwnDevices(without)).toBe('removed');
    // The first list Bob saw made no note; a device going away makes a quiet one.
    expect((await bob.veil.getContact('alice'))!.devicesChangedAt).toBeUndefined();
    await bob.veil.setContactDevices('alice', without);
    expect((await bob.veil.getContact('alice'))!.devicesChangedAt).toBe(now);
    const after = await send(bob, 'alice', 'after removal');
    expect(await alice1.veil.decrypt(page('bob'), after)).toMatchObject({
      plaintext: 'after removal',
    });
    // Bob's pre-key message names Alice's first browser: the removed one is not addressed.
    expect(await alice2.veil.decrypt(page('bob'), after)).toMatchObject({
      status: 'failed',
      error: 'not-for-us',
    });
    const ours = await send(alice1, 'bob', 'mine after removal');
    expect(decodeEnvelope(dearmor(ours)).type).toBe(2);
    expect((await alice2.veil.decrypt(page('bob'), ours)).plaintext).toBeUndefined();
    // Her removed browser's messages no longer speak for her.
    const stale = await send(alice2, 'bob', 'still me?');
    expect(await bob.veil.decrypt(page('alice'), stale)).toMatchObject({
      status: 'unknown-sender',
    });
  });

  it('refuses a device the account list does not name, and lists not signed by the pinned key or older', async () => {
    const { alice1, bob, list } = await linkedWorld();
    const mallory = await party('alice');
    // The directory serves a "device 3" bundle of its own: not in Alice's list.
    await expect(
      bob.veil.startSession(await bundle(mallory), { deviceId: 3 }),
    ).rejects.toMatchObject({
      code: 'untrusted-identity',
    });
    // Nor as device 2 with another key.
    await expect(
      bob.veil.startSession(await bundle(mallory), { deviceId: 2 }),
    ).rejects.toMatchObject({
      code: 'untrusted-identity',
    });
    // A list naming Mallory's key, signed by Mallory.
    const forged = await signDeviceList(
      nobleProvider,
      (await mallory.store.get<{ privateKey: Uint8Array }>('identity', 'self'))!.privateKey,
      {
        handle: 'alice',
        version: list.version + 5,
        devices: [...list.devices, { id: 3, key: mallory.key, addedAt: 1 }],
      },
    );
    await expect(bob.veil.setContactDevices('alice', forged)).rejects.toMatchObject({
      code: 'bad-signature',
    });
    // An older list of Alice's after a newer one (a directory rolling back a removal).
    now += 1000;
    const newer = await alice1.veil.removeDevice(2);
    await bob.veil.setContactDevices('alice', newer);
    await expect(bob.veil.setContactDevices('alice', list)).rejects.toMatchObject({
      code: 'bad-proof',
    });
    expect((await bob.veil.getContact('alice'))!.devices!.map((d) => d.id)).toEqual([1]);
    // A browser can join only with a list that names it, signed by the key it was shown.
    const stranger = await party('alice');
    await expect(stranger.veil.joinAccount(list, alice1.key)).rejects.toMatchObject({
      code: 'not-for-us',
    });
    await expect(stranger.veil.joinAccount(list, mallory.key)).rejects.toMatchObject({
      code: 'bad-signature',
    });
    // Only the account key's holder signs lists.
    const { alice2 } = await linkedWorld();
    await expect(alice2.veil.linkDevice(mallory.key)).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });

  it('a stranger claiming to be a device of the person stays unknown, whatever list it sends', async () => {
    const { bob } = await linkedWorld();
    const mallory = await party('alice');
    await mallory.veil.addContact('bob', bob.key);
    await mallory.veil.startSession(await bundle(bob));
    // Its first message names "alice" and carries a list it signed itself.
    const forged = await send(mallory, 'bob', 'it is me, new phone');
    expect(await bob.veil.decrypt(page('alice'), forged)).toMatchObject({
      status: 'unknown-sender',
    });
    expect((await bob.veil.getContact('alice'))!.devices).toHaveLength(2);
  });

  it("a co-reader cannot give the other readers a text of its own under the sender's wraps", async () => {
    const { alice1, alice2, bob } = await linkedWorld();
    const real = parseFanout(dearmor(await send(bob, 'alice', 'the real text')));
    const other = parseFanout(dearmor(await send(bob, 'alice', 'a text of mallory')));
    // Content of another message (sealed under a key the co-reader knows) under these wraps.
    const swapped = encodeFanout(
      real.wraps.map((w) => w.bytes),
      other.content,
    );
    for (const a of [alice1, alice2])
      expect(await a.veil.decrypt(page('bob'), armor(swapped, ARMOR)[0]!)).toMatchObject({
        status: 'failed',
        error: 'bad-mac',
      });
    // A flipped bit in the content or in a wrapped key: refused, nothing stored, the real one reads.
    const flipped = real.bytes.slice();
    flipped[flipped.length - 1]! ^= 1;
    expect(await alice1.veil.decrypt(page('bob'), armor(flipped, ARMOR)[0]!)).toMatchObject({
      error: 'bad-mac',
    });
    const realArmor = armor(real.bytes, ARMOR)[0]!;
    expect(await alice1.veil.decrypt(page('bob'), realArmor)).toMatchObject({
      plaintext: 'the real text',
    });
  });

  it('refuses two wraps for one reader, and a key wrap outside a fan-out', async () => {
    const { alice1, bob } = await linkedWorld();
    const f = parseFanout(dearmor(await send(bob, 'alice')));
    const doubled = encodeFanout([f.wraps[0]!.bytes, f.wraps[0]!.bytes], f.content);
    expect(await alice1.veil.decrypt(page('bob'), armor(doubled, ARMOR)[0]!)).toMatchObject({
      error: 'malformed',
    });
    const bare = f.wraps.find((w) => w.type === 2) ?? f.wraps[0]!;
    const inner = bare.type === 1 ? bare.message.bytes : bare.bytes;
    expect(await alice1.veil.decrypt(page('bob'), armor(inner, ARMOR)[0]!)).toMatchObject({
      status: 'failed',
    });
    // No wrap for this device at all.
    const carol = await party('carol');
    expect(await carol.veil.decrypt(page('bob'), armor(f.bytes, ARMOR)[0]!)).toMatchObject({
      error: 'not-for-us',
    });
    expect(concatBytes).toBeTypeOf('function');
  });

  it("a linked device counts as the person's only once the contact checked their list", async () => {
    const alice1 = await party('alice');
    const alice2 = await party('alice');
    const bob = await party('bob');
    const list: SignedDeviceList = await alice1.veil.linkDevice(
      (await alice2.veil.getIdentity())!.deviceKey!,
    );
    await alice2.veil.joinAccount(list, alice1.key);
    await bob.veil.addContact('alice', alice1.key);
    await alice2.veil.addContact('bob', bob.key);
    await alice2.veil.startSession(await bundle(bob));
    // Nothing the message carries vouches for the device: the logged list does (the background
    // fetches it, sender-trust.ts), so until then it is an unknown sender.
    expect(await bob.veil.decrypt(page('alice'), await send(alice2, 'bob'))).toMatchObject({
      status: 'unknown-sender',
    });
    await bob.veil.setContactDevices('alice', list);
    expect(await bob.veil.decrypt(page('alice'), await send(alice2, 'bob', 'later'))).toMatchObject(
      {
        status: 'unverified',
        sender: 'alice',
        plaintext: 'later',
      },
    );
  });

  it("a contact's list naming someone else's key gets that person nothing readable", async () => {
    // Bob (with a hostile directory) names Carol's key as his device 2: Alice's message to Bob
    // is wrapped for Carol too, but bound to Bob's handle, so Carol opens nothing and adopts no
    // session; with Carol's key as Bob's only device it still goes as a fan-out.
    const alice = await party('alice');
    const bob = await party('bob');
    const carol = await party('carol');
    const list = await bob.veil.linkDevice(carol.key);
    await alice.veil.addContact('bob', bob.key);
    await alice.veil.setContactDevices('bob', list);
    await alice.veil.startSession(await bundle(bob));
    await alice.veil.startSession({ ...(await bundle(carol)), handle: 'bob' }, { deviceId: 2 });
    await carol.veil.addContact('alice', alice.key);
    const toBob = await send(alice, 'bob', 'for bob only');
    expect(parseFanout(dearmor(toBob)).wraps).toHaveLength(2);
    expect(await bob.veil.decrypt(page('alice'), toBob)).toMatchObject({
      plaintext: 'for bob only',
    });
    // Its wrap's MAC binds the handle it was for: under Carol's own it does not check.
    expect(await carol.veil.decrypt(page('alice'), toBob)).toMatchObject({
      status: 'failed',
      error: 'bad-mac',
    });
    expect(await carol.veil.hasSession('alice')).toBe(false);
    // With Carol's key as Bob's only device (a list his own client would not sign), the one
    // message still goes as a fan-out bound to Bob's handle.
    const bobPrivate = (await bob.store.get<{ privateKey: Uint8Array }>('identity', 'self'))!;
    const onlyCarol = await signDeviceList(nobleProvider, bobPrivate.privateKey, {
      handle: 'bob',
      version: list.version + 1,
      devices: [{ id: 2, key: carol.key, addedAt: 1 }],
    });
    await alice.veil.setContactDevices('bob', onlyCarol);
    const again = await send(alice, 'bob', 'still for bob only');
    expect(decodeEnvelope(dearmor(again)).type).toBe(6);
    expect(await carol.veil.decrypt(page('alice'), again)).toMatchObject({
      status: 'failed',
      error: 'bad-mac',
    });
  });

  it('a device bundle without a KEM prekey is refused (stripped on the way)', async () => {
    const { alice1, alice2 } = await linkedWorld();
    const b = await bundle(alice2);
    const { kemPrekey: _kem, ...classical } = b;
    await expect(alice1.veil.startSession(classical, { deviceId: 2 })).rejects.toMatchObject({
      code: 'downgrade',
    });
  });

  it("a contact's list naming our own other device does not make us wrap twice for it", async () => {
    const { alice1, alice2, bob } = await linkedWorld();
    const alice2Key = (await alice2.veil.getIdentity())!.deviceKey!;
    const hostile = await bob.veil.linkDevice(alice2Key);
    await alice1.veil.setContactDevices('bob', hostile);
    const msg = await send(alice1, 'bob', 'once each');
    expect(parseFanout(dearmor(msg)).wraps).toHaveLength(2);
    expect(await alice2.veil.decrypt(page('bob'), msg)).toMatchObject({ plaintext: 'once each' });
  });
});
