// Node-side helpers to talk to the directory as a client does: make an identity with prekeys,
// build publish bodies and sign requests. Tests and the benchmark use them; the extension uses
// the same canonical string from extension/protocol/directory-request.ts.
import { randomBytes } from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import {
  base64UrlEncode,
  identityPath,
  nonceFromBytes,
  signDirectoryRequest,
  signedPrekeyMessage,
} from '../extension/protocol/directory-request';

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
}

/** A publish body with a fresh signed prekey and `count` one-time prekeys with ids from `firstId`. */
export function publishBody(
  identity: TestIdentity,
  count = 5,
  firstId = 1,
  spkId = 1,
): PublishBodyJson {
  const spk = x25519.getPublicKey(x25519.utils.randomSecretKey());
  return {
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
