import { describe, expect, it } from 'vitest';
import { BLOCK_DIGEST_LENGTH, blockDigest, isBlockDigest } from './block-digest';

describe('blockDigest', () => {
  it('is the first 128 bits of SHA-256 of the armored text, in hex', () => {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad (FIPS 180-2)
    expect(blockDigest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223');
    expect(blockDigest('abc')).toHaveLength(BLOCK_DIGEST_LENGTH);
  });

  it('tells blocks apart by every character, newlines included', () => {
    expect(blockDigest('VeiL a\nb')).not.toBe(blockDigest('VeiL a b'));
    expect(blockDigest('VeiL ab')).not.toBe(blockDigest('VeiL ab '));
  });

  it('accepts only its own shape', () => {
    expect(isBlockDigest(blockDigest('x'))).toBe(true);
    for (const bad of [
      '',
      'ABCDEF0123456789abcdef0123456789',
      'a'.repeat(31),
      'a'.repeat(33),
      42,
      null,
    ])
      expect(isBlockDigest(bad)).toBe(false);
  });
});
