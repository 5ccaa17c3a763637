// Known-answer vector of post-quantum session setup (docs/protocol.md, vectors/pqxdh-v1.json):
// fixed identities, signed prekey, ephemeral key, ML-KEM-768 seed and encapsulation randomness
// give a fixed ciphertext, SK and session tag. The ML-KEM part is FIPS 203's deterministic
// keygen/encapsulation from those seeds; the HKDF over the DHs and the KEM secret is recomputed
// with Node's OpenSSL, so the file is not only the code's own output. VEIL_WRITE_VECTORS=1
// prints a fresh file (for a deliberate change of the setup only).
import { hkdfSync } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { concatBytes } from './bytes';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider } from './crypto/provider';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  createSignedPrekey,
  identityDhPrivate,
  identityDhPublic,
  signedPrekeyMessage,
  signedPrekeyPublic,
} from './identity';
import { kemPrekeyMessage } from './kem-prekey';
import vectors from './vectors/pqxdh-v1.json';
import { x3dhInitiate, x3dhRespond } from './x3dh';

const v = vectors.inputs;
const INPUT = {
  aliceSeed: hexToBytes(v.aliceIdentitySeed),
  bobSeed: hexToBytes(v.bobIdentitySeed),
  spkPrivate: hexToBytes(v.signedPrekeyPrivate),
  ephemeralPrivate: hexToBytes(v.ephemeralPrivate),
  kemSeed: hexToBytes(v.kemKeygenSeed),
  encapsulationRandom: hexToBytes(v.encapsulationRandom),
};

/** Noble, with the ephemeral key and the random bytes of the vector. */
function fixedProvider(): CryptoProvider {
  return {
    ...nobleProvider,
    name: 'fixed',
    x25519Generate: async () => ({
      privateKey: INPUT.ephemeralPrivate.slice(),
      publicKey: x25519.getPublicKey(INPUT.ephemeralPrivate),
    }),
    randomBytes: (n) => {
      if (n !== 32) throw new Error(`unexpected randomBytes(${n})`);
      return INPUT.encapsulationRandom.slice();
    },
  };
}

describe('pqxdh-v1 vector', () => {
  it("gives the vector's ciphertext, SK and session tag; OpenSSL agrees on the HKDF", async () => {
    const alice = { privateKey: INPUT.aliceSeed, publicKey: ed25519.getPublicKey(INPUT.aliceSeed) };
    const bob = { privateKey: INPUT.bobSeed, publicKey: ed25519.getPublicKey(INPUT.bobSeed) };
    const spk = await createSignedPrekey(nobleProvider, bob, v.signedPrekeyId, 0);
    spk.keyPair = {
      privateKey: INPUT.spkPrivate,
      publicKey: x25519.getPublicKey(INPUT.spkPrivate),
    };
    spk.signature = ed25519.sign(
      signedPrekeyMessage(spk.id, spk.keyPair.publicKey),
      bob.privateKey,
    );
    const kem = ml_kem768.keygen(INPUT.kemSeed);
    const kemSignature = ed25519.sign(
      kemPrekeyMessage(v.kemPrekeyId, v.kemLastResort, kem.publicKey),
      bob.privateKey,
    );
    const a = await x3dhInitiate(fixedProvider(), {
      ourIdentity: alice,
      theirBundle: {
        identityKey: bob.publicKey,
        signedPrekey: signedPrekeyPublic(spk),
        kemPrekey: {
          id: v.kemPrekeyId,
          publicKey: kem.publicKey,
          signature: kemSignature,
          lastResort: v.kemLastResort,
        },
      },
    });
    const b = await x3dhRespond(nobleProvider, {
      ourIdentity: bob,
      ourSignedPrekey: { privateKey: INPUT.spkPrivate },
      kem: { secretKey: kem.secretKey, cipherText: a.kem!.cipherText },
      theirIdentityKey: alice.publicKey,
      theirBaseKey: a.baseKey,
    });
    expect(b.sk).toEqual(a.sk);

    const got = {
      kemPublicKeySha256: bytesToHex(sha256(kem.publicKey)),
      cipherTextSha256: bytesToHex(sha256(a.kem!.cipherText)),
      sk: bytesToHex(a.sk),
      sessionTag: bytesToHex(a.sessionTag),
    };
    if (process.env.VEIL_WRITE_VECTORS === '1') console.log(JSON.stringify(got, null, 2));
    expect(got).toEqual(vectors.outputs);

    // The HKDF recomputed with OpenSSL from the DHs and the KEM secret.
    const ss = ml_kem768.decapsulate(a.kem!.cipherText, kem.secretKey);
    const dh = (priv: Uint8Array, pub: Uint8Array) => x25519.getSharedSecret(priv, pub);
    const ikm = concatBytes(
      new Uint8Array(32).fill(0xff),
      dh(identityDhPrivate(alice.privateKey), spk.keyPair.publicKey),
      dh(INPUT.ephemeralPrivate, identityDhPublic(bob.publicKey)),
      dh(INPUT.ephemeralPrivate, spk.keyPair.publicKey),
      ss,
    );
    const openssl = hkdfSync(
      'sha256',
      ikm,
      new Uint8Array(32),
      'Veil PQXDH X25519 ML-KEM-768 v1',
      32,
    );
    expect(bytesToHex(new Uint8Array(openssl))).toBe(vectors.outputs.sk);
    expect(hexToBytes(vectors.outputs.sessionTag).length).toBe(8);
  });
});
