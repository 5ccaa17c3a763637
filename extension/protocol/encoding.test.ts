// Tests for the base64url wire helpers: RFC 4648 §10 vectors (in the url alphabet), round trips,
// and strict rejection of every non-canonical spelling.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { utf8ToBytes } from './bytes';
import { fromBase64Url, fromBase64UrlFixed, toBase64Url } from './encoding';
import { isVeilError } from './errors';

// RFC 4648 §10 test vectors, padding removed (base64url has none here).
const RFC4648 = [
  ['', ''],
  ['f', 'Zg'],
  ['fo', 'Zm8'],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg'],
  ['fooba', 'Zm9vYmE'],
  ['foobar', 'Zm9vYmFy'],
] as const;

// A slow, obviously-correct reference: write the bits out, cut them into sixes.
function referenceBase64Url(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 6)
    out += alphabet[parseInt(bits.slice(i, i + 6).padEnd(6, '0'), 2)];
  return out;
}

function expectMalformed(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isVeilError(e, 'malformed')).toBe(true);
    return;
  }
  throw new Error('expected VeilError(malformed)');
}

describe('base64url', () => {
  it.each(RFC4648)('encodes and decodes the RFC 4648 vector %j', (text, encoded) => {
    expect(toBase64Url(utf8ToBytes(text))).toBe(encoded);
    expect(fromBase64Url(encoded)).toEqual(utf8ToBytes(text));
  });

  it('uses - and _ where base64 has + and /', () => {
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff, 0xbf))).toBe('-_-_');
    expect(fromBase64Url('-_-_')).toEqual(Uint8Array.of(0xfb, 0xff, 0xbf));
  });

  it('agrees with an independent encoder on random bytes and round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(text).toBe(referenceBase64Url(bytes));
        expect(fromBase64Url(text)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['padding', 'Zg=='],
    ['standard alphabet +', '+w'],
    ['standard alphabet /', '/w'],
    ['whitespace', 'Zm 9v'],
    ['newline', 'Zm9v\n'],
    ['impossible length', 'Zm9vY'],
    ['non-ASCII', 'Zm9vé'],
    ['non-zero unused bits (1 byte)', 'Zh'],
    ['non-zero unused bits (2 bytes)', 'Zm9'], // "fo" is Zm8
  ])('rejects %s', (_name, text) => {
    expectMalformed(() => fromBase64Url(text));
  });

  it('rejects a non-string', () => {
    expectMalformed(() => fromBase64Url(42 as unknown as string));
  });

  it('fixed-length decode checks the length', () => {
    const key = new Uint8Array(32).fill(7);
    expect(fromBase64UrlFixed(toBase64Url(key), 32, 'key')).toEqual(key);
    expectMalformed(() => fromBase64UrlFixed(toBase64Url(key.subarray(1)), 32, 'key'));
    expectMalformed(() => fromBase64UrlFixed(toBase64Url(new Uint8Array(33)), 32, 'key'));
  });
});
