// The asymmetric operations the protocol needs, behind one small interface so the runtime can
// supply native WebCrypto (fast in browsers) while the core stays pure. Hashes and AEAD stay on
// @noble (synchronous and fast for short messages), except an optional native HKDF.

export interface KeyPair {
  /** Raw 32-byte private key: an X25519 scalar or an Ed25519 seed. */
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface CryptoProvider {
  readonly name: string;
  randomBytes(length: number): Uint8Array;
  x25519Generate(): Promise<KeyPair>;
  /** X25519 shared secret; rejects with VeilError('invalid-key') on an all-zero (low-order) result. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;
  ed25519Generate(): Promise<KeyPair>;
  ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** False for any invalid signature or key; never throws for bad input. */
  ed25519Verify(
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean>;
  /**
   * HKDF-SHA256 (RFC 5869) where the runtime has a native one, which is faster than @noble's
   * for the root-key step; absent, the protocol uses @noble's. Async, so it is only called
   * where an await is paid anyway (right after a DH).
   */
  hkdfSha256?(
    ikm: Uint8Array,
    salt: Uint8Array,
    info: Uint8Array,
    length: number,
  ): Promise<Uint8Array>;
}
