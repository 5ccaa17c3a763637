// The sync blob's outer layer: key wraps only the named device opens, the writer's signature over
// wraps and sealed state, and strict splitting of what a directory serves.
import { x25519, ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { identityDhPrivate } from './identity';
import {
  joinSyncBlob,
  splitSyncBlob,
  syncBlobBody,
  syncBlobMessage,
  unwrapSyncKey,
  verifySyncBlob,
  wrapSyncKey,
} from './sync-blob';

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const device = () => {
  const seed = ed25519.utils.randomSecretKey();
  return {
    seed,
    key: ed25519.getPublicKey(seed),
    dh: async (pub: Uint8Array) => x25519.getSharedSecret(identityDhPrivate(seed), pub),
  };
};
const code = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'none';
  } catch (e) {
    return (e as { code?: string }).code ?? 'thrown';
  }
};

describe('sync blob', () => {
  it('wraps the sync key for one device: it opens it, another device or handle does not', async () => {
    const [d2, d3] = [device(), device()];
    const syncKey = random(32);
    const wrap = wrapSyncKey(syncKey, {
      handle: 'ann',
      device: 2,
      deviceKey: d2.key,
      randomBytes: random,
    });
    expect(await unwrapSyncKey(wrap, { handle: 'ann', dh: d2.dh })).toEqual(syncKey);
    expect(await code(unwrapSyncKey(wrap, { handle: 'ann', dh: d3.dh }))).toBe('bad-mac');
    expect(await code(unwrapSyncKey(wrap, { handle: 'bea', dh: d2.dh }))).toBe('bad-mac');
    // Moved to another device id (the id is bound), or a byte changed.
    expect(await code(unwrapSyncKey({ ...wrap, device: 3 }, { handle: 'ann', dh: d2.dh }))).toBe(
      'bad-mac',
    );
    const box = wrap.box.slice();
    box[0]! ^= 1;
    expect(await code(unwrapSyncKey({ ...wrap, box }, { handle: 'ann', dh: d2.dh }))).toBe(
      'bad-mac',
    );
  });

  it('signs wraps and sealed state together; any change or another signer is refused', async () => {
    const writer = device();
    const wraps = [3, 2].map((id) =>
      wrapSyncKey(random(32), {
        handle: 'ann',
        device: id,
        deviceKey: device().key,
        randomBytes: random,
      }),
    );
    const sealed = random(200);
    const body = syncBlobBody(wraps, sealed);
    const blob = joinSyncBlob(body, ed25519.sign(syncBlobMessage('ann', body), writer.seed));
    const parts = splitSyncBlob(blob);
    expect(parts.wraps.map((w) => w.device)).toEqual([2, 3]);
    expect(parts.sealed).toEqual(sealed);
    expect(() => verifySyncBlob('ann', parts, writer.key)).not.toThrow();
    expect(await code(() => verifySyncBlob('ann', parts, device().key))).toBe('bad-signature');
    expect(await code(() => verifySyncBlob('bea', parts, writer.key))).toBe('bad-signature');
    for (const at of [0, 5, body.length - 1, blob.length - 1]) {
      const bad = blob.slice();
      bad[at]! ^= 1;
      expect(await code(() => verifySyncBlob('ann', splitSyncBlob(bad), writer.key))).not.toBe(
        'none',
      );
    }
  });

  it('splits strictly: truncated, too many or unordered wraps are typed errors', async () => {
    expect(await code(() => splitSyncBlob(new Uint8Array(64)))).toBe('truncated');
    const tooMany = new Uint8Array(1 + 64 + 10);
    tooMany[0] = 17;
    expect(await code(() => splitSyncBlob(tooMany))).toBe('malformed');
    const short = new Uint8Array(1 + 50 + 64);
    short[0] = 1;
    expect(await code(() => splitSyncBlob(short))).toBe('truncated');
    const w = wrapSyncKey(random(32), {
      handle: 'ann',
      device: 2,
      deviceKey: device().key,
      randomBytes: random,
    });
    const body = syncBlobBody([w], random(10));
    const twice = new Uint8Array(1 + 2 * (body.length - 11) + 10 + 64);
    twice[0] = 2;
    twice.set(body.subarray(1, body.length - 10), 1);
    twice.set(body.subarray(1, body.length - 10), 1 + body.length - 11);
    expect(await code(() => splitSyncBlob(twice))).toBe('malformed');
  });
});
