// keyStanding over a handle's logged entries, and the directory key's short fingerprint (the
// same text the extension's Settings and the directory's page show).
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import {
  checkpointKeyId,
  directoryKeyFingerprint,
  keyStanding,
  type LogAction,
  type LogEntry,
} from './transparency';

const key = (n: number) => new Uint8Array(32).fill(n);
const entry = (sequence: number, action: LogAction, k: number): LogEntry => ({
  handle: 'alice',
  identityKey: key(k),
  action,
  sequence,
  timestamp: 1_700_000_000 + sequence,
});

describe('keyStanding', () => {
  it.each([
    ['no entries', [], 1, 'never'],
    ['published', [entry(1, 'publish', 1)], 1, 'current'],
    ['another key published', [entry(1, 'publish', 2)], 1, 'never'],
    ['rotated away', [entry(1, 'publish', 1), entry(2, 'rotate', 2)], 1, 'earlier'],
    ['rotated to', [entry(1, 'publish', 1), entry(2, 'rotate', 2)], 2, 'current'],
    ['deleted', [entry(1, 'publish', 1), entry(2, 'delete', 1)], 1, 'earlier'],
    [
      'claimed again',
      [entry(1, 'publish', 1), entry(2, 'delete', 1), entry(3, 'publish', 1)],
      1,
      'current',
    ],
    ['named only by a delete', [entry(1, 'delete', 3)], 3, 'never'],
    ['out of order', [entry(2, 'rotate', 2), entry(1, 'publish', 1)], 2, 'current'],
  ] as const)('%s → %s', (_, entries, k, standing) => {
    expect(keyStanding(entries, key(k))).toBe(standing);
  });
});

describe('directoryKeyFingerprint', () => {
  it('is the checkpoint key ID and 128 bits of SHA-256 of the key, in hex', () => {
    const publicKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const text = directoryKeyFingerprint('dir.example/veil', publicKey);
    expect(text).toMatch(/^[0-9a-f]{8} · ([0-9a-f]{4} ){7}[0-9a-f]{4}$/);
    const id = Array.from(checkpointKeyId('dir.example/veil', publicKey), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
    expect(text.startsWith(id)).toBe(true);
    // Another origin or another key gives another text.
    expect(directoryKeyFingerprint('other.example/veil', publicKey)).not.toBe(text);
    const other = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    expect(directoryKeyFingerprint('dir.example/veil', other).slice(11)).not.toBe(text.slice(11));
    expect(() => directoryKeyFingerprint('dir.example/veil', new Uint8Array(31))).toThrow();
  });
});
