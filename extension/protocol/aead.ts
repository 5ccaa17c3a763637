// ChaCha20-Poly1305 (RFC 8439) for the per-message AEAD of 1:1 and group messages: a thin
// wrapper over @noble/ciphers that turns a tag failure into one error type. Pure.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';

export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;

/** Thrown by openChaCha20Poly1305 when the tag does not verify (nothing is decrypted then). */
export class AeadError extends Error {
  constructor() {
    super('invalid tag');
    this.name = 'AeadError';
  }
}

/**
 * Encrypts `plaintext` and appends the 16-byte tag: into `output` when given (exactly
 * plaintext.length + 16 bytes), else a new array.
 */
export function sealChaCha20Poly1305(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  output?: Uint8Array,
): Uint8Array {
  checkKeyAndNonce(key, nonce);
  if (output && output.length !== plaintext.length + AEAD_TAG_LENGTH)
    throw new TypeError('output must be plaintext length + 16 bytes');
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext, output);
}

/** Checks the tag, then decrypts. `sealed` is ciphertext || tag; a bad tag is AeadError. */
export function openChaCha20Poly1305(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  checkKeyAndNonce(key, nonce);
  if (!(sealed instanceof Uint8Array) || sealed.length < AEAD_TAG_LENGTH) throw new AeadError();
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    throw new AeadError();
  }
}

// A wrong key or nonce length is the caller's bug, not a forgery: say so with a TypeError.
function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== AEAD_KEY_LENGTH)
    throw new TypeError('ChaCha20-Poly1305 key must be 32 bytes');
  if (!(nonce instanceof Uint8Array) || nonce.length !== AEAD_NONCE_LENGTH)
    throw new TypeError('ChaCha20-Poly1305 nonce must be 12 bytes');
}
