// Post-quantum session setup (X25519 + ML-KEM-768, docs/protocol.md "Post-quantum session
// setup"): both sides agree; the result matches the document recomputed with Node's crypto for
// the DHs and HKDF; the KEM's secret really goes in (a changed ciphertext or a stripped KEM
// gives another key); KEM prekeys signed for another id or use are refused; and the KEM itself
// meets FIPS 203 from a fixed seed (Node's noble-independent check is impossible in Node 20,
// so the decapsulation round-trip and implicit rejection are tested instead).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8ToBytes } from './bytes';
import { nobleProvider } from './crypto/noble';
import { VeilError, type VeilErrorCode } from './errors';
import {
  createSignedPrekey,
  generateIdentity,
  identityDhPrivate,
  identityDhPublic,
  signedPrekeyPublic,
  type IdentityKeyPair,
  type PrekeyBundle,
  type SignedPrekey,
} from './identity';
import {
  KEM_CIPHERTEXT_LENGTH,
  createKemPrekeys,
  kemDecapsulate,
  kemPrekeyFromJson,
  kemPrekeyPublic,
  kemPrekeyToJson,
  verifyKemPrekey,
  type KemPrekey,
} from './kem-prekey';
import { x3dhInitiate, x3dhRespond } from './x3dh';

const crypto = nobleProvider;
let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let spk: SignedPrekey;
let oneTime: KemPrekey;
let lastResort: KemPrekey;

beforeAll(async () => {
  alice = await generateIdentity(crypto);
  bob = await generateIdentity(crypto);
  spk = await createSignedPrekey(crypto, bob, 3, 0);
  [oneTime] = (await createKemPrekeys(crypto, bob.privateKey, 5, 1, {
    lastResort: false,
    now: 0,
  })) as [KemPrekey];
  [lastResort] = (await createKemPrekeys(crypto, bob.privateKey, 6, 1, {
    lastResort: true,
    now: 0,
  })) as [KemPrekey];
});

function bundle(kem?: KemPrekey): PrekeyBundle {
  return {
    handle: 'bob',
    identityKey: bob.publicKey,
    signedPrekey: signedPrekeyPublic(spk),
    ...(kem ? { kemPrekey: kemPrekeyPublic(kem) } : {}),
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

const respond = (
  kem: { secretKey: Uint8Array; cipherText: Uint8Array } | undefined,
  base: Uint8Array,
) =>
  x3dhRespond(crypto, {
    ourIdentity: bob,
    ourSignedPrekey: { privateKey: spk.keyPair.privateKey },
    ...(kem ? { kem } : {}),
    theirIdentityKey: alice.publicKey,
    theirBaseKey: base,
  });

describe('PQXDH (X25519 + ML-KEM-768)', () => {
  it('both sides agree, with a one-time and with the last-resort KEM prekey', async () => {
    for (const kem of [oneTime, lastResort]) {
      const a = await x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: bundle(kem) });
      expect(a.kem!.id).toBe(kem.id);
      expect(a.kem!.cipherText.length).toBe(KEM_CIPHERTEXT_LENGTH);
      const b = await respond(
        { secretKey: kem.secretKey, cipherText: a.kem!.cipherText },
        a.baseKey,
      );
      expect(b.sk).toEqual(a.sk);
      expect(b.sessionTag).toEqual(a.sessionTag);
      expect(b.ad).toEqual(a.ad);
    }
  });

  it('matches docs/protocol.md: HKDF over 0xFF×32 || DH1 || DH2 || DH3 || SS, its own label', async () => {
    const a = await x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: bundle(oneTime) });
    const ss = kemDecapsulate(oneTime.secretKey, a.kem!.cipherText);
    // The DHs from Bob's side with Node's X25519 (independent of @noble).
    const x = (priv: Uint8Array, pub: Uint8Array) =>
      new Uint8Array(
        diffieHellman({
          privateKey: createPrivateKey({
            key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]),
            format: 'der',
            type: 'pkcs8',
          }),
          publicKey: createPublicKey({
            key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]),
            format: 'der',
            type: 'spki',
          }),
        }),
      );
    const dh1 = x(spk.keyPair.privateKey, identityDhPublic(alice.publicKey));
    const dh2 = x(identityDhPrivate(bob.privateKey), a.baseKey);
    const dh3 = x(spk.keyPair.privateKey, a.baseKey);
    const ikm = concatBytes(new Uint8Array(32).fill(0xff), dh1, dh2, dh3, ss);
    const sk = new Uint8Array(
      hkdfSync(
        'sha256',
        ikm,
        new Uint8Array(32),
        utf8ToBytes('Veil PQXDH X25519 ML-KEM-768 v1'),
        32,
      ),
    );
    expect(a.sk).toEqual(sk);
    const classical = new Uint8Array(
      hkdfSync('sha256', ikm.subarray(0, 128), new Uint8Array(32), utf8ToBytes('Veil X3DH v1'), 32),
    );
    expect(a.sk).not.toEqual(classical);
    expect(createHash('sha256').update(a.ad).digest().length).toBe(32);
  });

  it('puts the KEM secret in: a changed ciphertext, or the KEM part left out, gives another key', async () => {
    const a = await x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: bundle(oneTime) });
    const flipped = a.kem!.cipherText.slice();
    flipped[100]! ^= 1;
    const b1 = await respond({ secretKey: oneTime.secretKey, cipherText: flipped }, a.baseKey);
    expect(b1.sk).not.toEqual(a.sk);
    // A man in the middle who strips the KEM part of the message (type 5 → 1) gets no session.
    const b2 = await respond(undefined, a.baseKey);
    expect(b2.sk).not.toEqual(a.sk);
    expect(b2.sessionTag).not.toEqual(a.sessionTag);
  });

  it('refuses a KEM prekey not signed by the identity, or signed for another id or use', async () => {
    const [mallorys] = (await createKemPrekeys(crypto, alice.privateKey, 5, 1, {
      lastResort: false,
      now: 0,
    })) as [KemPrekey];
    const forged = { ...bundle(), kemPrekey: kemPrekeyPublic(mallorys) };
    expect(await codeOf(x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: forged }))).toBe(
      'bad-signature',
    );
    const renumbered = { ...bundle(), kemPrekey: { ...kemPrekeyPublic(oneTime), id: 9 } };
    expect(
      await codeOf(x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: renumbered })),
    ).toBe('bad-signature');
    // A directory passing a one-time key off as last-resort (so it could hand it out forever).
    const reused = { ...bundle(), kemPrekey: { ...kemPrekeyPublic(oneTime), lastResort: true } };
    expect(await codeOf(x3dhInitiate(crypto, { ourIdentity: alice, theirBundle: reused }))).toBe(
      'bad-signature',
    );
    expect(await verifyKemPrekey(crypto, bob.publicKey, kemPrekeyPublic(lastResort))).toBe(true);
  });

  it('round-trips KEM prekeys through JSON and refuses bad ones with a typed error', () => {
    const json = kemPrekeyToJson(kemPrekeyPublic(lastResort));
    expect(json.lastResort).toBe(true);
    expect(kemPrekeyFromJson(JSON.parse(JSON.stringify(json)))).toEqual(
      kemPrekeyPublic(lastResort),
    );
    for (const bad of [
      null,
      { ...json, id: 0 },
      { ...json, publicKey: 'AAAA' },
      { ...json, lastResort: 'yes' },
    ])
      expect(() => kemPrekeyFromJson(bad)).toThrow(VeilError);
  });

  it('ML-KEM-768 from a fixed seed: FIPS 203 sizes, round trip, implicit rejection', () => {
    const seed = new Uint8Array(64).map((_, i) => i);
    const { publicKey, secretKey } = ml_kem768.keygen(seed);
    expect([publicKey.length, secretKey.length]).toEqual([1184, 2400]);
    // Deterministic: the same seed gives the same key (what the vector in docs/protocol.md uses).
    expect(ml_kem768.keygen(seed).publicKey).toEqual(publicKey);
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(
      publicKey,
      new Uint8Array(32).fill(7),
    );
    expect(kemDecapsulate(secretKey, cipherText)).toEqual(sharedSecret);
    const wrong = cipherText.slice();
    wrong[0]! ^= 0xff;
    expect(kemDecapsulate(secretKey, wrong)).not.toEqual(sharedSecret);
    expect(() => kemDecapsulate(secretKey, cipherText.subarray(1))).toThrow(VeilError);
  });
});
