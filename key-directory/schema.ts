// Strict validation of the publish body: exactly the documented fields, the right types, base64url
// of the right lengths, valid curve points. Unknown fields are rejected, not ignored.
import { base64UrlDecode, isValidHandle } from '../extension/protocol/directory-request';
import { isUsableIdentityKey } from '../extension/protocol/identity';
import { badRequest } from './errors';

export interface PublishBody {
  handle: string;
  identityKey: Uint8Array;
  signedPrekey: { id: number; publicKey: Uint8Array; signature: Uint8Array };
  oneTimePrekeys: { id: number; publicKey: Uint8Array }[];
}

const invalid = (path: string, what: string) => badRequest('invalid-field', `${path}: ${what}`);

function object(value: unknown, path: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(path, 'must be an object');
  const record = value as Record<string, unknown>;
  for (const k of Object.keys(record))
    if (!keys.includes(k)) throw badRequest('unknown-field', `${path}: unknown field`);
  for (const k of keys) if (!(k in record)) throw invalid(`${path}.${k}`, 'is required');
  return record;
}

function bytes(value: unknown, path: string, length: number): Uint8Array {
  if (typeof value !== 'string' || value.length > 128)
    throw invalid(path, 'must be a base64url string');
  let out: Uint8Array;
  try {
    out = base64UrlDecode(value);
  } catch {
    throw invalid(path, 'must be unpadded base64url');
  }
  if (out.length !== length) throw invalid(path, `must decode to ${length} bytes`);
  return out;
}

function u32(value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 0xffffffff)
    throw invalid(path, `must be an integer from ${min} to 4294967295`);
  return value;
}

const P = 2n ** 255n - 19n;
const leToBigInt = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
const hexLe = (hex: string) =>
  leToBigInt(Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16))));
/** u-coordinates of the X25519 points of small order (libsodium's blocklist, reduced mod p). */
const LOW_ORDER_U = new Set<bigint>([
  0n,
  1n,
  P - 1n,
  hexLe('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'),
  hexLe('5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'),
]);

/** Rejects non-canonical (u >= p, top bit set) and small-order X25519 public keys. */
export function isUsableX25519PublicKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  const u = leToBigInt(key);
  return u < P && !LOW_ORDER_U.has(u);
}

/** Rejects encodings that are not a canonical point, and points of small order (as clients do). */
export const isUsableEd25519PublicKey = isUsableIdentityKey;

function x25519Key(value: unknown, path: string): Uint8Array {
  const key = bytes(value, path, 32);
  if (!isUsableX25519PublicKey(key)) throw invalid(path, 'is not a usable X25519 public key');
  return key;
}

export function parsePublishBody(value: unknown, maxOneTimePrekeys: number): PublishBody {
  const body = object(value, 'body', ['handle', 'identityKey', 'signedPrekey', 'oneTimePrekeys']);
  if (typeof body.handle !== 'string' || !isValidHandle(body.handle))
    throw invalid('body.handle', 'must match ^[a-z0-9][a-z0-9._-]{0,63}$');
  const identityKey = bytes(body.identityKey, 'body.identityKey', 32);
  if (!isUsableEd25519PublicKey(identityKey))
    throw invalid('body.identityKey', 'is not a usable Ed25519 public key');
  const spk = object(body.signedPrekey, 'body.signedPrekey', ['id', 'publicKey', 'signature']);
  const signedPrekey = {
    id: u32(spk.id, 'body.signedPrekey.id', 0),
    publicKey: x25519Key(spk.publicKey, 'body.signedPrekey.publicKey'),
    signature: bytes(spk.signature, 'body.signedPrekey.signature', 64),
  };
  if (!Array.isArray(body.oneTimePrekeys)) throw invalid('body.oneTimePrekeys', 'must be an array');
  if (body.oneTimePrekeys.length > maxOneTimePrekeys)
    throw invalid('body.oneTimePrekeys', `holds more than ${maxOneTimePrekeys} prekeys`);
  const ids = new Set<number>();
  const oneTimePrekeys = body.oneTimePrekeys.map((item: unknown, i: number) => {
    const path = `body.oneTimePrekeys[${i}]`;
    const k = object(item, path, ['id', 'publicKey']);
    const id = u32(k.id, `${path}.id`, 1);
    if (ids.has(id)) throw invalid(`${path}.id`, 'is a duplicate');
    ids.add(id);
    return { id, publicKey: x25519Key(k.publicKey, `${path}.publicKey`) };
  });
  return { handle: body.handle, identityKey, signedPrekey, oneTimePrekeys };
}
