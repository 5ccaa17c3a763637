import { describe, expect, it } from 'vitest';
import { envelopeHash } from '../background/plaintext-cache';
import { armor } from './armor';
import { BLOCK_DIGEST_LENGTH, blockDigest, envelopeDigest, isBlockDigest } from './block-digest';

let seed = 7;
const randomBytes = (n: number) =>
  Uint8Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff);

describe('blockDigest', () => {
  it('is hex SHA-256 of the envelope', () => {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    expect(envelopeDigest(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('names a block as the background names its envelope (the plaintext cache key)', () => {
    const envelope = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    const chunks = armor(envelope, { randomBytes, maxChunkLength: 120 });
    expect(chunks.length).toBeGreaterThan(1);
    const digest = blockDigest(chunks.join('\n'));
    expect(digest).toBe(envelopeHash(envelope));
    expect(digest).toHaveLength(BLOCK_DIGEST_LENGTH);
    expect(isBlockDigest(digest)).toBe(true);
  });

  it('is null for text that holds no whole message', () => {
    expect(blockDigest('VeiL broken')).toBeNull();
    expect(blockDigest('')).toBeNull();
  });

  it('accepts only its own shape', () => {
    for (const bad of ['', 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 42, null])
      expect(isBlockDigest(bad)).toBe(false);
  });
});
