// Names an armored block without its content (pure): the hex SHA-256 of its envelope, which is
// also the plaintext cache's key (plaintext-cache.ts envelopeHash is this function) and what the
// archive records with each message read from a page. The content script finds the block again
// by it when the user opens an archived message (openArchived → `revealBlock`).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { dearmor } from './armor';

/** Hex characters of a digest (SHA-256). */
export const BLOCK_DIGEST_LENGTH = 64;

/** The digest of an envelope: lowercase hex SHA-256. */
export function envelopeDigest(envelope: Uint8Array): string {
  return bytesToHex(sha256(envelope));
}

/**
 * The digest of one block's armored text as the content script found it, or null when it does
 * not dearmor (a damaged block has no message to reveal). Ciphertext only: the page shows it.
 */
export function blockDigest(armored: string): string | null {
  try {
    return envelopeDigest(dearmor(armored));
  } catch {
    return null;
  }
}

export function isBlockDigest(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}
