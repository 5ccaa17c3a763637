// The passphrase lock: secret records sealed on disk; locked → nothing decrypts ('locked');
// the wrong passphrase refused; unlock restores; a restarted worker stays unlocked (the data
// key is in storage.session) but a restarted browser is locked again.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDB } from 'idb';
import { KeyStore, NAMED_TABLES, SEALED_TABLES } from './key-store';
import { isSealed, sealValue } from './seal';
import { nobleProvider } from '../protocol/crypto/noble';
import {
  type ReplyError,
  type RunningDirectory,
  type TestProfile,
  makeProfile,
  readOnPage,
  ready,
  startDirectory,
} from './testing';

const PASS = 'correct horse battery staple';
const CONTEXT = 'site:chat.example/room/1';

let directory: RunningDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

let handles = 0;
/** Two published profiles; `a` has `b` as a contact and one message from `b` waiting. */
async function conversation() {
  const id = ++handles;
  const a = await ready(makeProfile());
  const b = await ready(makeProfile());
  for (const [p, h] of [
    [a, `lock-a${id}`],
    [b, `lock-b${id}`],
  ] as const) {
    await p.call({ type: 'createIdentity', handle: h, directoryUrl: directory.url });
    await p.call({ type: 'publish' });
  }
  const ha = `lock-a${id}`;
  const hb = `lock-b${id}`;
  await a.call({ type: 'addContact', handle: hb });
  const { chunks } = await b.call<{ chunks: string[] }>({
    type: 'encrypt',
    context: CONTEXT,
    recipients: [ha],
    plaintext: 'the eagle has landed',
  });
  return { a, b, ha, hb, armored: chunks.join('\n') };
}

async function rawKeys(name: string, table: string): Promise<string[]> {
  const db = await openDB(name);
  const keys = await db.getAllKeys(table);
  db.close();
  return keys.map(String);
}

async function rawRows(name: string, table: string): Promise<unknown[]> {
  const db = await openDB(name);
  const rows = await db.getAll(table);
  db.close();
  return rows;
}

const code = async (p: TestProfile, message: Record<string, unknown>) =>
  ((await p.send(message)) as { error?: { code: string } }).error?.code;

/** The error code of reading `armored` on a page, or 'ok'. */
const readCode = (p: TestProfile, armored: string) =>
  readOnPage(p, CONTEXT, armored).then(
    () => 'ok',
    (e: ReplyError) => e.code,
  );

describe('passphrase lock', () => {
  it('seals every secret record on disk, and opens them again when removed', async () => {
    const { a, hb, armored } = await conversation();
    // A message read: its envelope's hash names a cached plaintext.
    await readOnPage(a, CONTEXT, armored);
    const hashes = await rawKeys(a.name, 'plaintexts');
    expect(hashes.length).toBeGreaterThan(0);
    await a.call({ type: 'setSecurityPhrase', phrase: 'purple otter' });
    const status = await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    expect(status).toMatchObject({ lockEnabled: true, locked: false });
    for (const table of SEALED_TABLES)
      for (const row of await rawRows(a.name, table)) expect(isSealed(row), table).toBe(true);
    const phraseRows = JSON.stringify(await rawRows(a.name, 'secrets'));
    expect(phraseRows).not.toContain('purple otter');
    // Who the user talks to is sealed too: contacts and directory look-ups.
    expect((await rawRows(a.name, 'contacts')).length).toBeGreaterThan(0);
    for (const row of await rawRows(a.name, 'contacts')) expect(isSealed(row)).toBe(true);
    expect(JSON.stringify(await rawRows(a.name, 'contacts'))).not.toContain('lock-b');
    for (const row of await rawRows(a.name, 'directory')) expect(isSealed(row)).toBe(true);
    // Nor do the records' names say it: no handle, directory, group or envelope hash.
    const names = (await Promise.all(NAMED_TABLES.map((t) => rawKeys(a.name, t)))).flat();
    expect(names.length).toBeGreaterThan(3);
    for (const name of names) expect(name).toMatch(/^#[0-9a-f]{32}$/);
    for (const hash of hashes) expect(names).not.toContain(hash);
    expect(names.join(' ')).not.toContain(hb);

    await a.call({ type: 'setLockPassphrase', passphrase: null, current: PASS });
    for (const table of SEALED_TABLES)
      for (const row of await rawRows(a.name, table)) expect(isSealed(row)).toBe(false);
    // Removing the lock gives the records their own names back.
    expect(await rawKeys(a.name, 'contacts')).toEqual([hb]);
    expect((await rawKeys(a.name, 'plaintexts')).sort()).toEqual([...hashes].sort());
    expect(await a.call({ type: 'getSecurityPhrase' })).toEqual({ phrase: 'purple otter' });
  });

  it('locked: nothing decrypts, nothing encrypts, no secret is read', async () => {
    const { a, hb, armored } = await conversation();
    await a.call({ type: 'setSecurityPhrase', phrase: 'purple otter' });
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    expect(await a.call({ type: 'lock' })).toMatchObject({ locked: true, lockEnabled: true });
    expect(await readCode(a, armored)).toBe('locked');
    expect(
      await code(a, { type: 'encrypt', context: CONTEXT, recipients: [hb], plaintext: 'x' }),
    ).toBe('locked');
    expect(await code(a, { type: 'getSecurityPhrase' })).toBe('locked');
    expect(await code(a, { type: 'exportBackup', passphrase: PASS })).toBe('locked');
    expect(await code(a, { type: 'publish' })).toBe('locked');
    // Below the handlers too: the store itself refuses the secret tables.
    await expect(a.service.store.get('identity', 'self')).rejects.toMatchObject({
      code: 'locked',
    });
    await expect(
      a.service.store.commit([{ op: 'put', table: 'sessions', key: 'x', value: 1 }]),
    ).rejects.toMatchObject({ code: 'locked' });
    // What unlocking needs still works while locked: status. The contact list does not.
    const status = await a.call<{ identity: { handle: string } }>({ type: 'status' });
    expect(status.identity.handle).toMatch(/^lock-a/);
    expect(await code(a, { type: 'listContacts' })).toBe('locked');

    // Unlocking restores everything; the waiting message still decrypts.
    expect(await a.call({ type: 'unlock', passphrase: PASS })).toMatchObject({ locked: false });
    expect(await readOnPage(a, CONTEXT, armored)).toMatchObject({
      status: 'unverified',
      sender: hb,
      plaintext: 'the eagle has landed',
    });
  });

  it('seals on unlock what an older version left open in tables sealed since', async () => {
    const { a } = await conversation();
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    const dataKey = (await a.service.lock.dataKey())!;
    // As a version that kept contacts open would have left one (and no mark of the new set).
    await a.service.store.commitRaw([
      { op: 'put', table: 'contacts', key: 'old-friend', value: { handle: 'old-friend' } },
      { op: 'delete', table: 'state', key: 'sealedSet' },
    ]);
    // And one sealed under its plain name, as version 2 left them.
    await a.service.store.commitRaw([
      {
        op: 'put',
        table: 'contacts',
        key: 'older-friend',
        value: sealValue(dataKey, 'contacts', 'older-friend', { handle: 'older-friend' }),
      },
    ]);
    await a.call({ type: 'lock' });
    expect(JSON.stringify(await rawRows(a.name, 'contacts'))).toContain('old-friend');
    await a.call({ type: 'unlock', passphrase: PASS });
    const rows = await rawRows(a.name, 'contacts');
    expect(rows.length).toBeGreaterThan(1);
    for (const row of rows) expect(isSealed(row)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('old-friend');
    // Renamed too, and still found by its own key.
    for (const name of await rawKeys(a.name, 'contacts')) expect(name).toMatch(/^#[0-9a-f]{32}$/);
    expect(await a.service.store.get('contacts', 'old-friend')).toEqual({ handle: 'old-friend' });
    expect(await a.service.store.get('contacts', 'older-friend')).toEqual({
      handle: 'older-friend',
    });
    // Once: the next unlock does not walk the sealed tables again.
    await a.call({ type: 'lock' });
    const rewrite = vi.spyOn(a.service.store, 'rewriteSealedTables');
    await a.call({ type: 'unlock', passphrase: PASS });
    expect(rewrite).not.toHaveBeenCalled();
    rewrite.mockRestore();
  });

  it('a write made while the lock is being set goes in sealed and named, not over the old', async () => {
    const { a } = await conversation();
    const store = a.service.store;
    // A write that starts while the records are being rewritten.
    let writing: Promise<void> | undefined;
    const rewrite = store.rewriteSealedTables.bind(store);
    const spy = vi.spyOn(store, 'rewriteSealedTables').mockImplementation((...args) => {
      const done = rewrite(...args);
      writing ??= store.commit([
        { op: 'put', table: 'contacts', key: 'late-friend', value: { handle: 'late-friend' } },
      ]);
      return done;
    });
    const enabling = a.call({ type: 'setLockPassphrase', passphrase: PASS });
    await enabling;
    spy.mockRestore();
    await writing;
    for (const name of await rawKeys(a.name, 'contacts')) expect(name).toMatch(/^#[0-9a-f]{32}$/);
    for (const row of await rawRows(a.name, 'contacts')) expect(isSealed(row)).toBe(true);
    expect(await store.get('contacts', 'late-friend')).toEqual({ handle: 'late-friend' });
  });

  it('a record that does not open does not stop the renaming of the others', async () => {
    const { a } = await conversation();
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    const other = new Uint8Array(32).fill(9);
    await a.service.store.commitRaw([
      { op: 'put', table: 'contacts', key: 'old-friend', value: { handle: 'old-friend' } },
      {
        op: 'put',
        table: 'contacts',
        key: 'damaged',
        value: sealValue(other, 'contacts', 'damaged', { handle: 'damaged' }),
      },
      { op: 'delete', table: 'state', key: 'sealedSet' },
    ]);
    await a.call({ type: 'lock' });
    await a.call({ type: 'unlock', passphrase: PASS });
    expect(await a.service.store.get('contacts', 'old-friend')).toEqual({ handle: 'old-friend' });
    // Listed without the damaged one.
    expect(await a.service.store.keys('contacts')).not.toContain('damaged');
  });

  it('refuses the wrong passphrase and stays locked', async () => {
    const { a, armored } = await conversation();
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    await a.call({ type: 'lock' });
    expect(await code(a, { type: 'unlock', passphrase: 'correct horse battery stapler' })).toBe(
      'wrong-passphrase',
    );
    expect(await code(a, { type: 'unlock', passphrase: '' })).toBe('wrong-passphrase');
    expect(await a.call({ type: 'status' })).toMatchObject({ locked: true });
    expect(await readCode(a, armored)).toBe('locked');
  });

  it('a restarted worker stays unlocked; a restarted browser is locked again', async () => {
    const { a, hb, armored } = await conversation();
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    expect(a.session.size).toBe(1);

    // MV3 stopped the idle worker: new store, lock and Veil instances; storage.session kept.
    const restarted = await ready(a.restartWorker());
    expect(restarted.service).not.toBe(a.service);
    expect(await restarted.call({ type: 'status' })).toMatchObject({ locked: false });
    expect(await readOnPage(restarted, CONTEXT, armored)).toMatchObject({
      plaintext: 'the eagle has landed',
    });

    // The browser quit: storage.session is gone, IndexedDB is not.
    const rebooted = await ready(restarted.restartBrowser());
    expect(await rebooted.call({ type: 'status' })).toMatchObject({ locked: true });
    expect(
      await code(rebooted, { type: 'encrypt', context: CONTEXT, recipients: [hb], plaintext: 'x' }),
    ).toBe('locked');
    await rebooted.call({ type: 'unlock', passphrase: PASS });
    const { chunks } = await rebooted.call<{ chunks: string[] }>({
      type: 'encrypt',
      context: CONTEXT,
      recipients: [hb],
      plaintext: 'back again',
    });
    expect(chunks.length).toBeGreaterThan(0);
  });

  it('changes the passphrase without re-sealing, and needs the current one to do it', async () => {
    const { a, armored } = await conversation();
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    expect(
      await code(a, { type: 'setLockPassphrase', passphrase: 'another long passphrase' }),
    ).toBe('wrong-passphrase');
    expect(
      await code(a, {
        type: 'setLockPassphrase',
        passphrase: 'another long passphrase',
        current: 'not it at all',
      }),
    ).toBe('wrong-passphrase');
    await a.call({
      type: 'setLockPassphrase',
      passphrase: 'another long passphrase',
      current: PASS,
    });
    await a.call({ type: 'lock' });
    expect(await code(a, { type: 'unlock', passphrase: PASS })).toBe('wrong-passphrase');
    await a.call({ type: 'unlock', passphrase: 'another long passphrase' });
    expect(await readOnPage(a, CONTEXT, armored)).toMatchObject({
      plaintext: 'the eagle has landed',
    });
    // Removing the lock also needs the current passphrase.
    expect(await code(a, { type: 'setLockPassphrase', passphrase: null, current: PASS })).toBe(
      'wrong-passphrase',
    );
  });

  it('refuses short passphrases and lock operations without a lock', async () => {
    const a = await ready(makeProfile());
    expect(await code(a, { type: 'setLockPassphrase', passphrase: 'short' })).toBe(
      'invalid-argument',
    );
    expect(await code(a, { type: 'lock' })).toBe('invalid-argument');
    expect(await code(a, { type: 'unlock', passphrase: PASS })).toBe('invalid-argument');
    expect(await a.call({ type: 'status' })).toMatchObject({ locked: false, lockEnabled: false });
  });

  it('never keeps a data key in storage.session that belongs to another lock', async () => {
    const a = await ready(makeProfile());
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    await a.call({ type: 'setLockPassphrase', passphrase: null, current: PASS });
    expect(a.session.size).toBe(0);
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    // A stale key from an earlier lock is not accepted for the new one.
    const stale = { lockId: 'old', key: 'A'.repeat(43) };
    await a.session.set({ 'veil.unlocked': stale });
    const restarted = await ready(a.restartWorker());
    expect(await restarted.call({ type: 'status' })).toMatchObject({ locked: true });
  });
});

describe('sealed records', () => {
  it('cannot be moved to another key or table', async () => {
    const a = await ready(makeProfile());
    await a.call({ type: 'setSecurityPhrase', phrase: 'purple otter' });
    await a.call({ type: 'setLockPassphrase', passphrase: PASS });
    const store: KeyStore = a.service.store;
    const sealed = await store.getRaw('secrets', 'securityPhrase');
    await store.commitRaw([{ op: 'put', table: 'secrets', key: 'other', value: sealed }]);
    await expect(store.get('secrets', 'other')).rejects.toMatchObject({ code: 'bad-mac' });
  });
});

describe('locking forgets native key handles', () => {
  it('clears the crypto provider key cache when the profile locks', async () => {
    let cleared = 0;
    const crypto = { ...nobleProvider, clearKeyCache: () => void cleared++ };
    const p = await ready(makeProfile({ crypto }));
    await p.call({ type: 'createIdentity', handle: 'lock-cache', directoryUrl: directory.url });
    await p.call({ type: 'setLockPassphrase', passphrase: PASS });
    expect(cleared).toBe(0);
    await p.call({ type: 'lock' });
    expect(cleared).toBe(1);
  });
});
