// X3DH: both sides agree, the result matches docs/protocol.md recomputed with Node's crypto
// (independent of @noble), bad signed prekeys are refused, and DH outputs are wiped.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8ToBytes } from './bytes';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider } from './crypto/provider';
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
import { recipientTag, x3dhInitiate, x3dhRespond } from './x3dh';

const crypto = nobleProvider;
let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let spk: SignedPrekey;
let opk: OneTimePrekey;

beforeAll(async () => {
  alice = await generateIdentity(crypto);
  bob = await generateIdentity(crypto);
  spk = await createSignedPrekey(crypto, bob, 42, 0);
  [opk] = (await createOneTimePrekeys(crypto, 7, 1)) as [OneTimePrekey];
});

function bundle(withOneTime: boolean): PrekeyBundle {
  return {
    handle: 'bob',
    identityKey: bob.publicKey,
    signedPrekey: signedPrekeyPublic(spk),
    ...(withOneTime ? { oneTimePrekey: oneTimePrekeyPublic(opk) } : {}),
  };
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

describe.each([true, false])('X3DH (one-time prekey: %s)', (withOneTime) => {
  it('gives both sides the same secret, associated data and session tag', async () => {
    const a = await x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: bundle(withOneTime) });
    const b = await x3dhRespond(crypto, {
      ourIdentity: bob,
      ourSignedPrekey: spk.keyPair,
      ourOneTimePrekey: withOneTime ? opk.keyPair : undefined,
      theirIdentityKey: alice.publicKey,
      theirBaseKey: a.baseKey,
    });
    expect(b.sk).toEqual(a.sk);
    expect(b.ad).toEqual(a.ad);
    expect(b.sessionTag).toEqual(a.sessionTag);
    expect(a.usedOneTimePrekeyId).toBe(withOneTime ? 7 : 0);
    expect(a.signedPrekeyId).toBe(42);
    expect(a.theirSignedPrekey).toEqual(spk.keyPair.publicKey);
    expect(a.recipientTag).toEqual(sha256(bob.publicKey).subarray(0, 4));
  });

  it('matches the documented formulas, recomputed with Node crypto (independent code)', async () => {
    const a = await x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: bundle(withOneTime) });
    // Bob's side by hand: DH1 = DH(SPK_B, IKx_A), DH2 = DH(IKx_B, EK_A), DH3 = DH(SPK_B, EK_A) …
    const ikxA = edwardsToMontgomery(alice.publicKey);
    const ikxBSecret = seedToX25519(bob.privateKey);
    const dhs = [
      nodeX25519(spk.keyPair.privateKey, ikxA),
      nodeX25519(ikxBSecret, a.baseKey),
      nodeX25519(spk.keyPair.privateKey, a.baseKey),
      ...(withOneTime ? [nodeX25519(opk.keyPair.privateKey, a.baseKey)] : []),
    ];
    const sk = new Uint8Array(
      hkdfSync(
        'sha256',
        Buffer.concat([Buffer.alloc(32, 0xff), ...dhs]),
        Buffer.alloc(32),
        'Veil X3DH v1',
        32,
      ),
    );
    expect(a.sk).toEqual(sk);
    expect(a.ad).toEqual(concatBytes(utf8ToBytes('Veil1'), alice.publicKey, bob.publicKey));
    const tag = hkdfSync('sha256', sk, Buffer.alloc(0), 'Veil session tag', 8);
    expect(a.sessionTag).toEqual(new Uint8Array(tag));
  });
});

// ---- an independent X25519 path: Node's OpenSSL, plus the conversions written out ----

const P = 2n ** 255n - 19n;

function nodeX25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), privateKey]);
  const spki = Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), publicKey]);
  return new Uint8Array(
    diffieHellman({
      privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
      publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
    }),
  );
}

/** RFC 7748 §4.1: u = (1 + y) / (1 − y) for an Edwards point with coordinate y. */
function edwardsToMontgomery(edPublic: Uint8Array): Uint8Array {
  const le = Buffer.from(edPublic);
  le[31]! &= 0x7f;
  const y = BigInt('0x' + Buffer.from(le).reverse().toString('hex'));
  const u = (((1n + y) % P) * modPow((P + 1n - y) % P, P - 2n)) % P;
  return Uint8Array.from(Buffer.from(u.toString(16).padStart(64, '0'), 'hex').reverse());
}

/** RFC 8032 §5.1.5: the scalar is the clamped first half of SHA-512(seed). */
function seedToX25519(seed: Uint8Array): Uint8Array {
  const h = createHash('sha512').update(seed).digest().subarray(0, 32);
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  return new Uint8Array(h);
}

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  for (let b = base % P, e = exp; e > 0n; e >>= 1n, b = (b * b) % P)
    if (e & 1n) result = (result * b) % P;
  return result;
}

describe('X3DH failures', () => {
  it('refuses a bundle whose signed prekey signature does not verify', async () => {
    const b = bundle(true);
    const badSignature = b.signedPrekey.signature.slice();
    badSignature[10]! ^= 1;
    const swappedKey = (await crypto.x25519Generate()).publicKey;
    const otherIdentity = (await generateIdentity(crypto)).publicKey;
    for (const theirBundle of [
      { ...b, signedPrekey: { ...b.signedPrekey, signature: badSignature } },
      { ...b, signedPrekey: { ...b.signedPrekey, publicKey: swappedKey } },
      { ...b, signedPrekey: { ...b.signedPrekey, id: 43 } },
      { ...b, identityKey: otherIdentity },
    ])
      expect(await codeOf(x3dhInitiate(crypto, { ourIdentity: alice, theirBundle }))).toBe(
        'bad-signature',
      );
    expect(await codeOf(x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: b }))).toBe('none');
  });

  it('disagrees when the responder uses another one-time prekey or none', async () => {
    const a = await x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: bundle(true) });
    const other = (await createOneTimePrekeys(crypto, 8, 1))[0]!;
    for (const ourOneTimePrekey of [other.keyPair, undefined]) {
      const b = await x3dhRespond(crypto, {
        ourIdentity: bob,
        ourSignedPrekey: spk.keyPair,
        ourOneTimePrekey,
        theirIdentityKey: alice.publicKey,
        theirBaseKey: a.baseKey,
      });
      expect(b.sk).not.toEqual(a.sk);
      expect(b.sessionTag).not.toEqual(a.sessionTag);
    }
  });

  it('refuses keys of the wrong length and low-order keys', async () => {
    const b = bundle(false);
    expect(
      await codeOf(
        x3dhInitiate(crypto, {
          ourIdentity: alice,
          theirBundle: { ...b, identityKey: new Uint8Array(31) },
        }),
      ),
    ).toBe('invalid-key');
    const respond = (theirBaseKey: Uint8Array) =>
      x3dhRespond(crypto, {
        ourIdentity: bob,
        ourSignedPrekey: spk.keyPair,
        theirIdentityKey: alice.publicKey,
        theirBaseKey,
      });
    expect(await codeOf(respond(new Uint8Array(33)))).toBe('invalid-key');
    expect(await codeOf(respond(new Uint8Array(32)))).toBe('invalid-key'); // u = 0: low order
  });

  it('wipes every DH output and the ephemeral private key', async () => {
    const outputs: Uint8Array[] = [];
    const privates: Uint8Array[] = [];
    const recording: CryptoProvider = {
      ...crypto,
      async x25519Generate() {
        const pair = await crypto.x25519Generate();
        privates.push(pair.privateKey);
        return pair;
      },
      async x25519(privateKey, publicKey) {
        const out = await crypto.x25519(privateKey, publicKey);
        outputs.push(out);
        return out;
      },
    };
    const a = await x3dhInitiate(recording, { ourIdentity: alice, theirBundle: bundle(true) });
    await x3dhRespond(recording, {
      ourIdentity: bob,
      ourSignedPrekey: spk.keyPair,
      ourOneTimePrekey: opk.keyPair,
      theirIdentityKey: alice.publicKey,
      theirBaseKey: a.baseKey,
    });
    expect(outputs).toHaveLength(8);
    expect(privates).toHaveLength(1);
    for (const b of [...outputs, ...privates]) expect(b.every((x) => x === 0)).toBe(true);
    expect(a.sk.some((x) => x !== 0)).toBe(true);
  });

  it('derives the recipient tag from the Ed25519 identity key', () => {
    expect(recipientTag(bob.publicKey)).toEqual(sha256(bob.publicKey).subarray(0, 4));
    expect(recipientTag(alice.publicKey)).not.toEqual(recipientTag(bob.publicKey));
  });
});
