// Names an armored block without its content (pure): the background records it with each
// message it archives from a page, and the content script finds the block again by it when the
// user opens an archived message (openArchived → `revealBlock`). Both sides import this one
// function, so they cannot disagree on how a block is named.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** Hex characters of a digest: 128 bits, enough to tell a page's blocks apart. */
export const BLOCK_DIGEST_LENGTH = 32;

/**
 * The digest of one block's armored text exactly as the content script sends it in pageDecrypt
 * (chunks joined by newlines). Ciphertext only: the page already shows it, so the digest
 * tells the page nothing it cannot compute itself.
 */
export function blockDigest(armored: string): string {
  return bytesToHex(sha256(utf8ToBytes(armored))).slice(0, BLOCK_DIGEST_LENGTH);
}

export function isBlockDigest(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{32}$/.test(value);
}
