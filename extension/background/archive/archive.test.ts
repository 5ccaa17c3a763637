// The archive through the real router and service (fake-indexeddb), with the real directory for
// the page path: what a reader shows and what the composer sends is archived once; a hostile page
// or frame reaches none of it; locked means no plaintext at rest; a deleted message leaves no
// trace in any store; the index survives a worker restart without a rebuild; backups carry it.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveHit, ArchiveOverview, TaskProgress } from '../../messaging/archive-messages';
import type { PageBlockResult, ToContentMessage } from '../../messaging/messages';
import { openBackup, sealBackup } from '../../protocol/backup';
import { fromBase64Url, toBase64Url } from '../../protocol/encoding';
import { openVeilDb } from '../schema';
import { isSealed, openRecord } from '../seal';
import type { MessageSenderLike } from '../sender';
import {
  callAs as as,
  contentScriptSender,
  FAST_SCRYPT,
  frameSender,
  makeProfile,
  ready,
  ReplyError,
  startDirectory,
  tabContentScriptSender,
  type RunningDirectory,
  type TestProfile,
} from '../testing';
import { Archive, archiveOf, conversationOf, recordOf } from './archive';
import { conversationId, type NewRecord } from './records';

const PASS = 'correct horse battery staple';
const PAGE_URL = 'https://chat.example/room/1';
const DAY = 86_400_000;

let directory: RunningDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

let n = 0;
const code = (e: unknown) => (e instanceof ReplyError ? e.code : String(e));

function rec(text: string, opts: Partial<NewRecord> & { conv?: string } = {}): NewRecord {
  const conv = opts.conv ?? '#veil';
  const site = 'chat.example';
  return {
    digest: (++n).toString(16).padStart(64, '0'),
    sender: opts.sender ?? 'bob',
    own: false,
    conversation: {
      id: conversationId(site, 'group', `name:${conv}`),
      site,
      name: conv,
      kind: 'group',
      peers: [opts.sender ?? 'bob'],
    },
    at: opts.at ?? Date.now(),
    text,
    status: 'verified',
    url: PAGE_URL,
  };
}

/** Every value of every IndexedDB store of the profile, as stored. */
async function dump(p: TestProfile): Promise<{ table: string; key: string; value: unknown }[]> {
  const db = await openVeilDb({ name: p.name });
  const out: { table: string; key: string; value: unknown }[] = [];
  for (const table of db.objectStoreNames) {
    const tx = db.transaction(table, 'readonly');
    const [keys, values] = await Promise.all([tx.store.getAllKeys(), tx.store.getAll()]);
    keys.forEach((k, i) => out.push({ table, key: String(k), value: values[i] }));
  }
  db.close();
  return out;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder();
/** All text a value holds: strings, keys, and bytes read as UTF-8 and as Latin-1. */
function textOf(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (v instanceof Uint8Array) out.push(utf8.decode(v), latin1.decode(v));
  else if (Array.isArray(v)) for (const x of v) textOf(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      textOf(x, out);
    }
  return out;
}

/**
 * Where `word` is found in storage: in the clear (any stored value or key), or inside a record
 * once opened with the data key (`dataKey`).
 */
async function traces(p: TestProfile, word: string, dataKey?: Uint8Array): Promise<string[]> {
  const found: string[] = [];
  const w = word.toLowerCase();
  for (const { table, key, value } of await dump(p)) {
    if (textOf([key, value]).some((t) => t.toLowerCase().includes(w)))
      found.push(`${table}/${key}`);
    if (dataKey && isSealed(value)) {
      const opened = openRecord(dataKey, table, key, value);
      if (textOf(opened).some((t) => t.toLowerCase().includes(w)))
        found.push(`${table}/${key} (sealed)`);
    }
  }
  return found;
}

async function search(p: TestProfile, query: Record<string, unknown>) {
  return p.call<{ hits: ArchiveHit[]; total: number; complete: boolean }>({
    type: 'archiveSearch',
    ...query,
  });
}

async function onboard(p: TestProfile, prefix: string): Promise<string> {
  const handle = `${prefix}${++n}`;
  await p.call({ type: 'createIdentity', handle, directoryUrl: directory.url });
  await p.call({ type: 'publish' });
  return handle;
}

describe('archive: what is archived', () => {
  it('archives what the composer sends and what a reader shows, once per message', async () => {
    const told: ToContentMessage[] = [];
    const tabs = async (_tab: number, _frame: number, m: ToContentMessage) => {
      if (m.type === 'veil:sight') return { sight: 'visible' };
      told.push(m);
      return { ok: true };
    };
    const alice = await ready(makeProfile({ tabs }));
    const bob = await ready(makeProfile({ tabs }));
    const a = await onboard(alice, 'alice');
    const b = await onboard(bob, 'bob');
    const page = { ...tabContentScriptSender(1, PAGE_URL), tab: { id: 1, url: PAGE_URL } };
    const inPage = (kind: 'reader' | 'composer'): MessageSenderLike => ({
      ...frameSender(kind, 1),
      tab: { id: 1, url: PAGE_URL },
    });
    const { token } = await as<{ token: string }>(alice, page, {
      type: 'registerComposer',
      context: 'generic:dm',
      kind: 'direct',
      name: b,
      maxMessageLength: 4000,
      authors: [],
    });
    await as(alice, inPage('composer'), {
      type: 'composeSend',
      token,
      text: 'Lunch at the quokka café tomorrow?',
      recipients: [b],
    });
    const armored = (
      told.find((m) => m.type === 'veil:submit') as { chunks: string[] }
    ).chunks.join('');

    const sent = await search(alice, { words: 'quokka' });
    expect(sent.hits).toHaveLength(1);
    expect(sent.hits[0]).toMatchObject({ sender: a, own: true, status: 'sent', openable: true });
    expect(sent.hits[0]!.conversation).toMatchObject({ kind: 'direct', name: b, peers: [b] });

    // Bob's page shows the block twice (a re-render): one record.
    for (let i = 0; i < 2; i++) {
      const [block] = await as<PageBlockResult[]>(bob, page, {
        type: 'pageDecrypt',
        context: 'generic:dm',
        kind: 'direct',
        blocks: [{ armored }],
      });
      const view = await as<{ plaintext?: string; status: string }>(bob, inPage('reader'), {
        type: 'readMessage',
        token: block!.token,
      });
      expect(view.plaintext).toContain('quokka');
    }
    const read = await search(bob, { words: 'QUOKKA caf' });
    expect(read.hits).toHaveLength(1);
    const hit = read.hits[0]!;
    expect(hit).toMatchObject({ sender: a, own: false, openable: true });
    expect(['verified', 'unverified']).toContain(hit.status);
    expect(hit.conversation).toMatchObject({ kind: 'direct', name: a, peers: [a] });
    expect(hit.highlights.map(([s, e]) => hit.text.slice(s, e))).toEqual(['quokka', 'café']);
    // By contact, and by the sealed conversation.
    expect((await search(bob, { words: '', contact: a })).hits).toHaveLength(1);
    expect((await search(bob, { words: '', contact: 'mallory' })).hits).toHaveLength(0);
    expect(
      (await search(bob, { words: 'lunch', conversation: hit.conversation.id })).hits,
    ).toHaveLength(1);
    const overview = await bob.call<ArchiveOverview>({ type: 'archiveOverview' });
    expect(overview).toMatchObject({ messages: 1, retention: { keep: 'days', days: 365 } });
    expect(overview.conversations).toHaveLength(1);
  });
});

describe('archive: attacks', () => {
  it('answers no archive message to a content script or a frame in a page (router sender check)', async () => {
    const p = await ready(makeProfile());
    await archiveOf(p.service).add(rec('secret zanzibar plans'));
    const requests: Record<string, unknown>[] = [
      { type: 'archiveSearch', words: 'zanzibar' },
      { type: 'archiveOverview' },
      { type: 'setRetention', retention: { keep: 'forever' } },
      { type: 'archiveDelete', all: true },
      { type: 'archiveExport', conversation: 'ab'.repeat(16), format: 'text' },
      { type: 'openArchived', id: '000000000001' },
      { type: 'tasks' },
      { type: 'cancelTask', id: '00'.repeat(8) },
    ];
    const hostile: MessageSenderLike[] = [
      contentScriptSender(),
      tabContentScriptSender(3),
      frameSender('reader', 3),
      frameSender('composer', 3),
    ];
    for (const message of requests)
      for (const sender of hostile) {
        const reply = (await p.send(message, sender)) as { ok: boolean; error?: { code: string } };
        expect(reply, `${String(message.type)}`).toEqual({
          ok: false,
          error: expect.objectContaining({ code: 'forbidden' }),
        });
        expect(JSON.stringify(reply)).not.toContain('zanzibar');
      }
    // Nothing was deleted by those attempts.
    expect((await search(p, { words: 'zanzibar' })).hits).toHaveLength(1);
  });

  it('holds no plaintext while locked, refuses every call, and archives nothing new in the clear', async () => {
    const p = await ready(makeProfile());
    await p.call({ type: 'setLockPassphrase', passphrase: PASS });
    const archive = archiveOf(p.service);
    await archive.add(rec('the wombat password is hunter2'));
    expect((await search(p, { words: 'wombat' })).hits).toHaveLength(1);
    await archive.persist();
    await p.call({ type: 'lock' });
    expect(archive.memorySize()).toBe(0);
    for (const message of [
      { type: 'archiveSearch', words: 'wombat' },
      { type: 'archiveOverview' },
      { type: 'archiveDelete', all: true },
      { type: 'setRetention', retention: { keep: 'forever' } },
    ])
      expect(await p.call(message).catch(code)).toBe('locked');
    expect(
      await archive.add(rec('a new axolotl message')).catch((e: { code?: string }) => e.code),
    ).toBe('locked');
    for (const word of ['wombat', 'hunter2', 'axolotl', '#veil', 'chat.example'])
      expect(await traces(p, word), word).toEqual([]);
    const stored = (await dump(p)).filter(
      (r) => r.table === 'archive' || r.table === 'archiveIndex',
    );
    expect(stored.length).toBeGreaterThan(0);
    for (const r of stored) expect(isSealed(r.value), `${r.table}/${r.key}`).toBe(true);
    await p.call({ type: 'unlock', passphrase: PASS });
    expect((await search(p, { words: 'wombat' })).hits).toHaveLength(1);
  });

  for (const locked of [false, true])
    it(`deletes a message, a conversation and everything leaving no trace in any store (lock ${locked ? 'set' : 'not set'})`, async () => {
      const p = await ready(makeProfile());
      if (locked) await p.call({ type: 'setLockPassphrase', passphrase: PASS });
      const archive = archiveOf(p.service);
      const cached = (r: NewRecord) => (seq: number) => [
        {
          op: 'put' as const,
          table: 'plaintexts' as const,
          key: r.digest,
          value: { context: 'c', plaintext: r.text, sender: r.sender, at: r.at, archived: seq },
        },
      ];
      const doomed = rec('meet at zanzibar quokkaville');
      const ids: number[] = [];
      for (const r of [
        rec('keep this one'),
        doomed,
        rec('keep that one'),
        rec('other room yaktrain', { conv: '#other' }),
      ])
        ids.push(await archive.add(r, cached(r)));
      expect((await search(p, { words: 'zanzibar' })).hits).toHaveLength(1);
      await archive.persist();
      // Some added after the index was persisted (the log's tail).
      await archive.add(rec('keep later'));
      const dataKey = locked ? await p.service.lock.dataKey() : undefined;
      expect(await traces(p, 'zanzibar', dataKey)).not.toEqual([]);

      const one = await p.call<ArchiveOverview & { deleted: number }>({
        type: 'archiveDelete',
        message: String(ids[1]).padStart(12, '0'),
      });
      expect(one).toMatchObject({ deleted: 1, messages: 4 });
      for (const word of ['zanzibar', 'quokkaville'])
        expect(await traces(p, word, dataKey), word).toEqual([]);
      expect((await search(p, { words: 'zanzibar' })).hits).toEqual([]);
      expect((await search(p, { words: 'keep' })).hits).toHaveLength(3);

      const other =
        doomed.conversation.id === rec('x', { conv: '#other' }).conversation.id
          ? ''
          : rec('x', { conv: '#other' }).conversation.id;
      const conv = await p.call<ArchiveOverview & { deleted: number }>({
        type: 'archiveDelete',
        conversation: other,
      });
      expect(conv).toMatchObject({ deleted: 1, messages: 3 });
      expect(conv.conversations.map((c) => c.id)).not.toContain(other);
      for (const word of ['yaktrain', '#other', other])
        expect(await traces(p, word, dataKey), word).toEqual([]);

      const all = await p.call<ArchiveOverview & { deleted: number }>({
        type: 'archiveDelete',
        all: true,
      });
      expect(all).toMatchObject({ deleted: 3, messages: 0, conversations: [] });
      for (const word of ['keep', 'chat.example', '#veil'])
        expect(await traces(p, word, dataKey), word).toEqual([]);
      expect((await dump(p)).filter((r) => r.table === 'archive')).toEqual([]);
      expect((await search(p, { words: '' })).hits).toEqual([]);
      // The archive goes on afterwards.
      await archive.add(rec('fresh start'));
      expect((await search(p, { words: 'fresh' })).hits).toHaveLength(1);
    });

  it('deleteEverything clears the archive and its memory', async () => {
    const p = await ready(makeProfile());
    await archiveOf(p.service).add(rec('pangolin'));
    expect((await search(p, { words: 'pangolin' })).hits).toHaveLength(1);
    await p.call({ type: 'deleteEverything', force: true });
    expect(archiveOf(p.service).memorySize()).toBe(0);
    expect(await traces(p, 'pangolin')).toEqual([]);
    expect((await search(p, { words: 'pangolin' })).hits).toEqual([]);
  });
});

describe('archive: index persistence', () => {
  it('loads the sealed segments after a worker restart and replays only the tail (no rebuild)', async () => {
    const p = await ready(makeProfile());
    await p.call({ type: 'setLockPassphrase', passphrase: PASS });
    const archive = archiveOf(p.service);
    for (let i = 0; i < 30; i++) await archive.add(rec(`message number${i} capybara`));
    expect((await search(p, { words: 'capybara', limit: 100 })).hits).toHaveLength(30);
    await archive.persist();
    for (let i = 0; i < 3; i++) await archive.add(rec(`late tail${i} capybara`));

    const again = await ready(p.restartWorker());
    const hits = await search(again, { words: 'capybara', limit: 100 });
    expect(hits.hits).toHaveLength(33);
    expect(hits.hits[0]!.text).toBe('late tail2 capybara');
    expect(archiveOf(again.service).lastLoad).toEqual({ segments: 1, replayed: 3 });
    expect((await search(again, { words: 'number7' })).hits).toHaveLength(1);
    // The catalog counts the tail too (an add writes its record only), and numbers go on.
    expect((await again.call<ArchiveOverview>({ type: 'archiveOverview' })).messages).toBe(33);
    expect(await archiveOf(again.service).add(rec('next one'))).toBe(34);
  });
});

describe('archive: cold start', () => {
  it('answers from the newest segment while the older ones load, and deletes only once all are in', async () => {
    const p = await ready(makeProfile());
    const first = new Archive(p.service, 5);
    for (let i = 0; i < 23; i++) await first.add(rec(`cold ${i}`));
    await first.loaded();
    await first.persist();
    // A restarted worker: a new archive over the same store.
    const cold = new Archive(p.service, 5);
    const early = await cold.search({ words: 'cold', limit: 2 });
    expect(early.hits.map((h) => h.text)).toEqual(['cold 22', 'cold 21']);
    // Answered before the older segments were in.
    expect(early.complete).toBe(false);
    await cold.whole();
    expect(cold.lastLoad.segments).toBe(5);
    const all = await cold.search({ words: 'cold', limit: 100 });
    expect(all).toMatchObject({ total: 23, complete: true });
    // A deletion while partial waits for the whole index, and keeps every other segment.
    const again = new Archive(p.service, 5);
    expect(await again.deleteMessage('000000000001')).toBe(1);
    const after = new Archive(p.service, 5);
    await after.whole();
    expect((await after.search({ words: 'cold', limit: 100 })).total).toBe(22);
  });
});

describe('archive: log tail', () => {
  it('folds a long log tail into the index on the daily beat, once', async () => {
    const p = await ready(makeProfile());
    const archive = archiveOf(p.service);
    for (let i = 0; i < 12; i++) await archive.add(rec(`tail ${i}`));
    expect(await archive.foldTail(20)).toBe(false);
    expect(await archive.foldTail(10)).toBe(true);
    expect(await archive.foldTail(10)).toBe(false);
    const again = await ready(p.restartWorker());
    expect((await search(again, { words: 'tail', limit: 100 })).hits).toHaveLength(12);
    expect(archiveOf(again.service).lastLoad).toEqual({ segments: 1, replayed: 0 });
  });

  it('stops a running import when everything is deleted (nothing written after the wipe)', async () => {
    const p = await ready(makeProfile());
    const archive = archiveOf(p.service);
    const { done } = archive.importRecords(
      Array.from({ length: 3000 }, (_, i) => rec(`wiped ${i}`)),
    );
    await p.call({ type: 'deleteEverything', force: true });
    await done.catch(() => undefined);
    expect(await traces(p, 'wiped')).toEqual([]);
  });
});

describe('archive: retention, export, open, tasks', () => {
  it('applies the global rule and per-conversation overrides', async () => {
    const p = await ready(makeProfile());
    const archive = archiveOf(p.service);
    const now = Date.now();
    await archive.add(rec('ancient walrus', { at: now - 400 * DAY }));
    await archive.add(rec('recent walrus', { at: now - 10 * DAY }));
    await archive.add(rec('old otter elsewhere', { at: now - 100 * DAY, conv: '#b' }));
    // The default (a year) drops the 400-day-old one at the next pass.
    expect(await archive.applyRetention()).toBe(1);
    expect((await search(p, { words: 'walrus' })).hits.map((h) => h.text)).toEqual([
      'recent walrus',
    ]);
    const b = rec('x', { conv: '#b' }).conversation.id;
    const after = await p.call<ArchiveOverview>({
      type: 'setRetention',
      conversation: b,
      retention: { keep: 'days', days: 30 },
    });
    expect(after.messages).toBe(1);
    expect(await traces(p, 'otter')).toEqual([]);
    const forever = await p.call<ArchiveOverview>({
      type: 'setRetention',
      retention: { keep: 'forever' },
    });
    expect(forever.retention).toEqual({ keep: 'forever' });
    expect(
      await p.call({ type: 'setRetention', retention: { keep: 'days', days: 0 } }).catch(code),
    ).toBe('invalid-argument');
  });

  it('exports a conversation as text or JSON, and opens a message on its page', async () => {
    const told: [number, ToContentMessage][] = [];
    const p = await ready(
      makeProfile({
        tabs: async (tab, _frame, m) => {
          told.push([tab, m]);
          return { found: true };
        },
      }),
    );
    const archive = archiveOf(p.service);
    const opened: string[] = [];
    archive.opener = async (url) => (opened.push(url), 42);
    const first = rec('first line', { at: 1_000 });
    const seq = await archive.add(first);
    await archive.add(rec('second line', { at: 2_000 }));
    const text = await p.call<{ file: string; mime: string }>({
      type: 'archiveExport',
      conversation: first.conversation.id,
      format: 'text',
    });
    expect(text.mime).toBe('text/plain');
    expect(text.file.indexOf('first line')).toBeLessThan(text.file.indexOf('second line'));
    const json = await p.call<{ file: string }>({
      type: 'archiveExport',
      conversation: first.conversation.id,
      format: 'json',
    });
    expect((JSON.parse(json.file) as { messages: unknown[] }).messages).toHaveLength(2);
    expect(await p.call({ type: 'openArchived', id: String(seq).padStart(12, '0') })).toEqual({
      opened: true,
    });
    expect(opened).toEqual([PAGE_URL]);
    expect(told).toEqual([[42, { type: 'revealBlock', digest: first.digest }]]);
    expect(await p.call({ type: 'openArchived', id: '999999999999' }).catch(code)).toBe(
      'not-found',
    );
  });

  it('restores the archive from a backup as a cancellable task; a malformed part loses nothing', async () => {
    const alice = await ready(makeProfile());
    await onboard(alice, 'alice');
    for (let i = 0; i < 5; i++) await archiveOf(alice.service).add(rec(`backed up heron${i}`));
    const { file } = await alice.call<{ file: string }>({
      type: 'exportBackup',
      passphrase: PASS,
      includeArchive: true,
    });
    const { file: without } = await alice.call<{ file: string }>({
      type: 'exportBackup',
      passphrase: PASS,
    });

    // A profile that archived something before restoring keeps it.
    const carol = await ready(makeProfile());
    await archiveOf(carol.service).add(rec('carol own ibis'));
    const contents = await openBackup(fromBase64Url(file), PASS);
    expect((contents.extra!.archive as { records: unknown[] }).records).toHaveLength(5);
    const broken = {
      ...contents,
      extra: { ...contents.extra, archive: { v: 1, records: [{ text: 7 }] } },
    };
    const bad = toBase64Url(await sealBackup(broken, PASS, alice.service.crypto, FAST_SCRYPT));
    expect(
      await carol.call({ type: 'importBackup', file: bad, passphrase: PASS }).catch(code),
    ).toBe('malformed');
    expect((await carol.call<{ identity?: unknown }>({ type: 'status' })).identity).toBeUndefined();
    expect((await search(carol, { words: 'ibis' })).hits).toHaveLength(1);

    await carol.call({ type: 'importBackup', file, passphrase: PASS });
    expect(await archiveOf(carol.service).lastImport).toBe(5);
    expect((await search(carol, { words: 'heron' })).hits).toHaveLength(5);
    expect((await search(carol, { words: 'ibis' })).hits).toHaveLength(1);

    // A backup without the archive restores as before.
    const dave = await ready(makeProfile());
    await dave.call({ type: 'importBackup', file: without, passphrase: PASS });
    expect((await search(dave, { words: 'heron' })).hits).toEqual([]);
  });

  it('shows a long import as a task with progress, and stops it when cancelled', async () => {
    const p = await ready(makeProfile());
    const archive = archiveOf(p.service);
    const records = Array.from({ length: 3000 }, (_, i) => rec(`imported ${i}`));
    const { id, done } = archive.importRecords(records);
    const { tasks } = await p.call<{ tasks: TaskProgress[] }>({ type: 'tasks' });
    expect(tasks).toEqual([{ id, kind: 'backup-import', done: 0, total: 3000 }]);
    await p.call({ type: 'cancelTask', id });
    const imported = await done;
    expect(imported).toBeLessThan(3000);
    expect((await p.call<{ tasks: TaskProgress[] }>({ type: 'tasks' })).tasks).toEqual([]);
    // What was imported before the cancel is kept, whole batches only.
    expect((await p.call<ArchiveOverview>({ type: 'archiveOverview' })).messages).toBe(imported);
    expect(imported % 500).toBe(0);
  });
});

describe('archive: review attacks', () => {
  it('a lock while the catalog is being read leaves no catalog (names, handles) in memory', async () => {
    const p = await ready(makeProfile());
    await p.call({ type: 'setLockPassphrase', passphrase: PASS });
    const archive = archiveOf(p.service);
    await archive.add(rec('okapi notes', { conv: '#okapi-room', sender: 'mallory' }));
    await archive.persist();
    archive.forget();
    // The thief's moment: the lock lands while an overview reads the catalog's log tail.
    const store = p.service.store;
    const entriesAfter = store.entriesAfter.bind(store);
    let locked = false;
    store.entriesAfter = (async (...args: Parameters<typeof entriesAfter>) => {
      if (!locked) {
        // What the lock handler does (handlers/lock.ts), from inside the read.
        locked = true;
        await p.service.lock.lock();
        archive.forget();
      }
      return entriesAfter(...args);
    }) as typeof store.entriesAfter;
    await p.call({ type: 'archiveOverview' }).catch(() => undefined);
    store.entriesAfter = entriesAfter;
    expect((await p.call<{ locked: boolean }>({ type: 'status' })).locked).toBe(true);
    const held = JSON.stringify((archive as unknown as { catalogCache?: unknown }).catalogCache);
    expect(held ?? '').not.toContain('#okapi-room');
    expect(held ?? '').not.toContain('mallory');
  });

  it('our own direct messages from another browser (no `to`) do not all land in one conversation', () => {
    const mine = (name: string) =>
      conversationOf({
        context: 'generic:dm',
        plaintext: 'hi',
        sender: 'me',
        own: true,
        kind: 'direct',
        at: 1,
        sealed: { kind: 'direct', stream: 'own:d:x', origin: { site: 'chat.example', name } },
      });
    const toAlice = mine('alice');
    const toBob = mine('bob');
    expect(toAlice.id).not.toBe(toBob.id);
    expect(toAlice.name).toBe('alice');
    // Nor in the direct conversation of a contact whose handle is the empty string's.
    expect(toAlice.id).not.toBe(conversationId('chat.example', 'direct', ''));
  });

  it('delete-all while the index is loading brings nothing back (memory, search or storage)', async () => {
    const p = await ready(makeProfile());
    const archive = archiveOf(p.service);
    await archive.importRecords(Array.from({ length: 1200 }, (_, i) => rec(`narwhal secret ${i}`)))
      .done;
    await archive.persist();
    archive.forget();
    // A search loads the index from the log (batches of 500) while the user deletes everything.
    const searching = search(p, { words: 'narwhal' }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await p.call({ type: 'archiveDelete', all: true });
    await searching;
    await archive.persist();
    expect((await search(p, { words: 'narwhal' })).hits).toEqual([]);
    expect(archive.memorySize()).toBe(0);
    expect(await traces(p, 'narwhal', await p.service.lock.dataKey())).toEqual([]);
  });

  it('a hostile contact’s sealed send time out of any date’s range or in the future is not the archive’s', () => {
    const received = Date.UTC(2026, 11, 7);
    const at = (sentAt: number) =>
      recordOf(
        {
          context: '#veil',
          plaintext: 'hi',
          sender: 'mallory',
          kind: 'group',
          at: received,
          sealed: {
            kind: 'group',
            stream: 's',
            sentAt,
            origin: { site: 'chat.example', name: '#veil' },
          },
        },
        'ab'.repeat(32),
        'verified',
        PAGE_URL,
      ).at;
    // 2^55 seconds (a varint the protocol accepts): no Date holds it; export and the UI threw.
    expect(at(2 ** 55 * 1000)).toBe(received);
    // Dated years ahead, it would outlive every retention rule and sort first forever.
    expect(at(received + 365 * DAY)).toBe(received);
    expect(at(received - DAY)).toBe(received - DAY);
  });

  it('a deletion racing delete-all does not re-seal the emptied index (retention pass meets delete-all)', async () => {
    const p = await ready(makeProfile());
    const archive = archiveOf(p.service);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(await archive.add(rec(`dugong memo ${i}`)));
    expect((await search(p, { words: 'dugong' })).hits).toHaveLength(5);
    await archive.persist();
    const one = archive.deleteMessage(String(ids[0]).padStart(12, '0')).catch(() => 0);
    const all = archive.deleteAll();
    await Promise.all([one, all]);
    await archive.persist();
    expect((await search(p, { words: 'dugong' })).hits).toEqual([]);
    expect((await p.call<ArchiveOverview>({ type: 'archiveOverview' })).messages).toBe(0);
    expect(await traces(p, 'dugong', await p.service.lock.dataKey())).toEqual([]);
  });
});
