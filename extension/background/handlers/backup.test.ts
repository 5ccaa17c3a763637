// The backup handlers end to end through the router, with simulated profiles and the real
// directory on loopback: what comes back on a fresh profile, refusals that change nothing, and
// restores that never send on an old key (every ChaCha20-Poly1305 seal in this file is recorded).
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ReaderView, StatusReply } from '../../messaging/messages';
import { openBackup, sealBackup } from '../../protocol/backup';
import { nobleProvider } from '../../protocol/crypto/noble';
import { fromBase64Url, toBase64Url } from '../../protocol/encoding';
import { STORE_TABLES } from '../../protocol/store';
import { ALL_TABLES } from '../schema';
import {
  FAST_SCRYPT,
  type RunningDirectory,
  type TestProfile,
  makeProfile,
  readOnPage,
  ready,
  startDirectory,
} from '../testing';

// ratchet.ts and sender-key.ts seal every message through aead.ts; the key is copied at the
// call (the caller wipes it right after).
const seals = vi.hoisted(() => [] as string[]);
vi.mock('../../protocol/aead', async (importOriginal) => {
  const aead = await importOriginal<typeof import('../../protocol/aead')>();
  return {
    ...aead,
    sealChaCha20Poly1305: (...args: Parameters<typeof aead.sealChaCha20Poly1305>) => {
      seals.push(`${bytesToHex(args[0])}/${bytesToHex(args[1])}`);
      return aead.sealChaCha20Poly1305(...args);
    },
  };
});

const CONTEXT = 'site:chat.example/room/42';
const BACKUP_PASS = 'backup passphrase of some length';

let directory: RunningDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}b`;

async function onboard(handle: string): Promise<TestProfile> {
  const p = await ready(makeProfile());
  await p.call({ type: 'createIdentity', handle, directoryUrl: directory.url });
  await p.call({ type: 'publish' });
  return p;
}

async function codeOf(p: TestProfile, message: Record<string, unknown>): Promise<string> {
  const reply = (await p.send(message)) as { ok: boolean; error?: { code: string } };
  return reply.ok ? 'ok' : reply.error!.code;
}

async function send(from: TestProfile, to: string[], text: string): Promise<string> {
  const { chunks } = await from.call<{ chunks: string[] }>({
    type: 'encrypt',
    context: CONTEXT,
    recipients: to,
    plaintext: text,
  });
  return chunks.join('\n');
}

async function importInto(p: TestProfile, file: string): Promise<StatusReply> {
  return p.call<StatusReply>({ type: 'importBackup', file, passphrase: BACKUP_PASS });
}

/** Every row of every table of a profile, to show that a refusal changed nothing. */
async function everything(p: TestProfile): Promise<Record<string, [string, unknown][]>> {
  const all: Record<string, [string, unknown][]> = {};
  for (const t of ALL_TABLES) all[t] = await p.service.store.entries(t);
  return all;
}

/** Alice with a live 1:1 sending chain and an own sender key, backed up. */
async function setUp() {
  const [ha, hb, hc] = [unique('gus'), unique('hal'), unique('ida')];
  const [a, b, c] = [await onboard(ha), await onboard(hb), await onboard(hc)];
  await a.call({ type: 'addContact', handle: hb });
  await a.call({ type: 'addContact', handle: hc });
  await a.call({ type: 'markVerified', handle: hb, verified: true });
  await a.call({ type: 'setSecurityPhrase', phrase: 'copper lantern' });
  await a.call({ type: 'setSettings', enabledSites: ['chat.example'] });
  await b.call({ type: 'addContact', handle: ha });
  expect(await readOnPage(b, CONTEXT, await send(a, [hb], 'session exists'))).toMatchObject({
    plaintext: 'session exists',
  });
  const group = await send(a, [hb, hc], 'to the group');
  for (const p of [b, c])
    expect(await readOnPage(p, CONTEXT, group)).toMatchObject({ plaintext: 'to the group' });
  const backup = await a.call<{ file: string; fileName: string }>({
    type: 'exportBackup',
    passphrase: BACKUP_PASS,
  });
  return { a, b, c, ha, hb, hc, backup };
}

/** The same profile as the exporter before this rule wrote it: every protocol row. */
async function legacyFile(a: TestProfile, exported: string): Promise<string> {
  const { extra } = await openBackup(fromBase64Url(exported), BACKUP_PASS);
  const tables: Record<string, Record<string, unknown>> = {};
  for (const t of STORE_TABLES) tables[t] = Object.fromEntries(await a.service.store.entries(t));
  const file = await sealBackup(
    { createdAt: 1, tables, extra },
    BACKUP_PASS,
    nobleProvider,
    FAST_SCRYPT,
  );
  return toBase64Url(file);
}

describe('backup and restore', () => {
  it('brings identity, contacts, verification and settings back; no session or own sender key', async () => {
    const { a, b, ha, hb, backup } = await setUp();
    expect(backup.fileName).toMatch(
      new RegExp(`^veil-backup-${ha}-\\d{4}-\\d{2}-\\d{2}\\.veilbackup$`),
    );
    const fresh = await ready(makeProfile());
    const status = await importInto(fresh, backup.file);
    expect(status).toEqual(await a.call<StatusReply>({ type: 'status' }));
    expect(await fresh.call({ type: 'listContacts' })).toEqual(
      await a.call({ type: 'listContacts' }),
    );
    expect(await fresh.call({ type: 'listContacts' })).toMatchObject({
      contacts: [{ handle: hb, status: 'verified' }, {}],
    });
    expect(await fresh.call({ type: 'getSecurityPhrase' })).toEqual({ phrase: 'copper lantern' });
    // Nothing to send from: no session, no own sender key, no contact pointing at a session.
    const store = fresh.service.store;
    expect(await store.keys('sessions')).toEqual([]);
    expect((await store.keys('senderKeys')).filter((k) => !k.startsWith('in:'))).toEqual([]);
    for (const [, contact] of await store.entries<object>('contacts'))
      expect(contact).not.toHaveProperty('session');

    // What a contact sends on the session from before the backup cannot be read here (the
    // session stayed behind); this device's first message starts a new one, and the contact
    // answers on it: a session reset, same identity key, no key change.
    const old = await send(b, [ha], 'on the old session');
    expect(await readOnPage(fresh, CONTEXT, old)).toEqual({
      status: 'failed',
      error: 'no-session',
    });
    const hello = await send(fresh, [hb], 'back on a new device');
    expect(await readOnPage(b, CONTEXT, hello)).toMatchObject({
      status: 'unverified',
      sender: ha,
      plaintext: 'back on a new device',
    });
    expect(await readOnPage(fresh, CONTEXT, await send(b, [ha], 'welcome back'))).toMatchObject({
      status: 'verified',
      sender: hb,
      plaintext: 'welcome back',
    });
    // Someone new writes from the directory's bundle: its one-time prekey, published before the
    // backup, came back with it.
    const hd = unique('dot');
    const d = await onboard(hd);
    expect(await readOnPage(fresh, CONTEXT, await send(d, [ha], 'first contact'))).toMatchObject({
      status: 'unverified',
      sender: hd,
      plaintext: 'first contact',
    });
  });

  it('a wrong passphrase or a damaged file gives a clear code and changes nothing', async () => {
    const { backup } = await setUp();
    const target = await ready(makeProfile());
    await target.call({ type: 'setSettings', enabledSites: ['keep.example'] });
    const before = await target.call({ type: 'status' });
    const bytes = fromBase64Url(backup.file);
    const flipped = bytes.slice();
    flipped[flipped.length - 40]! ^= 0x01;
    const cases: [string, string, string][] = [
      [backup.file, 'not the passphrase at all', 'wrong-passphrase'],
      [toBase64Url(flipped), BACKUP_PASS, 'bad-mac'],
      [toBase64Url(bytes.subarray(0, 30)), BACKUP_PASS, 'truncated'],
      ['this is not a backup', BACKUP_PASS, 'malformed'],
      [toBase64Url(new TextEncoder().encode('VEILBAK-nope')), BACKUP_PASS, 'unknown-version'],
    ];
    for (const [file, passphrase, code] of cases) {
      expect(await codeOf(target, { type: 'importBackup', file, passphrase })).toBe(code);
      expect(await target.call({ type: 'status' })).toEqual(before);
    }
    for (const t of ALL_TABLES.filter((t) => t !== 'settings'))
      expect(await target.service.store.keys(t), t).toEqual([]);
  });

  it('refuses to restore over an identity, the same one too, and changes nothing', async () => {
    const { a, ha, hb, backup } = await setUp();
    // Newer than the backup: a message sent after it, and a new contact.
    await send(a, [hb], 'after the backup');
    const hk = unique('kit');
    await onboard(hk);
    await a.call({ type: 'addContact', handle: hk });
    const other = await onboard(unique('ivy'));
    for (const p of [a, other]) {
      const before = await everything(p);
      const status = await p.call({ type: 'status' });
      expect(
        await codeOf(p, { type: 'importBackup', file: backup.file, passphrase: BACKUP_PASS }),
      ).toBe('identity-exists');
      // Refused before the passphrase is even tried.
      expect(
        await codeOf(p, { type: 'importBackup', file: backup.file, passphrase: 'not it at all' }),
      ).toBe('identity-exists');
      expect(await p.call({ type: 'status' })).toEqual(status);
      expect(await everything(p)).toEqual(before);
    }
    expect((await a.call<StatusReply>({ type: 'status' })).identity?.handle).toBe(ha);
  });

  it('restores under the local lock, sealed', async () => {
    const { backup, hb } = await setUp();
    const locked = await ready(makeProfile());
    await locked.call({ type: 'setLockPassphrase', passphrase: 'lock passphrase here' });
    await locked.call({ type: 'lock' });
    expect(
      await codeOf(locked, { type: 'importBackup', file: backup.file, passphrase: BACKUP_PASS }),
    ).toBe('locked');
    await locked.call({ type: 'unlock', passphrase: 'lock passphrase here' });
    await importInto(locked, backup.file);
    await locked.call({ type: 'lock' });
    // Contacts are sealed like the rest: locked, they are not listed; unlocked, they are back.
    expect(await codeOf(locked, { type: 'listContacts' })).toBe('locked');
    expect(await codeOf(locked, { type: 'getSecurityPhrase' })).toBe('locked');
    await locked.call({ type: 'unlock', passphrase: 'lock passphrase here' });
    expect(await locked.call({ type: 'listContacts' })).toMatchObject({
      contacts: [{ handle: hb }, {}],
    });
  });
});

describe('every key encrypts once, whatever the user does with backups', () => {
  it.each(['exported', 'legacy'] as const)(
    'one backup (%s) restored into two profiles: no (key, nonce) pair repeats; peers read all',
    async (kind) => {
      const { a, b, c, ha, hb, hc, backup } = await setUp();
      const file = kind === 'exported' ? backup.file : await legacyFile(a, backup.file);
      const copies = [await ready(makeProfile()), await ready(makeProfile())];
      for (const copy of copies) await importInto(copy, file);
      seals.length = 0;
      // Each device in turn sends 1:1 and to the group, twice, and the peers read it at once.
      // (A peer keeps a sender's two latest group keys: one identity goes on in one browser.)
      for (const [i, device] of [a, ...copies].entries()) {
        for (const round of [1, 2]) {
          const direct = `1:1 ${round} from device ${i}`;
          const group = `group ${round} from device ${i}`;
          const reads: [TestProfile, string, string][] = [
            [b, await send(device, [hb], direct), direct],
          ];
          const armored = await send(device, [hb, hc], group);
          reads.push([b, armored, group], [c, armored, group]);
          const repeats = seals.filter((s, i) => seals.indexOf(s) !== i);
          expect(repeats.length, 'seals under a (key, nonce) pair already used').toBe(0);
          // Each device writes on its own session: peers read every message as from the same
          // identity, none as a key change.
          for (const [peer, text, plain] of reads) {
            const view: ReaderView = await readOnPage(peer, CONTEXT, text);
            expect(view, `${plain}: ${view.error}`).toMatchObject({
              status: 'unverified',
              sender: ha,
              plaintext: plain,
            });
          }
        }
      }
      expect(seals.length).toBeGreaterThanOrEqual(12);
      const tags = await Promise.all(
        [a, ...copies].map(async (p) => (await p.service.store.keys('sessions')).sort()),
      );
      expect(new Set(tags.flat()).size).toBe(tags.flat().length);
    },
  );
});
