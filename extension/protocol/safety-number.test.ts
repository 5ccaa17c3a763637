// Tests for safety numbers: libsignal's published known-answer vectors, the scannable protobuf,
// libsignal's compare() semantics, formatting, and robustness of the protobuf decoder.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { utf8ToBytes } from './bytes';
import { isVeilError } from './errors';
import {
  compareScannable,
  decodeCombined,
  displayDigits,
  encodeCombined,
  fingerprintHalf,
  fingerprints,
  formatSafetyNumber,
  iteratedFingerprintHash,
  safetyNumber,
  scannableFingerprint,
} from './safety-number';

// Known-answer vectors from signalapp/libsignal rust/protocol/src/fingerprint.rs
// (fingerprint_test_v1 / fingerprint_test_v2 / fingerprint_encodings, "testVectorsVersion1" in Java).
const ALICE_IDENTITY = '0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868';
const BOB_IDENTITY = '05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b';
const DISPLAYABLE_FINGERPRINT_V1 = '300354477692869396892869876765458257569162576843440918079131';
const ALICE_SCANNABLE_FINGERPRINT_V1 =
  '080112220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d';
const BOB_SCANNABLE_FINGERPRINT_V1 =
  '080112220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d1a220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df';
const ALICE_SCANNABLE_FINGERPRINT_V2 =
  '080212220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d';
const ALICE_STABLE_ID = '+14152222222';
const BOB_STABLE_ID = '+14153333333';

// Their keys are Signal's 33-byte form; Veil's API takes the bare 32-byte X25519 key.
const alice = { id: ALICE_STABLE_ID, identityKey: hexToBytes(ALICE_IDENTITY).subarray(1) };
const bob = { id: BOB_STABLE_ID, identityKey: hexToBytes(BOB_IDENTITY).subarray(1) };

function randomParty(id: string) {
  return { id, identityKey: x25519.keygen().publicKey };
}

function expectVeilError(code: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isVeilError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected VeilError(${code})`);
}

describe('libsignal known-answer vectors', () => {
  it('reproduces the displayable fingerprint from both sides', () => {
    expect(safetyNumber(alice, bob)).toBe(DISPLAYABLE_FINGERPRINT_V1);
    expect(safetyNumber(bob, alice)).toBe(DISPLAYABLE_FINGERPRINT_V1);
  });

  it('reproduces the version-1 scannable fingerprints', () => {
    expect(bytesToHex(scannableFingerprint(alice, bob))).toBe(ALICE_SCANNABLE_FINGERPRINT_V1);
    expect(bytesToHex(scannableFingerprint(bob, alice))).toBe(BOB_SCANNABLE_FINGERPRINT_V1);
    const both = fingerprints(alice, bob);
    expect(both.display).toBe(DISPLAYABLE_FINGERPRINT_V1);
    expect(bytesToHex(both.scannable)).toBe(ALICE_SCANNABLE_FINGERPRINT_V1);
  });

  it('reproduces the vectors through the raw-bytes function, and version 2 of the encoding', () => {
    const a = iteratedFingerprintHash(
      utf8ToBytes(ALICE_STABLE_ID),
      hexToBytes(ALICE_IDENTITY),
      5200,
    );
    const b = iteratedFingerprintHash(utf8ToBytes(BOB_STABLE_ID), hexToBytes(BOB_IDENTITY), 5200);
    expect(a.length).toBe(64);
    expect(displayDigits(a) + displayDigits(b)).toBe(DISPLAYABLE_FINGERPRINT_V1);
    expect(bytesToHex(encodeCombined(2, a.subarray(0, 32), b.subarray(0, 32)))).toBe(
      ALICE_SCANNABLE_FINGERPRINT_V2,
    );
  });

  it('encodes CombinedFingerprints exactly as libsignal (fingerprint_encodings)', () => {
    const encoded = encodeCombined(2, new Uint8Array(32).fill(0x12), new Uint8Array(32).fill(0xba));
    expect(bytesToHex(encoded)).toBe(
      '080212220a20' + '12'.repeat(32) + '1a220a20' + 'ba'.repeat(32),
    );
  });

  it('libsignal compare(): each side accepts the other and rejects itself', () => {
    const a = hexToBytes(ALICE_SCANNABLE_FINGERPRINT_V1);
    const b = hexToBytes(BOB_SCANNABLE_FINGERPRINT_V1);
    expect(compareScannable(a, b)).toBe(true);
    expect(compareScannable(b, a)).toBe(true);
    expect(compareScannable(a, a)).toBe(false);
    expect(compareScannable(b, b)).toBe(false);
  });

  it('a version mismatch is a typed error (fingerprint_mismatching_versions)', () => {
    expectVeilError('unknown-version', () =>
      compareScannable(
        hexToBytes(ALICE_SCANNABLE_FINGERPRINT_V1),
        hexToBytes(ALICE_SCANNABLE_FINGERPRINT_V2),
      ),
    );
  });
});

describe('safetyNumber', () => {
  it('is 60 digits, the same from both sides, and one half is each party', () => {
    const a = randomParty('alice');
    const b = randomParty('bob');
    const number = safetyNumber(a, b);
    expect(number).toMatch(/^[0-9]{60}$/);
    expect(safetyNumber(b, a)).toBe(number);
    const halves = [fingerprintHalf(a), fingerprintHalf(b)].sort();
    expect(number).toBe(halves.join(''));
  });

  it('changes with either key or either identifier (mismatching fingerprints / identifiers)', () => {
    const a = randomParty('alice');
    const b = randomParty('bob');
    const mitm = randomParty('bob');
    const base = safetyNumber(a, b);
    expect(safetyNumber(a, mitm)).not.toBe(base);
    expect(safetyNumber({ ...a, id: 'alice2' }, b)).not.toBe(base);
    const ours = scannableFingerprint(a, mitm);
    const theirs = scannableFingerprint(b, a);
    expect(compareScannable(ours, theirs)).toBe(false);
    expect(compareScannable(theirs, ours)).toBe(false);
    const renamed = scannableFingerprint({ ...a, id: 'alice2' }, b);
    expect(compareScannable(renamed, theirs)).toBe(false);
  });

  it('refuses keys that are not 32 bytes, without echoing them', () => {
    const key = new Uint8Array(33).fill(0xab);
    try {
      safetyNumber({ id: 'a', identityKey: key }, randomParty('b'));
      throw new Error('expected a throw');
    } catch (e) {
      expect(isVeilError(e, 'invalid-key')).toBe(true);
      expect((e as Error).message).not.toMatch(/ab/i);
    }
  });

  it('refuses iteration counts libsignal refuses', () => {
    for (const n of [0, 1, 1_000_001, 2.5])
      expectVeilError('invalid-argument', () =>
        iteratedFingerprintHash(new Uint8Array(1), new Uint8Array(33), n),
      );
  });
});

describe('displayDigits', () => {
  it('reads 5-byte big-endian chunks mod 100000, zero-padded', () => {
    const hash = new Uint8Array(64);
    // chunk 0: 0x0000000001 = 1; chunk 1: 0xffffffffff = 1099511627775 → 27775;
    // chunk 2: 100000 exactly → 0
    hash[4] = 1;
    hash.fill(0xff, 5, 10);
    hash.set([0x00, 0x00, 0x01, 0x86, 0xa0], 10);
    expect(displayDigits(hash)).toBe('00001' + '27775' + '00000' + '00000'.repeat(3));
  });
});

describe('formatSafetyNumber', () => {
  it('splits into 12 blocks of 5', () => {
    const digits = '012345678901234567890123456789012345678901234567890123456789';
    const formatted = formatSafetyNumber(digits);
    expect(formatted.split(' ')).toHaveLength(12);
    expect(formatted.split(' ').every((g) => g.length === 5)).toBe(true);
    expect(formatted.replaceAll(' ', '')).toBe(digits);
  });

  it('refuses anything but 60 digits', () => {
    for (const bad of ['', '1'.repeat(59), '1'.repeat(61), 'a'.repeat(60), '1'.repeat(59) + ' '])
      expectVeilError('invalid-argument', () => formatSafetyNumber(bad));
  });
});

describe('compareScannable decoding', () => {
  const c = '11'.repeat(32);
  const d = '22'.repeat(32);
  const ours = hexToBytes('080112220a20' + c + '1a220a20' + d);
  const scan = (h: string) => () => compareScannable(ours, hexToBytes(h));

  it('accepts the mirror image, with unknown fields, groups and merged repeats', () => {
    expect(scan('080112220a20' + d + '1a220a20' + c)()).toBe(true);
    expect(scan('080112220a20' + d + '1a220a20' + c + '2001')()).toBe(true);
    expect(scan('080112220a20' + d + '1a220a20' + c + '23080124')()).toBe(true);
    expect(scan('080112220a20' + d + '1a220a20' + c + '1200')()).toBe(true);
    expect(scan('1a220a20' + c + '080112220a20' + d)()).toBe(true); // field order is free
  });

  it('keeps only the low 32 bits of the version, like protobuf uint32', () => {
    expect(scan('0881808080f00f12220a20' + d + '1a220a20' + c)()).toBe(true);
  });

  it('is false for a short or swapped content', () => {
    expect(scan('080112210a1f' + d.slice(2) + '1a220a20' + c)()).toBe(false);
    expect(scan('080112020a00' + '1a220a20' + c)()).toBe(false);
    expect(scan('080112220a20' + c + '1a220a20' + d)()).toBe(false);
  });

  it('treats an absent version as 0: a version error', () => {
    expectVeilError('unknown-version', scan('12220a20' + d + '1a220a20' + c));
    expectVeilError('unknown-version', scan('0802'));
  });

  it('reports missing parties and broken protobuf as malformed', () => {
    expectVeilError('malformed', scan('0801' + '1a220a20' + c));
    expectVeilError('malformed', scan('08011200' + '1a220a20' + c));
    expectVeilError('malformed', scan('080112220a20' + d)); // no remote
    expectVeilError('malformed', scan('080112220a20' + d.slice(2))); // truncated
    expectVeilError('malformed', scan('0d01000000' + '12220a20' + d + '1a220a20' + c)); // wire type
    expectVeilError('malformed', scan('0801' + '230801')); // unterminated group
    expectVeilError('malformed', scan('0801' + '0f')); // wire type 7
    expectVeilError('malformed', scan('0080')); // field number 0 / truncated varint
    expectVeilError('malformed', scan('08ffffffffffffffffff7f')); // varint over 64 bits
    expectVeilError('malformed', () => compareScannable(hexToBytes('0801'), ours));
  });

  it('never throws anything but a VeilError on arbitrary or mutated input', () => {
    const valid = hexToBytes('080112220a20' + d + '1a220a20' + c);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const m = valid.slice();
            m[i]! ^= x;
            return m;
          }),
        ),
        (bytes) => {
          try {
            const r = compareScannable(ours, bytes);
            expect(typeof r).toBe('boolean');
          } catch (e) {
            expect(isVeilError(e)).toBe(true);
          }
          // And the decoder alone never crashes either.
          try {
            decodeCombined(bytes);
          } catch (e) {
            expect(isVeilError(e, 'malformed')).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
