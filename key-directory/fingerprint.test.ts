// The directory's safety-number half equals libsignal's (the two halves of libsignal's
// displayable fingerprint, smaller first), and the key checks refuse small-order points.
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { Fingerprint, PublicKey } from '@signalapp/libsignal-client';
import { describe, expect, it } from 'vitest';
import { keyFingerprint, safetyNumberHalf } from './fingerprint';
import { isUsableEd25519PublicKey, isUsableX25519PublicKey } from './schema';

describe('safety-number half', () => {
  it('matches libsignal for the same keys and handles', () => {
    for (const [a, b] of [
      ['alice', 'bob'],
      ['x', 'a.very-long_handle.0123456789'],
    ]) {
      const ka = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
      const kb = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
      const signalKey = (k: Uint8Array) =>
        PublicKey.deserialize(Uint8Array.of(5, ...ed25519.utils.toMontgomery(k)));
      const enc = (s: string) => new TextEncoder().encode(s);
      const theirs = Fingerprint.new(5200, 0, enc(a!), signalKey(ka), enc(b!), signalKey(kb))
        .displayableFingerprint()
        .toString();
      const halves = [safetyNumberHalf(a!, ka), safetyNumberHalf(b!, kb)].sort();
      expect(halves.join('')).toBe(theirs);
      expect(halves[0]).toMatch(/^\d{30}$/);
    }
  });

  it('fingerprint is the hex SHA-256 of the key', () => {
    expect(keyFingerprint(new Uint8Array(0))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('public key checks', () => {
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ].map((h) => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16))));

  it('refuses every small-order X25519 point (they force an all-zero shared secret)', () => {
    for (const u of lowOrder) {
      expect(isUsableX25519PublicKey(u)).toBe(false);
      let shared: Uint8Array | undefined;
      try {
        shared = x25519.getSharedSecret(x25519.utils.randomSecretKey(), u);
      } catch {
        shared = new Uint8Array(32); // noble refuses the all-zero result itself
      }
      expect(shared.every((b) => b === 0)).toBe(true);
    }
    // Non-canonical: p itself and anything with the top bit set.
    expect(
      isUsableX25519PublicKey(
        Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0xed : i === 31 ? 0x7f : 0xff)),
      ),
    ).toBe(false);
    const k = x25519.getPublicKey(x25519.utils.randomSecretKey());
    expect(isUsableX25519PublicKey(k)).toBe(true);
    expect(isUsableX25519PublicKey(Uint8Array.from(k, (b, i) => (i === 31 ? b | 0x80 : b)))).toBe(
      false,
    );
  });

  it('refuses Ed25519 encodings that are not points or have small order', () => {
    expect(isUsableEd25519PublicKey(ed25519.getPublicKey(ed25519.utils.randomSecretKey()))).toBe(
      true,
    );
    expect(
      isUsableEd25519PublicKey(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0))),
    ).toBe(false);
    expect(isUsableEd25519PublicKey(new Uint8Array(32).fill(0xff))).toBe(false);
  });
});
