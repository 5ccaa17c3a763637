import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exportBackup, openBackup, restoreBackup, sealBackup } from './backup';
import { nobleProvider } from './crypto/noble';
import { isVeilError } from './errors';
import { decodeValue, encodeValue } from './serialize';
import { MemoryStore } from './store';

// Low scrypt cost keeps the suite fast; the format records the parameters it was made with.
const FAST = { log2N: 10, r: 8, p: 1 };
const opts = { crypto: nobleProvider, now: 1_700_000_000_000, scrypt: FAST };

async function seededStore(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.commit([
    {
      op: 'put',
      table: 'identity',
      key: 'self',
      value: { handle: 'alice', seed: new Uint8Array(32).fill(7) },
    },
    {
      op: 'put',
      table: 'contacts',
      key: 'bob',
      value: { handle: 'bob', verified: true, key: new Uint8Array([1, 2, 3]) },
    },
    { op: 'put', table: 'sessions', key: 's1', value: { n: 5, chain: [new Uint8Array(4)] } },
  ]);
  return store;
}

describe('serialize', () => {
  it('round-trips plain data', () => {
    const plain = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double({ noNaN: true }),
        fc.string(),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(
          fc.string().filter((k) => k !== '__proto__'),
          tie('value'),
          { maxKeys: 4 },
        ),
      ),
    })).value;
    fc.assert(
      fc.property(plain, (v) => {
        expect(decodeValue(encodeValue(v))).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects garbage with typed errors only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeValue(bytes);
        } catch (e) {
          expect(isVeilError(e)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('backup', () => {
  it('restores identity, contacts and sessions into a fresh store', async () => {
    const file = await exportBackup(await seededStore(), 'correct horse battery', {
      ...opts,
      extra: { settings: { directory: 'https://dir.example' } },
    });
    const contents = await openBackup(file, 'correct horse battery');
    const fresh = new MemoryStore();
    await restoreBackup(fresh, contents);
    expect(await fresh.get('identity', 'self')).toEqual({
      handle: 'alice',
      seed: new Uint8Array(32).fill(7),
    });
    expect(await fresh.get('contacts', 'bob')).toEqual({
      handle: 'bob',
      verified: true,
      key: new Uint8Array([1, 2, 3]),
    });
    expect(await fresh.get('sessions', 's1')).toEqual({ n: 5, chain: [new Uint8Array(4)] });
    expect(contents.extra).toEqual({ settings: { directory: 'https://dir.example' } });
  });

  it('says wrong-passphrase for a wrong passphrase, and changes nothing', async () => {
    const file = await exportBackup(await seededStore(), 'correct horse battery', opts);
    const target = new MemoryStore();
    await expect(openBackup(file, 'correct horse batterz')).rejects.toMatchObject({
      code: 'wrong-passphrase',
    });
    expect(await target.keys('identity')).toEqual([]);
  });

  it('says bad-mac for a damaged file and malformed for a non-backup', async () => {
    const file = await exportBackup(await seededStore(), 'correct horse battery', opts);
    const damaged = file.slice();
    damaged[damaged.length - 20]! ^= 1;
    await expect(openBackup(damaged, 'correct horse battery')).rejects.toMatchObject({
      code: 'bad-mac',
    });
    await expect(openBackup(new Uint8Array(100), 'x')).rejects.toMatchObject({ code: 'malformed' });
    await expect(openBackup(file.subarray(0, 30), 'correct horse battery')).rejects.toMatchObject({
      code: 'truncated',
    });
  });

  it('refuses a file asking for absurd KDF cost', async () => {
    const file = await exportBackup(await seededStore(), 'correct horse battery', opts);
    const hostile = file.slice();
    hostile[9] = 30; // log2N byte
    await expect(openBackup(hostile, 'correct horse battery')).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });

  it('never puts the passphrase or secrets in clear in the file', async () => {
    const file = await exportBackup(await seededStore(), 'correct horse battery', opts);
    const text = new TextDecoder('latin1').decode(file);
    expect(text).not.toContain('alice');
    expect(text).not.toContain('correct horse');
    const contents = { createdAt: 1, tables: { identity: { self: { secret: 'hunter2-secret' } } } };
    const sealed = await sealBackup(contents, 'passphrase!', nobleProvider, FAST);
    expect(new TextDecoder('latin1').decode(sealed)).not.toContain('hunter2');
  });

  it('rejects a short passphrase', async () => {
    await expect(exportBackup(new MemoryStore(), 'short', opts)).rejects.toMatchObject({
      code: 'invalid-argument',
    });
  });
});
