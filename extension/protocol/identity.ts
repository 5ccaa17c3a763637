// Identity and prekeys (docs/protocol.md, "Keys"): generation, the signed-prekey signature, and
// the public / JSON forms published to the directory. Pure; all randomness via CryptoProvider.
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, utf8ToBytes } from './bytes';
import { edPublicToX25519, edSecretToX25519 } from './crypto/noble';
import type { CryptoProvider, KeyPair } from './crypto/provider';
import { jsonBytes, jsonInt, jsonRecord, toBase64Url } from './encoding';
import { VeilError } from './errors';
import {
  kemPrekeyFromJson,
  kemPrekeyToJson,
  type KemPrekeyJson,
  type KemPrekeyPublic,
} from './kem-prekey';

/** A device identity: Ed25519. Its X25519 form (identityDh*) is used for Diffie-Hellman. */
export interface IdentityKeyPair {
  /** Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Ed25519 seed, 32 bytes. */
  privateKey: Uint8Array;
}

export interface SignedPrekey {
  id: number;
  /** X25519. */
  keyPair: KeyPair;
  /** Ed25519-Sign(IK, "VeilSPK1" || u32(id) || publicKey). */
  signature: Uint8Array;
  /** Milliseconds since the epoch, as passed in by the caller; drives rotation. */
  createdAt: number;
}

export interface OneTimePrekey {
  /** 1 … 2^32 − 1; 0 means "no one-time prekey" on the wire. */
  id: number;
  /** X25519. */
  keyPair: KeyPair;
}

export interface SignedPrekeyPublic {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export interface OneTimePrekeyPublic {
  id: number;
  publicKey: Uint8Array;
}

/** What the directory hands out for one handle: enough to start an X3DH session. */
export interface PrekeyBundle {
  handle: string;
  /** Ed25519 public key. */
  identityKey: Uint8Array;
  signedPrekey: SignedPrekeyPublic;
  oneTimePrekey?: OneTimePrekeyPublic;
  /** A signed ML-KEM-768 prekey (one-time, else the last-resort one): post-quantum setup. */
  kemPrekey?: KemPrekeyPublic;
}

/** JSON wire forms: the same fields with bytes as unpadded base64url. */
export interface SignedPrekeyJson {
  id: number;
  publicKey: string;
  signature: string;
}

export interface OneTimePrekeyJson {
  id: number;
  publicKey: string;
}

export interface PrekeyBundleJson {
  handle: string;
  identityKey: string;
  signedPrekey: SignedPrekeyJson;
  oneTimePrekey?: OneTimePrekeyJson;
  kemPrekey?: KemPrekeyJson;
}

export const KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
export const MAX_HANDLE_LENGTH = 64;
const MAX_U32 = 0xffffffff;
/** Upper bound on one batch of one-time prekeys, so a bad argument cannot exhaust memory. */
export const MAX_ONE_TIME_PREKEY_BATCH = 1000;

const SPK_SIGNATURE_PREFIX = utf8ToBytes('VeilSPK1');
const HANDLE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Checks a handle: 1–64 of `[a-z0-9._-]`, first alphanumeric. Throws VeilError('invalid-argument'). */
export function validateHandle(handle: string): string {
  if (typeof handle !== 'string' || !HANDLE_PATTERN.test(handle))
    throw new VeilError(
      'invalid-argument',
      'a handle is 1-64 characters of a-z 0-9 . _ - starting with a letter or digit',
    );
  return handle;
}

/** True when `handle` passes validateHandle. */
export function isValidHandle(handle: unknown): handle is string {
  return typeof handle === 'string' && HANDLE_PATTERN.test(handle);
}

/** A fresh device identity, e.g. `const me = await generateIdentity(provider)`. */
export async function generateIdentity(crypto: CryptoProvider): Promise<IdentityKeyPair> {
  const { publicKey, privateKey } = await crypto.ed25519Generate();
  return { publicKey, privateKey };
}

/** X25519 public key of an Ed25519 identity: the key used in DH and in safety numbers. */
export function identityDhPublic(edPublicKey: Uint8Array): Uint8Array {
  if (edPublicKey.length !== KEY_LENGTH)
    throw new VeilError('invalid-key', 'identity key must be 32 bytes');
  return edPublicToX25519(edPublicKey);
}

/** X25519 private scalar of an Ed25519 identity seed. */
export function identityDhPrivate(edSeed: Uint8Array): Uint8Array {
  if (edSeed.length !== KEY_LENGTH)
    throw new VeilError('invalid-key', 'identity seed must be 32 bytes');
  return edSecretToX25519(edSeed);
}

/** The exact bytes the identity signs for a signed prekey. */
export function signedPrekeyMessage(id: number, publicKey: Uint8Array): Uint8Array {
  const idBytes = new Uint8Array(4);
  new DataView(idBytes.buffer).setUint32(0, id);
  return concatBytes(SPK_SIGNATURE_PREFIX, idBytes, publicKey);
}

/** A new signed prekey with id `id` (any u32), signed by `identity`; `now` is stored as createdAt. */
export async function createSignedPrekey(
  crypto: CryptoProvider,
  identity: IdentityKeyPair,
  id: number,
  now: number,
): Promise<SignedPrekey> {
  if (!isU32(id)) throw new VeilError('invalid-argument', 'signed prekey id must be a u32');
  if (!Number.isFinite(now)) throw new VeilError('invalid-argument', 'time must be a number');
  const keyPair = await crypto.x25519Generate();
  const signature = await crypto.ed25519Sign(
    identity.privateKey,
    signedPrekeyMessage(id, keyPair.publicKey),
  );
  return { id, keyPair, signature, createdAt: now };
}

/** Checks a published signed prekey against the identity key. False for any bad input. */
export async function verifySignedPrekey(
  crypto: CryptoProvider,
  identityPublic: Uint8Array,
  spk: SignedPrekeyPublic,
): Promise<boolean> {
  if (
    !isU32(spk.id) ||
    !isBytes(identityPublic, KEY_LENGTH) ||
    !isBytes(spk.publicKey, KEY_LENGTH) ||
    !isBytes(spk.signature, SIGNATURE_LENGTH)
  )
    return false;
  return crypto.ed25519Verify(
    identityPublic,
    signedPrekeyMessage(spk.id, spk.publicKey),
    spk.signature,
  );
}

/** Checks a bundle's signed-prekey signature; throws VeilError('bad-signature') if it fails. */
export async function verifyBundle(crypto: CryptoProvider, bundle: PrekeyBundle): Promise<void> {
  if (!(await verifySignedPrekey(crypto, bundle.identityKey, bundle.signedPrekey)))
    throw new VeilError('bad-signature', 'signed prekey signature does not verify');
}

/** `count` one-time prekeys with ids firstId, firstId + 1, …, all within 1 … 2^32 − 1. */
export async function createOneTimePrekeys(
  crypto: CryptoProvider,
  firstId: number,
  count: number,
): Promise<OneTimePrekey[]> {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_ONE_TIME_PREKEY_BATCH)
    throw new VeilError('invalid-argument', 'one-time prekey count out of range');
  if (!isU32(firstId) || firstId === 0 || (count > 0 && firstId + count - 1 > MAX_U32))
    throw new VeilError('invalid-argument', 'one-time prekey ids must lie in 1 … 2^32 − 1');
  const pairs = await Promise.all(Array.from({ length: count }, () => crypto.x25519Generate()));
  return pairs.map((keyPair, i) => ({ id: firstId + i, keyPair }));
}

/** What gets published of a signed prekey (no private key). */
export function signedPrekeyPublic(spk: SignedPrekey): SignedPrekeyPublic {
  return { id: spk.id, publicKey: spk.keyPair.publicKey, signature: spk.signature };
}

/** What gets published of a one-time prekey (no private key). */
export function oneTimePrekeyPublic(opk: OneTimePrekey): OneTimePrekeyPublic {
  return { id: opk.id, publicKey: opk.keyPair.publicKey };
}

/** JSON form of a published signed prekey, e.g. for the directory's publish request. */
export function signedPrekeyToJson(spk: SignedPrekeyPublic): SignedPrekeyJson {
  return {
    id: spk.id,
    publicKey: toBase64Url(spk.publicKey),
    signature: toBase64Url(spk.signature),
  };
}

/** JSON form of a published one-time prekey. */
export function oneTimePrekeyToJson(opk: OneTimePrekeyPublic): OneTimePrekeyJson {
  return { id: opk.id, publicKey: toBase64Url(opk.publicKey) };
}

/** JSON form of a bundle, e.g. `JSON.stringify(bundleToJson(b))`. */
export function bundleToJson(bundle: PrekeyBundle): PrekeyBundleJson {
  const json: PrekeyBundleJson = {
    handle: bundle.handle,
    identityKey: toBase64Url(bundle.identityKey),
    signedPrekey: signedPrekeyToJson(bundle.signedPrekey),
  };
  if (bundle.oneTimePrekey) json.oneTimePrekey = oneTimePrekeyToJson(bundle.oneTimePrekey);
  if (bundle.kemPrekey) json.kemPrekey = kemPrekeyToJson(bundle.kemPrekey);
  return json;
}

/**
 * Parses a signed prekey's JSON form (already JSON.parse'd). Checks shape, id range and lengths;
 * throws VeilError('malformed'). Does not check the signature: see verifySignedPrekey.
 */
export function signedPrekeyFromJson(value: unknown): SignedPrekeyPublic {
  const o = jsonRecord(value, 'signed prekey');
  return {
    id: jsonInt(o.id, 'signed prekey id', 0),
    publicKey: jsonBytes(o.publicKey, KEY_LENGTH, 'signed prekey'),
    signature: jsonBytes(o.signature, SIGNATURE_LENGTH, 'signed prekey signature'),
  };
}

/** Parses a one-time prekey's JSON form; the id must be 1 … 2^32 − 1. */
export function oneTimePrekeyFromJson(value: unknown): OneTimePrekeyPublic {
  const o = jsonRecord(value, 'one-time prekey');
  return {
    id: jsonInt(o.id, 'one-time prekey id', 1),
    publicKey: jsonBytes(o.publicKey, KEY_LENGTH, 'one-time prekey'),
  };
}

/**
 * Parses a bundle's JSON form (already JSON.parse'd): handle syntax, key and signature lengths,
 * id ranges, and that the identity key is a canonical Ed25519 point not of small order. Unknown fields are ignored so
 * the directory can add some later. Throws VeilError('malformed'). The caller still has to
 * check the signature (verifyBundle) and the identity against its pinned key.
 */
export function bundleFromJson(value: unknown): PrekeyBundle {
  const o = jsonRecord(value, 'bundle');
  if (!isValidHandle(o.handle))
    throw new VeilError('malformed', 'bundle handle is not a valid handle');
  const identityKey = jsonBytes(o.identityKey, KEY_LENGTH, 'identity key');
  if (!isUsableIdentityKey(identityKey))
    throw new VeilError('malformed', 'identity key is not a usable Ed25519 public key');
  const bundle: PrekeyBundle = {
    handle: o.handle,
    identityKey,
    signedPrekey: signedPrekeyFromJson(o.signedPrekey),
  };
  // Absent and null both mean "the directory ran out of one-time prekeys".
  if (o.oneTimePrekey !== undefined && o.oneTimePrekey !== null)
    bundle.oneTimePrekey = oneTimePrekeyFromJson(o.oneTimePrekey);
  // Absent from directories and clients before post-quantum setup.
  if (o.kemPrekey !== undefined && o.kemPrekey !== null)
    bundle.kemPrekey = kemPrekeyFromJson(o.kemPrekey);
  return bundle;
}

/**
 * True for a canonical Ed25519 point that is not of small order. A small-order identity key
 * would make every X25519 result zero and lets anyone produce "signatures" that verify for it.
 */
export function isUsableIdentityKey(publicKey: Uint8Array): boolean {
  if (!isBytes(publicKey, KEY_LENGTH)) return false;
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
  } catch {
    return false;
  }
}

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_U32;
}

function isBytes(b: unknown, length: number): b is Uint8Array {
  return b instanceof Uint8Array && b.length === length;
}
