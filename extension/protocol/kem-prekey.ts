// Post-quantum KEM prekeys (docs/protocol.md, "Post-quantum session setup"): ML-KEM-768
// (FIPS 203) key pairs signed by the identity key, published to the directory as one-time keys
// and one last-resort key, and the encapsulation both sides of PQXDH-style setup use. Pure; all
// randomness via CryptoProvider (ML-KEM's seed and message are drawn there).
//
// Why ML-KEM-768: NIST category 3, the set TLS deploys (X25519MLKEM768) and that NIST names as
// the default. ML-KEM-1024 (Signal's) adds 480 bytes of ciphertext to every first message, which
// would put a 200-byte first message past 2,000 armored characters; 512 leaves the thinnest
// margin against lattice cryptanalysis. Hybrid with X25519, a break of either alone is not enough.
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { concatBytes, utf8ToBytes } from './bytes';
import type { CryptoProvider } from './crypto/provider';
import { jsonBytes, jsonInt, jsonRecord, toBase64Url } from './encoding';
import { KEM_CIPHERTEXT_LENGTH } from './envelope';
import { VeilError } from './errors';

export const KEM_NAME = 'ML-KEM-768';
export const KEM_PUBLIC_KEY_LENGTH = 1184;
export const KEM_SECRET_KEY_LENGTH = 2400;
/** 1,088 bytes; the envelope layer owns the number (it parses type 5 without ML-KEM). */
export { KEM_CIPHERTEXT_LENGTH };
export const KEM_SHARED_LENGTH = 32;
const SIGNATURE_LENGTH = 64;
const MAX_U32 = 0xffff_ffff;
/** Upper bound on one batch, so a bad argument cannot exhaust memory (each key is 3.6 KB). */
export const MAX_KEM_PREKEY_BATCH = 200;

const KPK_SIGNATURE_PREFIX = utf8ToBytes('VeilKPK1');

export interface KemPrekey {
  /** 1 … 2^32 − 1, one id space for one-time and last-resort keys. */
  id: number;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Ed25519-Sign(IK, "VeilKPK1" || u32(id) || u8(lastResort) || publicKey). */
  signature: Uint8Array;
  /** A last-resort key is kept after use and served when no one-time key is left. */
  lastResort: boolean;
  /** Milliseconds since the epoch, as passed in: drives the last-resort key's rotation. */
  createdAt: number;
}

export interface KemPrekeyPublic {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
  lastResort: boolean;
}

export interface KemPrekeyJson {
  id: number;
  publicKey: string;
  signature: string;
  lastResort?: boolean;
}

/**
 * The exact bytes the identity signs for a KEM prekey. Whether it is a last-resort key is
 * signed too, so a directory cannot pass a one-time key off as reusable or the other way round.
 */
export function kemPrekeyMessage(
  id: number,
  lastResort: boolean,
  publicKey: Uint8Array,
): Uint8Array {
  const head = new Uint8Array(5);
  new DataView(head.buffer).setUint32(0, id);
  head[4] = lastResort ? 1 : 0;
  return concatBytes(KPK_SIGNATURE_PREFIX, head, publicKey);
}

/** `count` signed KEM prekeys with ids firstId, firstId + 1, …; `lastResort` for all of them. */
export async function createKemPrekeys(
  crypto: CryptoProvider,
  identityPrivateKey: Uint8Array,
  firstId: number,
  count: number,
  opts: { lastResort: boolean; now: number },
): Promise<KemPrekey[]> {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_KEM_PREKEY_BATCH)
    throw new VeilError('invalid-argument', 'KEM prekey count out of range');
  if (!isId(firstId) || (count > 0 && firstId + count - 1 > MAX_U32))
    throw new VeilError('invalid-argument', 'KEM prekey ids must lie in 1 … 2^32 − 1');
  const out: KemPrekey[] = [];
  for (let i = 0; i < count; i++) {
    const { publicKey, secretKey } = ml_kem768.keygen(crypto.randomBytes(64));
    const id = firstId + i;
    const signature = await crypto.ed25519Sign(
      identityPrivateKey,
      kemPrekeyMessage(id, opts.lastResort, publicKey),
    );
    out.push({
      id,
      publicKey,
      secretKey,
      signature,
      lastResort: opts.lastResort,
      createdAt: opts.now,
    });
  }
  return out;
}

/** Checks a published KEM prekey against the identity key. False for any bad input. */
export async function verifyKemPrekey(
  crypto: CryptoProvider,
  identityPublic: Uint8Array,
  kpk: KemPrekeyPublic,
): Promise<boolean> {
  if (
    !isId(kpk.id) ||
    typeof kpk.lastResort !== 'boolean' ||
    !isBytes(identityPublic, 32) ||
    !isBytes(kpk.publicKey, KEM_PUBLIC_KEY_LENGTH) ||
    !isBytes(kpk.signature, SIGNATURE_LENGTH)
  )
    return false;
  return crypto.ed25519Verify(
    identityPublic,
    kemPrekeyMessage(kpk.id, kpk.lastResort, kpk.publicKey),
    kpk.signature,
  );
}

/** Encapsulates to a (verified) KEM prekey: the ciphertext to send and the shared secret. */
export function kemEncapsulate(
  crypto: CryptoProvider,
  publicKey: Uint8Array,
): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  if (!isBytes(publicKey, KEM_PUBLIC_KEY_LENGTH))
    throw new VeilError('invalid-key', `a KEM prekey is ${KEM_PUBLIC_KEY_LENGTH} bytes`);
  try {
    return ml_kem768.encapsulate(publicKey, crypto.randomBytes(32));
  } catch {
    // FIPS 203's encapsulation key check (coefficients reduced mod q).
    throw new VeilError('invalid-key', 'the KEM prekey is not a valid ML-KEM-768 key');
  }
}

/**
 * The shared secret of a ciphertext. ML-KEM decapsulation never fails on a wrong ciphertext
 * (implicit rejection gives a pseudorandom secret): the session's first AEAD tag is what fails.
 */
export function kemDecapsulate(secretKey: Uint8Array, cipherText: Uint8Array): Uint8Array {
  if (!isBytes(cipherText, KEM_CIPHERTEXT_LENGTH))
    throw new VeilError('malformed', `a KEM ciphertext is ${KEM_CIPHERTEXT_LENGTH} bytes`);
  return ml_kem768.decapsulate(cipherText, secretKey);
}

/** What gets published of a KEM prekey (no secret key). */
export function kemPrekeyPublic(k: KemPrekey): KemPrekeyPublic {
  return { id: k.id, publicKey: k.publicKey, signature: k.signature, lastResort: k.lastResort };
}

export function kemPrekeyToJson(k: KemPrekeyPublic): KemPrekeyJson {
  return {
    id: k.id,
    publicKey: toBase64Url(k.publicKey),
    signature: toBase64Url(k.signature),
    ...(k.lastResort ? { lastResort: true } : {}),
  };
}

/** Parses a KEM prekey's JSON form; throws VeilError('malformed'). Does not check the signature. */
export function kemPrekeyFromJson(value: unknown): KemPrekeyPublic {
  const o = jsonRecord(value, 'KEM prekey');
  if (o.lastResort !== undefined && typeof o.lastResort !== 'boolean')
    throw new VeilError('malformed', 'KEM prekey lastResort must be a boolean');
  return {
    id: jsonInt(o.id, 'KEM prekey id', 1),
    publicKey: jsonBytes(o.publicKey, KEM_PUBLIC_KEY_LENGTH, 'KEM prekey'),
    signature: jsonBytes(o.signature, SIGNATURE_LENGTH, 'KEM prekey signature'),
    lastResort: o.lastResort === true,
  };
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_U32;
}

function isBytes(v: unknown, length: number): v is Uint8Array {
  return v instanceof Uint8Array && v.length === length;
}
