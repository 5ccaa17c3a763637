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
    const framed = concatBytes(Uint8Array.of(99, 2, 0xaa, 0xbb), Uint8Array.of(1, 1, 0x41));
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

describe('sealed records (origin, stamp, tree head, group, membership)', () => {
  const sealed: PlaintextRecord[] = [
    { type: 'origin', site: 'The Lounge · 127.0.0.1:9000', name: '#veil ✓' },
    { type: 'stamp', seq: 300, sentAt: 1_700_000_123, originId: Uint8Array.of(1, 2, 3, 4) },
    {
      type: 'tree-head',
      origin: 'localhost/veil-directory',
      treeSize: 2 ** 40 + 7,
      rootHash: new Uint8Array(32).fill(9),
      timestamp: 1_700_000_000,
      signature: new Uint8Array(64).fill(7),
    },
    { type: 'group', groupId: new Uint8Array(32).fill(5) },
    {
      type: 'membership',
      groupId: new Uint8Array(32).fill(5),
      epoch: 3,
      members: [
        { handle: 'alice', identityKey: new Uint8Array(32).fill(1) },
        { handle: 'bob', identityKey: new Uint8Array(32).fill(2) },
      ],
    },
    { type: 'recipient', tag: new Uint8Array(8).fill(3) },
  ];

  it('round-trip, each with text', () => {
    const records: PlaintextRecord[] = [{ type: 'text', text: 'hi' }, ...sealed];
    expect(decodePlaintext(encodePlaintext(records))).toEqual(records);
  });

  it('keep a 200-byte text with its stamp in the 224-byte bucket', () => {
    const padded = encodePlaintext([{ type: 'text', text: 'x'.repeat(200) }, sealed[1]!]);
    expect(padded.length).toBe(224);
  });

  it('reject bodies that end early, run long or overflow, as malformed', () => {
    for (const record of sealed) {
      const framed = encodePlaintext([record]);
      const type = framed[0]!;
      const length = framed[1]!;
      const body = framed.subarray(2, 2 + length);
      // One byte short, and one byte of junk more.
      const short = concatBytes(Uint8Array.of(type, length - 1), body.subarray(0, length - 1));
      const long = concatBytes(Uint8Array.of(type, length + 1), body, Uint8Array.of(0));
      expect(codeOf(() => decodePlaintext(pad(short)))).toBe('malformed');
      expect(codeOf(() => decodePlaintext(pad(long)))).toBe('malformed');
    }
    // A site name over 128 bytes, a membership of 257.
    const longName = concatBytes(Uint8Array.of(4, 0x83, 0x01, 0), Uint8Array.of(0x81, 0x01));
    expect(codeOf(() => decodePlaintext(pad(concatBytes(longName, new Uint8Array(129)))))).toBe(
      'malformed',
    );
    expect(
      codeOf(() => encodePlaintext([{ type: 'origin', site: 'é'.repeat(65), name: '' }])),
    ).toBe('invalid-argument');
    const members = Array.from({ length: 257 }, (_, i) => ({
      handle: `m${i}`,
      identityKey: new Uint8Array(32),
    }));
    expect(
      codeOf(() =>
        encodePlaintext([{ type: 'membership', groupId: new Uint8Array(32), epoch: 1, members }]),
      ),
    ).toBe('invalid-argument');
  });

  it('never throws anything but a VeilError on arbitrary record bodies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 8 }), fc.uint8Array({ maxLength: 120 }), (t, body) => {
        const framed = concatBytes(Uint8Array.of(t, body.length), body);
        try {
          decodePlaintext(pad(framed));
        } catch (e) {
          expect(e).toBeInstanceOf(VeilError);
        }
      }),
      { numRuns: 2000 },
    );
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
