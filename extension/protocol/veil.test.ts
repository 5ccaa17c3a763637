import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { nobleProvider } from './crypto/noble';
import { contextHash } from './envelope';
import { ROTATE_AFTER_MESSAGES, ROTATE_AFTER_MS } from './groups';
import type { PrekeyBundle } from './identity';
import { RATCHET_MAX_FIRST_JUMP } from './ratchet';
import { MemoryStore } from './store';
import { MAX_STRANGER_SESSIONS, Veil, type Conversation, type PublishedIdentity } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/#veil';
let now = 1_700_000_000_000;
const clock = () => now;

interface Party {
  veil: Veil;
  store: MemoryStore;
  handle: string;
  key: Uint8Array;
}

async function party(handle: string): Promise<Party> {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  const { identityKey } = await veil.createIdentity(handle);
  return { veil, store, handle, key: identityKey };
}

function bundleOf(p: PublishedIdentity, withOtp = true): PrekeyBundle {
  return {
    handle: p.handle,
    identityKey: p.identityKey,
    signedPrekey: p.signedPrekey,
    ...(withOtp && p.oneTimePrekeys[0] ? { oneTimePrekey: p.oneTimePrekeys[0] } : {}),
  };
}

/** `a` starts a session with `b` from b's (directory) bundle; a pins b on the way. */
async function connect(a: Party, b: Party, withOtp = true): Promise<void> {
  await a.veil.startSession(bundleOf(await b.veil.publicBundle({ oneTimePrekeys: 2 }), withOtp));
}

/** What the user does after the directory confirmed `b`'s key: pin it. */
async function pin(a: Party, b: Party): Promise<void> {
  await a.veil.addContact(b.handle, b.key);
}

const one = (to: string, context = CTX): Conversation => ({ context, recipients: [to] });
const text = (chunks: string[]) => chunks.join('\n');

describe('Veil 1:1', () => {
  it('delivers text both ways; a sender is unknown until the user pins them', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);

    const first = await alice.veil.encrypt(one('bob'), 'hello bob');
    const got = await bob.veil.decrypt(CTX, text(first));
    expect(got).toMatchObject({
      status: 'unknown-sender',
      trust: 'unknown-sender',
      sender: 'alice',
      plaintext: 'hello bob',
      kind: 'direct',
    });
    expect(await bob.veil.getContact('alice')).toBeUndefined();

    await pin(bob, alice);
    const second = await alice.veil.encrypt(one('bob'), 'again');
    expect(await bob.veil.decrypt(CTX, text(second))).toMatchObject({
      status: 'unverified',
      sender: 'alice',
    });
    const reply = await bob.veil.encrypt(one('alice'), 'hi alice');
    expect(await alice.veil.decrypt(CTX, reply.join(' '))).toMatchObject({
      status: 'unverified',
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
    await connect(alice, bob, false);
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

  it('rejects replay, tampering and truncation with a failed status', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    const m = (await alice.veil.encrypt(one('bob'), 'secret text')).join('');
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
    await connect(alice, bob);
    const m = (await alice.veil.encrypt(one('bob'), 'mine')).join('');
    expect(await alice.veil.decrypt(CTX, m)).toEqual({ status: 'failed', error: 'own-message' });
    expect((await bob.veil.decrypt(CTX, m)).plaintext).toBe('mine');
    await pin(bob, alice);
    const r = (await bob.veil.encrypt(one('alice'), 'reply')).join('');
    expect((await alice.veil.decrypt(CTX, r)).plaintext).toBe('reply');
    const m2 = (await alice.veil.encrypt(one('bob'), 'mine again')).join('');
    expect(await alice.veil.decrypt(CTX, m2)).toEqual({ status: 'failed', error: 'own-message' });
  });

  it('chunks to a site limit and reassembles', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    const long = 'x'.repeat(3500);
    const chunks = await alice.veil.encrypt(one('bob'), long, { maxChunkLength: 350 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(350);
    expect((await bob.veil.decrypt(CTX, chunks.join('\n'))).plaintext).toBe(long);
  });

  it('makes a key change loud: blocks sending until acknowledged, resets verification', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    const m = (await alice.veil.encrypt(one('bob'), 'before')).join('');
    await bob.veil.decrypt(CTX, m);
    await alice.veil.markVerified('bob');

    // Bob reinstalls: a new identity under the same handle, which the directory now serves.
    const bob2 = await party('bob');
    await expect(connect(alice, bob2)).rejects.toMatchObject({
      code: 'untrusted-identity',
    });
    await expect(alice.veil.encrypt(one('bob'), 'blocked')).rejects.toMatchObject({
      code: 'untrusted-identity',
    });
    expect((await alice.veil.getContact('bob'))?.pendingKey).toEqual(bob2.key);

    // A message from the new key shows key-changed, never verified.
    await bob2.veil.startSession(bundleOf(await alice.veil.publicBundle({ oneTimePrekeys: 1 })));
    const fromNew = (await bob2.veil.encrypt(one('alice'), 'new key here')).join('');
    expect(await alice.veil.decrypt(CTX, fromNew)).toMatchObject({
      status: 'key-changed',
      plaintext: 'new key here',
    });

    const ack = await alice.veil.acknowledgeKeyChange('bob');
    expect(ack.verified).toBe(false);
    await connect(alice, bob2);
    const after = (await alice.veil.encrypt(one('bob'), 'after ack')).join('');
    expect((await bob2.veil.decrypt(CTX, after)).plaintext).toBe('after ack');
  });

  it('serialises concurrent operations on one session', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
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
    await connect(alice, bob);
    const m = (await alice.veil.encrypt(one('bob'), 'topsecretword')).join('');
    await bob.veil.decrypt(CTX, m);
    const replay = await bob.veil.decrypt(CTX, m);
    const json = JSON.stringify(replay);
    expect(json).not.toContain('topsecretword');
    expect(json).not.toContain(bytesToHex(alice.key));
  });
});

describe('a sender is who the user pinned, never who a message says (issue 11.1)', () => {
  it("an impostor's first message is unknown-sender and creates nothing", async () => {
    const bob = await party('bob');
    // Mallory makes a local identity called alice (never published) and writes to Bob.
    const mallory = await party('alice');
    await connect(mallory, bob);
    const forged = text(await mallory.veil.encrypt(one('bob'), 'it is me, alice'));
    const got = await bob.veil.decrypt(CTX, forged);
    expect(got).toMatchObject({ status: 'unknown-sender', sender: 'alice' });
    expect(got.senderIdentityKey).toEqual(mallory.key);
    expect(await bob.veil.getContact('alice')).toBeUndefined();
    expect(await bob.veil.listContacts()).toEqual([]);
    // No session is adopted for replies to "alice".
    expect(await bob.veil.hasSession('alice')).toBe(false);
    await expect(bob.veil.encrypt(one('alice'), 'reply')).rejects.toMatchObject({
      code: 'no-session',
    });
  });

  it('an existing contact stays as it was: verified, its key, its session', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(bob, alice);
    await pin(alice, bob);
    await bob.veil.markVerified('alice');
    const before = await bob.veil.getContact('alice');

    const mallory = await party('alice');
    await connect(mallory, bob);
    const forged = text(await mallory.veil.encrypt(one('bob'), 'new phone, same alice'));
    expect(await bob.veil.decrypt(CTX, forged)).toMatchObject({
      status: 'unknown-sender',
      sender: 'alice',
    });
    expect(await bob.veil.getContact('alice')).toEqual(before);
    // Sending to alice keeps working and reaches the real alice, not Mallory.
    const reply = text(await bob.veil.encrypt(one('alice'), 'for alice only'));
    expect(await alice.veil.decrypt(CTX, reply)).toMatchObject({
      plaintext: 'for alice only',
      status: 'unverified',
    });
    expect((await mallory.veil.decrypt(CTX, reply)).status).toBe('failed');
  });

  it("a pinned contact's new session is the one answered on (a session reset)", async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await pin(bob, alice);
    await connect(alice, bob);
    const hello = text(await alice.veil.encrypt(one('bob'), 'hello'));
    expect((await bob.veil.decrypt(CTX, hello)).status).toBe('unverified');
    expect(await bob.veil.hasSession('alice')).toBe(true);
    const reply = text(await bob.veil.encrypt(one('alice'), 'hi'));
    expect((await alice.veil.decrypt(CTX, reply)).plaintext).toBe('hi');
  });

  it('a session the user pins later is adopted only for the pinned key', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    await bob.veil.decrypt(CTX, text(await alice.veil.encrypt(one('bob'), 'first')));
    expect(await bob.veil.hasSession('alice')).toBe(false);
    await pin(bob, alice); // after the directory confirmed alice's key
    expect(await bob.veil.hasSession('alice')).toBe(true);
    const reply = text(await bob.veil.encrypt(one('alice'), 'adopted'));
    expect((await alice.veil.decrypt(CTX, reply)).plaintext).toBe('adopted');
  });

  it('keeps at most MAX_STRANGER_SESSIONS sessions of unvouched senders, dropping the oldest', async () => {
    const bob = await party('bob');
    const pub = await bob.veil.publicBundle({ oneTimePrekeys: 0 });
    const first = await party('stranger0');
    await first.veil.startSession(bundleOf(pub, false));
    const firstText = text(await first.veil.encrypt(one('bob'), 'hi 0'));
    await bob.veil.decrypt(CTX, firstText);
    for (let i = 1; i <= MAX_STRANGER_SESSIONS; i++) {
      const s = await party(`stranger${i}`);
      await s.veil.startSession(bundleOf(pub, false));
      await bob.veil.decrypt(CTX, text(await s.veil.encrypt(one('bob'), `hi ${i}`)));
    }
    expect((await bob.store.keys('sessions')).length).toBe(MAX_STRANGER_SESSIONS);
    // The first stranger's session is gone: its next message has nothing to open it with.
    const later = text(await first.veil.encrypt(one('bob'), 'again'));
    expect((await bob.veil.decrypt(CTX, later)).plaintext).toBe('again'); // a pre-key message: a new session
    expect((await bob.store.keys('sessions')).length).toBe(MAX_STRANGER_SESSIONS);
  });

  it('a message never pins, changes or flags a key by itself', async () => {
    const bob = await party('bob');
    const alice = await party('alice');
    await pin(bob, alice);
    const mallory = await party('alice');
    await connect(mallory, bob);
    for (let i = 0; i < 3; i++)
      await bob.veil.decrypt(CTX, text(await mallory.veil.encrypt(one('bob'), `try ${i}`)));
    const c = await bob.veil.getContact('alice');
    expect(c?.identityKey).toEqual(alice.key);
    expect(c?.pendingKey).toBeUndefined();
  });
});

describe('sealed conversation, time and order (issue 11.2)', () => {
  const lounge = { site: 'The Lounge · 127.0.0.1:9000', name: '#veil' };

  it('seals the origin, send time and a per-conversation sequence', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    await pin(bob, alice);
    now = 1_700_000_123_456;
    const conv: Conversation = { context: CTX, recipients: ['bob'], origin: lounge };
    const r1 = await bob.veil.decrypt(CTX, text(await alice.veil.encrypt(conv, 'one')));
    now += 5_000;
    const r2 = await bob.veil.decrypt(CTX, text(await alice.veil.encrypt(conv, 'two')));
    expect(r1.sealed).toMatchObject({ kind: 'direct', seq: 1, origin: lounge });
    expect(r1.sealed?.sentAt).toBe(1_700_000_123_000);
    expect(r2.sealed).toMatchObject({ seq: 2, origin: lounge, sentAt: 1_700_000_128_000 });
    expect(r2.sealed?.stream).toBe(r1.sealed?.stream);
    // A new origin is sealed when it changes; later messages name it by id.
    const dm = { site: lounge.site, name: 'bob' };
    const r3 = await bob.veil.decrypt(
      'x',
      text(await alice.veil.encrypt({ ...conv, context: 'elsewhere', origin: dm }, 'three')),
    );
    expect(r3.sealed).toMatchObject({ seq: 3, origin: dm });
  });

  it('a later 200-byte message stays within 420 characters; the first within 700', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    const conv: Conversation = { context: CTX, recipients: ['bob'], origin: lounge };
    const body = 'y'.repeat(200);
    const first = text(await alice.veil.encrypt(conv, body));
    await bob.veil.decrypt(CTX, first);
    await pin(bob, alice);
    await alice.veil.decrypt(CTX, text(await bob.veil.encrypt(one('alice'), 'ok')));
    const later = text(await alice.veil.encrypt(conv, body));
    expect(first.length).toBeLessThanOrEqual(700);
    expect(later.length).toBeLessThanOrEqual(420);
  });

  it('binds 1:1 to the two identities: both pages may name the conversation differently', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    await pin(bob, alice);
    // Each side's URL names the other person.
    const m = text(await alice.veil.encrypt(one('bob', 'app:/chat/bob'), 'hi'));
    expect(
      await bob.veil.decrypt({ context: 'app:/chat/alice', kind: 'direct', peers: ['alice'] }, m),
    ).toMatchObject({ status: 'unverified', moved: false, plaintext: 'hi' });
  });

  it('says moved when the page shows a 1:1 message in a group or in a chat with someone else', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    await pin(bob, alice);
    const m1 = text(await alice.veil.encrypt(one('bob'), 'to bob'));
    expect(await bob.veil.decrypt({ context: '#public', kind: 'group' }, m1)).toMatchObject({
      status: 'moved',
      trust: 'unverified',
      plaintext: 'to bob',
    });
    const m2 = text(await alice.veil.encrypt(one('bob'), 'to bob again'));
    expect(
      await bob.veil.decrypt({ context: 'dm:carol', kind: 'direct', peers: ['carol'] }, m2),
    ).toMatchObject({ status: 'moved' });
  });
});

describe('Veil groups (sender keys)', () => {
  /** Everyone has a session with and a pin of everyone. */
  async function members<const H extends readonly string[]>(
    ...handles: H
  ): Promise<{ [K in keyof H]: Party }> {
    const ps = await Promise.all(handles.map((h) => party(h)));
    for (const x of ps)
      for (const y of ps) {
        if (x === y) continue;
        await pin(x, y);
        if (x.handle < y.handle) {
          await connect(x, y);
          const hi = text(await x.veil.encrypt(one(y.handle), 'hi'));
          await y.veil.decrypt(CTX, hi);
        }
      }
    return ps as { [K in keyof H]: Party };
  }
  const group = (...r: string[]): Conversation => ({ context: CTX, recipients: r, kind: 'group' });
  const send = async (from: Party, to: string[], body: string) =>
    text(await from.veil.encrypt(group(...to), body));
  const read = (p: Party, m: string, ctx: string = CTX) => p.veil.decrypt(ctx, m);

  it('three members read each other; one envelope per message', async () => {
    const [a, b, c] = await members('alice', 'bob', 'carol');
    const m1 = await send(a, ['bob', 'carol'], 'from alice');
    expect(await read(b, m1)).toMatchObject({
      status: 'unverified',
      sender: 'alice',
      plaintext: 'from alice',
      kind: 'group',
    });
    expect(await read(c, m1)).toMatchObject({ sender: 'alice', plaintext: 'from alice' });
    const m2 = await send(b, ['alice', 'carol'], 'from bob');
    expect((await read(a, m2)).plaintext).toBe('from bob');
    expect((await read(c, m2)).plaintext).toBe('from bob');
    // Later messages are bare sender-key messages (no pairwise part), smaller than the first.
    const m3 = await send(a, ['bob', 'carol'], 'from alice');
    expect(m3.length).toBeLessThan(m1.length);
    expect((await read(c, m3)).plaintext).toBe('from alice');
    expect(await read(b, m3)).toMatchObject({ plaintext: 'from alice' });
    expect(await read(b, m3)).toEqual({ status: 'failed', error: 'replay' });
    expect(await read(a, m3)).toEqual({ status: 'failed', error: 'own-message' });
  });

  it('after alice removes dave, dave reads nothing any member sends', async () => {
    const [alice, bob, carol, dave] = await members('alice', 'bob', 'carol', 'dave');
    const all = ['alice', 'bob', 'carol', 'dave'];
    const others = (p: Party) => all.filter((h) => h !== p.handle);
    for (const p of [alice, bob, carol]) {
      const m = await send(p, others(p), `hello from ${p.handle}`);
      for (const q of [alice, bob, carol, dave])
        if (q !== p) expect((await read(q, m)).plaintext).toBe(`hello from ${p.handle}`);
    }
    // Alice removes dave: her next message carries the change to bob and carol.
    const removal = await send(alice, ['bob', 'carol'], 'dave is out');
    expect((await read(bob, removal)).plaintext).toBe('dave is out');
    expect((await read(carol, removal)).plaintext).toBe('dave is out');
    expect((await read(dave, removal)).status).toBe('failed');
    expect((await bob.veil.groupMembers(CTX))?.members.map((m) => m.handle)).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
    // Bob and carol rotated: what they send now, dave cannot read, whoever they address.
    for (const p of [bob, carol]) {
      const m = await send(
        p,
        others(p).filter((h) => h !== 'dave'),
        `after from ${p.handle}`,
      );
      expect((await read(dave, m)).status).toBe('failed');
      expect((await read(alice, m)).plaintext).toBe(`after from ${p.handle}`);
    }
    // Bob deleted the sender key he held from dave for this group.
    const held = (await bob.store.keys('senderKeys')).filter((k) => k.startsWith('in:'));
    for (const k of held) {
      const list = (await bob.store.get<{ sender: string }[]>('senderKeys', k)) ?? [];
      expect(list.map((g) => g.sender)).not.toContain('dave');
    }
  });

  it("a member's identity change rotates the key the old device held", async () => {
    const [alice, bob, carol] = await members('alice', 'bob', 'carol');
    const first = await send(alice, ['bob', 'carol'], 'before');
    expect((await read(carol, first)).plaintext).toBe('before');
    // Carol's new device: the directory shows a new key, alice accepts it.
    const carol2 = await party('carol');
    await alice.veil.addContact('carol', carol2.key);
    await alice.veil.acknowledgeKeyChange('carol');
    await pin(carol2, alice);
    await connect(alice, carol2);
    const after = await send(alice, ['bob', 'carol'], 'after carol moved');
    expect((await read(carol, after)).status).toBe('failed'); // the old device
    expect((await read(carol2, after)).plaintext).toBe('after carol moved');
    expect((await read(bob, after)).plaintext).toBe('after carol moved');
  });

  it('rotates its sender key every ROTATE_AFTER_MESSAGES messages and after ROTATE_AFTER_MS', async () => {
    const [alice, bob] = await members('alice', 'bob');
    const keyId = async () =>
      bytesToHex(
        (await alice.store.get<{ key: { senderKeyId: Uint8Array } }>(
          'senderKeys',
          `own:${bytesToHex(contextHash(CTX))}`,
        ))!.key.senderKeyId,
      );
    await read(bob, await send(alice, ['bob'], 'm0'));
    const k0 = await keyId();
    for (let i = 1; i < ROTATE_AFTER_MESSAGES; i++) await send(alice, ['bob'], `m${i}`);
    expect(await keyId()).toBe(k0);
    const rotated = await send(alice, ['bob'], 'next');
    const k1 = await keyId();
    expect(k1).not.toBe(k0);
    expect((await read(bob, rotated)).plaintext).toBe('next');
    now += ROTATE_AFTER_MS;
    const aged = await send(alice, ['bob'], 'a week later');
    expect(await keyId()).not.toBe(k1);
    expect((await read(bob, aged)).plaintext).toBe('a week later');
  });

  it('a group message shown in another conversation reads as moved', async () => {
    const [a, b] = await members('alice', 'bob', 'carol');
    const m = await send(a, ['bob', 'carol'], 'here only');
    expect(await read(b, m, 'thelounge:127.0.0.1:6667/#elsewhere')).toMatchObject({
      status: 'moved',
      plaintext: 'here only',
      sealed: { kind: 'group' },
    });
    const m2 = await send(a, ['bob', 'carol'], 'in a dm?');
    expect(await b.veil.decrypt({ context: CTX, kind: 'direct' }, m2)).toMatchObject({
      status: 'moved',
    });
    const m3 = await send(a, ['bob', 'carol'], 'right place');
    expect(await read(b, m3)).toMatchObject({ status: 'unverified', moved: false });
  });

  it('a member list from someone who is not a member changes nothing', async () => {
    const [alice, bob] = await members('alice', 'bob', 'carol');
    await read(bob, await send(alice, ['bob', 'carol'], 'start'));
    const before = await bob.veil.groupMembers(CTX);
    const eve = await party('eve');
    await pin(bob, eve);
    await pin(eve, bob);
    await connect(eve, bob);
    await bob.veil.decrypt(CTX, text(await eve.veil.encrypt(one('bob'), 'hi')));
    // Eve "removes" carol and adds herself.
    await read(bob, await send(eve, ['bob', 'alice'].slice(0, 1), 'coup'));
    expect(await bob.veil.groupMembers(CTX)).toEqual(before);
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
    await expect(
      v.encrypt({ context: CTX, recipients: ['bob', 'carol'], kind: 'direct' }, 'x'),
    ).rejects.toMatchObject({ code: 'invalid-argument' });
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

  it('starts a new session once the pre-key one went unanswered too long to be read', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    await connect(alice, bob);
    for (let i = 0; i <= RATCHET_MAX_FIRST_JUMP; i++)
      await alice.veil.encrypt(one('bob'), `unanswered ${i}`);
    expect(await alice.veil.hasSession('bob')).toBe(false);
    await expect(alice.veil.encrypt(one('bob'), 'one more')).rejects.toMatchObject({
      code: 'no-session',
    });
    await connect(alice, bob);
    const fresh = text(await alice.veil.encrypt(one('bob'), 'fresh'));
    expect((await bob.veil.decrypt(CTX, fresh)).plaintext).toBe('fresh');
  });
});
