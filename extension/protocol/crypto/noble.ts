// CryptoProvider on @noble/curves: works in every runtime, slower than native WebCrypto.
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { VeilError } from '../errors';
import type { CryptoProvider, KeyPair } from './provider';

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

export const nobleProvider: CryptoProvider = {
  name: 'noble',
  randomBytes(length) {
    // The platform RNG hands out at most 64 KiB per call.
    const out = new Uint8Array(length);
    for (let off = 0; off < length; off += 65536)
      out.set(randomBytes(Math.min(65536, length - off)), off);
    return out;
  },
  async x25519Generate(): Promise<KeyPair> {
    const { secretKey, publicKey } = x25519.keygen();
    return { privateKey: secretKey, publicKey };
  },
  async x25519(privateKey, publicKey) {
    if (publicKey.length !== 32 || privateKey.length !== 32)
      throw new VeilError('invalid-key', 'X25519 key must be 32 bytes');
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      throw new VeilError('invalid-key', 'X25519 public key is unusable');
    }
    if (isAllZero(shared)) throw new VeilError('invalid-key', 'X25519 public key is low-order');
    return shared;
  },
  async ed25519Generate(): Promise<KeyPair> {
    const { secretKey, publicKey } = ed25519.keygen();
    return { privateKey: secretKey, publicKey };
  },
  async ed25519Sign(privateKey, message) {
    if (privateKey.length !== 32)
      throw new VeilError('invalid-key', 'Ed25519 private key must be 32 bytes');
    return ed25519.sign(message, privateKey);
  },
  async ed25519Verify(publicKey, message, signature) {
    try {
      // RFC 8032-strict: canonical encodings and no small-order public key (noble's default,
      // ZIP-215, accepts a small-order key whose "signature" then verifies for any message).
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};

/** Converts an Ed25519 public key to its X25519 (Montgomery) form, as Signal's XEd25519 pairing. */
export function edPublicToX25519(edPublicKey: Uint8Array): Uint8Array {
  try {
    return ed25519.utils.toMontgomery(edPublicKey);
  } catch {
    throw new VeilError('invalid-key', 'Ed25519 public key is unusable');
  }
}

/** Converts an Ed25519 seed to the X25519 scalar of the same key (RFC 8032 hash-and-clamp). */
export function edSecretToX25519(edSeed: Uint8Array): Uint8Array {
  return ed25519.utils.toMontgomerySecret(edSeed);
}
