import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { nobleProvider } from './crypto/noble';
import type { PrekeyBundle } from './identity';
import { MemoryStore } from './store';
import { Veil, type PublishedIdentity } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/#veil';
let now = 1_700_000_000_000;
const clock = () => now;

async function party(handle: string): Promise<{ veil: Veil; store: MemoryStore }> {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  await veil.createIdentity(handle);
  return { veil, store };
}

function bundleOf(p: PublishedIdentity, withOtp = true): PrekeyBundle {
  return {
    handle: p.handle,
    identityKey: p.identityKey,
    signedPrekey: p.signedPrekey,
    ...(withOtp && p.oneTimePrekeys[0] ? { oneTimePrekey: p.oneTimePrekeys[0] } : {}),
  };
}

async function connect(a: Veil, b: Veil, withOtp = true): Promise<void> {
  await a.startSession(bundleOf(await b.publicBundle({ oneTimePrekeys: 2 }), withOtp));
}

const one = (to: string) => ({ context: CTX, recipients: [to] });

describe('Veil 1:1', () => {
  it('delivers text both ways; the first message names its sender; statuses follow trust', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);

    const first = await alice.veil.encrypt(one('bob'), 'hello bob');
    const got = await bob.veil.decrypt(CTX, first.join('\n'));
    expect(got).toMatchObject({
      status: 'unverified',
      sender: 'alice',
      plaintext: 'hello bob',
      kind: 'direct',
    });

    const reply = await bob.veil.encrypt(one('alice'), 'hi alice');
    expect(await alice.veil.decrypt(CTX, reply.join(' '))).toMatchObject({
      sender: 'bob',
      plaintext: 'hi alice',
    });

    // Both sides compute the same safety number; after verifying, status says so.
    expect(await alice.veil.safetyNumber('bob')).toBe(await bob.veil.safetyNumber('alice'));
    expect(await alice.veil.safetyNumber('bob')).toMatch(/^\d{60}$/);
    await bob.veil.markVerified('alice');
    const again = await alice.veil.encrypt(one('bob'), 'now verified');
    expect(await bob.veil.decrypt(CTX, again.join(''))).toMatchObject({
      status: 'verified',
      plaintext: 'now verified',
    });
  });

  it('consumes the one-time prekey and works without one', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil, false);
    const m = await alice.veil.encrypt(one('bob'), 'no otp');
    expect((await bob.veil.decrypt(CTX, m.join(''))).plaintext).toBe('no otp');

    const carol = await party('carol');
    const pub = await bob.veil.publicBundle({ oneTimePrekeys: 1 });
    const otpKeysBefore = await bob.store.keys('oneTimePrekeys');
    await carol.veil.startSession(bundleOf(pub));
    const c = await carol.veil.encrypt(one('bob'), 'with otp');
    expect((await bob.veil.decrypt(CTX, c.join(''))).plaintext).toBe('with otp');
    const otpKeysAfter = await bob.store.keys('oneTimePrekeys');
    expect(otpKeysBefore).toContain(String(pub.oneTimePrekeys[0]!.id));
    expect(otpKeysAfter).not.toContain(String(pub.oneTimePrekeys[0]!.id));
  });

  it('rejects replay, tampering, truncation and the wrong conversation with a failed status', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);
    const m = (await alice.veil.encrypt(one('bob'), 'secret text')).join('');
    expect(await bob.veil.decrypt('thelounge:127.0.0.1:6667/#other', m)).toMatchObject({
      status: 'failed',
      error: 'wrong-context',
    });
    expect((await bob.veil.decrypt(CTX, m)).plaintext).toBe('secret text');
    expect(await bob.veil.decrypt(CTX, m)).toEqual({ status: 'failed', error: 'replay' });

    const m2 = (await alice.veil.encrypt(one('bob'), 'second')).join('');
    const i = m2.length - 10;
    const flipped = m2.slice(0, i) + (m2[i] === 'a' ? 'b' : 'a') + m2.slice(i + 1);
    const bad = await bob.veil.decrypt(CTX, flipped);
    expect(bad.status).toBe('failed');
    expect(bad.plaintext).toBeUndefined();
    expect((await bob.veil.decrypt(CTX, m2.slice(0, 40))).status).toBe('failed');
    expect((await bob.veil.decrypt(CTX, 'VeiLA garbage')).status).toBe('failed');
    // The failures changed nothing: the real message still decrypts.
    expect((await bob.veil.decrypt(CTX, m2)).plaintext).toBe('second');
  });

  it('reports our own messages as own-message instead of failing them as forgeries', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);
    const m = (await alice.veil.encrypt(one('bob'), 'mine')).join('');
    expect(await alice.veil.decrypt(CTX, m)).toEqual({ status: 'failed', error: 'own-message' });
    expect((await bob.veil.decrypt(CTX, m)).plaintext).toBe('mine');
    const r = (await bob.veil.encrypt(one('alice'), 'reply')).join('');
    expect((await alice.veil.decrypt(CTX, r)).plaintext).toBe('reply');
    const m2 = (await alice.veil.encrypt(one('bob'), 'mine again')).join('');
    expect(await alice.veil.decrypt(CTX, m2)).toEqual({ status: 'failed', error: 'own-message' });
  });

  it('chunks to a site limit and reassembles', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);
    const long = 'x'.repeat(3500);
    const chunks = await alice.veil.encrypt(one('bob'), long, { maxChunkLength: 350 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(350);
    expect((await bob.veil.decrypt(CTX, chunks.join('\n'))).plaintext).toBe(long);
  });

  it('makes a key change loud: blocks sending until acknowledged, resets verification', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);
    const m = (await alice.veil.encrypt(one('bob'), 'before')).join('');
    await bob.veil.decrypt(CTX, m);
    await alice.veil.markVerified('bob');

    // Bob reinstalls: a new identity under the same handle.
    const bob2 = await party('bob');
    await expect(connect(alice.veil, bob2.veil)).rejects.toMatchObject({
      code: 'untrusted-identity',
    });
    await expect(alice.veil.encrypt(one('bob'), 'blocked')).rejects.toMatchObject({
      code: 'untrusted-identity',
    });
    expect((await alice.veil.getContact('bob'))?.pendingKey).toBeDefined();

    // A message from the new key shows key-changed, never verified.
    await bob2.veil.startSession(bundleOf(await alice.veil.publicBundle({ oneTimePrekeys: 1 })));
    const fromNew = (await bob2.veil.encrypt(one('alice'), 'new key here')).join('');
    expect(await alice.veil.decrypt(CTX, fromNew)).toMatchObject({
      status: 'key-changed',
      plaintext: 'new key here',
    });

    const ack = await alice.veil.acknowledgeKeyChange('bob');
    expect(ack.verified).toBe(false);
    await connect(alice.veil, bob2.veil);
    const after = (await alice.veil.encrypt(one('bob'), 'after ack')).join('');
    expect((await bob2.veil.decrypt(CTX, after)).plaintext).toBe('after ack');
  });

  it('serialises concurrent operations on one session', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);
    const msgs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => alice.veil.encrypt(one('bob'), `m${i}`)),
    );
    const results = await Promise.all(msgs.map((m) => bob.veil.decrypt(CTX, m.join(''))));
    expect(results.map((r) => r.plaintext).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${i}`).sort(),
    );
    // The same message decrypted twice at once: exactly one succeeds.
    const m = (await alice.veil.encrypt(one('bob'), 'once')).join('');
    const twice = await Promise.all([bob.veil.decrypt(CTX, m), bob.veil.decrypt(CTX, m)]);
    expect(twice.filter((r) => r.plaintext === 'once')).toHaveLength(1);
  });

  it('never lets plaintext or key bytes into failure results', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice.veil, bob.veil);
    const m = (await alice.veil.encrypt(one('bob'), 'topsecretword')).join('');
    await bob.veil.decrypt(CTX, m);
    const replay = await bob.veil.decrypt(CTX, m);
    const text = JSON.stringify(replay);
    expect(text).not.toContain('topsecretword');
    const idKey = (await alice.veil.getIdentity())!.identityKey;
    expect(text).not.toContain(bytesToHex(idKey));
  });
});

describe('Veil groups (sender keys)', () => {
  async function trio() {
    const a = await party('alice');
    const b = await party('bob');
    const c = await party('carol');
    for (const [x, y] of [
      [a, b],
      [a, c],
      [b, c],
    ] as const) {
      await connect(x.veil, y.veil);
      // Complete the handshake so both sides have a session to send on.
      const hi = (await x.veil.encrypt(one(await name(y.veil)), 'hi')).join('');
      await y.veil.decrypt(CTX, hi);
    }
    return { a, b, c };
  }
  const name = async (v: Veil) => (await v.getIdentity())!.handle;
  const group = (...r: string[]) => ({ context: CTX, recipients: r });

  it('three members read each other; one envelope per message', async () => {
    const { a, b, c } = await trio();
    const m1 = (await a.veil.encrypt(group('bob', 'carol'), 'from alice')).join('');
    expect(await b.veil.decrypt(CTX, m1)).toMatchObject({
      sender: 'alice',
      plaintext: 'from alice',
      kind: 'group',
    });
    expect(await c.veil.decrypt(CTX, m1)).toMatchObject({
      sender: 'alice',
      plaintext: 'from alice',
    });
    const m2 = (await b.veil.encrypt(group('alice', 'carol'), 'from bob')).join('');
    expect((await a.veil.decrypt(CTX, m2)).plaintext).toBe('from bob');
    expect((await c.veil.decrypt(CTX, m2)).plaintext).toBe('from bob');
    // Later messages are bare sender-key messages (no pairwise part), smaller than the first.
    const m3 = (await a.veil.encrypt(group('bob', 'carol'), 'from alice')).join('');
    expect(m3.length).toBeLessThan(m1.length);
    expect((await c.veil.decrypt(CTX, m3)).plaintext).toBe('from alice');
    expect(await b.veil.decrypt(CTX, m3)).toMatchObject({ plaintext: 'from alice' });
    expect(await b.veil.decrypt(CTX, m3)).toEqual({ status: 'failed', error: 'replay' });
    expect(await a.veil.decrypt(CTX, m3)).toEqual({ status: 'failed', error: 'own-message' });
  });

  it('a removed member cannot read what follows', async () => {
    const { a, b, c } = await trio();
    const before = (await a.veil.encrypt(group('bob', 'carol'), 'all of us')).join('');
    expect((await c.veil.decrypt(CTX, before)).plaintext).toBe('all of us');
    await b.veil.decrypt(CTX, before);
    const after = (await a.veil.encrypt(group('bob'), 'without carol')).join('');
    expect((await b.veil.decrypt(CTX, after)).plaintext).toBe('without carol');
    const cr = await c.veil.decrypt(CTX, after);
    expect(cr.status).toBe('failed');
    expect(cr.plaintext).toBeUndefined();
    // Bob is alone with alice now: one recipient means the 1:1 session, still fine.
    const two = (await a.veil.encrypt(group('bob', 'dave'), 'x').catch((e) => e)) as {
      code?: string;
    };
    expect(two.code).toBe('no-session');
  });

  it('group messages are bound to their conversation', async () => {
    const { a, b } = await trio();
    const m = (await a.veil.encrypt(group('bob', 'carol'), 'here only')).join('');
    expect(await b.veil.decrypt('thelounge:127.0.0.1:6667/#elsewhere', m)).toMatchObject({
      status: 'failed',
      error: 'wrong-context',
    });
    expect((await b.veil.decrypt(CTX, m)).plaintext).toBe('here only');
  });
});

describe('Veil bad input', () => {
  it('refuses bad handles, no identity, no recipients, unknown sessions', async () => {
    const store = new MemoryStore();
    const v = await Veil.create({ store, crypto: nobleProvider, clock });
    await expect(v.encrypt(one('bob'), 'x')).rejects.toMatchObject({ code: 'no-identity' });
    await expect(v.createIdentity('../etc')).rejects.toMatchObject({ code: 'invalid-argument' });
    await v.createIdentity('alice');
    await expect(v.createIdentity('alice')).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(v.encrypt({ context: CTX, recipients: [] }, 'x')).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(v.encrypt(one('bob'), 'x')).rejects.toMatchObject({ code: 'no-session' });
    now += 1;
  });

  it('rotates the signed prekey after a week and still accepts messages to the old one', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    const oldPub = await bob.veil.publicBundle({ oneTimePrekeys: 0 });
    now += 8 * 24 * 3600 * 1000;
    const newPub = await bob.veil.publicBundle({ oneTimePrekeys: 0 });
    expect(newPub.signedPrekey.id).toBe(oldPub.signedPrekey.id + 1);
    await alice.veil.startSession(bundleOf(oldPub, false));
    const m = (await alice.veil.encrypt(one('bob'), 'to old spk')).join('');
    expect((await bob.veil.decrypt(CTX, m)).plaintext).toBe('to old spk');
  });
});
