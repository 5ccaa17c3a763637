// Strict validation of the publish body, a device's prekeys, a device list and a sync blob:
// exactly the documented fields, the right types, base64url of the right lengths, valid curve
// points. Unknown fields are rejected, not ignored.
import { type SignedDeviceList, deviceListFromJson } from '../extension/protocol/device-list';
import { base64UrlDecode, isValidHandle } from '../extension/protocol/directory-request';
import { isVeilError } from '../extension/protocol/errors';
import { isUsableIdentityKey } from '../extension/protocol/identity';
import { type KemPrekeyPublic, kemPrekeyFromJson } from '../extension/protocol/kem-prekey';
import { RequestError, badRequest } from './errors';

/** The prekey fields of a publish body, and all of a device's `PUT …/devices/{id}/keys` body. */
export interface PrekeyFields {
  signedPrekey: { id: number; publicKey: Uint8Array; signature: Uint8Array };
  oneTimePrekeys: { id: number; publicKey: Uint8Array }[];
  /** Absent when the body has no `kemPrekeys` (older clients). Signatures not yet checked. */
  kemPrekeys?: { lastResort?: KemPrekeyPublic; oneTime: KemPrekeyPublic[] };
}

export interface PublishBody extends PrekeyFields {
  handle: string;
  identityKey: Uint8Array;
}

export interface PublishBodyLimits {
  maxOneTimePrekeys: number;
  /** One-time KEM prekeys in one body (the last-resort one is not counted). */
  maxKemPrekeys: number;
}

const invalid = (path: string, what: string) => badRequest('invalid-field', `${path}: ${what}`);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function onlyKeys(record: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(record))
    if (!keys.includes(k)) throw badRequest('unknown-field', `${path}: unknown field`);
}

/** An object with every key of `keys`, perhaps some of `optional`, and nothing else. */
function object(
  value: unknown,
  path: string,
  keys: readonly string[],
  optional: readonly string[] = [],
): Record<string, unknown> {
  if (!isRecord(value)) throw invalid(path, 'must be an object');
  onlyKeys(value, path, [...keys, ...optional]);
  for (const k of keys) if (!Object.hasOwn(value, k)) throw invalid(`${path}.${k}`, 'is required');
  return value;
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

const PREKEY_FIELDS = ['signedPrekey', 'oneTimePrekeys'] as const;

export function parsePublishBody(value: unknown, limits: PublishBodyLimits): PublishBody {
  const body = object(value, 'body', ['handle', 'identityKey', ...PREKEY_FIELDS], ['kemPrekeys']);
  if (typeof body.handle !== 'string' || !isValidHandle(body.handle))
    throw invalid('body.handle', 'must match ^[a-z0-9][a-z0-9._-]{0,63}$');
  const identityKey = bytes(body.identityKey, 'body.identityKey', 32);
  if (!isUsableEd25519PublicKey(identityKey))
    throw invalid('body.identityKey', 'is not a usable Ed25519 public key');
  return { handle: body.handle, identityKey, ...parsePrekeyFields(body, limits) };
}

/**
 * A listed device's `PUT …/devices/{id}/keys` body: the prekey fields of a publish body and
 * nothing else (the device key is the list's, the handle and id the path's).
 */
export function parseDevicePrekeysBody(value: unknown, limits: PublishBodyLimits): PrekeyFields {
  return parsePrekeyFields(object(value, 'body', PREKEY_FIELDS, ['kemPrekeys']), limits);
}

/** signedPrekey, oneTimePrekeys and the optional kemPrekeys of a checked body object. */
function parsePrekeyFields(body: Record<string, unknown>, limits: PublishBodyLimits): PrekeyFields {
  const spk = object(body.signedPrekey, 'body.signedPrekey', ['id', 'publicKey', 'signature']);
  const signedPrekey = {
    id: u32(spk.id, 'body.signedPrekey.id', 0),
    publicKey: x25519Key(spk.publicKey, 'body.signedPrekey.publicKey'),
    signature: bytes(spk.signature, 'body.signedPrekey.signature', 64),
  };
  if (!Array.isArray(body.oneTimePrekeys)) throw invalid('body.oneTimePrekeys', 'must be an array');
  if (body.oneTimePrekeys.length > limits.maxOneTimePrekeys)
    throw invalid('body.oneTimePrekeys', `holds more than ${limits.maxOneTimePrekeys} prekeys`);
  const ids = new Set<number>();
  const oneTimePrekeys = body.oneTimePrekeys.map((item: unknown, i: number) => {
    const path = `body.oneTimePrekeys[${i}]`;
    const k = object(item, path, ['id', 'publicKey']);
    const id = u32(k.id, `${path}.id`, 1);
    if (ids.has(id)) throw invalid(`${path}.id`, 'is a duplicate');
    ids.add(id);
    return { id, publicKey: x25519Key(k.publicKey, `${path}.publicKey`) };
  });
  const kemPrekeys = Object.hasOwn(body, 'kemPrekeys')
    ? parseKemPrekeys(body.kemPrekeys, limits.maxKemPrekeys)
    : undefined;
  return { signedPrekey, oneTimePrekeys, ...(kemPrekeys ? { kemPrekeys } : {}) };
}

export interface SyncBody {
  version: number;
  ciphertext: Uint8Array;
}

/**
 * A `PUT …/sync` body: `{ version, ciphertext }`, version an integer from 1, ciphertext unpadded
 * base64url of 1 to `maxBytes` bytes (the directory never looks inside).
 */
export function parseSyncBody(value: unknown, maxBytes: number): SyncBody {
  const body = object(value, 'body', ['version', 'ciphertext']);
  const { version, ciphertext } = body;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
    throw invalid('body.version', 'must be an integer from 1');
  if (typeof ciphertext !== 'string' || ciphertext.length === 0)
    throw invalid('body.ciphertext', 'must be a non-empty base64url string');
  if (ciphertext.length > Math.ceil((maxBytes * 4) / 3))
    throw invalid('body.ciphertext', `must decode to at most ${maxBytes} bytes`);
  let out: Uint8Array;
  try {
    out = base64UrlDecode(ciphertext);
  } catch {
    throw invalid('body.ciphertext', 'must be unpadded base64url');
  }
  if (out.length > maxBytes)
    throw invalid('body.ciphertext', `must decode to at most ${maxBytes} bytes`);
  return { version, ciphertext: out };
}

const KEM_PREKEY_FIELDS = ['id', 'publicKey', 'signature', 'lastResort'] as const;

const malformedKem = (path: string, what: string) =>
  badRequest('malformed-kem-prekey', `${path}: ${what}`);

/**
 * `{ lastResort?, oneTime? }`: the shape only (kemPrekeyFromJson for each key); the app checks
 * the signatures. Ids share one space, so none may repeat in a body. More one-time keys than a
 * body may carry is a 409 (as stored ones past the limit are), checked before any is parsed.
 */
function parseKemPrekeys(
  value: unknown,
  maxOneTime: number,
): NonNullable<PrekeyFields['kemPrekeys']> {
  const path = 'body.kemPrekeys';
  const kem = object(value, path, [], ['lastResort', 'oneTime']);
  const list = Object.hasOwn(kem, 'oneTime') ? kem.oneTime : [];
  if (!Array.isArray(list)) throw invalid(`${path}.oneTime`, 'must be an array');
  if (list.length > maxOneTime)
    throw new RequestError(
      409,
      'too-many-kem-prekeys',
      `${path}.oneTime holds more than ${maxOneTime} KEM prekeys`,
    );
  const ids = new Set<number>();
  const parse = (item: unknown, at: string, lastResort: boolean): KemPrekeyPublic => {
    if (isRecord(item)) onlyKeys(item, at, KEM_PREKEY_FIELDS);
    let k: KemPrekeyPublic;
    try {
      k = kemPrekeyFromJson(item);
    } catch (e) {
      if (isVeilError(e)) throw malformedKem(at, e.message);
      throw e;
    }
    if (k.lastResort !== lastResort)
      throw malformedKem(
        at,
        lastResort
          ? 'must carry lastResort: true'
          : 'a one-time KEM prekey must not be last-resort',
      );
    if (ids.has(k.id)) throw malformedKem(`${at}.id`, 'is a duplicate');
    ids.add(k.id);
    return k;
  };
  const lastResort =
    kem.lastResort === undefined ? undefined : parse(kem.lastResort, `${path}.lastResort`, true);
  const oneTime = list.map((item: unknown, i: number) =>
    parse(item, `${path}.oneTime[${i}]`, false),
  );
  return { ...(lastResort ? { lastResort } : {}), oneTime };
}

const DEVICE_LIST_FIELDS = ['handle', 'version', 'devices', 'signature'] as const;
const DEVICE_FIELDS = ['id', 'key', 'addedAt'] as const;

const malformedList = (what: string) => badRequest('malformed-device-list', `device list: ${what}`);

/**
 * A `PUT …/devices` body (SignedDeviceListJson), parsed by the protocol's deviceListFromJson
 * (shape, ranges, 1-16 devices, ids increasing, no key twice) after a check for fields it
 * would ignore: an unsigned field must not ride along. Device keys must be usable Ed25519 keys.
 * Every failure is `400 malformed-device-list`; the signature is the app's to check.
 */
export function parseDeviceListBody(value: unknown): SignedDeviceList {
  if (!isRecord(value)) throw malformedList('must be an object');
  const known = (keys: readonly string[]) => (k: string) => keys.includes(k);
  if (!Object.keys(value).every(known(DEVICE_LIST_FIELDS))) throw malformedList('unknown field');
  if (Array.isArray(value.devices))
    for (const d of value.devices as unknown[])
      if (isRecord(d) && !Object.keys(d).every(known(DEVICE_FIELDS)))
        throw malformedList('unknown field in a device');
  let list: SignedDeviceList;
  try {
    list = deviceListFromJson(value);
  } catch (e) {
    if (isVeilError(e)) throw malformedList(e.message);
    throw e;
  }
  if (!list.devices.every((d) => isUsableEd25519PublicKey(d.key)))
    throw malformedList('a device key is not a usable Ed25519 public key');
  return list;
}
