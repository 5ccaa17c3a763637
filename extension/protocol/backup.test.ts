// Tests for backups: the sealed file (passphrase, damage, KDF bounds), what a backup holds, and
// that restoring never revives a sending chain or an own sender key (every AEAD seal recorded).
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { bytesToHex } from '@noble/hashes/utils.js';
import { exportBackup, openBackup, restoreBackup, sealBackup } from './backup';
import { nobleProvider } from './crypto/noble';
import { isVeilError } from './errors';
import type { PrekeyBundle } from './identity';
import { decodeValue, encodeValue } from './serialize';
import { MemoryStore, STORE_TABLES } from './store';
import { Veil, type DecryptResult } from './veil';

// Every ChaCha20-Poly1305 seal of a message (ratchet.ts and sender-key.ts both seal through
// aead.ts), copied at the call: the caller wipes the key right after.
const seals = vi.hoisted(() => [] as string[]);
vi.mock('./aead', async (importOriginal) => {
  const aead = await importOriginal<typeof import('./aead')>();
  return {
    ...aead,
    sealChaCha20Poly1305: (...args: Parameters<typeof aead.sealChaCha20Poly1305>) => {
      seals.push(`${bytesToHex(args[0])}/${bytesToHex(args[1])}`);
      return aead.sealChaCha20Poly1305(...args);
    },
  };
});

// Every scrypt run, and a switch that stops one before it starts (bounds are checked first).
const kdf = vi.hoisted(() => ({ runs: 0, stop: false }));
vi.mock('@noble/hashes/scrypt.js', async (importOriginal) => {
  const scrypt = await importOriginal<typeof import('@noble/hashes/scrypt.js')>();
  return {
    ...scrypt,
    scryptAsync: (...args: Parameters<typeof scrypt.scryptAsync>) => {
      kdf.runs++;
      if (kdf.stop) return Promise.reject(new Error('scrypt reached'));
      return scrypt.scryptAsync(...args);
    },
  };
});

// Low scrypt cost keeps the suite fast; the format records the parameters it was made with.
const FAST = { log2N: 10, r: 8, p: 1 };
const opts = { crypto: nobleProvider, now: 1_700_000_000_000, scrypt: FAST };
const PASS = 'correct horse battery';

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

/** A store with a row of every kind the protocol keeps (veil.ts's layout). */
async function storeWithEveryKind(): Promise<MemoryStore> {
  const store = await seededStore();
  await store.commit([
    { op: 'put', table: 'signedPrekeys', key: '1', value: { id: 1, secret: 'spk' } },
    { op: 'put', table: 'oneTimePrekeys', key: '1', value: { id: 1, secret: 'otp' } },
    { op: 'put', table: 'senderKeys', key: 'own:ab', value: { chain: 'own sending chain' } },
    { op: 'put', table: 'senderKeys', key: 'in:cd', value: [{ sender: 'bob' }] },
    { op: 'put', table: 'senderKeys', key: 'later:ef', value: { unknown: 'kind' } },
    { op: 'put', table: 'meta', key: 'm', value: { some: 'meta' } },
    {
      op: 'put',
      table: 'contacts',
      key: 'carol',
      value: { handle: 'carol', verified: false, session: 's1', pendingKey: new Uint8Array(2) },
    },
  ]);
  return store;
}

/** Every row of every protocol table, as the exporter before this rule put them in a file. */
async function everyRow(store: MemoryStore): Promise<Record<string, Record<string, unknown>>> {
  const tables: Record<string, Record<string, unknown>> = {};
  for (const table of STORE_TABLES) {
    tables[table] = {};
    for (const key of await store.keys(table)) tables[table][key] = await store.get(table, key);
  }
  return tables;
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
  it('restores identity and contacts into a fresh store', async () => {
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
    expect(await fresh.keys('sessions')).toEqual([]);
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

  it('refuses, before running scrypt, a file asking more memory or work than a backup may', async () => {
    const file = await exportBackup(await seededStore(), PASS, opts);
    // Header: "VEILBAK", version, KDF, then log2 N, r and p at bytes 9, 10 and 11.
    const crafted = ([log2N, r, p]: number[]) => {
      const f = file.slice();
      f.set([log2N!, r!, p!], 9);
      return f;
    };
    const refused = [
      [20, 16, 1], // 128·N·r = 2 GiB, accepted before
      [21, 8, 1], // 2 GiB
      [19, 8, 1], // 512 MiB
      [18, 16, 1], // 512 MiB
      [18, 8, 4], // 256 MiB, but 8 × the work of the export's default
      [17, 8, 8], // 128 MiB, 8 × the work
      [30, 8, 1],
      [9, 8, 1], // below any real export
      [10, 0, 1],
      [10, 8, 0],
    ];
    const accepted = [
      [17, 8, 1], // what exports use (128 MiB)
      [18, 8, 1], // 256 MiB, the ceiling
      [17, 16, 1], // 256 MiB
      [17, 8, 4], // 4 × the work, the ceiling
      [10, 8, 1],
    ];
    kdf.runs = 0;
    kdf.stop = true;
    try {
      for (const params of refused) {
        await expect(openBackup(crafted(params), PASS), params.join()).rejects.toMatchObject({
          code: 'invalid-argument',
        });
        await expect(
          sealBackup({ createdAt: 1, tables: {} }, PASS, nobleProvider, {
            log2N: params[0]!,
            r: params[1]!,
            p: params[2]!,
          }),
        ).rejects.toMatchObject({ code: 'invalid-argument' });
      }
      expect(kdf.runs).toBe(0);
      for (const params of accepted)
        await expect(openBackup(crafted(params), PASS), params.join()).rejects.toThrow(
          'scrypt reached',
        );
      expect(kdf.runs).toBe(accepted.length);
    } finally {
      kdf.stop = false;
    }
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

describe('what a backup holds', () => {
  it('identity, prekeys, contacts, received sender keys and meta; nothing that sends', async () => {
    const file = await exportBackup(await storeWithEveryKind(), PASS, opts);
    const { tables } = await openBackup(file, PASS);
    expect(Object.keys(tables.identity ?? {})).toEqual(['self']);
    expect(tables.signedPrekeys).toEqual({ '1': { id: 1, secret: 'spk' } });
    expect(tables.meta).toEqual({ m: { some: 'meta' } });
    expect(tables.oneTimePrekeys).toEqual({ '1': { id: 1, secret: 'otp' } });
    // No live session, no own sender key, no pointer to a session.
    expect(tables.sessions ?? {}).toEqual({});
    expect(Object.keys(tables.senderKeys ?? {})).toEqual(['in:cd']);
    expect(tables.contacts).toEqual({
      bob: { handle: 'bob', verified: true, key: new Uint8Array([1, 2, 3]) },
      carol: { handle: 'carol', verified: false, pendingKey: new Uint8Array(2) },
    });
  });

  it('a file from before this rule (sessions and own sender keys inside) restores without them', async () => {
    const old = await sealBackup(
      { createdAt: 1, tables: await everyRow(await storeWithEveryKind()) },
      PASS,
      nobleProvider,
      FAST,
    );
    const fresh = new MemoryStore();
    await restoreBackup(fresh, await openBackup(old, PASS));
    expect(await fresh.keys('sessions')).toEqual([]);
    expect(await fresh.keys('oneTimePrekeys')).toEqual(['1']);
    expect(await fresh.keys('senderKeys')).toEqual(['in:cd']);
    expect(await fresh.get('contacts', 'carol')).toEqual({
      handle: 'carol',
      verified: false,
      pendingKey: new Uint8Array(2),
    });
    expect(await fresh.get('identity', 'self')).toMatchObject({ handle: 'alice' });
    expect(await fresh.keys('signedPrekeys')).toEqual(['1']);
  });

  it('restoring into a store that has an identity is refused and changes nothing', async () => {
    const contents = await openBackup(await exportBackup(await seededStore(), PASS, opts), PASS);
    const live = await storeWithEveryKind();
    const before = await everyRow(live);
    await expect(restoreBackup(live, contents)).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    expect(await everyRow(live)).toEqual(before);
  });
});

// ---- every key encrypts once ----

const CTX = 'thelounge:127.0.0.1:6667/#veil';
const clock = () => 1_700_000_000_000;

interface Party {
  handle: string;
  veil: Veil;
  store: MemoryStore;
}

async function party(handle: string, store = new MemoryStore()): Promise<Party> {
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  if (!(await veil.getIdentity())) await veil.createIdentity(handle);
  return { handle, veil, store };
}

/** What the directory serves for `p`: its identity, signed prekey and a fresh one-time prekey. */
async function bundleOf(p: Party): Promise<PrekeyBundle> {
  const pub = await p.veil.publicBundle({ oneTimePrekeys: 1 });
  return {
    handle: pub.handle,
    identityKey: pub.identityKey,
    signedPrekey: pub.signedPrekey,
    oneTimePrekey: pub.oneTimePrekeys[0]!,
  };
}

/** Sends as the background does: a session from the directory's bundle where there is none. */
async function send(from: Party, to: Party[], text: string): Promise<string> {
  for (const p of to)
    if (!(await from.veil.hasSession(p.handle))) await from.veil.startSession(await bundleOf(p));
  const chunks = await from.veil.encrypt(
    { context: CTX, recipients: to.map((p) => p.handle) },
    text,
  );
  return chunks.join('\n');
}

const read = (p: Party, armored: string): Promise<DecryptResult> => p.veil.decrypt(CTX, armored);

/** Alice talking 1:1 and in a group with bob and carol, then backed up two ways. */
async function aliceWithHistory() {
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((h) => party(h)));
  for (const peer of [bob!, carol!]) {
    expect(await read(peer, await send(alice!, [peer], `hello ${peer.handle}`))).toMatchObject({
      plaintext: `hello ${peer.handle}`,
    });
    expect(await read(alice!, await send(peer, [alice!], 'hello alice'))).toMatchObject({
      plaintext: 'hello alice',
    });
  }
  await alice!.veil.markVerified('bob');
  await bob!.veil.markVerified('alice');
  const group = await send(alice!, [bob!, carol!], 'to the group');
  for (const peer of [bob!, carol!])
    expect(await read(peer, group)).toMatchObject({ plaintext: 'to the group', kind: 'group' });
  expect(await read(alice!, await send(bob!, [alice!, carol!], 'bob to the group'))).toMatchObject({
    plaintext: 'bob to the group',
  });
  // A sending chain still live at the backup: alice wrote last and bob has not answered.
  expect(await read(bob!, await send(alice!, [bob!], 'one more'))).toMatchObject({
    plaintext: 'one more',
  });
  const exported = await exportBackup(alice!.store, PASS, opts);
  // The same state as the exporter before this rule wrote it: every row of every table.
  const legacy = await sealBackup(
    { createdAt: 1, tables: await everyRow(alice!.store) },
    PASS,
    nobleProvider,
    FAST,
  );
  return { alice: alice!, bob: bob!, carol: carol!, files: { exported, legacy } };
}

async function restoredFrom(file: Uint8Array): Promise<Party> {
  const store = new MemoryStore();
  await restoreBackup(store, await openBackup(file, PASS));
  return party('alice', store);
}

describe('every key encrypts once, whatever the user does with backups', () => {
  it.each(['exported', 'legacy'] as const)(
    'one backup (%s) restored into two stores: no (key, nonce) pair repeats across all three',
    async (kind) => {
      const { alice, bob, carol, files } = await aliceWithHistory();
      const copies = [await restoredFrom(files[kind]), await restoredFrom(files[kind])];
      seals.length = 0;
      let sent = 0;
      // The original goes on too; each sends 1:1 and to the group, twice.
      for (const round of [1, 2]) {
        for (const [i, device] of [alice, ...copies].entries()) {
          await send(device, [bob], `1:1 ${round} from device ${i}`);
          await send(device, [bob, carol], `group ${round} from device ${i}`);
          sent += 2;
        }
      }
      expect(seals.length).toBeGreaterThanOrEqual(sent);
      const repeats = seals.filter((s, i) => seals.indexOf(s) !== i);
      expect(repeats.length, 'seals under a (key, nonce) pair already used').toBe(0);
    },
  );

  it('peers read the restored device on a new session: same identity key, not a key change', async () => {
    const { alice, bob, carol, files } = await aliceWithHistory();
    const restored = await restoredFrom(files.exported);
    expect(await restored.store.keys('sessions')).toEqual([]);
    expect(await restored.veil.getContact('bob')).toMatchObject({ verified: true });
    expect(await restored.veil.hasSession('bob')).toBe(false);

    const beforeBackupSeq = (await read(bob, await send(alice, [bob], 'original goes on'))).sealed!
      .seq!;
    const direct = await send(restored, [bob], 'from the restored device');
    const got = await read(bob, direct);
    // Its sequence comes after anything the original sent since the file was made.
    expect(got.sealed!.seq!).toBeGreaterThan(beforeBackupSeq);
    expect(got).toMatchObject({
      status: 'verified',
      sender: 'alice',
      plaintext: 'from the restored device',
      kind: 'direct',
    });
    expect(got.senderIdentityKey).toEqual((await alice.veil.getIdentity())!.identityKey);
    expect(await bob.veil.getContact('alice')).not.toHaveProperty('pendingKey');

    const group = await send(restored, [bob, carol], 'group from the restored device');
    expect(await read(bob, group)).toMatchObject({ status: 'verified', kind: 'group' });
    expect(await read(carol, group)).toMatchObject({
      status: 'unverified',
      sender: 'alice',
      plaintext: 'group from the restored device',
    });

    // Bob answers on the new session, and the restored device reads it.
    expect(await read(restored, await send(bob, [alice], 'welcome back'))).toMatchObject({
      status: 'verified',
      plaintext: 'welcome back',
    });
    // Bob's group chain, distributed before the backup, still reads: received sender keys stay.
    const fromBob = await send(bob, [alice, carol], 'bob to the group again');
    expect(await read(restored, fromBob)).toMatchObject({
      status: 'verified',
      plaintext: 'bob to the group again',
      kind: 'group',
    });
  });
});
