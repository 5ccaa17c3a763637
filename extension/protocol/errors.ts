// Typed protocol errors. Messages name the cause only: never key bytes, plaintext or ciphertext.

export type VeilErrorCode =
  | 'malformed' // bytes or armor do not parse
  | 'unknown-version' // a version byte we do not speak
  | 'truncated' // input ends early / chunks missing
  | 'conflict' // a chunk disagrees with one already received for the same message
  | 'oversized' // input longer than we accept
  | 'bad-mac' // AEAD tag or MAC check failed
  | 'bad-signature' // Ed25519 signature check failed
  | 'invalid-key' // wrong length, low-order or otherwise unusable public key
  | 'replay' // message key already used (duplicate delivery)
  | 'too-old' // skipped key evicted: reordered beyond the window
  | 'too-far-ahead' // more than MAX_FORWARD_JUMP messages skipped
  | 'no-session' // no session / sender key for this message
  | 'wrong-context' // message was written for another site or conversation
  | 'own-message' // written by this device (our own message shown by the host, or reflected)
  | 'untrusted-identity' // the peer's identity key changed and was not acknowledged
  | 'downgrade' // a contact known to use post-quantum setup offered a bundle without it
  | 'not-for-us' // addressed to another identity
  | 'no-identity' // no local identity yet
  | 'wrong-passphrase' // backup or lock passphrase does not open the data
  | 'bad-proof' // a transparency-log proof or tree head does not verify
  | 'invalid-argument'; // the caller passed something unusable

export class VeilError extends Error {
  override readonly name = 'VeilError';
  constructor(
    readonly code: VeilErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isVeilError(e: unknown, code?: VeilErrorCode): e is VeilError {
  return e instanceof VeilError && (code === undefined || e.code === code);
}
