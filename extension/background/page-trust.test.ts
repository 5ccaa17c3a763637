// In-page trust through the background, with the real directory: an impostor's message is an
// unknown sender and changes nothing; a page that re-posts an old block or shows blocks out of
// their sealed order gets `repeat` (also for a block it placed before the one that proves it);
// a stale composer cannot put back a member someone else took out of the group.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ComposerView,
  PageBlockResult,
  ReaderView,
  ToContentMessage,
} from '../messaging/messages';
import { MemoryStore } from '../protocol/store';
import { Veil } from '../protocol/veil';
import { nobleProvider } from '../protocol/crypto/noble';
import { bundleFromJson } from '../protocol/identity';
import {
  callAs as as,
  frameSender as frame,
  makeProfile,
  manageSitesManually,
  ready,
  startDirectory,
  tabContentScriptSender as contentScript,
  type RunningDirectory,
  type TestProfile,
} from './testing';

const CONTEXT = 'generic:room-7';

let directory: RunningDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}t`;

interface Person {
  handle: string;
  p: TestProfile;
  told: [number, number, ToContentMessage][];
}

async function person(handle = unique('p')): Promise<Person> {
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
  await p.call({ type: 'createIdentity', handle, directoryUrl: directory.url });
  await p.call({ type: 'publish' });
  return { handle, p, told };
}

/** `from` writes through a composer in tab 1 of a page whose conversation is `page`. */
async function compose(
  from: Person,
  to: string[],
  text: string,
  page: { context: string; kind?: 'direct' | 'group' } = { context: CONTEXT },
  groupEpoch?: number,
): Promise<string> {
  const { token } = await as<{ token: string }>(from.p, contentScript(1), {
    type: 'registerComposer',
    ...page,
    maxMessageLength: 100_000,
    authors: [],
  });
  const before = from.told.length;
  await as(from.p, frame('composer', 1), {
    type: 'composeSend',
    token,
    text,
    recipients: to,
    ...(groupEpoch === undefined ? {} : { groupEpoch }),
  });
  return (from.told[before]![2] as { chunks: string[] }).chunks.join('\n');
}

async function show(
  reader: Person,
  blocks: { armored: string; pos?: number; view?: number }[],
  page: { context: string; kind?: 'direct' | 'group' } = { context: CONTEXT },
  tab = 2,
): Promise<PageBlockResult[]> {
  return as<PageBlockResult[]>(reader.p, contentScript(tab), {
    type: 'pageDecrypt',
    ...page,
    blocks,
  });
}

const read = (reader: Person, token: string, reveal = false, tab = 2) =>
  as<ReaderView>(reader.p, frame('reader', tab), {
    type: 'readMessage',
    token,
    ...(reveal ? { reveal } : {}),
  });

describe('only sites the user turned on', () => {
  it('refuses page messages from a site the user did not turn on (a compromised renderer)', async () => {
    const bob = await person();
    manageSitesManually(bob.p);
    const refused = (message: Record<string, unknown>) =>
      as(bob.p, contentScript(4), message).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      );
    expect(await refused({ type: 'pageDecrypt', context: CONTEXT, blocks: [] })).toBe('forbidden');
    expect(
      await refused({
        type: 'registerComposer',
        context: CONTEXT,
        maxMessageLength: 350,
        authors: [],
      }),
    ).toBe('forbidden');
    await bob.p.call({ type: 'setSettings', enabledSites: ['chat.example'] });
    expect(await refused({ type: 'pageDecrypt', context: CONTEXT, blocks: [] })).toBe('ok');
  });
});

describe('a sender is who the directory says (issue 11.1)', () => {
  it("an impostor's message is an unknown sender: text held back, contact and session untouched", async () => {
    const alice = await person();
    const bob = await person();
    await bob.p.call({ type: 'addContact', handle: alice.handle });
    await bob.p.call({ type: 'markVerified', handle: alice.handle, verified: true });
    const before = await bob.p.call<{ contacts: unknown[] }>({ type: 'listContacts' });

    // Mallory: a local identity under alice's handle (never published), bob's public bundle.
    const mallory = await Veil.create({ store: new MemoryStore(), crypto: nobleProvider });
    await mallory.createIdentity(alice.handle);
    const json = await (await fetch(`${directory.url}/v1/identities/${bob.handle}/bundle`)).json();
    await mallory.startSession(bundleFromJson(json));
    const forged = (
      await mallory.encrypt({ context: CONTEXT, recipients: [bob.handle] }, 'send me the code')
    ).join('\n');

    const [result] = await show(bob, [{ armored: forged }]);
    expect(result).toMatchObject({ status: 'unknown-sender', sender: alice.handle });
    const view = await read(bob, result!.token);
    expect(view).toMatchObject({ status: 'unknown-sender', hidden: true, contact: false });
    expect(view.plaintext).toBeUndefined();
    expect(view.fingerprint).toMatch(/^\d{30}$/);
    // The user may still look: the text is there, the status stays.
    expect(await read(bob, result!.token, true)).toMatchObject({
      status: 'unknown-sender',
      plaintext: 'send me the code',
    });
    expect(await bob.p.call({ type: 'listContacts' })).toEqual(before);
    // Bob's reply goes to the real alice, whom the directory shows.
    const reply = await compose(bob, [alice.handle], 'for alice');
    const [atAlice] = await show(alice, [{ armored: reply }]);
    expect(atAlice!.status).toBe('unverified'); // alice has not pinned bob: the log confirms him
    expect((await read(alice, atAlice!.token)).plaintext).toBe('for alice');
    expect((await mallory.decrypt(CONTEXT, reply)).status).toBe('failed');
  });
});

describe('sealed order: repeats (issue 11.2)', () => {
  it('a block re-posted below later ones is a repeat, whichever is decrypted first', async () => {
    const alice = await person();
    const bob = await person();
    await bob.p.call({ type: 'addContact', handle: alice.handle });
    const m = [];
    for (let i = 1; i <= 3; i++) m.push(await compose(alice, [bob.handle], `message ${i}`));
    // History in order: no repeat.
    const view = 11;
    const inOrder = await show(
      bob,
      m.map((armored, i) => ({ armored, pos: i, view })),
    );
    expect(inOrder.map((r) => r.status)).toEqual(['unverified', 'unverified', 'unverified']);
    // The page deleted message 1 and posts it again at the bottom: the page shows it first (on
    // screen, so decrypted first), then the rest of a re-rendered list.
    const view2 = 12;
    const [reposted] = await show(bob, [{ armored: m[0]!, pos: 10, view: view2 }]);
    expect(reposted!.status).toBe('unverified'); // nothing above it yet
    bob.told.length = 0;
    const rest = await show(bob, [
      { armored: m[1]!, pos: 2, view: view2 },
      { armored: m[2]!, pos: 3, view: view2 },
    ]);
    expect(rest.map((r) => r.status)).toEqual(['unverified', 'unverified']);
    // The content script is told the re-posted block is a repeat, and its reader says so.
    expect(bob.told).toContainEqual([
      2,
      0,
      { type: 'veil:status', token: reposted!.token, status: 'repeat' },
    ]);
    const again = await read(bob, reposted!.token);
    expect(again).toMatchObject({ status: 'repeat', hidden: true });
    // A reload (a new view) re-renders history in order: not a repeat.
    const reload = await show(
      bob,
      m.map((armored, i) => ({ armored, pos: i, view: 13 })),
    );
    expect(reload.map((r) => r.status)).toEqual(['unverified', 'unverified', 'unverified']);
  });

  it('knows the order again after the worker restarted (from the token records)', async () => {
    const alice = await person();
    const bob = await person();
    await bob.p.call({ type: 'addContact', handle: alice.handle });
    const m1 = await compose(alice, [bob.handle], 'one');
    const m2 = await compose(alice, [bob.handle], 'two');
    await show(bob, [{ armored: m2, pos: 1, view: 21 }]);
    const service = bob.p.service;
    service.order.forgetTab(2); // what a restarted worker has in memory
    const [late] = await show(bob, [{ armored: m1, pos: 5, view: 21 }]);
    expect(late!.status).toBe('repeat');
  });
});

describe('group membership in the composer (issue 11.4)', () => {
  it('a composer showing an older member list cannot put back a member someone took out', async () => {
    const [alice, bob, dave] = [await person(), await person(), await person()];
    for (const x of [alice, bob, dave])
      for (const y of [alice, bob, dave])
        if (x !== y) await x.p.call({ type: 'addContact', handle: y.handle });
    const group = { context: 'generic:group-room', kind: 'group' as const };
    // Bob's composer opens while the group is alice, bob, dave.
    const first = await compose(alice, [bob.handle, dave.handle], 'all three', group);
    await show(bob, [{ armored: first }], group);
    const { token } = await as<{ token: string }>(bob.p, contentScript(3), {
      type: 'registerComposer',
      ...group,
      maxMessageLength: 100_000,
      authors: [],
    });
    const shown = await as<ComposerView>(bob.p, frame('composer', 3), {
      type: 'composerInfo',
      token,
    });
    expect(shown.recipients.sort()).toEqual([alice.handle, dave.handle].sort());
    // Alice takes dave out; bob reads it.
    const removal = await compose(alice, [bob.handle], 'dave is out', group);
    await show(bob, [{ armored: removal }], group);
    // Sending with what the composer showed would re-add dave: refused, nothing sent.
    const send = (recipients: string[], groupEpoch?: number) =>
      as(bob.p, frame('composer', 3), {
        type: 'composeSend',
        token,
        text: 'hello group',
        recipients,
        ...(groupEpoch === undefined ? {} : { groupEpoch }),
      }).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      );
    expect(await send([alice.handle, dave.handle], shown.groupEpoch)).toBe('membership-changed');
    // Looked at again, the composer shows the group without dave; that send goes through.
    const now = await as<ComposerView>(bob.p, frame('composer', 3), {
      type: 'composerInfo',
      token,
    });
    expect(now.recipients).toEqual([alice.handle]);
    expect(await send(now.recipients, now.groupEpoch)).toBe('ok');
  });
});
