// Fingerprints shown for a directory identity: the hex SHA-256 of the Ed25519 identity key, and
// this party's 30-digit half of Signal's safety number (extension/protocol/safety-number.ts: key
// = 0x05 || X25519(identity key), stable id = UTF-8 handle, 5200 rounds of SHA-512). The
// directory computes the half once per key change and stores it: it costs ~15 ms here.
import { createHash } from 'node:crypto';
import { identityDhPublic } from '../extension/protocol/identity';
import { fingerprintHalf } from '../extension/protocol/safety-number';

export function keyFingerprint(identityKey: Uint8Array): string {
  return createHash('sha256').update(identityKey).digest('hex');
}

/** 30 digits, the half that `safetyNumber()` shows for this handle and key. */
export function safetyNumberHalf(handle: string, identityKey: Uint8Array): string {
  return fingerprintHalf({ id: handle, identityKey: identityDhPublic(identityKey) });
}
