// Plaintext records and padding: round trips, bucket sizes, strict framing and strict UTF-8.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8ToBytes } from './bytes';
import { VeilError, type VeilErrorCode } from './errors';
import { pad } from './padding';
import {
  MAX_PADDED_PLAINTEXT,
  decodePlaintext,
  decodeUtf8,
  encodePlaintext,
  type PlaintextRecord,
} from './plaintext';

function codeOf(f: () => unknown): VeilErrorCode | 'none' {
  try {
    f();
    return 'none';
  } catch (e) {
    if (e instanceof VeilError) return e.code;
    throw e;
  }
}

describe('plaintext records', () => {
  it('round-trips text, distribution and handle records in order', () => {
    const records: PlaintextRecord[] = [
      { type: 'sender-handle', handle: 'alice' },
      { type: 'sender-key-distribution', distribution: Uint8Array.of(1, 2, 3) },
      { type: 'text', text: 'hello ☃ 👋🏽\n' },
    ];
    expect(decodePlaintext(encodePlaintext(records))).toEqual(records);
    expect(decodePlaintext(encodePlaintext([]))).toEqual([]);
  });

  it('frames as u8 type || varint length || bytes, then pads', () => {
    const padded = encodePlaintext([{ type: 'text', text: 'hi' }]);
    expect(padded.length).toBe(32);
    expect([...padded.subarray(0, 5)]).toEqual([1, 2, 0x68, 0x69, 0x80]);
    expect(padded.subarray(5).every((b) => b === 0)).toBe(true);
  });

  it('pads a 200-byte text to 224 bytes', () => {
    expect(encodePlaintext([{ type: 'text', text: 'x'.repeat(200) }]).length).toBe(224);
  });

  it('round-trips arbitrary Unicode text (every code point but lone surrogates)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (text) => {
        expect(decodePlaintext(encodePlaintext([{ type: 'text', text }]))).toEqual([
          { type: 'text', text },
        ]);
      }),
      // fast-check is slow to generate full-range strings; 50 runs still cover every UTF-8 length.
      { numRuns: 50 },
    );
  });

  it('skips unknown record types', () => {
    const framed = concatBytes(Uint8Array.of(9, 2, 0xaa, 0xbb), Uint8Array.of(1, 1, 0x41));
    expect(decodePlaintext(pad(framed))).toEqual([{ type: 'text', text: 'A' }]);
  });

  it('rejects bad framing as malformed', () => {
    expect(codeOf(() => decodePlaintext(pad(Uint8Array.of(1, 5, 0x41))))).toBe('malformed');
    expect(codeOf(() => decodePlaintext(pad(Uint8Array.of(1))))).toBe('malformed');
    expect(codeOf(() => decodePlaintext(pad(Uint8Array.of(1, 0x81, 0x00))))).toBe('malformed');
    expect(codeOf(() => decodePlaintext(pad(Uint8Array.of(1, 0x80))))).toBe('malformed');
    // Missing marker / wrong bucket come from unpad.
    expect(codeOf(() => decodePlaintext(new Uint8Array(32)))).toBe('malformed');
    expect(
      codeOf(() => decodePlaintext(concatBytes(pad(Uint8Array.of(1, 0)), new Uint8Array(32)))),
    ).toBe('malformed');
  });

  it('rejects a handle over 64 bytes, on both sides', () => {
    const long = 'h'.repeat(65);
    expect(codeOf(() => encodePlaintext([{ type: 'sender-handle', handle: long }]))).toBe(
      'invalid-argument',
    );
    const framed = concatBytes(Uint8Array.of(3, 65), utf8ToBytes(long));
    expect(codeOf(() => decodePlaintext(pad(framed)))).toBe('malformed');
    const ok = concatBytes(Uint8Array.of(3, 64), utf8ToBytes(long.slice(1)));
    expect(codeOf(() => decodePlaintext(pad(ok)))).toBe('none');
  });

  it('refuses to build a plaintext that cannot fit in an envelope', () => {
    const text = (n: number) => [{ type: 'text' as const, text: 'x'.repeat(n) }];
    expect(codeOf(() => encodePlaintext(text(60_000)))).toBe('none');
    expect(encodePlaintext(text(60_000)).length).toBeLessThanOrEqual(MAX_PADDED_PLAINTEXT);
    expect(codeOf(() => encodePlaintext(text(MAX_PADDED_PLAINTEXT)))).toBe('oversized');
    expect(codeOf(() => decodePlaintext(new Uint8Array(64 * 1024 + 1)))).toBe('oversized');
  });
});

describe('strict UTF-8', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  it('agrees with a fatal TextDecoder on arbitrary bytes', () => {
    const nearUtf8 = fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 0x7f }),
        fc.integer({ min: 0x80, max: 0xbf }),
        fc.integer({ min: 0xc0, max: 0xff }),
      ),
      { maxLength: 24 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 24 }),
          nearUtf8.map((a) => Uint8Array.from(a)),
        ),
        (b) => {
          let expected: string | 'error';
          try {
            expected = fatal.decode(b);
          } catch {
            expected = 'error';
          }
          let actual: string | 'error';
          try {
            actual = decodeUtf8(b);
          } catch (e) {
            expect(e).toBeInstanceOf(VeilError);
            actual = 'error';
          }
          expect(actual).toBe(expected);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('rejects overlong forms, surrogates and code points past U+10FFFF', () => {
    for (const bad of [
      [0xc0, 0x80],
      [0xe0, 0x80, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf0, 0x80, 0x80, 0x80],
      [0xe2, 0x82],
    ])
      expect(codeOf(() => decodeUtf8(Uint8Array.from(bad)))).toBe('malformed');
  });

  it('keeps a leading byte-order mark and decodes long text', () => {
    expect(decodeUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41))).toBe('\ufeffA');
    const long = '👋a'.repeat(10_000);
    expect(decodeUtf8(utf8ToBytes(long))).toBe(long);
  });
});
