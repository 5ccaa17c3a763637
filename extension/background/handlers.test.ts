// The background end to end through its message router, with simulated browser profiles and
// the real directory on loopback: onboarding, two people verifying each other, a key change
// after one re-creates their identity, delete everything, worker restarts, and racing sends
// (backup and restore: handlers/backup.test.ts). Calls go in as an extension page, as the UI sends them; messages are read as
// a page reads them (pageDecrypt from the tab's content script, then readMessage).
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ContactView, IdentityView, StatusReply, VerifyView } from '../messaging/messages';
import { ALL_TABLES } from './schema';
import {
  type RunningDirectory,
  type TestProfile,
  contentScriptSender,
  makeProfile,
  readOnPage,
  ready,
  startDirectory,
} from './testing';
import { getService } from './veil-service';

const CONTEXT = 'site:chat.example/room/42';

let directory: RunningDirectory;
beforeAll(async () => {
  directory = await startDirectory();
});
afterAll(() => directory.close());

let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

async function onboard(handle: string, url = directory.url): Promise<TestProfile> {
  const p = await ready(makeProfile());
  await p.call({ type: 'createIdentity', handle, directoryUrl: url });
  await p.call({ type: 'publish' });
  return p;
}

async function codeOf(p: TestProfile, message: Record<string, unknown>): Promise<string> {
  const reply = (await p.send(message)) as { ok: boolean; error?: { code: string } };
  return reply.ok ? 'ok' : reply.error!.code;
}

async function directoryJson(handle: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${directory.url}/v1/identities/${handle}`)).json()) as Record<
    string,
    unknown
  >;
}

async function send(from: TestProfile, to: string, text: string): Promise<string> {
  const { chunks } = await from.call<{ chunks: string[] }>({
    type: 'encrypt',
    context: CONTEXT,
    recipients: [to],
    plaintext: text,
  });
  return chunks.join('\n');
}

describe('onboarding', () => {
  it('creates and publishes an identity whose fingerprint the directory agrees with', async () => {
    const handle = unique('ann');
    const p = await ready(makeProfile());
    const empty = await p.call<StatusReply>({ type: 'status' });
    expect(empty).toEqual({
      locked: false,
      lockEnabled: false,
      hasSecurityPhrase: false,
      settings: { directoryUrl: 'http://127.0.0.1:8787', enabledSites: [] },
    });
    expect(
      await codeOf(p, { type: 'createIdentity', handle, directoryUrl: 'http://dir.example' }),
    ).toBe('insecure-directory');
    expect((await p.call<StatusReply>({ type: 'status' })).identity).toBeUndefined();

    const created = await p.call<IdentityView>({
      type: 'createIdentity',
      handle,
      directoryUrl: `${directory.url}/`,
    });
    expect(created).toMatchObject({ handle, published: false });
    expect(created.fingerprint).toMatch(/^[0-9]{30}$/);
    const published = await p.call<IdentityView>({ type: 'publish' });
    expect(published).toMatchObject({ handle, published: true, identityKey: created.identityKey });
    const listed = await directoryJson(handle);
    expect(listed.identityKey).toBe(created.identityKey);
    expect(listed.safetyNumberHalf).toBe(created.fingerprint);
    expect(published.logIndex).toBe(listed.logIndex);

    const status = await p.call<StatusReply>({ type: 'status' });
    expect(status.identity).toEqual(published);
    expect(status.settings.directoryUrl).toBe(directory.url);
    expect(
      await codeOf(p, { type: 'createIdentity', handle: 'other', directoryUrl: directory.url }),
    ).toBe('identity-exists');
    // Publishing again refreshes prekeys; the key stays the same.
    expect(await p.call<IdentityView>({ type: 'publish' })).toMatchObject({ published: true });
  });

  it('keeps the security phrase for extension pages only', async () => {
    const p = await ready(makeProfile());
    await p.call({ type: 'setSecurityPhrase', phrase: '  silver kettle  ' });
    expect(await p.call({ type: 'getSecurityPhrase' })).toEqual({ phrase: 'silver kettle' });
    expect(await p.call<StatusReply>({ type: 'status' })).toMatchObject({
      hasSecurityPhrase: true,
    });
    const fromPage = await p.send({ type: 'getSecurityPhrase' }, contentScriptSender());
    expect(fromPage).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(JSON.stringify(fromPage)).not.toContain('kettle');
    await p.call({ type: 'setSecurityPhrase', phrase: '' });
    expect(await p.call({ type: 'getSecurityPhrase' })).toEqual({});
  });

  it('keeps settings checked', async () => {
    const p = await ready(makeProfile());
    expect(await codeOf(p, { type: 'setSettings', directoryUrl: 'http://evil.example' })).toBe(
      'insecure-directory',
    );
    expect(
      await p.call({
        type: 'setSettings',
        enabledSites: ['Chat.Example', 'chat.example', '127.0.0.1:9000'],
      }),
    ).toEqual({
      directoryUrl: 'http://127.0.0.1:8787',
      enabledSites: ['chat.example', '127.0.0.1:9000'],
    });
    expect(await codeOf(p, { type: 'setSettings', enabledSites: ['<script>'] })).toBe(
      'invalid-argument',
    );
    expect(
      await p.call({ type: 'setSettings', directoryUrl: 'https://dir.example/veil/' }),
    ).toEqual({
      directoryUrl: 'https://dir.example/veil',
      enabledSites: ['chat.example', '127.0.0.1:9000'],
    });
    expect(await p.call({ type: 'getSettings' })).toMatchObject({
      directoryUrl: 'https://dir.example/veil',
    });
  });
});

describe('two people', () => {
  it('look each other up, see the same safety number, compare QR codes and verify', async () => {
    const [ha, hb] = [unique('amy'), unique('ben')];
    const a = await onboard(ha);
    const b = await onboard(hb);
    const found = await a.call<{ handle: string; fingerprint: string; contact?: unknown }>({
      type: 'lookupContact',
      handle: hb,
    });
    expect(found.fingerprint).toBe(
      (await b.call<StatusReply>({ type: 'status' })).identity!.fingerprint,
    );
    expect(found.contact).toBeUndefined();
    expect(await codeOf(a, { type: 'addContact', handle: ha })).toBe('invalid-argument');
    expect(await a.call<ContactView>({ type: 'addContact', handle: hb })).toMatchObject({
      handle: hb,
      status: 'unverified',
      fingerprint: found.fingerprint,
    });
    await b.call({ type: 'addContact', handle: ha.toUpperCase() });

    const va = await a.call<VerifyView>({ type: 'verifyView', handle: hb });
    const vb = await b.call<VerifyView>({ type: 'verifyView', handle: ha });
    expect(va.safetyNumber).toMatch(/^[0-9]{60}$/);
    expect(va.safetyNumber).toBe(vb.safetyNumber);
    expect(va.pendingSafetyNumber).toBeUndefined();

    // Each scans the other's QR code.
    expect(await a.call({ type: 'compareScannable', handle: hb, scanned: vb.scannable })).toEqual({
      match: true,
    });
    expect(await b.call({ type: 'compareScannable', handle: ha, scanned: va.scannable })).toEqual({
      match: true,
    });
    // Our own code read back (not theirs) does not match; garbage is malformed.
    expect(await a.call({ type: 'compareScannable', handle: hb, scanned: va.scannable })).toEqual({
      match: false,
    });
    expect(await codeOf(a, { type: 'compareScannable', handle: hb, scanned: '!!' })).toBe(
      'malformed',
    );

    expect(await a.call({ type: 'markVerified', handle: hb, verified: true })).toMatchObject({
      status: 'verified',
    });
    expect(await a.call({ type: 'listContacts' })).toMatchObject({
      contacts: [{ handle: hb, status: 'verified' }],
    });
    expect(await codeOf(a, { type: 'verifyView', handle: 'stranger' })).toBe('invalid-argument');
  });

  it('talk: encrypt in one profile, read on a page in the other, both ways', async () => {
    const [ha, hb] = [unique('cat'), unique('dan')];
    const a = await onboard(ha);
    const b = await onboard(hb);
    await a.call({ type: 'addContact', handle: hb });
    const first = await send(a, hb, 'hello from a');
    // Not b's contact, but the directory's log shows that key for that handle.
    expect(await readOnPage(b, CONTEXT, first)).toMatchObject({
      status: 'unverified',
      sender: ha,
      plaintext: 'hello from a',
      kind: 'direct',
      contact: false,
    });
    const reply = await send(b, ha, 'hello from b');
    expect(await readOnPage(a, CONTEXT, reply)).toMatchObject({
      sender: hb,
      plaintext: 'hello from b',
    });
    // The same block shown again (a re-render) reads from the cache, not as a replay; a direct
    // message shown in a group conversation is moved, its text held back.
    expect(await readOnPage(b, CONTEXT, first)).toMatchObject({ plaintext: 'hello from a' });
    const elsewhere = await send(a, hb, 'for b only');
    expect(
      await readOnPage(b, { context: 'site:chat.example/room/other', kind: 'group' }, elsewhere),
    ).toMatchObject({ status: 'moved', hidden: true, sender: ha });
  });
});

describe('key change', () => {
  it('is loud after a contact re-creates their identity, and blocks until acknowledged', async () => {
    const [ha, hb] = [unique('eve'), unique('fay')];
    const a = await onboard(ha);
    let b = await onboard(hb);
    await a.call({ type: 'addContact', handle: hb });
    const oldFingerprint = (
      await a.call<ContactView>({ type: 'markVerified', handle: hb, verified: true })
    ).fingerprint;
    await send(a, hb, 'before the change');

    // B starts over: delete everything (also from the directory), new identity, same handle.
    expect(await b.call({ type: 'deleteEverything' })).toEqual({
      ok: true,
      directoryDeleted: true,
    });
    b = await onboard(hb);
    const newFingerprint = (await b.call<StatusReply>({ type: 'status' })).identity!.fingerprint;
    expect(newFingerprint).not.toBe(oldFingerprint);

    const looked = await a.call<{ fingerprint: string; contact: ContactView }>({
      type: 'lookupContact',
      handle: hb,
    });
    expect(looked.fingerprint).toBe(newFingerprint);
    expect(looked.contact).toMatchObject({
      status: 'key-changed',
      fingerprint: oldFingerprint,
      pendingFingerprint: newFingerprint,
    });
    expect(await a.call({ type: 'addContact', handle: hb })).toMatchObject({
      status: 'key-changed',
    });
    // Blocked: no sending, no verifying, until the change is acknowledged.
    expect(
      await codeOf(a, { type: 'encrypt', context: CONTEXT, recipients: [hb], plaintext: 'x' }),
    ).toBe('untrusted-identity');
    expect(await codeOf(a, { type: 'markVerified', handle: hb, verified: true })).toBe(
      'untrusted-identity',
    );
    // The verify screen can already show the number to compare for the new key.
    const view = await a.call<VerifyView>({ type: 'verifyView', handle: hb });
    await b.call({ type: 'addContact', handle: ha });
    const fromB = await b.call<VerifyView>({ type: 'verifyView', handle: ha });
    expect(view.pendingSafetyNumber).toBe(fromB.safetyNumber);
    expect(view.safetyNumber).not.toBe(fromB.safetyNumber);

    const acknowledged = await a.call<ContactView>({ type: 'acknowledgeKeyChange', handle: hb });
    expect(acknowledged).toEqual({
      handle: hb,
      status: 'unverified',
      identityKey: expect.any(String),
      fingerprint: newFingerprint,
      firstSeen: expect.any(Number),
    });
    const after = await send(a, hb, 'after the change');
    expect(await readOnPage(b, CONTEXT, after)).toMatchObject({ plaintext: 'after the change' });
  });
});

/** Every Map and Set reachable from `root` through object fields, `depth` levels down. */
function collections(root: object, depth: number, seen = new Set<object>()): Map<string, number> {
  const found = new Map<string, number>();
  const walk = (value: unknown, path: string, level: number) => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Map || value instanceof Set) {
      found.set(path, value.size);
      return;
    }
    if (level >= depth || ArrayBuffer.isView(value)) return;
    for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, level + 1);
  };
  walk(root, 'svc', 0);
  return found;
}

describe('delete everything', () => {
  it('deletes the identity from the directory (signed) and clears every store', async () => {
    const handle = unique('jon');
    const p = await onboard(handle);
    // Fill the memory caches: a conversation read on a page, and its frames' tokens.
    const friend = await onboard(unique('kit'));
    await friend.call({ type: 'addContact', handle });
    await p.call({
      type: 'addContact',
      handle: (await friend.call<StatusReply>({ type: 'status' })).identity!.handle,
    });
    const armored = await send(friend, handle, 'fills the caches');
    expect(await readOnPage(p, CONTEXT, armored)).toMatchObject({ plaintext: 'fills the caches' });
    const filled = p.service.caches.sizes();
    expect(filled['page tokens']).toBeGreaterThan(0);
    expect(filled['senders seen per conversation']).toBeGreaterThan(0);
    await p.call({ type: 'setSecurityPhrase', phrase: 'tin whistle' });
    await p.call({ type: 'setLockPassphrase', passphrase: 'lock passphrase here' });
    expect(await p.call({ type: 'deleteEverything' })).toEqual({
      ok: true,
      directoryDeleted: true,
    });
    expect((await fetch(`${directory.url}/v1/identities/${handle}`)).status).toBe(404);
    for (const t of ALL_TABLES) expect(await p.service.store.keys(t), t).toEqual([]);
    expect(p.session.size).toBe(0);
    // Every registered memory cache is empty, and so is every Map or Set the service reaches
    // (three levels down): a cache added without registering it fails here.
    expect(Object.values(p.service.caches.sizes()).every((n) => n === 0)).toBe(true);
    const registry = new Set<object>([p.service.caches]);
    const left = [...collections(p.service, 3, registry)].filter(([, size]) => size > 0);
    expect(left).toEqual([]);
    expect(await p.call({ type: 'status' })).toEqual({
      locked: false,
      lockEnabled: false,
      hasSecurityPhrase: false,
      settings: { directoryUrl: 'http://127.0.0.1:8787', enabledSites: [] },
    });
    // The handle is free again.
    await onboard(handle);
  });

  it('refuses to delete locally when the directory cannot be told, unless forced', async () => {
    const gone = await startDirectory();
    const p = await onboard(unique('kim'), gone.url);
    await gone.close();
    expect(await codeOf(p, { type: 'deleteEverything' })).toBe('directory-unreachable');
    expect((await p.call<StatusReply>({ type: 'status' })).identity).toBeDefined();
    expect(await p.call({ type: 'deleteEverything', force: true })).toEqual({
      ok: true,
      directoryDeleted: false,
    });
    expect((await p.call<StatusReply>({ type: 'status' })).identity).toBeUndefined();
  });

  it('needs the lock open to sign the delete, or force', async () => {
    const p = await onboard(unique('lou'));
    await p.call({ type: 'setLockPassphrase', passphrase: 'lock passphrase here' });
    await p.call({ type: 'lock' });
    expect(await codeOf(p, { type: 'deleteEverything' })).toBe('locked');
    expect(await p.call({ type: 'deleteEverything', force: true })).toEqual({
      ok: true,
      directoryDeleted: false,
    });
    expect(await p.call({ type: 'status' })).toMatchObject({ locked: false, lockEnabled: false });
  });

  it('works before any identity exists', async () => {
    const p = await ready(makeProfile());
    expect(await p.call({ type: 'deleteEverything' })).toEqual({
      ok: true,
      directoryDeleted: false,
    });
  });
});

describe('service-worker resilience', () => {
  it('loses nothing when the worker restarts between messages', async () => {
    const [ha, hb] = [unique('max'), unique('ned')];
    let a = await onboard(ha);
    let b = await onboard(hb);
    const m1 = await send(a, hb, 'one');
    a = await ready(a.restartWorker());
    const m2 = await send(a, hb, 'two');
    b = await ready(b.restartWorker());
    for (const [m, text] of [
      [m1, 'one'],
      [m2, 'two'],
    ] as const)
      expect(await readOnPage(b, CONTEXT, m)).toMatchObject({ plaintext: text });
    const r = await send(b, ha, 'three');
    a = await ready(a.restartWorker());
    expect(await readOnPage(a, CONTEXT, r)).toMatchObject({ plaintext: 'three' });
    expect((await a.call<StatusReply>({ type: 'status' })).identity?.published).toBe(true);
  });

  it('racing sends to a new contact share one bundle and one session', async () => {
    const hb = unique('oli');
    const b = await onboard(hb);
    let bundles = 0;
    const a = await ready(
      makeProfile({
        fetch: (input, init) => {
          if (input.endsWith('/bundle')) bundles++;
          return fetch(input, init);
        },
      }),
    );
    await a.call({ type: 'createIdentity', handle: unique('pam'), directoryUrl: directory.url });
    await a.call({ type: 'publish' });
    const texts = Array.from({ length: 8 }, (_, i) => `message ${i}`);
    const sent = await Promise.all(texts.map((t) => send(a, hb, t)));
    expect(bundles).toBe(1);
    const got = [];
    for (const m of sent) got.push((await readOnPage(b, CONTEXT, m)).plaintext);
    expect(got).toEqual(texts);
  });

  it("reads a new recipient's contact once before fetching its bundle", async () => {
    const hb = unique('quinn');
    await onboard(hb);
    let contactReads = 0;
    const readsAtBundle: number[] = [];
    const a = await ready(
      makeProfile({
        fetch: (input, init) => {
          if (input.endsWith('/bundle')) readsAtBundle.push(contactReads);
          return fetch(input, init);
        },
      }),
    );
    await a.call({ type: 'createIdentity', handle: unique('rae'), directoryUrl: directory.url });
    await a.call({ type: 'publish' });
    await a.call({ type: 'addContact', handle: hb });
    const get = a.service.store.get.bind(a.service.store);
    vi.spyOn(a.service.store, 'get').mockImplementation((table, key) => {
      if (table === 'contacts' && key === hb) contactReads++;
      return get(table, key);
    });
    await send(a, hb, 'first');
    expect(readsAtBundle).toEqual([1]);
  });

  it('has one service per worker, however many messages arrive at once', async () => {
    const all = await Promise.all(Array.from({ length: 5 }, () => getService()));
    expect(new Set(all).size).toBe(1);
  });
});
