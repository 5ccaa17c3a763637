// Envelope layouts: round trips, strict rejection of every malformed form, and a parser fuzz.
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8ToBytes } from './bytes';
import {
  BYTE0_KEY_WRAP,
  KEM_CIPHERTEXT_LENGTH,
  MAX_BUNDLE_COUNT,
  MAX_ENVELOPE_LENGTH,
  contextHash,
  contextTag,
  decodeEnvelope,
  encodeFanout,
  encodeGroupBundle,
  encodePrekeyHeader,
  encodeRatchetMessage,
  encodeSenderKeyMessage,
  envelopeType,
  parseFanout,
  parseGroupBundle,
  parsePrekeyMessage,
  parseRatchetMessage,
  parseSenderKeyMessage,
  type PrekeyFields,
} from './envelope';
import { VeilError, isVeilError, type VeilErrorCode } from './errors';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

function ratchetFields(counter = 5, previousCounter = 3, ciphertextLength = 48) {
  return {
    sessionTag: bytes(8, 0x11),
    ratchetKey: bytes(32, 0x22),
    counter,
    previousCounter,
    headerMac: bytes(8, 0x33),
    ciphertext: bytes(ciphertextLength, 0x44),
  };
}

const prekeyFields: PrekeyFields = {
  recipientTag: bytes(4, 0x55),
  identityKey: bytes(32, 0x66),
  baseKey: bytes(32, 0x77),
  signedPrekeyId: 0x01020304,
  oneTimePrekeyId: 300,
};

function senderKeyBytes(ciphertextLength = 40) {
  return encodeSenderKeyMessage({
    senderKeyId: bytes(8, 0x88),
    iteration: 200,
    ctxTag: bytes(4, 0x99),
    ciphertext: bytes(ciphertextLength, 0xaa),
    signature: bytes(64, 0xbb),
  });
}

function codeOf(f: () => unknown): VeilErrorCode | 'none' {
  try {
    f();
    return 'none';
  } catch (e) {
    if (e instanceof VeilError) return e.code;
    throw e;
  }
}

describe('context', () => {
  it('hashes "Veil context v1" || UTF-8(context) with SHA-256', () => {
    const ctx = 'thelounge:127.0.0.1:6667/#veil ✓';
    expect(contextHash(ctx)).toEqual(sha256(utf8ToBytes('Veil context v1' + ctx)));
    expect(contextTag(contextHash(ctx))).toEqual(contextHash(ctx).subarray(0, 4));
    expect(contextHash('a')).not.toEqual(contextHash('b'));
  });

  it('rejects a context hash of the wrong length', () => {
    expect(codeOf(() => contextTag(new Uint8Array(31)))).toBe('invalid-argument');
  });
});

describe('type 2 (ratchet message)', () => {
  it('round-trips every field, with the header as the bytes before the ciphertext', () => {
    const f = ratchetFields(300, 70000);
    const wire = encodeRatchetMessage(f);
    // byte0, tag, key, varint(300) = 2 bytes, varint(70000) = 3 bytes, header MAC, ciphertext
    expect(wire.length).toBe(1 + 8 + 32 + 2 + 3 + 8 + 48);
    expect(wire[0]).toBe(0x12);
    const m = parseRatchetMessage(wire);
    expect(m).toMatchObject({ type: 2, counter: 300, previousCounter: 70000 });
    expect(m.sessionTag).toEqual(f.sessionTag);
    expect(m.ratchetKey).toEqual(f.ratchetKey);
    expect(m.headerMac).toEqual(f.headerMac);
    expect(m.ciphertext).toEqual(f.ciphertext);
    expect(m.header).toEqual(wire.subarray(0, wire.length - 48));
    expect(m.macedHeader).toEqual(wire.subarray(0, wire.length - 48 - 8));
    expect(envelopeType(wire)).toBe(2);
  });

  it('round-trips arbitrary counters and ciphertexts', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffff_ffff }),
        fc.nat({ max: 0xffff_ffff }),
        fc.uint8Array({ minLength: 16, maxLength: 300 }),
        (counter, previousCounter, ciphertext) => {
          const wire = encodeRatchetMessage({
            ...ratchetFields(),
            counter,
            previousCounter,
            ciphertext,
          });
          const m = parseRatchetMessage(wire);
          expect([m.counter, m.previousCounter]).toEqual([counter, previousCounter]);
          expect(m.ciphertext).toEqual(ciphertext);
        },
      ),
    );
  });

  it('says truncated for every cut before a whole AEAD tag', () => {
    const wire = encodeRatchetMessage(ratchetFields(5, 3, 16));
    for (let n = 0; n < wire.length; n++)
      expect(codeOf(() => parseRatchetMessage(wire.subarray(0, n)))).toBe('truncated');
    expect(codeOf(() => parseRatchetMessage(wire))).toBe('none');
  });

  it('rejects varints that are not in shortest form or exceed u32', () => {
    const head = concatBytes(Uint8Array.of(0x12), bytes(8, 1), bytes(32, 2));
    const tail = concatBytes(bytes(8, 3), bytes(16, 4));
    const withCounters = (...v: number[]) => concatBytes(head, Uint8Array.from(v), tail);
    expect(codeOf(() => parseRatchetMessage(withCounters(5, 3)))).toBe('none');
    expect(codeOf(() => parseRatchetMessage(withCounters(0x85, 0x00, 3)))).toBe('malformed');
    expect(codeOf(() => parseRatchetMessage(withCounters(0xff, 0xff, 0xff, 0xff, 0x10, 3)))).toBe(
      'malformed',
    );
    expect(codeOf(() => parseRatchetMessage(withCounters(0xff, 0xff, 0xff, 0xff, 0x0f, 3)))).toBe(
      'none',
    );
    expect(
      codeOf(() => parseRatchetMessage(withCounters(0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 3))),
    ).toBe('malformed');
  });

  it('refuses to encode fields of the wrong size', () => {
    expect(
      codeOf(() => encodeRatchetMessage({ ...ratchetFields(), sessionTag: bytes(7, 0) })),
    ).toBe('invalid-argument');
    expect(codeOf(() => encodeRatchetMessage({ ...ratchetFields(), counter: 2 ** 32 }))).toBe(
      'invalid-argument',
    );
  });
});

describe('type 1 (pre-key message)', () => {
  it('round-trips, exposing the pre-key header and the inner message', () => {
    const inner = encodeRatchetMessage(ratchetFields());
    const header = encodePrekeyHeader(prekeyFields);
    expect(header.length).toBe(1 + 4 + 32 + 32 + 4 + 2);
    const wire = concatBytes(header, inner);
    const m = parsePrekeyMessage(wire);
    expect(m).toMatchObject({ type: 1, signedPrekeyId: 0x01020304, oneTimePrekeyId: 300 });
    expect(m.recipientTag).toEqual(prekeyFields.recipientTag);
    expect(m.identityKey).toEqual(prekeyFields.identityKey);
    expect(m.baseKey).toEqual(prekeyFields.baseKey);
    expect(m.prekeyHeader).toEqual(header);
    expect(m.message.bytes).toEqual(inner);
    expect(m.message.counter).toBe(5);
    expect(decodeEnvelope(wire).type).toBe(1);
  });

  it('gives a typed error for every truncation', () => {
    const wire = concatBytes(
      encodePrekeyHeader(prekeyFields),
      encodeRatchetMessage(ratchetFields(5, 3, 16)),
    );
    for (let n = 0; n < wire.length; n++)
      expect(codeOf(() => parsePrekeyMessage(wire.subarray(0, n)))).toBe('truncated');
  });

  it('requires the inner message to be type 2 of version 1', () => {
    const header = encodePrekeyHeader(prekeyFields);
    const inner = encodeRatchetMessage(ratchetFields());
    const bad = (byte0: number) => {
      const copy = inner.slice();
      copy[0] = byte0;
      return codeOf(() => parsePrekeyMessage(concatBytes(header, copy)));
    };
    expect(bad(0x11)).toBe('malformed');
    expect(bad(0x13)).toBe('malformed');
    expect(bad(0x22)).toBe('unknown-version');
  });
});

describe('type 5 (post-quantum pre-key message)', () => {
  const pqFields: PrekeyFields = {
    ...prekeyFields,
    kem: { id: 2, cipherText: bytes(KEM_CIPHERTEXT_LENGTH, 0xbb) },
  };

  it("round-trips: type 1's header, the KEM prekey id and ciphertext, in the AEAD header", () => {
    const inner = encodeRatchetMessage(ratchetFields());
    const header = encodePrekeyHeader(pqFields);
    // The signed prekey id is a varint here (0x01020304 takes 4 bytes, as in type 1).
    expect(header.length).toBe(1 + 4 + 32 + 32 + 4 + 2 + 1 + KEM_CIPHERTEXT_LENGTH);
    const small = encodePrekeyHeader({ ...pqFields, signedPrekeyId: 3 });
    expect(small.length).toBe(header.length - 3);
    expect(parsePrekeyMessage(concatBytes(small, inner)).signedPrekeyId).toBe(3);
    expect(header[0]).toBe(0x15);
    const wire = concatBytes(header, inner);
    expect(envelopeType(wire)).toBe(5);
    const m = parsePrekeyMessage(wire);
    expect(m).toMatchObject({ type: 1, signedPrekeyId: 0x01020304, oneTimePrekeyId: 300 });
    expect(m.kem!.id).toBe(2);
    expect(m.kem!.cipherText).toEqual(pqFields.kem!.cipherText);
    expect(m.prekeyHeader).toEqual(header);
    expect(m.message.bytes).toEqual(inner);
    // A classical message has no KEM part.
    expect(parsePrekeyMessage(concatBytes(encodePrekeyHeader(prekeyFields), inner)).kem).toBe(
      undefined,
    );
  });

  it('gives a typed error for every truncation, and refuses KEM id 0 or a short ciphertext', () => {
    const wire = concatBytes(
      encodePrekeyHeader(pqFields),
      encodeRatchetMessage(ratchetFields(5, 3, 16)),
    );
    for (let n = 0; n < wire.length; n += n < 100 ? 1 : 37)
      expect(codeOf(() => parsePrekeyMessage(wire.subarray(0, n)))).toBe('truncated');
    const zero = wire.slice();
    zero[1 + 4 + 32 + 32 + 4 + 2] = 0;
    expect(codeOf(() => parsePrekeyMessage(zero))).toBe('malformed');
    const short = { ...pqFields, kem: { id: 2, cipherText: bytes(1087, 1) } };
    expect(codeOf(() => encodePrekeyHeader(short))).toBe('invalid-argument');
  });

  it('rides in a group bundle like type 1', () => {
    const pairwise = concatBytes(
      encodePrekeyHeader(pqFields),
      encodeRatchetMessage(ratchetFields()),
    );
    const bundle = parseGroupBundle(encodeGroupBundle([pairwise], senderKeyBytes()));
    expect(bundle.pairwise[0]!.type).toBe(1);
    expect((bundle.pairwise[0] as { kem?: { id: number } }).kem?.id).toBe(2);
  });
});

describe('type 3 (sender-key message)', () => {
  it('round-trips and exposes the signed part', () => {
    const wire = senderKeyBytes();
    const m = parseSenderKeyMessage(wire);
    expect(m).toMatchObject({ type: 3, iteration: 200 });
    expect(m.senderKeyId).toEqual(bytes(8, 0x88));
    expect(m.ctxTag).toEqual(bytes(4, 0x99));
    expect(m.header.length).toBe(1 + 8 + 2 + 4);
    expect(m.ciphertext).toEqual(bytes(40, 0xaa));
    expect(m.signature).toEqual(bytes(64, 0xbb));
    expect(m.signedPart).toEqual(wire.subarray(0, wire.length - 64));
  });

  it('says truncated when ciphertext tag and signature do not fit', () => {
    const wire = senderKeyBytes(16);
    for (let n = 0; n < wire.length; n++)
      expect(codeOf(() => parseSenderKeyMessage(wire.subarray(0, n)))).toBe('truncated');
  });
});

describe('type 4 (group bundle)', () => {
  const pairwise = () => [
    encodeRatchetMessage(ratchetFields()),
    concatBytes(encodePrekeyHeader(prekeyFields), encodeRatchetMessage(ratchetFields(0, 0))),
  ];

  it('round-trips pairwise envelopes and the sender-key message', () => {
    const [a, b] = pairwise();
    const wire = encodeGroupBundle([a!, b!], senderKeyBytes());
    const g = parseGroupBundle(wire);
    expect(g.pairwise.map((p) => p.type)).toEqual([2, 1]);
    expect(g.pairwise[0]!.bytes).toEqual(a);
    expect(g.pairwise[1]!.bytes).toEqual(b);
    expect(g.senderKeyMessage.bytes).toEqual(senderKeyBytes());
    expect(decodeEnvelope(wire).type).toBe(4);
    expect(parseGroupBundle(encodeGroupBundle([], senderKeyBytes())).pairwise).toEqual([]);
  });

  it('caps the recipient count at 256', () => {
    const one = encodeRatchetMessage(ratchetFields());
    const many = (n: number) =>
      concatBytes(
        Uint8Array.of(0x14, ...[(n & 0x7f) | (n > 127 ? 0x80 : 0), ...(n > 127 ? [n >> 7] : [])]),
        ...Array.from({ length: n }, () => concatBytes(Uint8Array.of(one.length), one)),
        senderKeyBytes(),
      );
    expect(codeOf(() => parseGroupBundle(many(MAX_BUNDLE_COUNT)))).toBe('none');
    expect(codeOf(() => parseGroupBundle(many(MAX_BUNDLE_COUNT + 1)))).toBe('oversized');
    expect(codeOf(() => encodeGroupBundle(Array(257).fill(one), senderKeyBytes()))).toBe(
      'oversized',
    );
  });

  it('accepts only type 1 or 2 inside, and a type 3 at the end', () => {
    const sk = senderKeyBytes();
    const inner = (e: Uint8Array) => concatBytes(Uint8Array.of(0x14, 1, e.length), e, sk);
    expect(codeOf(() => parseGroupBundle(inner(sk)))).toBe('malformed');
    const v2 = encodeRatchetMessage(ratchetFields());
    v2[0] = 0x22;
    expect(codeOf(() => parseGroupBundle(inner(v2)))).toBe('unknown-version');
    const noTail = concatBytes(Uint8Array.of(0x14, 0));
    expect(codeOf(() => parseGroupBundle(noTail))).toBe('truncated');
    const wrongTail = concatBytes(Uint8Array.of(0x14, 0), encodeRatchetMessage(ratchetFields()));
    expect(codeOf(() => parseGroupBundle(wrongTail))).toBe('malformed');
    expect(codeOf(() => encodeGroupBundle([sk], sk))).toBe('invalid-argument');
  });

  it('says truncated when an inner length runs past the end', () => {
    const wire = encodeGroupBundle(pairwise(), senderKeyBytes());
    const g = parseGroupBundle(wire);
    const cut = 3 + g.pairwise[0]!.bytes.length - 5; // inside the first inner envelope
    expect(codeOf(() => parseGroupBundle(wire.subarray(0, cut)))).toBe('truncated');
  });
});

describe('any envelope', () => {
  it('reads the version and type from byte 0', () => {
    expect(codeOf(() => envelopeType(new Uint8Array(0)))).toBe('truncated');
    expect(codeOf(() => envelopeType(Uint8Array.of(0x22)))).toBe('unknown-version');
    expect(codeOf(() => envelopeType(Uint8Array.of(0x02)))).toBe('unknown-version');
    expect(codeOf(() => envelopeType(Uint8Array.of(0x10)))).toBe('malformed');
    // Type 7 (a key wrap) lives only inside a fan-out.
    expect(codeOf(() => envelopeType(Uint8Array.of(0x17)))).toBe('malformed');
    for (const t of [1, 2, 3, 4, 5, 6]) expect(envelopeType(Uint8Array.of(0x10 | t))).toBe(t);
  });

  it('caps every envelope at 64 KiB', () => {
    const big = encodeRatchetMessage(ratchetFields(0, 0, MAX_ENVELOPE_LENGTH - 51));
    expect(big.length).toBe(MAX_ENVELOPE_LENGTH);
    expect(codeOf(() => decodeEnvelope(big))).toBe('none');
    const over = concatBytes(big, Uint8Array.of(0));
    expect(codeOf(() => decodeEnvelope(over))).toBe('oversized');
    expect(codeOf(() => encodeRatchetMessage(ratchetFields(0, 0, MAX_ENVELOPE_LENGTH - 50)))).toBe(
      'oversized',
    );
  });

  it('never throws anything but a VeilError on arbitrary bytes', () => {
    const valid = [
      encodeRatchetMessage(ratchetFields()),
      concatBytes(encodePrekeyHeader(prekeyFields), encodeRatchetMessage(ratchetFields())),
      senderKeyBytes(),
      encodeGroupBundle([encodeRatchetMessage(ratchetFields())], senderKeyBytes()),
    ];
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }))))
      .map(([v, edits]) => {
        const copy = v.slice();
        for (const [at, value] of edits) copy[at % copy.length] = value;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), mutated), (input) => {
        try {
          decodeEnvelope(input);
        } catch (e) {
          expect(isVeilError(e)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fan-out (type 6)', () => {
  const wrap = (wrappedLength: number) => {
    const header = ratchetFields(3, 1, 0);
    const bytes = encodeRatchetMessage({ ...header, ciphertext: new Uint8Array(16) });
    // Same layout as type 2 up to the MAC; byte 0 says key wrap and the tail is 0 or 32 bytes.
    const out = new Uint8Array(bytes.length - 16 + wrappedLength);
    out.set(bytes.subarray(0, bytes.length - 16));
    out[0] = BYTE0_KEY_WRAP;
    return out;
  };
  const content = new Uint8Array(40).fill(7);

  it('round-trips wraps of one key or none, and the content', () => {
    const f = parseFanout(encodeFanout([wrap(0), wrap(32)], content));
    const inner = f.wraps.map((w) => (w.type === 1 ? w.message : w));
    expect(inner.map((w) => [w.type, w.keyWrap, w.ciphertext.length])).toEqual([
      [2, true, 0],
      [2, true, 32],
    ]);
    expect(f.content).toEqual(content);
    expect(decodeEnvelope(f.bytes).type).toBe(6);
  });

  it('refuses bad input with typed errors', () => {
    const good = encodeFanout([wrap(32)], content);
    for (let n = 1; n < good.length - content.length + 16; n++)
      expect(['truncated', 'malformed']).toContain(codeOf(() => parseFanout(good.subarray(0, n))));
    expect(codeOf(() => encodeFanout([], content))).toBe('oversized');
    expect(codeOf(() => encodeFanout(Array(65).fill(wrap(0)), content))).toBe('oversized');
    expect(codeOf(() => encodeFanout([wrap(16)], content))).toBe('malformed');
    // A whole type-2 message is not a wrap, nor is a wrap a message on its own.
    const type2 = encodeRatchetMessage(ratchetFields(0, 0, 16));
    expect(codeOf(() => encodeFanout([type2], content))).toBe('malformed');
    expect(codeOf(() => decodeEnvelope(wrap(32)))).toBe('malformed');
    const zero = good.slice();
    zero[1] = 0;
    expect(codeOf(() => parseFanout(zero))).toBe('malformed');
  });
});
