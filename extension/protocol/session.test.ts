// 1:1 session setup and routing: pre-key messages (repeated, reordered, tampered, for someone
// else), prekey lookups, own messages, and when the initiator switches to plain ratchet messages.
import { bytesToHex } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { nobleProvider } from './crypto/noble';
import { decodeEnvelope, type PrekeyMessage } from './envelope';
import { VeilError, type VeilErrorCode } from './errors';
import {
  createOneTimePrekeys,
  createSignedPrekey,
  generateIdentity,
  oneTimePrekeyPublic,
  signedPrekeyPublic,
  type IdentityKeyPair,
  type OneTimePrekey,
  type PrekeyBundle,
  type SignedPrekey,
} from './identity';
import { decodePlaintext, encodePlaintext } from './plaintext';
import {
  createInitiatorSession,
  sessionDecrypt,
  sessionEncrypt,
  sessionFromPrekeyMessage,
  type PrekeyLookup,
  type SessionRecord,
} from './session';

const crypto = nobleProvider;

let aliceId: IdentityKeyPair;
let bobId: IdentityKeyPair;
let spk: SignedPrekey;
let opks: OneTimePrekey[];

beforeAll(async () => {
  aliceId = await generateIdentity(crypto);
  bobId = await generateIdentity(crypto);
  spk = await createSignedPrekey(crypto, bobId, 9, 0);
  opks = await createOneTimePrekeys(crypto, 1, 3);
});

const encode = (text: string) => encodePlaintext([{ type: 'text', text }]);
function textOf(padded: Uint8Array): string {
  const [record] = decodePlaintext(padded);
  if (record?.type !== 'text') throw new Error('no text record');
  return record.text;
}

async function codeOf(p: Promise<unknown>): Promise<VeilErrorCode | 'none'> {
  try {
    await p;
    return 'none';
  } catch (e) {
    if (e instanceof VeilError) return e.code;
    throw e;
  }
}

function bundle(opk?: OneTimePrekey): PrekeyBundle {
  return {
    handle: 'bob',
    identityKey: bobId.publicKey,
    signedPrekey: signedPrekeyPublic(spk),
    ...(opk ? { oneTimePrekey: oneTimePrekeyPublic(opk) } : {}),
  };
}

/** Bob's device: his prekeys (one-time ones deleted on use) and sessions by tag. */
function bobDevice() {
  const oneTime = new Map(opks.map((k) => [k.id, k.keyPair]));
  const sessions = new Map<string, SessionRecord>();
  let lookups = 0;
  const lookup: PrekeyLookup = ({ signedPrekeyId, oneTimePrekeyId }) => {
    lookups++;
    return {
      signedPrekey: signedPrekeyId === spk.id ? spk.keyPair : undefined,
      oneTimePrekey: oneTime.get(oneTimePrekeyId),
    };
  };
  return {
    sessions,
    oneTime,
    lookups: () => lookups,
    /** Routes incoming bytes as the background does; commits only on success. */
    async receive(bytes: Uint8Array): Promise<string> {
      const envelope = decodeEnvelope(bytes);
      if (envelope.type !== 1 && envelope.type !== 2)
        throw new VeilError('no-session', 'not a 1:1 envelope');
      const inner = envelope.type === 1 ? envelope.message : envelope;
      const key = bytesToHex(inner.sessionTag);
      const existing = sessions.get(key);
      if (existing) {
        const out = await sessionDecrypt(crypto, existing, envelope);
        sessions.set(key, out.record);
        return textOf(out.plaintext);
      }
      if (envelope.type !== 1) throw new VeilError('no-session', 'unknown session');
      const out = await sessionFromPrekeyMessage(crypto, bobId, lookup, envelope);
      sessions.set(key, out.record);
      oneTime.delete(out.usedOneTimePrekeyId);
      return textOf(out.plaintext);
    },
  };
}

/** `null`: Bob's directory ran out of one-time prekeys. */
async function aliceStarts(opk: OneTimePrekey | null = opks[0]!) {
  return createInitiatorSession(crypto, {
    ourIdentity: aliceId,
    theirBundle: bundle(opk ?? undefined),
  });
}

describe('pre-key messages', () => {
  it('are sent until the responder answers, then plain ratchet messages', async () => {
    let alice = await aliceStarts();
    expect(alice.remoteHandle).toBe('bob');
    const bob = bobDevice();
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      const out = await sessionEncrypt(crypto, alice, encode(`p${i}`));
      alice = out.record;
      expect(out.envelope[0]).toBe(0x11);
      sent.push(out.envelope);
    }
    // Reordered: the last one creates Bob's session, the others are repeats of the same session.
    expect(await bob.receive(sent[2]!)).toBe('p2');
    expect(bob.oneTime.has(1)).toBe(false);
    expect(await bob.receive(sent[0]!)).toBe('p0');
    expect(await bob.receive(sent[1]!)).toBe('p1');
    expect(bob.sessions.size).toBe(1);
    const [bobRecord] = [...bob.sessions.values()];
    expect(bobRecord!.remoteIdentityKey).toEqual(aliceId.publicKey);
    expect(bobRecord!.localIsInitiator).toBe(false);

    const reply = await sessionEncrypt(crypto, bobRecord!, encode('answer'));
    expect(reply.envelope[0]).toBe(0x12);
    expect(alice.pendingPrekey).toBeDefined();
    const read = await sessionDecrypt(crypto, alice, decodeEnvelope(reply.envelope) as never);
    expect(textOf(read.plaintext)).toBe('answer');
    expect(read.record.pendingPrekey).toBeUndefined();
    const next = await sessionEncrypt(crypto, read.record, encode('plain now'));
    expect(next.envelope[0]).toBe(0x12);
    bob.sessions.set(bytesToHex(bobRecord!.sessionTag), reply.record);
    expect(await bob.receive(next.envelope)).toBe('plain now');
  });

  it('works without a one-time prekey', async () => {
    const alice = await aliceStarts(null);
    expect(alice.pendingPrekey!.oneTimePrekeyId).toBe(0);
    const out = await sessionEncrypt(crypto, alice, encode('no opk'));
    const bob = bobDevice();
    expect(await bob.receive(out.envelope)).toBe('no opk');
    expect(bob.oneTime.size).toBe(3);
  });

  it('a replayed first message is a replay, or no-session once its one-time prekey is gone', async () => {
    const alice = await aliceStarts(opks[1]);
    const first = await sessionEncrypt(crypto, alice, encode('once'));
    const bob = bobDevice();
    expect(await bob.receive(first.envelope)).toBe('once');
    expect(await codeOf(bob.receive(first.envelope))).toBe('replay');
    bob.sessions.clear(); // e.g. Bob reset his sessions: the prekey is still used up
    expect(await codeOf(bob.receive(first.envelope))).toBe('no-session');
  });

  it('are refused when addressed to another identity, or naming unknown prekeys', async () => {
    const carol = await generateIdentity(crypto);
    const alice = await aliceStarts();
    const out = await sessionEncrypt(crypto, alice, encode('for bob'));
    const m = decodeEnvelope(out.envelope) as PrekeyMessage;
    const bob = bobDevice();
    const lookup: PrekeyLookup = () => ({ signedPrekey: spk.keyPair });
    expect(await codeOf(sessionFromPrekeyMessage(crypto, carol, lookup, m))).toBe('not-for-us');
    const none: PrekeyLookup = () => ({});
    expect(await codeOf(sessionFromPrekeyMessage(crypto, bobId, none, m))).toBe('no-session');
    // Signed prekey found, one-time prekey already used.
    expect(await codeOf(sessionFromPrekeyMessage(crypto, bobId, lookup, m))).toBe('no-session');
    expect(await bob.receive(out.envelope)).toBe('for bob');
  });

  it('check the recipient before looking up any prekey', async () => {
    const out = await sessionEncrypt(crypto, await aliceStarts(), encode('tag'));
    const bob = bobDevice();
    const m = decodeEnvelope(out.envelope) as PrekeyMessage;
    const carol = await generateIdentity(crypto);
    expect(await codeOf(sessionFromPrekeyMessage(crypto, carol, () => ({}), m))).toBe('not-for-us');
    expect(bob.lookups()).toBe(0);
    expect(await bob.receive(out.envelope)).toBe('tag');
  });

  it('reject every header bit flip and leave no session behind', async () => {
    const out = await sessionEncrypt(crypto, await aliceStarts(), encode('flip me'));
    const bob = bobDevice();
    const headerBits = (74 + 47) * 8;
    // Byte ranges of IK_A and EK_A, and of the inner ratchet key: every 4th bit there, as each
    // try costs a whole X3DH.
    const keyFields = [
      [5, 69],
      [83, 115],
    ] as const;
    const bits: number[] = [];
    for (let bit = 0; bit < headerBits; bit++) {
      const byte = bit >> 3;
      const inKey = keyFields.some(([from, to]) => byte >= from && byte < to);
      if (!inKey || bit % 4 === 0) bits.push(bit);
    }
    bits.push(36 * 8 + 7); // IK_A's sign bit: the same X25519 key, only the AD differs
    for (let bit = headerBits; bit < out.envelope.length * 8; bit += 37) bits.push(bit);
    for (const bit of bits) {
      const flipped = out.envelope.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const code = await codeOf(bob.receive(flipped));
      if (code === 'none') throw new Error(`bit ${bit} flipped was accepted`);
    }
    expect(bob.sessions.size).toBe(0);
    expect(bob.oneTime.size).toBe(3);
    expect(await bob.receive(out.envelope)).toBe('flip me');
  });

  it('give a typed error for every truncation', async () => {
    const out = await sessionEncrypt(crypto, await aliceStarts(), encode('cut'));
    const bob = bobDevice();
    for (let n = 0; n < out.envelope.length; n += n < 140 ? 1 : 9) {
      const code = await codeOf(bob.receive(out.envelope.subarray(0, n)));
      expect(['truncated', 'bad-mac']).toContain(code);
    }
    expect(bob.sessions.size).toBe(0);
  });

  it('authenticate their pre-key header: the inner message alone does not decrypt', async () => {
    let alice = await aliceStarts();
    const bob = bobDevice();
    const first = await sessionEncrypt(crypto, alice, encode('1'));
    alice = first.record;
    await bob.receive(first.envelope);
    const second = await sessionEncrypt(crypto, alice, encode('2'));
    const inner = (decodeEnvelope(second.envelope) as PrekeyMessage).message.bytes;
    expect(inner[0]).toBe(0x12);
    expect(await codeOf(bob.receive(inner))).toBe('bad-mac');
    expect(await bob.receive(second.envelope)).toBe('2');
  });

  it('cannot be re-addressed by swapping the base key of a session Bob has', async () => {
    let alice = await aliceStarts();
    const bob = bobDevice();
    const first = await sessionEncrypt(crypto, alice, encode('1'));
    alice = first.record;
    await bob.receive(first.envelope);
    const second = await sessionEncrypt(crypto, alice, encode('2'));
    const forged = second.envelope.slice();
    forged.set((await crypto.x25519Generate()).publicKey, 37);
    expect(await codeOf(bob.receive(forged))).toBe('no-session');
    expect(await bob.receive(second.envelope)).toBe('2');
  });
});

describe('own messages', () => {
  it('are recognised without key work, in the current and earlier chains', async () => {
    let alice = await aliceStarts();
    const bob = bobDevice();
    const own: Uint8Array[] = [];
    const first = await sessionEncrypt(crypto, alice, encode('mine 0'));
    alice = first.record;
    own.push(first.envelope);
    await bob.receive(first.envelope);
    let bobRecord = [...bob.sessions.values()][0]!;
    for (let i = 1; i < 4; i++) {
      const r = await sessionEncrypt(crypto, bobRecord, encode('r'));
      bobRecord = r.record;
      alice = (await sessionDecrypt(crypto, alice, decodeEnvelope(r.envelope) as never)).record;
      const a = await sessionEncrypt(crypto, alice, encode(`mine ${i}`));
      alice = a.record;
      own.push(a.envelope);
      bobRecord = (await sessionDecrypt(crypto, bobRecord, decodeEnvelope(a.envelope) as never))
        .record;
    }
    for (const env of own) {
      const m = decodeEnvelope(env) as never;
      expect(await codeOf(sessionDecrypt(crypto, alice, m))).toBe('own-message');
    }
    // Bob sees his own pre-key-free messages the same way.
    const b = await sessionEncrypt(crypto, bobRecord, encode('bob own'));
    expect(
      await codeOf(sessionDecrypt(crypto, b.record, decodeEnvelope(b.envelope) as never)),
    ).toBe('own-message');
  });
});
