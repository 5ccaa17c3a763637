// Tests for what is particular to the WebCrypto provider: the imported-key cache (hits, LRU
// bound, shared concurrent imports, failures not cached, clearing) and never-throwing verify.
// Algorithm conformance lives in protocol/crypto/provider-conformance.test.ts.
import { describe, expect, it } from 'vitest';
import { isVeilError } from '../protocol/errors';
import { createWebCryptoProvider } from './webcrypto-provider';

/** The real SubtleCrypto with importKey counted and optionally sabotaged. */
function countingSubtle(opts: { failImports?: number; failVerify?: boolean } = {}) {
  const real = globalThis.crypto.subtle;
  const stats = { imports: 0 };
  let failuresLeft = opts.failImports ?? 0;
  const subtle = new Proxy(real, {
    get(target, prop) {
      if (prop === 'importKey')
        return (...args: Parameters<SubtleCrypto['importKey']>) => {
          stats.imports++;
          if (failuresLeft > 0) {
            failuresLeft--;
            return Promise.reject(new DOMException('sabotaged', 'DataError'));
          }
          return target.importKey(...args);
        };
      if (prop === 'verify' && opts.failVerify)
        return () => Promise.reject(new DOMException('sabotaged', 'OperationError'));
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { subtle, stats };
}

describe('WebCrypto provider key cache', () => {
  it('imports each key once, and keeps generated private keys without importing them', async () => {
    const { subtle, stats } = countingSubtle();
    const p = createWebCryptoProvider({ subtle, keygen: 'generate' });
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    expect(stats.imports).toBe(0);
    await p.x25519(a.privateKey, b.publicKey);
    expect(stats.imports).toBe(1); // only b's public key
    await p.x25519(a.privateKey, b.publicKey);
    await p.x25519(a.privateKey, b.publicKey);
    expect(stats.imports).toBe(1);
  });

  it('with import keygen, the imported key is the cached one', async () => {
    const { subtle, stats } = countingSubtle();
    const p = createWebCryptoProvider({ subtle, keygen: 'import' });
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    const e = await p.ed25519Generate();
    expect(stats.imports).toBe(3);
    await p.x25519(a.privateKey, b.publicKey);
    await p.ed25519Sign(e.privateKey, Uint8Array.of(1));
    expect(stats.imports).toBe(4); // only b's public key
  });

  it('evicts the least recently used keys beyond 256 and re-imports them', async () => {
    const { subtle, stats } = countingSubtle();
    const p = createWebCryptoProvider({ subtle });
    const peer = await p.x25519Generate();
    const first = p.randomBytes(32);
    await p.x25519(first, peer.publicKey);
    const before = stats.imports;
    await p.x25519(first, peer.publicKey);
    expect(stats.imports).toBe(before); // cached
    for (let i = 0; i < 256; i++) await p.x25519(p.randomBytes(32), peer.publicKey);
    const afterFill = stats.imports;
    await p.x25519(first, peer.publicKey);
    expect(stats.imports).toBe(afterFill + 1); // evicted, imported again
  });

  it('shares one import between concurrent uses of a new key', async () => {
    const { subtle, stats } = countingSubtle();
    const p = createWebCryptoProvider({ subtle });
    const priv = p.randomBytes(32);
    const peer = (await p.x25519Generate()).publicKey;
    const results = await Promise.all(Array.from({ length: 10 }, () => p.x25519(priv, peer)));
    expect(stats.imports).toBe(2);
    for (const r of results) expect(r).toEqual(results[0]);
  });

  it('does not cache a failed import', async () => {
    const { subtle } = countingSubtle({ failImports: 2 });
    const p = createWebCryptoProvider({ subtle, keygen: 'generate' });
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    await expect(p.x25519(p.randomBytes(32), b.publicKey)).rejects.toSatisfy((e) =>
      isVeilError(e, 'invalid-key'),
    );
    // The same keys now import fine.
    expect(await p.x25519(a.privateKey, b.publicKey)).toEqual(
      await p.x25519(b.privateKey, a.publicKey),
    );
  });

  it('clearKeyCache forgets imported and generated keys', async () => {
    const { subtle, stats } = countingSubtle();
    const p = createWebCryptoProvider({ subtle, keygen: 'generate' });
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    await p.x25519(a.privateKey, b.publicKey);
    const before = stats.imports;
    p.clearKeyCache();
    await p.x25519(a.privateKey, b.publicKey);
    expect(stats.imports).toBe(before + 2);
  });
});

describe('WebCrypto provider verify', () => {
  it('returns false when the platform verify itself throws', async () => {
    const { subtle } = countingSubtle({ failVerify: true });
    const p = createWebCryptoProvider({ subtle });
    const e = await p.ed25519Generate();
    const sig = await p.ed25519Sign(e.privateKey, Uint8Array.of(1));
    expect(await p.ed25519Verify(e.publicKey, Uint8Array.of(1), sig)).toBe(false);
  });

  it('returns false when the key import fails', async () => {
    const good = createWebCryptoProvider();
    const e = await good.ed25519Generate();
    const sig = await good.ed25519Sign(e.privateKey, Uint8Array.of(1));
    const { subtle } = countingSubtle({ failImports: 1 });
    const p = createWebCryptoProvider({ subtle });
    expect(await p.ed25519Verify(e.publicKey, Uint8Array.of(1), sig)).toBe(false);
    expect(await p.ed25519Verify(e.publicKey, Uint8Array.of(1), sig)).toBe(true);
  });
});

describe('WebCrypto provider inputs', () => {
  it('takes views on a larger buffer and on shared memory alike', async () => {
    const p = createWebCryptoProvider();
    const key = await p.ed25519Generate();
    const backing = new Uint8Array(400).fill(5);
    const view = backing.subarray(50, 350);
    const signature = await p.ed25519Sign(key.privateKey, view);
    expect(await p.ed25519Verify(key.publicKey, view.slice(), signature)).toBe(true);
    const shared = new Uint8Array(new SharedArrayBuffer(300));
    shared.set(view);
    expect(await p.ed25519Verify(key.publicKey, shared, signature)).toBe(true);
    expect(await p.ed25519Sign(key.privateKey, shared)).toEqual(signature);
  });
});
