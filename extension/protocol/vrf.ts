// ECVRF-EDWARDS25519-SHA512-ELL2 (RFC 9381 §5, suite 0x04), composed from @noble/curves point
// operations and RFC 9380 encode_to_curve (no field arithmetic of our own). Pure: no clock, no
// I/O. The key directory labels handles with it (a label only the directory can compute, that
// everyone can check, and that is unique per handle); see handleLabel below and
// docs/transparency.md. ELL2 rather than TAI: encode_to_curve runs in constant time, so the
// time to label a handle says nothing about it.
import { ed25519, ed25519_hasher } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from './bytes';
import { VeilError } from './errors';

const Point = ed25519.Point;
type EdPoint = InstanceType<typeof ed25519.Point>;
const ORDER = Point.Fn.ORDER;
const SUITE = 0x04;
const DST = concatBytes(
  utf8ToBytes('ECVRF_edwards25519_XMD:SHA-512_ELL2_NU_'),
  Uint8Array.of(SUITE),
);
const C_LEN = 16;

/** pi = Gamma (32) || c (16) || s (32). */
export const VRF_PROOF_SIZE = 80;
/** beta, the VRF output (SHA-512). */
export const VRF_OUTPUT_SIZE = 64;
export const VRF_PUBLIC_KEY_SIZE = 32;

function invalid(message: string): VeilError {
  return new VeilError('bad-proof', message);
}

/** RFC 8032 decoding, strict (y < p): a second encoding of one point would be a second proof. */
function decodePoint(bytes: Uint8Array, what: string): EdPoint {
  try {
    return Point.fromBytes(bytes, false);
  } catch {
    throw invalid(`${what} is not a curve point`);
  }
}

/** RFC 9381 §5.4.1.2: encode_to_curve(PK || alpha) with the suite's DST (cofactor cleared). */
function encodeToCurve(publicKey: Uint8Array, alpha: Uint8Array): EdPoint {
  return ed25519_hasher.encodeToCurve(concatBytes(publicKey, alpha), { DST }) as EdPoint;
}

/** RFC 9381 §5.4.3: the first 16 bytes of SHA-512(suite || 0x02 || points || 0x00), as an integer. */
function challenge(points: readonly EdPoint[]): bigint {
  const digest = sha512(
    concatBytes(Uint8Array.of(SUITE, 0x02), ...points.map((p) => p.toBytes()), Uint8Array.of(0)),
  );
  return bytesToNumberLE(digest.subarray(0, C_LEN));
}

/** RFC 9381 §5.2: beta = SHA-512(suite || 0x03 || cofactor * Gamma || 0x00). */
function gammaToHash(gamma: EdPoint): Uint8Array {
  return sha512(
    concatBytes(Uint8Array.of(SUITE, 0x03), gamma.clearCofactor().toBytes(), Uint8Array.of(0)),
  );
}

/** The VRF public key of a 32-byte secret key (the same as its Ed25519 public key). */
export function vrfPublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

/**
 * RFC 9381 §5.1: the proof pi for `alpha` under a 32-byte secret key. Deterministic (the nonce
 * is derived as in RFC 8032), so proving twice gives the same 80 bytes.
 * @example const pi = vrfProve(sk, utf8ToBytes('veil-handle:alice'));
 */
export function vrfProve(secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  if (secretKey.length !== 32)
    throw new VeilError('invalid-key', 'VRF secret key must be 32 bytes');
  const { prefix, scalar: x, pointBytes } = ed25519.utils.getExtendedPublicKey(secretKey);
  const h = encodeToCurve(pointBytes, alpha);
  const gamma = h.multiply(x);
  // RFC 9381 §5.4.2.2: k = SHA-512(second half of SHA-512(sk) || h_string) mod q.
  const k = bytesToNumberLE(sha512(concatBytes(prefix, h.toBytes()))) % ORDER;
  const kNonZero = k === 0n ? 1n : k; // probability 2^-252; keeps multiply() in range
  const c = challenge([
    Point.fromBytes(pointBytes),
    h,
    gamma,
    Point.BASE.multiply(kNonZero),
    h.multiply(kNonZero),
  ]);
  const s = (kNonZero + c * x) % ORDER;
  return concatBytes(gamma.toBytes(), numberToBytesLE(c, C_LEN), numberToBytesLE(s, 32));
}

/** RFC 9381 §5.2: the output beta of a proof (does not verify it: use vrfVerify for that). */
export function vrfProofToHash(proof: Uint8Array): Uint8Array {
  if (proof.length !== VRF_PROOF_SIZE) throw invalid('VRF proof must be 80 bytes');
  return gammaToHash(decodePoint(proof.subarray(0, 32), 'VRF Gamma'));
}

/**
 * RFC 9381 §5.3 with validate_key = TRUE: returns beta when `proof` proves `alpha` under
 * `publicKey`; throws VeilError('bad-proof') otherwise. A public key of small order (for which
 * proofs are not unique) is refused.
 * @example const beta = vrfVerify(pk, utf8ToBytes('veil-handle:alice'), pi);
 */
export function vrfVerify(publicKey: Uint8Array, alpha: Uint8Array, proof: Uint8Array): Uint8Array {
  if (publicKey.length !== VRF_PUBLIC_KEY_SIZE) throw invalid('VRF public key must be 32 bytes');
  if (proof.length !== VRF_PROOF_SIZE) throw invalid('VRF proof must be 80 bytes');
  const y = decodePoint(publicKey, 'VRF public key');
  // §5.4.5 ECVRF_validate_key: cofactor * Y must not be the identity.
  if (y.clearCofactor().is0()) throw invalid('VRF public key has small order');
  const gamma = decodePoint(proof.subarray(0, 32), 'VRF Gamma');
  const c = bytesToNumberLE(proof.subarray(32, 48));
  const s = bytesToNumberLE(proof.subarray(48, 80));
  if (s >= ORDER) throw invalid('VRF proof scalar out of range');
  const h = encodeToCurve(publicKey, alpha);
  // Public values only: the variable-time multiplications are fine here.
  const u = Point.BASE.multiplyUnsafe(s).subtract(y.multiplyUnsafe(c));
  const v = h.multiplyUnsafe(s).subtract(gamma.multiplyUnsafe(c));
  if (challenge([y, h, gamma, u, v]) !== c) throw invalid('VRF proof does not verify');
  return gammaToHash(gamma);
}

// --- handle labels ----------------------------------------------------------------------------

/** Bytes of a handle label in the log: the first half of beta. */
export const LABEL_SIZE = 32;

/** What the directory's VRF key is applied to for a handle. */
export function handleLabelInput(handle: string): Uint8Array {
  return utf8ToBytes(`veil-handle:${handle}`);
}

/** The label of `handle` and its proof, by the directory (holder of the VRF secret key). */
export function proveHandleLabel(
  secretKey: Uint8Array,
  handle: string,
): { label: Uint8Array; proof: Uint8Array } {
  const proof = vrfProve(secretKey, handleLabelInput(handle));
  return { label: vrfProofToHash(proof).slice(0, LABEL_SIZE), proof };
}

/**
 * The label of `handle` if `proof` proves it under the directory's VRF key; throws
 * VeilError('bad-proof') otherwise. There is exactly one label per (key, handle): a directory
 * cannot make a second one verify (RFC 9381 full uniqueness, the key being validated).
 */
export function verifyHandleLabel(
  vrfKey: Uint8Array,
  handle: string,
  proof: Uint8Array,
): Uint8Array {
  return vrfVerify(vrfKey, handleLabelInput(handle), proof).slice(0, LABEL_SIZE);
}
