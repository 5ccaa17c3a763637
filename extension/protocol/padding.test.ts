// Tests for length-hiding padding: exact bucket values, round trips, bucket-only lengths, the
// overhead bound, and strict rejection of malformed padding.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isVeilError } from './errors';
import { pad, paddedLength, padme, unpad } from './padding';

function expectMalformed(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isVeilError(e, 'malformed')).toBe(true);
    return;
  }
  throw new Error('expected VeilError(malformed)');
}

describe('padme', () => {
  // Hand-computed from the PURBs paper's definition: E = floor(log2 L), S = floor(log2 E) + 1,
  // round up to a multiple of 2^(E - S).
  it.each([
    [1, 1],
    [2, 2],
    [3, 3],
    [8, 8],
    [9, 10],
    [33, 36],
    [100, 104],
    [1000, 1024],
    [1025, 1088],
    [65537, 67584],
  ])('padme(%i) = %i', (n, expected) => {
    expect(padme(n)).toBe(expected);
  });
});

describe('paddedLength', () => {
  it.each([
    [0, 32],
    [31, 32],
    [32, 64],
    [200, 224],
    [1023, 1024],
    [1024, 1088],
    [10_000, 10_240],
  ])('paddedLength(%i) = %i', (length, expected) => {
    expect(paddedLength(length)).toBe(expected);
  });

  it('refuses negative, fractional and huge lengths', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53])
      expect(() => paddedLength(bad)).toThrow(
        expect.objectContaining({ code: 'invalid-argument' }),
      );
  });

  it('is monotonic, leaves room for the marker, and is constant on each bucket', () => {
    let previous = 0;
    for (let length = 0; length <= 20_000; length++) {
      const padded = paddedLength(length);
      expect(padded).toBeGreaterThanOrEqual(length + 1);
      expect(padded).toBeGreaterThanOrEqual(previous);
      expect(padded % 32).toBe(0);
      // The largest length that fits a bucket maps to that same bucket.
      expect(paddedLength(padded - 1)).toBe(padded);
      previous = padded;
    }
  });

  it('has at most 12 % overhead above 1 KiB', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 2 ** 40 }), (length) => {
        expect(paddedLength(length)).toBeLessThanOrEqual(length * 1.12);
      }),
      { numRuns: 2000 },
    );
    for (let length = 1024; length <= 70_000; length++)
      expect(paddedLength(length) / length).toBeLessThanOrEqual(1.12);
  });
});

describe('pad / unpad', () => {
  it('round-trips any bytes, including trailing zeros and 0x80', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (data) => {
        const padded = pad(data);
        expect(padded.length).toBe(paddedLength(data.length));
        expect(unpad(padded)).toEqual(data);
      }),
      { numRuns: 300 },
    );
    for (const tricky of [Uint8Array.of(0x80), Uint8Array.of(0, 0, 0), Uint8Array.of(0x80, 0)])
      expect(unpad(pad(tricky))).toEqual(tricky);
  });

  it('the padded length depends only on the bucket, not on the content', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), (a, b) => {
        const same = paddedLength(a) === paddedLength(b);
        const padA = pad(new Uint8Array(a).fill(0xaa));
        const padB = pad(new Uint8Array(b));
        expect(padA.length === padB.length).toBe(same);
      }),
      { numRuns: 1000 },
    );
  });

  it('writes 0x80 then zeros', () => {
    const padded = pad(Uint8Array.of(1, 2, 3));
    expect(padded.length).toBe(32);
    expect(Array.from(padded.subarray(0, 4))).toEqual([1, 2, 3, 0x80]);
    expect(padded.subarray(4).every((b) => b === 0)).toBe(true);
  });

  it('rejects a missing marker, a wrong marker, empty input and a non-bucket length', () => {
    expectMalformed(() => unpad(new Uint8Array(32)));
    expectMalformed(() => unpad(new Uint8Array(0)));
    const wrongMarker = pad(Uint8Array.of(1, 2, 3));
    wrongMarker[3] = 0x81;
    expectMalformed(() => unpad(wrongMarker));
    const trailing = pad(Uint8Array.of(1, 2, 3));
    trailing[31] = 1;
    expectMalformed(() => unpad(trailing));
    // Valid marker but a length pad() would never produce.
    const shortened = pad(Uint8Array.of(1, 2, 3)).subarray(0, 31);
    expectMalformed(() => unpad(shortened));
    const lengthened = new Uint8Array(64);
    lengthened.set(pad(Uint8Array.of(1, 2, 3)));
    expectMalformed(() => unpad(lengthened));
  });
});
