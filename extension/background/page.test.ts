// The in-page messages end to end through the router, with two simulated profiles and the real
// directory on loopback: a content script hands in ciphertext and gets tokens (never plaintext);
// only the reader frame of the same tab reads the text; the composer of a tab sends through that
// tab's content script; the plaintext cache serves re-renders and our own messages, is keyed to
// the conversation, and is sealed under the lock.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type {
  ComposerView,
  ContactView,
  PageBlockResult,
  ReaderView,
  ToContentMessage,
} from '../messaging/messages';
import { isSealed, recordName } from './seal';
import type { MessageSenderLike } from './sender';
import {
  callAs as as,
  frameSender as frame,
  makeProfile,
  ready,
  startDirectory,
  tabContentScriptSender as contentScript,
  type RunningDirectory,
  type TestProfile,
} from './testing';

const CONTEXT = 'generic:room-1';
const SITE = 'https://chat.example/room';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let directory: RunningDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

interface Person {
  handle: string;
  p: TestProfile;
  /** What the background sent to content scripts: [tabId, frameId, message]. */
  told: [number, number, ToContentMessage][];
  /** What the fake content script says of the composer when asked ('veil:sight'). */
  sight: { now: string | undefined };
}

async function person(prefix: string, { onboard = true } = {}): Promise<Person> {
  const told: Person['told'] = [];
  const sight = { now: 'visible' as string | undefined };
  const p = await ready(
    makeProfile({
      tabs: async (tabId, frameId, message) => {
        // The composer is in full view (what the page shows of it: content/frame-sight.ts).
        if (message.type === 'veil:sight') return { sight: sight.now };
        told.push([tabId, frameId, message]);
        return { ok: true };
      },
    }),
  );
  const handle = unique(prefix);
  if (onboard) {
    await p.call({ type: 'createIdentity', handle, directoryUrl: directory.url });
    await p.call({ type: 'publish' });
  }
  return { handle, p, told, sight };
}

async function codeOf(
  p: TestProfile,
  sender: MessageSenderLike,
  message: Record<string, unknown>,
): Promise<string> {
  try {
    await as(p, sender, message);
    return 'ok';
  } catch (e) {
    return (e as { code: string }).code;
  }
}

/** A sends `text` to `to` through a composer in tab 1; returns the chunks its page was told. */
async function compose(a: Person, to: string[], text: string, maxMessageLength = 350) {
  const { token } = await as<{ token: string }>(a.p, contentScript(1), {
    type: 'registerComposer',
    context: CONTEXT,
    maxMessageLength,
    authors: to,
  });
  const before = a.told.length;
  await as(a.p, frame('composer', 1), { type: 'composeSend', token, text, recipients: to });
  const [tabId, , message] = a.told[before]!;
  expect(tabId).toBe(1);
  expect(message.type).toBe('veil:submit');
  return (message as { chunks: string[] }).chunks;
}

describe('in-page messages', () => {
  let alice: Person;
  let bob: Person;
  beforeAll(async () => {
    alice = await person('alice');
    bob = await person('bob');
  });

  it('tells a content script whether Veil runs on its page', async () => {
    const nobody = await person('none', { onboard: false });
    const ask = (p: TestProfile, adapter: string, url = SITE) =>
      as<{ enabled: boolean }>(p, contentScript(5, url), { type: 'pageEnabled', adapter });
    expect(await ask(nobody.p, 'thelounge')).toEqual({ enabled: false }); // no identity yet
    // A site adapter recognising the page (a marker any page can copy) does not turn Veil on.
    expect(await ask(alice.p, 'generic')).toEqual({ enabled: false });
    expect(await ask(alice.p, 'thelounge')).toEqual({ enabled: false });
    await alice.p.call({ type: 'setSettings', enabledSites: ['chat.example'] });
    expect(await ask(alice.p, 'thelounge')).toEqual({ enabled: true });
    expect(await ask(alice.p, 'generic')).toEqual({ enabled: true });
    expect(await ask(alice.p, 'thelounge', 'https://other.example/')).toEqual({ enabled: false });
  });

  it('decrypts a batch that names the frames on screen once they have read (bounded)', async () => {
    await bob.p.call({ type: 'setSettings', enabledSites: ['chat.example'] });
    const chunks = await compose(alice, [bob.handle], 'first screenful');
    const [first] = await as<PageBlockResult[]>(bob.p, contentScript(5), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: chunks.join('\n') }],
    });
    const next = as<PageBlockResult[]>(bob.p, contentScript(5), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [],
      after: [first!.token, 'A'.repeat(22)],
    });
    expect(await Promise.race([next.then(() => 'done'), sleep(100).then(() => 'waiting')])).toBe(
      'waiting',
    );
    bob.p.service.readWatch.done(5, first!.token);
    bob.p.service.readWatch.done(5, 'A'.repeat(22));
    expect(await next).toEqual([]);
    // A malformed token in `after` is refused.
    expect(
      await codeOf(bob.p, contentScript(5), {
        type: 'pageDecrypt',
        context: CONTEXT,
        blocks: [],
        after: ['not a token'],
      }),
    ).toBe('invalid-argument');
  });

  it('sends through the composer tab, and the reader of the other tab shows the text', async () => {
    const secret = 'meet at the heron pond at noon';
    const chunks = await compose(alice, [bob.handle], secret, 120);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.length <= 120 && !c.includes(secret))).toBe(true);

    const results = await as<{ token: string; status: string; sender?: string }[]>(
      bob.p,
      contentScript(7),
      { type: 'pageDecrypt', context: CONTEXT, blocks: [{ armored: chunks.join('\n') }] },
    );
    expect(results).toEqual([
      {
        token: expect.stringMatching(/^[\w-]{22}$/),
        key: expect.stringMatching(/^[\w-]{22}$/),
        lines: 1,
        status: 'unverified',
        sender: alice.handle,
      },
    ]);
    expect(JSON.stringify(results)).not.toContain('heron');
    const token = results[0]!.token;

    // Not bob's contact, but the directory's log shows alice's key: unverified, offered as a
    // contact; where and when it was written as alice's page sealed it.
    const read = await as<ReaderView>(bob.p, frame('reader', 7), { type: 'readMessage', token });
    expect(read).toMatchObject({
      status: 'unverified',
      sender: alice.handle,
      plaintext: secret,
      kind: 'direct',
      contact: false,
      sealed: { site: 'chat.example' },
    });
    expect(Math.abs(read.sealed!.sentAt! - Date.now())).toBeLessThan(60_000);
    // Another tab, the composer page, or a content script: refused.
    expect(await codeOf(bob.p, frame('reader', 8), { type: 'readMessage', token })).toBe(
      'not-found',
    );
    expect(await codeOf(bob.p, frame('composer', 7), { type: 'readMessage', token })).toBe(
      'forbidden',
    );
    expect(await codeOf(bob.p, contentScript(7), { type: 'readMessage', token })).toBe('forbidden');

    // A re-render reads from the cache (a second decrypt would be a replay) …
    const again = await as<{ token: string; status: string }[]>(bob.p, contentScript(7), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: chunks.join(' ') }, { armored: chunks.join('\n'), repeat: true }],
    });
    // … and the same block shown twice at once: the copy is a repeat, its text held back.
    expect(again.map((r) => r.status)).toEqual(['unverified', 'repeat']);
    const copy = await as<ReaderView>(bob.p, frame('reader', 7), {
      type: 'readMessage',
      token: again[1]!.token,
    });
    expect(copy).toMatchObject({ status: 'repeat', hidden: true, sender: alice.handle });
    expect(copy.plaintext).toBeUndefined();
    // … and a copy the page shows in a group conversation is moved, its text held back.
    const moved = await as<{ token: string; status: string }[]>(bob.p, contentScript(7), {
      type: 'pageDecrypt',
      context: 'generic:room-2',
      kind: 'group',
      blocks: [{ armored: chunks.join('\n') }],
    });
    expect(moved[0]!.status).toBe('moved');
    const hidden = await as<ReaderView>(bob.p, frame('reader', 7), {
      type: 'readMessage',
      token: moved[0]!.token,
    });
    expect(hidden).toMatchObject({ status: 'moved', hidden: true });
    expect(hidden.plaintext).toBeUndefined();
    expect(
      await as<ReaderView>(bob.p, frame('reader', 7), {
        type: 'readMessage',
        token: moved[0]!.token,
        reveal: true,
      }),
    ).toMatchObject({ status: 'moved', plaintext: secret });

    // Alice reads her own message from the cache.
    const own = await as<{ token: string; status: string }[]>(alice.p, contentScript(1), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: chunks.join('\n') }],
    });
    expect(
      await as(alice.p, frame('reader', 1), { type: 'readMessage', token: own[0]!.token }),
    ).toMatchObject({ status: 'verified', own: true, sender: alice.handle, plaintext: secret });
  });

  it('sends nothing from a composer its page covers, fades or moves out of view', async () => {
    const { token } = await as<{ token: string }>(alice.p, contentScript(1), {
      type: 'registerComposer',
      context: CONTEXT,
      maxMessageLength: 350,
      authors: [bob.handle],
    });
    const send = { type: 'composeSend', token, text: 'the pin is 4711', recipients: [bob.handle] };
    const before = alice.told.length;
    try {
      for (const seen of ['obscured', 'partial', 'away', undefined, 'visible?']) {
        alice.sight.now = seen;
        expect(await codeOf(alice.p, frame('composer', 1), send)).toBe('obscured');
        expect(
          await as<{ sight: string }>(alice.p, frame('composer', 1), {
            type: 'composerSight',
            token,
          }),
        ).toEqual({ sight: seen === 'obscured' || seen === 'partial' ? seen : 'away' });
      }
      // Nothing reached the page, and the send goes through once the composer is in view.
      expect(alice.told.length).toBe(before);
      alice.sight.now = 'visible';
      await as(alice.p, frame('composer', 1), send);
      expect(alice.told.slice(before).map(([, , m]) => m.type)).toEqual(['veil:submit']);
    } finally {
      alice.sight.now = 'visible';
    }
  });

  it('reads a sender’s contact once per page request, not once or twice per block', async () => {
    const armored: string[] = [];
    for (let i = 0; i < 6; i++)
      armored.push((await compose(alice, [bob.handle], `n${i}`)).join('\n'));
    const getContact = vi.spyOn(bob.p.service.veil, 'getContact');
    try {
      const results = await as<{ status: string }[]>(bob.p, contentScript(7), {
        type: 'pageDecrypt',
        context: CONTEXT,
        blocks: armored.map((a) => ({ armored: a })),
      });
      expect(results.map((r) => r.status)).toEqual(Array(6).fill('unverified'));
      // Each read is an IndexedDB transaction (and an AEAD open under the lock).
      expect(getContact).toHaveBeenCalledTimes(1);
    } finally {
      getContact.mockRestore();
    }
  });

  it('remembers recipients per conversation and suggests senders seen there', async () => {
    const { token } = await as<{ token: string }>(alice.p, contentScript(1), {
      type: 'registerComposer',
      context: CONTEXT,
      maxMessageLength: 350,
      authors: ['Carol', 'not a handle!'],
    });
    // Contacts come from one read of the table, not one store read per contact.
    const get = vi.spyOn(alice.p.service.store, 'get');
    let info: ComposerView;
    try {
      info = await as<ComposerView>(alice.p, frame('composer', 1), { type: 'composerInfo', token });
      expect(get.mock.calls.filter(([table]) => table === 'contacts')).toEqual([]);
    } finally {
      get.mockRestore();
    }
    expect(info.handle).toBe(alice.handle);
    expect(info.recipients).toEqual([bob.handle]);
    // Remembered under an opaque name: the store's keys do not name the conversation.
    const names = await alice.p.service.store.keys('secrets');
    expect(names.some((k) => k.startsWith('recipients/'))).toBe(true);
    expect(names.join(' ')).not.toContain(CONTEXT);
    expect(info.suggestions).toEqual(['carol']);
    expect(info.contacts.map((c) => c.handle)).toEqual([bob.handle]);
    expect(info.contacts).toEqual(
      (await alice.p.call<{ contacts: ContactView[] }>({ type: 'listContacts' })).contacts,
    );
    // The composer of another tab cannot use this token.
    expect(
      await codeOf(alice.p, frame('composer', 2), {
        type: 'composeSend',
        token,
        text: 'x',
        recipients: [bob.handle],
      }),
    ).toBe('not-found');
  });

  it('reports tampered and truncated blocks as failed, never with text', async () => {
    const chunks = await compose(alice, [bob.handle], 'second message', 120);
    const tampered = chunks
      .join('\n')
      .replace(/(.{40})(.)/, (_, a: string, c: string) => a + (c === 'A' ? 'B' : 'A'));
    const results = await as<{ status: string; error?: string }[]>(bob.p, contentScript(7), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: tampered }, { armored: chunks.slice(1).join('\n') }],
    });
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(results[1]!.error).toBe('truncated');
  });

  it('opens a frame only with the key its content script was given, for one frame document, in its page', async () => {
    await bob.p.call({ type: 'setSecurityPhrase', phrase: 'amber otter' });
    const chunks = await compose(alice, [bob.handle], 'only for the frame veil placed');
    const [block] = await as<PageBlockResult[]>(bob.p, contentScript(9), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: chunks.join('\n') }],
    });
    const token = block!.token;
    const read = (key: string, sender: MessageSenderLike) =>
      bob.p.send({ type: 'readMessage', token, key }, sender);
    const inDoc = (documentId: string, tabUrl = SITE): MessageSenderLike => ({
      ...frame('reader', 9),
      documentId,
      tab: { id: 9, url: tabUrl },
    });

    // The page read the token from the frame's address and embedded its own copy: without the
    // key (or with a guessed one, or another frame's) it gets neither text nor phrase.
    const { key: otherKey } = await as<{ key: string }>(bob.p, contentScript(9), {
      type: 'registerComposer',
      context: CONTEXT,
      maxMessageLength: 350,
      authors: [],
    });
    for (const key of ['A'.repeat(22), otherKey]) {
      const reply = await read(key, inDoc('page-made'));
      expect(reply).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(JSON.stringify(reply)).not.toMatch(/only for the frame|amber otter/);
    }
    // Veil's frame, with the key: the text and the phrase.
    expect(await read(block!.key, inDoc('veil-made'))).toMatchObject({
      ok: true,
      value: { plaintext: 'only for the frame veil placed', phrase: 'amber otter' },
    });
    // The key works for that document only; a frame in a tab now showing another site: no.
    expect(await read(block!.key, inDoc('page-made'))).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await read(block!.key, inDoc('veil-made', 'https://evil.example/'))).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    // Veil's frame loaded again (the host moved it): the content script says so, and the new
    // document is the one that opens it. Only a content script may say so.
    expect(await codeOf(bob.p, frame('reader', 9), { type: 'frameReloaded', token })).toBe(
      'forbidden',
    );
    await as(bob.p, contentScript(9), { type: 'frameReloaded', token });
    expect(await read(block!.key, inDoc('veil-made-2'))).toMatchObject({ ok: true });
    expect(await read(block!.key, inDoc('veil-made'))).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    // Our page opened in a tab of its own (frame 0) is not a frame in a page.
    expect(await read(block!.key, { ...inDoc('veil-made-2'), frameId: 0 })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    // Only the reader's own sender can be added from it, and only by its key.
    expect(
      await bob.p.send({ type: 'addSender', token, key: otherKey }, inDoc('veil-made-2')),
    ).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(
      await as(bob.p, inDoc('veil-made-2'), { type: 'addSender', token, key: block!.key }),
    ).toEqual({ ok: true });
    const { contacts } = await bob.p.call<{ contacts: ContactView[] }>({ type: 'listContacts' });
    expect(contacts.map((c) => c.handle)).toContain(alice.handle);
  });

  it('decrypts blocks out of page order (nearest the viewport first) with the same statuses', async () => {
    const texts = ['one', 'two', 'three', 'four'];
    const armored: string[] = [];
    for (const t of texts) armored.push((await compose(alice, [bob.handle], t)).join('\n'));
    const decrypt = (list: string[]) =>
      as<{ token: string; status: string }[]>(bob.p, contentScript(9), {
        type: 'pageDecrypt',
        context: CONTEXT,
        blocks: list.map((a) => ({ armored: a })),
      });
    // The newest first (skipping over the older ones keeps their keys), then the rest.
    const newest = await decrypt([armored[3]!]);
    const older = await decrypt([armored[0]!, armored[2]!, armored[1]!]);
    expect([...newest, ...older].map((r) => r.status)).toEqual(Array(4).fill('unverified'));
    const read = await as<{ plaintext: string }>(bob.p, frame('reader', 9), {
      type: 'readMessage',
      token: older[2]!.token,
    });
    expect(read.plaintext).toBe('two');

    // The page again (a reload): every lookup in one batch read of the cache.
    const store = bob.p.service.store;
    const get = vi.spyOn(store, 'get');
    const getMany = vi.spyOn(store, 'getMany');
    try {
      const again = await decrypt(armored);
      expect(again.map((r) => r.status)).toEqual(Array(4).fill('unverified'));
      expect(getMany).toHaveBeenCalledTimes(1);
      expect(getMany.mock.calls[0]![1]).toHaveLength(4);
      expect(get.mock.calls.filter(([table]) => table === 'plaintexts')).toEqual([]);
    } finally {
      get.mockRestore();
      getMany.mockRestore();
    }
  });

  it('a group message read before its sender key fails and leaves nothing behind: read again after it, it opens', async () => {
    const carol = await person('carol');
    await alice.p.call({ type: 'addContact', handle: carol.handle });
    const g1 = (await compose(alice, [bob.handle, carol.handle], 'group hello')).join('\n');
    const g2 = (await compose(alice, [bob.handle, carol.handle], 'group again')).join('\n');
    const decrypt = (list: string[]) =>
      as<{ status: string; error?: string }[]>(bob.p, contentScript(9), {
        type: 'pageDecrypt',
        context: CONTEXT,
        blocks: list.map((a) => ({ armored: a })),
      });
    const ahead = await decrypt([g2]);
    expect(ahead[0]!.status).toBe('failed');
    expect((await decrypt([g1, g2])).map((r) => r.status)).toEqual(['unverified', 'unverified']);
  });

  it('keeps cached plaintext sealed under the lock, and refuses pages while locked', async () => {
    await bob.p.call({ type: 'setLockPassphrase', passphrase: 'a long lock passphrase' });
    const store = bob.p.service.store;
    // As stored: under names that are not the envelopes' hashes, each sealed.
    const hashes = await store.keys('plaintexts');
    const dataKey = (await bob.p.service.lock.dataKey())!;
    const names = hashes.map((h) => recordName(dataKey, 'plaintexts', h));
    expect(hashes.length).toBeGreaterThan(0);
    for (const k of names) expect(isSealed(await store.getRaw('plaintexts', k))).toBe(true);
    for (const h of hashes) expect(await store.getRaw('plaintexts', h)).toBeUndefined();
    await bob.p.call({ type: 'lock' });
    expect(
      await codeOf(bob.p, contentScript(7), {
        type: 'pageDecrypt',
        context: CONTEXT,
        blocks: [{ armored: 'VeiLA0' }],
      }),
    ).toBe('locked');
  });
});

describe('token kinds and the lock', () => {
  let alice: Person;
  let bob: Person;
  beforeAll(async () => {
    alice = await person('alice');
    bob = await person('bob');
  });

  it('refuses a token of the other kind with the same not-found as an unknown token', async () => {
    const chunks = await compose(alice, [bob.handle], 'for the reader only');
    const [read] = await as<PageBlockResult[]>(bob.p, contentScript(4), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: chunks.join('\n') }],
    });
    const { token: composer } = await as<{ token: string }>(bob.p, contentScript(4), {
      type: 'registerComposer',
      context: CONTEXT,
      maxMessageLength: 350,
      authors: [],
    });
    const unknown = 'A'.repeat(22);
    const reader = frame('reader', 4);
    const composerFrame = frame('composer', 4);
    const send = { text: 'x', recipients: [alice.handle] };

    // A composer token in the reader frame.
    const unknownRead = await bob.p.send({ type: 'readMessage', token: unknown }, reader);
    expect(unknownRead).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(await bob.p.send({ type: 'readMessage', token: composer }, reader)).toEqual(unknownRead);
    // A reader token in the composer frame: no info, no send.
    const unknownInfo = await bob.p.send({ type: 'composerInfo', token: unknown }, composerFrame);
    expect(unknownInfo).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(await bob.p.send({ type: 'composerInfo', token: read!.token }, composerFrame)).toEqual(
      unknownInfo,
    );
    const told = bob.told.length;
    const unknownSend = await bob.p.send(
      { type: 'composeSend', token: unknown, ...send },
      composerFrame,
    );
    expect(unknownSend).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(
      await bob.p.send({ type: 'composeSend', token: read!.token, ...send }, composerFrame),
    ).toEqual(unknownSend);
    expect(bob.told.length).toBe(told);

    // Each still works for what it was issued for.
    expect(await as(bob.p, reader, { type: 'readMessage', token: read!.token })).toMatchObject({
      plaintext: 'for the reader only',
    });
    expect(await as(bob.p, composerFrame, { type: 'composerInfo', token: composer })).toMatchObject(
      { handle: bob.handle },
    );
  });

  // Decided: while locked, readMessage answers 'locked' for every reader token (with or without
  // cached text), as pageDecrypt does; the token stays valid and reads again once unlocked.
  it('readMessage while locked answers locked, never the text, and reads again once unlocked', async () => {
    const chunks = await compose(alice, [bob.handle], 'under lock and key');
    const [cached, broken] = await as<PageBlockResult[]>(bob.p, contentScript(6), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: chunks.join('\n') }, { armored: 'VeiLA0' }],
    });
    expect([cached!.status, broken!.status]).toEqual(['unverified', 'failed']);
    await bob.p.call({ type: 'setLockPassphrase', passphrase: 'a long lock passphrase' });
    await bob.p.call({ type: 'lock' });
    for (const { token } of [cached!, broken!]) {
      const reply = await bob.p.send({ type: 'readMessage', token }, frame('reader', 6));
      expect(reply).toMatchObject({ ok: false, error: { code: 'locked' } });
      expect(JSON.stringify(reply)).not.toContain('lock and key');
    }
    await bob.p.call({ type: 'unlock', passphrase: 'a long lock passphrase' });
    expect(
      await as(bob.p, frame('reader', 6), { type: 'readMessage', token: cached!.token }),
    ).toMatchObject({ status: 'unverified', plaintext: 'under lock and key' });
  });
});

// Decided: the background keeps what was typed in a composer (composerDraft) so a frame that
// reloads (the host re-rendered its form and the frame was put back) gets it back. Only that
// composer frame reads it; it is kept only while unlocked and dropped by lock and by a send.
describe('composer drafts', () => {
  let alice: Person;
  let bob: Person;
  beforeAll(async () => {
    alice = await person('alice');
    bob = await person('bob');
  });

  const openComposer = async (a: Person, tab: number) =>
    (
      await as<{ token: string }>(a.p, contentScript(tab), {
        type: 'registerComposer',
        context: CONTEXT,
        maxMessageLength: 350,
        authors: [],
      })
    ).token;
  const saveDraft = (a: Person, tab: number, token: string, text: string) =>
    as(a.p, frame('composer', tab), { type: 'composerDraft', token, text });
  const draftOf = async (a: Person, tab: number, token: string) =>
    (await as<ComposerView>(a.p, frame('composer', tab), { type: 'composerInfo', token })).draft;

  it('hands the draft back to the composer that saved it, and to no other frame', async () => {
    const token = await openComposer(alice, 11);
    expect(await draftOf(alice, 11, token)).toBeUndefined();
    await saveDraft(alice, 11, token, 'half a');
    await saveDraft(alice, 11, token, 'half a thought');
    expect(await draftOf(alice, 11, token)).toBe('half a thought');
    // Another composer of the same tab has its own (none).
    expect(await draftOf(alice, 11, await openComposer(alice, 11))).toBeUndefined();

    // The same token from another tab, or a reader token: what an unknown token gets.
    const unknown = 'A'.repeat(22);
    const [read] = await as<PageBlockResult[]>(alice.p, contentScript(11), {
      type: 'pageDecrypt',
      context: CONTEXT,
      blocks: [{ armored: 'VeiLA0' }],
    });
    const unknownInfo = await alice.p.send(
      { type: 'composerInfo', token: unknown },
      frame('composer', 11),
    );
    expect(unknownInfo).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(await alice.p.send({ type: 'composerInfo', token }, frame('composer', 12))).toEqual(
      unknownInfo,
    );
    const asReader = await alice.p.send({ type: 'readMessage', token }, frame('reader', 11));
    expect(asReader).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(JSON.stringify(asReader)).not.toContain('thought');
    const unknownDraft = await alice.p.send(
      { type: 'composerDraft', token: unknown, text: 'x' },
      frame('composer', 11),
    );
    expect(unknownDraft).toMatchObject({ ok: false, error: { code: 'not-found' } });
    for (const [sender, t] of [
      [frame('composer', 12), token],
      [frame('composer', 11), read!.token],
    ] as const)
      expect(await alice.p.send({ type: 'composerDraft', token: t, text: 'x' }, sender)).toEqual(
        unknownDraft,
      );

    // A content script or the reader frame may not save one.
    const overwrite = { type: 'composerDraft', token, text: 'from the host' };
    expect(await codeOf(alice.p, contentScript(11), overwrite)).toBe('forbidden');
    expect(await codeOf(alice.p, frame('reader', 11), overwrite)).toBe('forbidden');
    expect(await draftOf(alice, 11, token)).toBe('half a thought');

    // Empty text clears it.
    await saveDraft(alice, 11, token, '');
    expect(await draftOf(alice, 11, token)).toBeUndefined();
  });

  it('clears the draft once its text was sent', async () => {
    const token = await openComposer(alice, 13);
    await saveDraft(alice, 13, token, 'almost ready');
    const failed = await alice.p.send(
      { type: 'composeSend', token, text: 'almost ready', recipients: [alice.handle] },
      frame('composer', 13),
    );
    expect(failed).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    expect(await draftOf(alice, 13, token)).toBe('almost ready');
    await as(alice.p, frame('composer', 13), {
      type: 'composeSend',
      token,
      text: 'almost ready',
      recipients: [bob.handle],
    });
    expect(await draftOf(alice, 13, token)).toBeUndefined();
  });

  it('keeps no draft behind the lock: refused while locked, dropped by locking', async () => {
    const carol = await person('carol');
    await carol.p.call({ type: 'setLockPassphrase', passphrase: 'a long lock passphrase' });
    const token = await openComposer(carol, 14);
    await saveDraft(carol, 14, token, 'before the lock');
    expect(await draftOf(carol, 14, token)).toBe('before the lock');
    await carol.p.call({ type: 'lock' });
    expect(
      await codeOf(carol.p, frame('composer', 14), {
        type: 'composerDraft',
        token,
        text: 'while locked',
      }),
    ).toBe('locked');
    await carol.p.call({ type: 'unlock', passphrase: 'a long lock passphrase' });
    expect(await draftOf(carol, 14, token)).toBeUndefined();
    // Nor in storage.session, where a restarted worker would find it.
    const restarted = await ready(carol.p.restartWorker());
    expect(await restarted.service.pages.draft(14, token)).toBeUndefined();
  });

  it('drops the drafts when everything is deleted', async () => {
    const dave = await person('dave');
    const token = await openComposer(dave, 15);
    await saveDraft(dave, 15, token, 'about to go');
    await dave.p.call({ type: 'deleteEverything', force: true });
    expect(await dave.p.service.pages.draft(15, token)).toBeUndefined();
    const restarted = await ready(dave.p.restartWorker());
    expect(await restarted.service.pages.draft(15, token)).toBeUndefined();
  });
});
