// Post-quantum session setup through the Veil API: a session from a bundle with an ML-KEM-768
// prekey reads both ways; the first message of a 200-byte text stays within 2,000 armored
// characters and later ones keep their size; a one-time KEM prekey opens one session and is
// gone, the last-resort one opens any number and stays; a KEM ciphertext changed in transit
// fails and stores nothing; and a contact known to set sessions up post-quantum is never sent a
// classical setup again (the downgrade a directory or network could try).
import { describe, expect, it } from 'vitest';
import { armor, dearmor } from './armor';
import { nobleProvider } from './crypto/noble';
import { encodePrekeyHeader, parsePrekeyMessage } from './envelope';
import type { PrekeyBundle } from './identity';
import type { KemPrekeyPublic } from './kem-prekey';
import { MemoryStore } from './store';
import { Veil, type Conversation, type PublishedIdentity } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/#veil';
const clock = () => 1_700_000_000_000;
const TEXT_200 = 'x'.repeat(200);

async function party(handle: string) {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  const { identityKey } = await veil.createIdentity(handle);
  return { veil, store, handle, key: identityKey };
}

function bundleOf(
  p: PublishedIdentity,
  kem: KemPrekeyPublic | undefined,
  otp = true,
): PrekeyBundle {
  return {
    handle: p.handle,
    identityKey: p.identityKey,
    signedPrekey: p.signedPrekey,
    ...(otp && p.oneTimePrekeys[0] ? { oneTimePrekey: p.oneTimePrekeys[0] } : {}),
    ...(kem ? { kemPrekey: kem } : {}),
  };
}

const one = (to: string): Conversation => ({ context: CTX, recipients: [to] });
const text = (chunks: string[]) => chunks.join('\n');

describe('post-quantum sessions (Veil)', () => {
  it("reads both ways; first message of 200 bytes within libsignal's size, later ones unchanged", async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    const pub = await bob.veil.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 1 });
    expect(pub.kemPrekeys.oneTime).toHaveLength(1);
    expect(pub.kemPrekeys.lastResort.lastResort).toBe(true);
    await alice.veil.startSession(bundleOf(pub, pub.kemPrekeys.oneTime[0]));
    const first = text(await alice.veil.encrypt(one('bob'), TEXT_200));
    const envelope = parsePrekeyMessage(dearmor(first));
    expect(envelope.kem?.id).toBe(pub.kemPrekeys.oneTime[0]!.id);
    // Within libsignal's PQXDH first message (1,952 B = 2,604 base64 characters); the bench
    // reports the figure against the 2,000-character target.
    expect(first.length).toBeLessThanOrEqual(2604);
    await bob.veil.addContact('alice', alice.key);
    expect(await bob.veil.decrypt(CTX, first)).toMatchObject({
      plaintext: TEXT_200,
      sender: 'alice',
    });
    // The one-time KEM prekey is gone; the last-resort one stays.
    expect(await bob.store.get('kemPrekeys', String(pub.kemPrekeys.oneTime[0]!.id))).toBe(
      undefined,
    );
    expect(await bob.store.get('kemPrekeys', String(pub.kemPrekeys.lastResort.id))).toBeDefined();
    const reply = text(await bob.veil.encrypt(one('alice'), TEXT_200));
    expect(await alice.veil.decrypt(CTX, reply)).toMatchObject({ plaintext: TEXT_200 });
    const later = text(await alice.veil.encrypt(one('bob'), TEXT_200));
    expect(later.length).toBeLessThanOrEqual(420);
    expect(await bob.veil.decrypt(CTX, later)).toMatchObject({ plaintext: TEXT_200 });
  });

  it('the last-resort KEM prekey opens several sessions and is kept', async () => {
    const bob = await party('bob');
    const pub = await bob.veil.publicBundle({ oneTimePrekeys: 0, kemPrekeys: 0 });
    for (const name of ['carol', 'dave']) {
      const p = await party(name);
      await p.veil.startSession(bundleOf(pub, pub.kemPrekeys.lastResort, false));
      const m = text(await p.veil.encrypt(one('bob'), `from ${name}`));
      await bob.veil.addContact(name, p.key);
      expect(await bob.veil.decrypt(CTX, m)).toMatchObject({ plaintext: `from ${name}` });
    }
    expect(await bob.store.get('kemPrekeys', String(pub.kemPrekeys.lastResort.id))).toBeDefined();
  });

  it('a KEM ciphertext changed in transit fails, and Bob keeps no session or prekey loss', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    const pub = await bob.veil.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 1 });
    await alice.veil.startSession(bundleOf(pub, pub.kemPrekeys.oneTime[0]));
    const bytes = dearmor(text(await alice.veil.encrypt(one('bob'), 'hello')));
    const m = parsePrekeyMessage(bytes);
    const flipped = m.kem!.cipherText.slice();
    flipped[10]! ^= 1;
    const header = encodePrekeyHeader({ ...m, kem: { id: m.kem!.id, cipherText: flipped } });
    const forged = new Uint8Array([...header, ...m.message.bytes]);
    const armored = text(armor(forged, { randomBytes: nobleProvider.randomBytes }));
    await bob.veil.addContact('alice', alice.key);
    expect(await bob.veil.decrypt(CTX, armored)).toMatchObject({
      status: 'failed',
      error: 'bad-mac',
    });
    expect(await bob.store.keys('sessions')).toEqual([]);
    expect(await bob.store.get('kemPrekeys', String(m.kem!.id))).toBeDefined();
  });

  it('refuses a classical setup with a contact known to use post-quantum setup (downgrade)', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    const pub = await bob.veil.publicBundle({ oneTimePrekeys: 2, kemPrekeys: 1 });
    await alice.veil.startSession(bundleOf(pub, pub.kemPrekeys.oneTime[0]));
    expect((await alice.veil.getContact('bob'))?.postQuantum).toBe(true);
    // A later bundle with the KEM prekey stripped (a hostile directory or network).
    await expect(alice.veil.startSession(bundleOf(pub, undefined))).rejects.toMatchObject({
      code: 'downgrade',
    });
    // Bob learns it from Alice's first message: he will not set up classically with her either.
    await bob.veil.addContact('alice', alice.key);
    await bob.veil.decrypt(CTX, text(await alice.veil.encrypt(one('bob'), 'hi')));
    expect((await bob.veil.getContact('alice'))?.postQuantum).toBe(true);
    const alicePub = await alice.veil.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 0 });
    await expect(bob.veil.startSession(bundleOf(alicePub, undefined))).rejects.toMatchObject({
      code: 'downgrade',
    });
    // A contact never seen post-quantum (an older client) still gets a classical session.
    const carol = await party('carol');
    const carolPub = await carol.veil.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 0 });
    await alice.veil.startSession(bundleOf(carolPub, undefined));
    expect((await alice.veil.getContact('carol'))?.postQuantum).toBe(undefined);
  });
});

describe('replaced prekeys (signed and last-resort KEM)', () => {
  it('still open a first message within 30 days of the weekly replacement, not after', async () => {
    let now = 1_700_000_000_000;
    const day = 24 * 3600 * 1000;
    const at = async (handle: string) => {
      const store = new MemoryStore();
      const veil = await Veil.create({ store, crypto: nobleProvider, clock: () => now });
      const { identityKey } = await veil.createIdentity(handle);
      return { veil, store, key: identityKey };
    };
    const bob = await at('bob');
    const old = await bob.veil.publicBundle({ oneTimePrekeys: 0, kemPrekeys: 0 });
    // A week on, the next publish replaces both; a sender still holding the old bundle:
    now += 8 * day;
    const fresh = await bob.veil.publicBundle({ oneTimePrekeys: 0, kemPrekeys: 0 });
    expect(fresh.signedPrekey.id).toBe(old.signedPrekey.id + 1);
    expect(fresh.kemPrekeys.lastResort.id).not.toBe(old.kemPrekeys.lastResort.id);
    const carol = await at('carol');
    await carol.veil.startSession(bundleOf(old, old.kemPrekeys.lastResort, false));
    await bob.veil.addContact('carol', carol.key);
    const late = text(await carol.veil.encrypt(one('bob'), 'sent from an old bundle'));
    expect(await bob.veil.decrypt(CTX, late)).toMatchObject({
      plaintext: 'sent from an old bundle',
    });
    // 31 days after that replacement, the next one retires the old keys for good.
    now += 31 * day;
    await bob.veil.publicBundle({ oneTimePrekeys: 0, kemPrekeys: 0 });
    expect(await bob.store.get('signedPrekeys', String(old.signedPrekey.id))).toBe(undefined);
    expect(await bob.store.get('kemPrekeys', String(old.kemPrekeys.lastResort.id))).toBe(undefined);
    const dave = await at('dave');
    await dave.veil.startSession(bundleOf(old, old.kemPrekeys.lastResort, false));
    await bob.veil.addContact('dave', dave.key);
    const tooLate = text(await dave.veil.encrypt(one('bob'), 'too late'));
    expect(await bob.veil.decrypt(CTX, tooLate)).toMatchObject({
      status: 'failed',
      error: 'no-session',
    });
  });
});
