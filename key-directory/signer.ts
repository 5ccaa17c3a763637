// The directory's own Ed25519 key, which signs tree heads. Node's native Ed25519 signs (about
// 20x faster than pure JS here); the message format comes from the shared transparency core.
import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  type DirectoryTrust,
  type SignedTreeHead,
  checkpointKeyId,
  formatCheckpoint,
  treeHeadMessage,
  vrfKeyMessage,
} from '../extension/protocol/transparency';
import type { HeadSigner, StoredTreeHead } from './store';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface DirectorySigner extends DirectoryTrust {
  /** First four bytes of the signed-note key ID (C2SP tlog-cosignature/v1). */
  readonly keyId: Uint8Array;
  readonly signHead: HeadSigner;
  /** Vouches for the directory's VRF key (transparency.ts vrfKeyMessage), for clients' re-pin. */
  readonly signVrfKey: (vrfKey: Uint8Array) => Uint8Array;
}

export function createSigner(secretKey: Uint8Array, origin: string): DirectorySigner {
  if (secretKey.length !== 32) throw new Error('directory key must be a 32-byte Ed25519 seed');
  const key: KeyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = ed25519.getPublicKey(secretKey);
  return {
    origin,
    publicKey,
    keyId: checkpointKeyId(origin, publicKey),
    signVrfKey: (vrfKey) => new Uint8Array(nodeSign(null, vrfKeyMessage(origin, vrfKey), key)),
    signHead: (treeSize, rootHash, timestamp) =>
      new Uint8Array(
        nodeSign(null, treeHeadMessage({ origin, treeSize, rootHash, timestamp }), key),
      ),
  };
}

export function generateDirectoryKey(): Uint8Array {
  return ed25519.utils.randomSecretKey();
}

export function toSignedTreeHead(head: StoredTreeHead, origin: string): SignedTreeHead {
  return { origin, ...head };
}

export function checkpointText(head: StoredTreeHead, signer: DirectoryTrust): string {
  return formatCheckpoint(toSignedTreeHead(head, signer.origin), signer.publicKey);
}
