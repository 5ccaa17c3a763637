// Cross-check of safety numbers against the native @signalapp/libsignal-client: same display
// string, same scannable bytes, same compare() verdicts. A test, not the core, so it may load the
// native module and use Node's Buffer; it skips (saying why) where the module cannot load.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { x25519 } from '@noble/curves/ed25519.js';
import { isVeilError } from './errors';
import { compareScannable, fingerprints } from './safety-number';

type Libsignal = typeof import('@signalapp/libsignal-client');

let lib: Libsignal | undefined;
let loadError = '';
try {
  lib = await import('@signalapp/libsignal-client');
} catch (e) {
  loadError = e instanceof Error ? e.message : String(e);
}

const title = lib
  ? 'safety numbers agree with libsignal-client'
  : `SKIPPED: @signalapp/libsignal-client did not load (${loadError})`;

describe.skipIf(!lib)(title, () => {
  const signal = lib!;
  const signalKey = (pub: Uint8Array) =>
    signal.PublicKey.deserialize(Buffer.concat([Buffer.from([5]), pub]));
  const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

  function libsignalFingerprint(
    local: { id: string; identityKey: Uint8Array },
    remote: { id: string; identityKey: Uint8Array },
  ) {
    const f = signal.Fingerprint.new(
      5200,
      1,
      utf8(local.id),
      signalKey(local.identityKey),
      utf8(remote.id),
      signalKey(remote.identityKey),
    );
    return {
      display: f.displayableFingerprint().toString(),
      scannable: new Uint8Array(f.scannableFingerprint().toBuffer()),
    };
  }

  /** libsignal's verdict: true, false, or which kind of error. */
  function theirCompare(ours: Uint8Array, scanned: Uint8Array): boolean | string {
    try {
      return signal.ScannableFingerprint._fromBuffer(new Uint8Array(ours)).compare(
        signal.ScannableFingerprint._fromBuffer(new Uint8Array(scanned)),
      );
    } catch (e) {
      return /version/i.test((e as Error).message) ? 'unknown-version' : 'malformed';
    }
  }

  function ourCompare(ours: Uint8Array, scanned: Uint8Array): boolean | string {
    try {
      return compareScannable(ours, scanned);
    } catch (e) {
      if (!isVeilError(e)) throw e;
      return e.code;
    }
  }

  // Handles in Veil's syntax, and arbitrary Unicode to exercise the UTF-8 path.
  const handle = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
  const anyId = fc.oneof(handle, fc.string({ unit: 'grapheme', maxLength: 20 }));

  it('matches display and scannable forms for 20 random key pairs', () => {
    fc.assert(
      fc.property(anyId, anyId, (idA, idB) => {
        const a = { id: idA, identityKey: x25519.keygen().publicKey };
        const b = { id: idB, identityKey: x25519.keygen().publicKey };
        const ours = fingerprints(a, b);
        const theirs = libsignalFingerprint(a, b);
        expect(ours.display).toBe(theirs.display);
        expect(ours.scannable).toEqual(theirs.scannable);
        // Each side's scan accepted by the other, in both implementations.
        const back = fingerprints(b, a).scannable;
        expect(ourCompare(ours.scannable, back)).toBe(true);
        expect(theirCompare(ours.scannable, back)).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('gives the same compare() verdict on mutated and random scans', () => {
    const a = { id: 'alice', identityKey: x25519.keygen().publicKey };
    const b = { id: 'bob', identityKey: x25519.keygen().publicKey };
    const ours = fingerprints(a, b).scannable;
    const scan = fingerprints(b, a).scannable;
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 90 }),
      fc
        .array(fc.tuple(fc.nat(scan.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        })
        .map((flips) => {
          const m = scan.slice();
          for (const [i, x] of flips) m[i]! ^= x;
          return m;
        }),
      fc.nat(scan.length).map((n) => scan.slice(0, n)),
      fc.uint8Array({ maxLength: 12 }).map((tail) => Uint8Array.from([...scan, ...tail])),
    );
    fc.assert(
      fc.property(mutated, (bytes) => {
        expect(ourCompare(ours, bytes)).toBe(theirCompare(ours, bytes));
      }),
      { numRuns: 3000 },
    );
  });
});
