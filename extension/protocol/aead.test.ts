// The AEAD wrapper against RFC 8439 §2.8.2 and @noble/ciphers: tag failures are one error
// type, nothing decrypts with a flipped bit, and the output buffer form works.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { utf8ToBytes } from './bytes';
import { AeadError, openChaCha20Poly1305, sealChaCha20Poly1305 } from './aead';

const hex = (b: Uint8Array) => bytesToHex(b);
const h = (s: string) => hexToBytes(s.replace(/[\s:]/g, ''));

describe('ChaCha20-Poly1305', () => {
  it('matches RFC 8439 §2.8.2', () => {
    const key = h('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = h('070000004041424344454647');
    const aad = h('50515253c0c1c2c3c4c5c6c7');
    const plaintext = utf8ToBytes(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const sealed = sealChaCha20Poly1305(key, nonce, aad, plaintext);
    expect(hex(sealed)).toBe(
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116' +
        '1ae10b594f09e26a7e902ecbd0600691',
    );
    expect(openChaCha20Poly1305(key, nonce, aad, sealed)).toEqual(plaintext);
  });

  it('equals @noble/ciphers both ways on random inputs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 400 }),
        (key, nonce, aad, plaintext) => {
          const mine = sealChaCha20Poly1305(key, nonce, aad, plaintext);
          const theirs = chacha20poly1305(key, nonce, aad).encrypt(plaintext);
          expect(hex(mine)).toBe(hex(theirs));
          expect(hex(openChaCha20Poly1305(key, nonce, aad, theirs))).toBe(hex(plaintext));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('writes into a given output, in place too', () => {
    const key = new Uint8Array(32).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const aad = Uint8Array.of(3);
    const pt = new Uint8Array(100).fill(4);
    const expected = sealChaCha20Poly1305(key, nonce, aad, pt);
    const out = new Uint8Array(130);
    sealChaCha20Poly1305(key, nonce, aad, pt, out.subarray(7, 123));
    expect(out.subarray(7, 123)).toEqual(expected);
    const inPlace = new Uint8Array(116);
    inPlace.set(pt);
    sealChaCha20Poly1305(key, nonce, aad, inPlace.subarray(0, 100), inPlace);
    expect(inPlace).toEqual(expected);
    expect(() => sealChaCha20Poly1305(key, nonce, aad, pt, new Uint8Array(115))).toThrow();
  });

  it('rejects every flipped bit of ciphertext, tag, aad; wrong key or nonce; short input', () => {
    const key = new Uint8Array(32).fill(7);
    const nonce = new Uint8Array(12).fill(8);
    const aad = utf8ToBytes('header');
    const sealed = sealChaCha20Poly1305(key, nonce, aad, utf8ToBytes('a secret message'));
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const bad = sealed.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => openChaCha20Poly1305(key, nonce, aad, bad)).toThrow(AeadError);
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      const bad = aad.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => openChaCha20Poly1305(key, nonce, bad, sealed)).toThrow(AeadError);
    }
    const otherKey = key.slice();
    otherKey[31]! ^= 1;
    expect(() => openChaCha20Poly1305(otherKey, nonce, aad, sealed)).toThrow(AeadError);
    const otherNonce = nonce.slice();
    otherNonce[0]! ^= 1;
    expect(() => openChaCha20Poly1305(key, otherNonce, aad, sealed)).toThrow(AeadError);
    expect(() => openChaCha20Poly1305(key, nonce, aad, sealed.subarray(0, 15))).toThrow(AeadError);
    expect(() => openChaCha20Poly1305(new Uint8Array(31), nonce, aad, sealed)).toThrow(TypeError);
    expect(() => openChaCha20Poly1305(key, new Uint8Array(24), aad, sealed)).toThrow(TypeError);
  });
});
