// Tests for group sender keys: the wire layout against the spec, a 3-member group, reordering,
// replay, forgery, tampering, truncation, member removal and join, limits, and error hygiene.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesToUtf8, concatBytes, utf8ToBytes } from './bytes';
import { nobleProvider } from './crypto/noble';
import { isVeilError, VeilError, type VeilErrorCode } from './errors';
import {
  acceptDistribution,
  createSenderKey,
  distributionRecord,
  groupDecrypt,
  groupEncrypt,
  MAX_FORWARD_JUMP,
  MAX_SKIPPED_KEYS,
  parseDistribution,
  peekSenderKeyId,
  type GroupContext,
  type OwnSenderKey,
  type ReceivedSenderKey,
} from './sender-key';

const crypto = nobleProvider;

function contextFor(context: string, senderIdentityKey: Uint8Array): GroupContext {
  const ctxHash = sha256(concatBytes(utf8ToBytes('Veil context v1'), utf8ToBytes(context)));
  return { ctxHash, ctxTag: ctxHash.slice(0, 4), senderIdentityKey };
}

function identity(): Uint8Array {
  return ed25519.keygen().publicKey;
}

/** A padded plaintext as the caller would hand it over (framing is not this module's job). */
function padded(text: string, length = 64): Uint8Array {
  const out = new Uint8Array(length);
  const b = utf8ToBytes(text);
  out.set(b);
  out[b.length] = 0x80;
  return out;
}

function unpad(p: Uint8Array): string {
  return bytesToUtf8(p.subarray(0, p.lastIndexOf(0x80)));
}

/** Deep copy of a state, to check later that nothing touched the original. */
function snapshot<T>(v: T): T {
  if (v instanceof Uint8Array) return v.slice() as T;
  if (Array.isArray(v)) return v.map(snapshot) as T;
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, snapshot(x)])) as T;
  return v;
}

async function expectCode(p: Promise<unknown>, code: VeilErrorCode): Promise<VeilError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(VeilError);
  expect((e as VeilError).code).toBe(code);
  return e as VeilError;
}

/** Sends `count` messages from `own`, returning the envelopes and the final state. */
async function sendMany(
  own: OwnSenderKey,
  count: number,
  ctx: GroupContext,
  text = (i: number) => `message ${i}`,
): Promise<{ own: OwnSenderKey; envelopes: Uint8Array[] }> {
  const envelopes: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const r = await groupEncrypt(crypto, own, padded(text(i)), ctx);
    own = r.own;
    envelopes.push(r.envelope);
  }
  return { own, envelopes };
}

/** The sender's state moved `n` steps ahead, computed from the spec's KDF, not the module. */
function advanced(own: OwnSenderKey, n: number): OwnSenderKey {
  let ck = own.chainKey;
  for (let i = 0; i < n; i++) ck = hmac(sha256, ck, Uint8Array.of(2));
  return { ...own, iteration: own.iteration + n, chainKey: ck };
}

describe('wire layout (docs/protocol.md, type 3)', () => {
  it('matches an independent construction from the spec', async () => {
    const seed = new Uint8Array(32).fill(0x42);
    const own: OwnSenderKey = {
      senderKeyId: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
      iteration: 300, // a two-byte varint
      chainKey: new Uint8Array(32).fill(0x11),
      signingKey: { privateKey: seed, publicKey: ed25519.getPublicKey(seed) },
    };
    const ctx = contextFor('thelounge:127.0.0.1:6667/#veil', new Uint8Array(32).fill(9));
    const pt = padded('hello group', 96);
    const { own: after, envelope } = await groupEncrypt(crypto, own, pt, ctx);

    const header = concatBytes(
      Uint8Array.of(0x13),
      own.senderKeyId,
      Uint8Array.of(0xac, 0x02),
      ctx.ctxTag,
    );
    const mk = hmac(sha256, own.chainKey, Uint8Array.of(1));
    // The message key is the AEAD key; the nonce is 12 zero bytes (each key seals once).
    const sealed = chacha20poly1305(
      mk,
      new Uint8Array(12),
      concatBytes(header, ctx.ctxHash),
    ).encrypt(pt);
    const unsigned = concatBytes(header, sealed);
    const sig = ed25519.sign(concatBytes(unsigned, ctx.ctxHash, ctx.senderIdentityKey), seed);
    expect(bytesToHex(envelope)).toBe(bytesToHex(concatBytes(unsigned, sig)));

    expect(after.iteration).toBe(301);
    expect(bytesToHex(after.chainKey)).toBe(
      bytesToHex(hmac(sha256, own.chainKey, Uint8Array.of(2))),
    );
    expect(bytesToHex(distributionRecord(own))).toBe(
      bytesToHex(
        concatBytes(
          own.senderKeyId,
          Uint8Array.of(0xac, 0x02),
          own.chainKey,
          own.signingKey.publicKey,
        ),
      ),
    );
  });

  it('a 224-byte padded plaintext makes a 318-byte envelope', async () => {
    const own = await createSenderKey(crypto);
    const { envelope } = await groupEncrypt(
      crypto,
      own,
      new Uint8Array(224),
      contextFor('c', identity()),
    );
    expect(envelope.length).toBe(1 + 8 + 1 + 4 + 224 + 16 + 64);
  });

  it('peekSenderKeyId finds the key id and refuses other envelopes', async () => {
    const own = await createSenderKey(crypto);
    const { envelope } = await groupEncrypt(crypto, own, padded('x'), contextFor('c', identity()));
    expect(bytesToHex(peekSenderKeyId(envelope))).toBe(bytesToHex(own.senderKeyId));
    const v2 = envelope.slice();
    v2[0] = 0x23;
    expect(() => peekSenderKeyId(v2)).toThrow(expect.objectContaining({ code: 'unknown-version' }));
    const ratchet = envelope.slice();
    ratchet[0] = 0x12;
    expect(() => peekSenderKeyId(ratchet)).toThrow(expect.objectContaining({ code: 'malformed' }));
    expect(() => peekSenderKeyId(envelope.subarray(0, 5))).toThrow(
      expect.objectContaining({ code: 'truncated' }),
    );
  });
});

describe('a three-member group', () => {
  it('every member reads every other member', async () => {
    const names = ['alice', 'bob', 'carol'] as const;
    const ids = Object.fromEntries(names.map((n) => [n, identity()]));
    const own: Record<string, OwnSenderKey> = {};
    for (const n of names) own[n] = await createSenderKey(crypto);
    // received[reader][sender], each built from the sender's distribution record.
    const received: Record<string, Record<string, ReceivedSenderKey>> = {};
    for (const reader of names) {
      received[reader] = {};
      for (const sender of names)
        if (sender !== reader)
          received[reader][sender] = parseDistribution(distributionRecord(own[sender]!));
    }
    for (let round = 0; round < 3; round++) {
      for (const sender of names) {
        const ctx = contextFor('site:#room', ids[sender]!);
        const text = `${sender} says ${round}`;
        const r = await groupEncrypt(crypto, own[sender]!, padded(text), ctx);
        own[sender] = r.own;
        for (const reader of names) {
          if (reader === sender) continue;
          const state = received[reader]![sender]!;
          expect(bytesToHex(peekSenderKeyId(r.envelope))).toBe(bytesToHex(state.senderKeyId));
          const d = await groupDecrypt(crypto, state, r.envelope, ctx);
          expect(unpad(d.plaintext)).toBe(text);
          received[reader]![sender] = d.received;
        }
      }
    }
  });
});

describe('ordering and replay', () => {
  it('decrypts any delivery order exactly once per message', async () => {
    const idKey = identity();
    const ctx = contextFor('site:#room', idKey);
    const own = await createSenderKey(crypto);
    const start = parseDistribution(distributionRecord(own));
    const { envelopes } = await sendMany(own, 20, ctx);
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 20 })
          .chain((n) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n })),
        async (order) => {
          let state = start;
          for (const i of order) {
            const d = await groupDecrypt(crypto, state, envelopes[i]!, ctx);
            expect(unpad(d.plaintext)).toBe(`message ${i}`);
            state = d.received;
          }
          for (const i of order)
            await expectCode(groupDecrypt(crypto, state, envelopes[i]!, ctx), 'replay');
          expect(state.skipped).toEqual([]);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('never seals two messages under one key (the nonce is constant): same text, other bytes', async () => {
    const own = await createSenderKey(crypto);
    const ctx = contextFor('test:example.org/#group', identity());
    const { envelopes } = await sendMany(own, 5, ctx, () => 'the same words');
    // Every byte before the 64-byte signature but the header's iteration is the same input.
    const sealed = envelopes.map((e) => bytesToHex(e.slice(-64 - (64 + 16), -64)));
    expect(new Set(sealed).size).toBe(envelopes.length);
  });

  it('a second delivery is a replay', async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const { envelopes } = await sendMany(own, 2, ctx);
    let state = parseDistribution(distributionRecord(own));
    state = (await groupDecrypt(crypto, state, envelopes[0]!, ctx)).received;
    await expectCode(groupDecrypt(crypto, state, envelopes[0]!, ctx), 'replay');
    // A skipped key, once used, is also gone.
    const late = (
      await groupDecrypt(crypto, parseDistribution(distributionRecord(own)), envelopes[1]!, ctx)
    ).received;
    const used = (await groupDecrypt(crypto, late, envelopes[0]!, ctx)).received;
    await expectCode(groupDecrypt(crypto, used, envelopes[0]!, ctx), 'replay');
  });

  it('a re-sent distribution record does not rewind the chain', async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const record = distributionRecord(own);
    const { envelopes } = await sendMany(own, 1, ctx);
    const state = (await groupDecrypt(crypto, parseDistribution(record), envelopes[0]!, ctx))
      .received;
    const kept = acceptDistribution(state, parseDistribution(record));
    await expectCode(groupDecrypt(crypto, kept, envelopes[0]!, ctx), 'replay');
    // A rotated key (new signing key) replaces the old state.
    const rotated = parseDistribution(distributionRecord(await createSenderKey(crypto)));
    expect(acceptDistribution(state, rotated)).toBe(rotated);
    expect(acceptDistribution(undefined, rotated)).toBe(rotated);
  });
});

describe('limits', () => {
  it(`accepts a jump of ${MAX_FORWARD_JUMP}, refuses one more`, async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const state = parseDistribution(distributionRecord(own));
    const farthest = (
      await groupEncrypt(crypto, advanced(own, MAX_FORWARD_JUMP), padded('far'), ctx)
    ).envelope;
    const beyond = (
      await groupEncrypt(crypto, advanced(own, MAX_FORWARD_JUMP + 1), padded('x'), ctx)
    ).envelope;
    await expectCode(groupDecrypt(crypto, state, beyond, ctx), 'too-far-ahead');
    const d = await groupDecrypt(crypto, state, farthest, ctx);
    expect(unpad(d.plaintext)).toBe('far');
    expect(d.received.skipped.length).toBe(MAX_SKIPPED_KEYS);
    expect(d.received.iteration).toBe(MAX_FORWARD_JUMP + 1);
    // Iteration 0 was skipped past the window: too old. The last skipped one still decrypts.
    const first = (await groupEncrypt(crypto, own, padded('first'), ctx)).envelope;
    await expectCode(groupDecrypt(crypto, d.received, first, ctx), 'too-old');
    const last = (
      await groupEncrypt(crypto, advanced(own, MAX_FORWARD_JUMP - 1), padded('last'), ctx)
    ).envelope;
    expect(unpad((await groupDecrypt(crypto, d.received, last, ctx)).plaintext)).toBe('last');
  });

  it(`keeps at most ${MAX_SKIPPED_KEYS} skipped keys, evicting the oldest`, async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const base = parseDistribution(distributionRecord(own));
    const at = async (i: number) =>
      (await groupEncrypt(crypto, advanced(own, i), padded(`m${i}`), ctx)).envelope;
    // Fill the window with 0..1999 skipped, then skip one more to push 0 out.
    let state = (await groupDecrypt(crypto, base, await at(MAX_SKIPPED_KEYS), ctx)).received;
    expect(state.skipped.length).toBe(MAX_SKIPPED_KEYS);
    state = (await groupDecrypt(crypto, state, await at(MAX_SKIPPED_KEYS + 2), ctx)).received;
    expect(state.skipped.length).toBe(MAX_SKIPPED_KEYS);
    expect(state.skipped[0]!.iteration).toBe(1);
    await expectCode(groupDecrypt(crypto, state, await at(0), ctx), 'too-old');
    const one = await at(1);
    state = (await groupDecrypt(crypto, state, one, ctx)).received;
    await expectCode(groupDecrypt(crypto, state, one, ctx), 'replay');
    expect(
      unpad((await groupDecrypt(crypto, state, await at(MAX_SKIPPED_KEYS + 1), ctx)).plaintext),
    ).toBe(`m${MAX_SKIPPED_KEYS + 1}`);
  });

  it('refuses to encrypt past the last u32 iteration', async () => {
    const own = { ...(await createSenderKey(crypto)), iteration: 0xffff_ffff };
    await expectCode(
      groupEncrypt(crypto, own, padded('x'), contextFor('c', identity())),
      'invalid-argument',
    );
  });
});

describe('authenticity', () => {
  it('rejects a message signed with another key', async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const state = parseDistribution(distributionRecord(own));
    // A member knows the chain key and id; without the signing key its forgery must fail.
    const forger: OwnSenderKey = { ...own, signingKey: await crypto.ed25519Generate() };
    const { envelope } = await groupEncrypt(crypto, forger, padded('forged'), ctx);
    await expectCode(groupDecrypt(crypto, state, envelope, ctx), 'bad-signature');
  });

  it('a member cannot pass off another member’s sender key as their own', async () => {
    const alice = identity();
    const mallory = identity();
    const own = await createSenderKey(crypto);
    // Mallory re-distributes Alice's record; the reader files it under Mallory.
    const asMallory = parseDistribution(distributionRecord(own));
    const { envelope } = await groupEncrypt(
      crypto,
      own,
      padded('from alice'),
      contextFor('c', alice),
    );
    await expectCode(
      groupDecrypt(crypto, asMallory, envelope, contextFor('c', mallory)),
      'bad-signature',
    );
    const asAlice = parseDistribution(distributionRecord(own));
    expect(
      unpad((await groupDecrypt(crypto, asAlice, envelope, contextFor('c', alice))).plaintext),
    ).toBe('from alice');
  });

  it('binds the conversation: other tag is wrong-context, same tag other hash fails', async () => {
    const id = identity();
    const own = await createSenderKey(crypto);
    const state = parseDistribution(distributionRecord(own));
    const { envelope } = await groupEncrypt(crypto, own, padded('x'), contextFor('site:#a', id));
    await expectCode(
      groupDecrypt(crypto, state, envelope, contextFor('site:#b', id)),
      'wrong-context',
    );
    const other = contextFor('site:#b', id);
    const collided = { ...other, ctxTag: contextFor('site:#a', id).ctxTag };
    await expectCode(groupDecrypt(crypto, state, envelope, collided), 'bad-signature');
  });

  it('every single-bit flip is a typed error and leaves the state as it was', async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const state = parseDistribution(distributionRecord(own));
    const { envelope } = await groupEncrypt(crypto, own, padded('tamper me', 32), ctx);
    const before = snapshot(state);
    const codes = new Set<string>();
    for (let bit = 0; bit < envelope.length * 8; bit++) {
      const bad = envelope.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const result = await groupDecrypt(crypto, state, bad, ctx).then(
        () => 'decrypted',
        (e: unknown) => (isVeilError(e) ? e.code : 'untyped'),
      );
      codes.add(result);
    }
    expect(codes.has('decrypted')).toBe(false);
    expect(codes.has('untyped')).toBe(false);
    expect(codes).toContain('bad-signature');
    expect(codes).toContain('wrong-context');
    expect(state).toEqual(before);
    expect(unpad((await groupDecrypt(crypto, state, envelope, ctx)).plaintext)).toBe('tamper me');
  });

  it('truncated or extended envelopes are typed errors', async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const state = parseDistribution(distributionRecord(own));
    const { envelope } = await groupEncrypt(crypto, own, padded('x', 32), ctx);
    for (let n = 0; n < envelope.length; n++) {
      const e = await groupDecrypt(crypto, state, envelope.subarray(0, n), ctx).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isVeilError(e)).toBe(true);
      // Too short to hold a header, tags and signature: said to be truncated.
      if (n < 1 + 8 + 1 + 4 + 16 + 64) expect((e as VeilError).code).toBe('truncated');
    }
    await expectCode(
      groupDecrypt(crypto, state, concatBytes(envelope, Uint8Array.of(0)), ctx),
      'bad-signature',
    );
  });

  it('a message from a key we do not hold is no-session', async () => {
    const ctx = contextFor('c', identity());
    const state = parseDistribution(distributionRecord(await createSenderKey(crypto)));
    const { envelope } = await groupEncrypt(
      crypto,
      await createSenderKey(crypto),
      padded('x'),
      ctx,
    );
    await expectCode(groupDecrypt(crypto, state, envelope, ctx), 'no-session');
  });
});

describe('membership changes', () => {
  it('after rotation a removed member cannot read new messages', async () => {
    const alice = identity();
    const ctx = contextFor('site:#room', alice);
    let own = await createSenderKey(crypto);
    let bob = parseDistribution(distributionRecord(own));
    let carol = parseDistribution(distributionRecord(own));
    const r1 = await groupEncrypt(crypto, own, padded('before'), ctx);
    own = r1.own;
    bob = (await groupDecrypt(crypto, bob, r1.envelope, ctx)).received;
    carol = (await groupDecrypt(crypto, carol, r1.envelope, ctx)).received;

    // Carol is removed: Alice rotates and distributes only to Bob.
    own = await createSenderKey(crypto);
    bob = parseDistribution(distributionRecord(own));
    const r2 = await groupEncrypt(crypto, own, padded('after'), ctx);
    expect(unpad((await groupDecrypt(crypto, bob, r2.envelope, ctx)).plaintext)).toBe('after');
    // The routing layer finds no state for the new id; even forced, Carol's old state fails.
    expect(bytesToHex(peekSenderKeyId(r2.envelope))).not.toBe(bytesToHex(carol.senderKeyId));
    await expectCode(groupDecrypt(crypto, carol, r2.envelope, ctx), 'no-session');
    const forced = { ...carol, senderKeyId: own.senderKeyId };
    await expectCode(groupDecrypt(crypto, forced, r2.envelope, ctx), 'bad-signature');
  });

  it('a member who joins at iteration k reads from k on, nothing earlier', async () => {
    const ctx = contextFor('c', identity());
    const k = 5;
    const first = await sendMany(await createSenderKey(crypto), k, ctx);
    const dave = parseDistribution(distributionRecord(first.own));
    expect(dave.iteration).toBe(k);
    const later = await sendMany(first.own, 2, ctx, (i) => `late ${i}`);
    for (const env of first.envelopes)
      await expectCode(groupDecrypt(crypto, dave, env, ctx), 'too-old');
    let state = dave;
    for (const [i, env] of later.envelopes.entries()) {
      const d = await groupDecrypt(crypto, state, env, ctx);
      expect(unpad(d.plaintext)).toBe(`late ${i}`);
      state = d.received;
    }
  });
});

describe('distribution records', () => {
  it('round-trips the current chain position', async () => {
    const own = advanced(await createSenderKey(crypto), 1234);
    const r = parseDistribution(distributionRecord(own));
    expect(r.iteration).toBe(1234);
    expect(r.windowStart).toBe(1234);
    expect(bytesToHex(r.chainKey)).toBe(bytesToHex(own.chainKey));
    expect(bytesToHex(r.signingPublicKey)).toBe(bytesToHex(own.signingKey.publicKey));
    expect(r.skipped).toEqual([]);
  });

  it('is parsed strictly', async () => {
    const record = distributionRecord(await createSenderKey(crypto));
    for (let n = 0; n < record.length; n++)
      expect(() => parseDistribution(record.subarray(0, n))).toThrow(
        expect.objectContaining({ code: 'truncated' }),
      );
    expect(() => parseDistribution(concatBytes(record, Uint8Array.of(0)))).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    // Iteration 0 written as two bytes (0x80 0x00): one value, one encoding.
    const longZero = concatBytes(
      record.subarray(0, 8),
      Uint8Array.of(0x80, 0x00),
      record.subarray(9),
    );
    expect(() => parseDistribution(longZero)).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    // 2^32 does not fit a u32 iteration.
    const big = concatBytes(
      record.subarray(0, 8),
      Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10),
      record.subarray(9),
    );
    expect(() => parseDistribution(big)).toThrow(expect.objectContaining({ code: 'malformed' }));
    // The identity point (small order) would let anyone sign.
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const weak = concatBytes(record.subarray(0, 41), identityPoint);
    expect(() => parseDistribution(weak)).toThrow(expect.objectContaining({ code: 'invalid-key' }));
  });

  it('survives arbitrary bytes with typed errors only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 90 }), (bytes) => {
        try {
          parseDistribution(bytes);
        } catch (e) {
          expect(isVeilError(e)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('error hygiene', () => {
  it('error messages carry neither key bytes nor plaintext', async () => {
    const ctx = contextFor('c', identity());
    const own = await createSenderKey(crypto);
    const state = parseDistribution(distributionRecord(own));
    const secret = 'attack at dawn';
    const { envelope } = await groupEncrypt(crypto, own, padded(secret), ctx);
    const errors: unknown[] = [];
    const collect = (p: Promise<unknown>) => p.catch((e: unknown) => errors.push(e));
    const bad = envelope.slice();
    bad[20]! ^= 1;
    await collect(groupDecrypt(crypto, state, bad, ctx));
    await collect(groupDecrypt(crypto, state, envelope, contextFor('d', identity())));
    const after = (await groupDecrypt(crypto, state, envelope, ctx)).received;
    await collect(groupDecrypt(crypto, after, envelope, ctx));
    await collect(groupDecrypt(crypto, state, envelope.subarray(0, 30), ctx));
    await collect(
      groupDecrypt(
        crypto,
        { ...state, signingPublicKey: own.signingKey.privateKey },
        envelope,
        ctx,
      ),
    );
    try {
      parseDistribution(distributionRecord(own).subarray(0, 50));
    } catch (e) {
      errors.push(e);
    }
    expect(errors.length).toBe(6);
    const secrets = [
      own.chainKey,
      own.signingKey.privateKey,
      own.signingKey.publicKey,
      own.senderKeyId,
      padded(secret),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(VeilError);
      const text = `${(e as Error).message} ${(e as Error).stack ?? ''}`;
      for (const s of secrets) {
        expect(text.toLowerCase()).not.toContain(bytesToHex(s).slice(0, 16));
        expect(text).not.toContain(Array.from(s.subarray(0, 6)).join(','));
      }
      expect(text).not.toContain(secret);
    }
  });

  it('encrypting leaves the input state untouched', async () => {
    const own = await createSenderKey(crypto);
    const before = snapshot(own);
    const r = await groupEncrypt(crypto, own, padded('x'), contextFor('c', identity()));
    expect(own).toEqual(before);
    expect(r.own.iteration).toBe(1);
  });
});
