// Node-side helpers to talk to the directory as a client does: make an identity with prekeys,
// build publish bodies and signed device lists, and sign requests. Tests and the benchmark use them; the extension uses
// the same canonical string from extension/protocol/directory-request.ts.
import { randomBytes } from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import {
  base64UrlEncode,
  identityPath,
  nonceFromBytes,
  signDirectoryRequest,
  signedPrekeyMessage,
} from '../extension/protocol/directory-request';
import {
  type Device,
  type SignedDeviceListJson,
  deviceListMessage,
  deviceListToJson,
} from '../extension/protocol/device-list';
import { type KemPrekeyJson, kemPrekeyMessage } from '../extension/protocol/kem-prekey';

export interface TestIdentity {
  handle: string;
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function makeIdentity(handle: string): TestIdentity {
  const secretKey = ed25519.utils.randomSecretKey();
  return { handle, secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export interface PublishBodyJson {
  handle: string;
  identityKey: string;
  signedPrekey: { id: number; publicKey: string; signature: string };
  oneTimePrekeys: { id: number; publicKey: string }[];
  kemPrekeys?: { lastResort?: KemPrekeyJson; oneTime?: KemPrekeyJson[] };
}

/** ML-KEM-768 prekeys to add to a publish body (all signed by the body's identity key). */
export interface KemPrekeyOptions {
  /** How many one-time KEM prekeys (default 0; with 0 and no last-resort key, no field). */
  oneTime?: number;
  /** Id of the first one-time KEM prekey (default 1). */
  firstId?: number;
  /** Adds a last-resort KEM prekey with this id. */
  lastResortId?: number;
}

/**
 * A KEM prekey in its wire form: a fresh ML-KEM-768 key (or `publicKey`), signed by `identity`
 * over kemPrekeyMessage(id, lastResort, publicKey).
 */
export function kemPrekeyJson(
  identity: TestIdentity,
  id: number,
  lastResort: boolean,
  publicKey: Uint8Array = ml_kem768.keygen().publicKey,
): KemPrekeyJson {
  return {
    id,
    publicKey: base64UrlEncode(publicKey),
    signature: base64UrlEncode(
      ed25519.sign(kemPrekeyMessage(id, lastResort, publicKey), identity.secretKey),
    ),
    ...(lastResort ? { lastResort: true } : {}),
  };
}

/**
 * A publish body with a fresh signed prekey and `count` one-time prekeys with ids from `firstId`;
 * with `kem`, also KEM prekeys (`kemPrekeys`).
 */
export function publishBody(
  identity: TestIdentity,
  count = 5,
  firstId = 1,
  spkId = 1,
  options: { kem?: KemPrekeyOptions } = {},
): PublishBodyJson {
  const spk = x25519.getPublicKey(x25519.utils.randomSecretKey());
  const body: PublishBodyJson = {
    handle: identity.handle,
    identityKey: base64UrlEncode(identity.publicKey),
    signedPrekey: {
      id: spkId,
      publicKey: base64UrlEncode(spk),
      signature: base64UrlEncode(ed25519.sign(signedPrekeyMessage(spkId, spk), identity.secretKey)),
    },
    oneTimePrekeys: Array.from({ length: count }, (_, i) => ({
      id: firstId + i,
      publicKey: base64UrlEncode(x25519.getPublicKey(x25519.utils.randomSecretKey())),
    })),
  };
  const kem = options.kem;
  if (kem && ((kem.oneTime ?? 0) > 0 || kem.lastResortId !== undefined)) {
    const first = kem.firstId ?? 1;
    body.kemPrekeys = {
      ...(kem.lastResortId !== undefined
        ? { lastResort: kemPrekeyJson(identity, kem.lastResortId, true) }
        : {}),
      oneTime: Array.from({ length: kem.oneTime ?? 0 }, (_, i) =>
        kemPrekeyJson(identity, first + i, false),
      ),
    };
  }
  return body;
}

/**
 * A linked device's `PUT …/devices/{id}/keys` body: the prekey fields of `publishBody`, signed
 * by `device` (a TestIdentity whose handle is the account's).
 */
export function devicePrekeysBody(
  device: TestIdentity,
  count = 5,
  firstId = 1,
  spkId = 1,
  options: { kem?: KemPrekeyOptions } = {},
): Omit<PublishBodyJson, 'handle' | 'identityKey'> {
  const {
    handle: _handle,
    identityKey: _key,
    ...fields
  } = publishBody(device, count, firstId, spkId, options);
  return fields;
}

/** A fresh device (a new Ed25519 key), linked at `addedAt` (Unix seconds). */
export function makeDevice(id: number, addedAt = 1_767_225_600): Device {
  return { id, key: ed25519.getPublicKey(ed25519.utils.randomSecretKey()), addedAt };
}

/**
 * The wire form of `account`'s device list at `version`: `devices` (default: the account key
 * itself as device 1 and one fresh device 2), sorted by id and signed by `signer` (default the
 * account) over deviceListMessage. `handle` overrides the list's handle (attacks).
 */
export function deviceListJson(
  account: TestIdentity,
  version = 1,
  options: { devices?: Device[]; signer?: TestIdentity; handle?: string } = {},
): SignedDeviceListJson {
  const devices = [
    ...(options.devices ?? [
      { id: 1, key: account.publicKey, addedAt: 1_767_225_600 },
      makeDevice(2),
    ]),
  ].sort((a, b) => a.id - b.id);
  const list = { handle: options.handle ?? account.handle, version, devices };
  const signature = ed25519.sign(deviceListMessage(list), (options.signer ?? account).secretKey);
  return deviceListToJson({ ...list, signature });
}

export interface SignedRequest {
  method: 'PUT' | 'DELETE' | 'GET';
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Signs a directory write with `signer` (the current key; on first publish, the key in the
 * body). For a rotation pass `newKey` too: the request is then signed by both keys.
 */
export function signedRequest(
  method: 'PUT' | 'DELETE' | 'GET',
  handle: string,
  body: string,
  signer: TestIdentity,
  options: { newKey?: TestIdentity; timestamp?: number; nonce?: string; under?: string } = {},
): SignedRequest {
  const path = identityPath(handle) + (options.under ?? '');
  const headers = signDirectoryRequest({
    method,
    path,
    timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
    nonce: options.nonce ?? nonceFromBytes(randomBytes(16)),
    body: new TextEncoder().encode(body),
    identitySecretKey: signer.secretKey,
    newIdentitySecretKey: options.newKey?.secretKey,
  });
  if (method === 'PUT') headers['content-type'] = 'application/json';
  return { method, path, headers, body };
}
