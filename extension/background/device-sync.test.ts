// Ongoing sync between two linked browsers of one account, against the real directory (SQLite,
// loopback): what one verifies, enables or teaches the other gets; concurrent edits both
// survive; a browser offline for a week comes back. Attacks first: a hostile directory serving
// an old blob, another account's blob, or one written by an unlinked browser; a synced state
// that would mark a contact verified with another key than the one verified.
import 'fake-indexeddb/auto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ContactView, DevicesView, LinkState, Settings } from '../messaging/messages';
import { fromBase64Url } from '../protocol/encoding';
import { joinSyncBlob, splitSyncBlob, syncBlobBody, syncBlobMessage } from '../protocol/sync-blob';
import {
  applyLocal,
  decodeSyncState,
  openSyncState,
  sealSyncState,
  startClock,
  type SyncState,
} from '../protocol/sync-state';
import { ensureSyncKey, noteSyncChange, syncNow, syncTiming } from './device-sync';
import {
  makeProfile,
  ready,
  startDirectory,
  type RunningDirectory,
  type TestProfile,
} from './testing';

const DAY = 24 * 60 * 60 * 1000;
let time = Date.now();
const clock = () => time;

let dir: RunningDirectory;
beforeAll(async () => {
  // The directory shares the browsers' clock, so a week can pass for all of them.
  dir = await startDirectory(undefined, {}, clock);
});
afterAll(async () => {
  await dir.close();
});

/** A hostile directory's hand on every profile's fetch: may answer a request itself. */
let intercept: ((url: string, init: RequestInit) => Promise<Response | undefined>) | undefined;
const fetchThrough = async (input: string, init: RequestInit): Promise<Response> =>
  (await intercept?.(input, init)) ?? fetch(input, init);
beforeEach(() => {
  intercept = undefined;
  time = Date.now();
  // Passes run when a test says so (one test below lets the debounce run them).
  syncTiming.debounceMs = 3_600_000;
});

const opts = () => ({ now: clock, fetch: fetchThrough });
let n = 0;
const unique = (base: string) => `${base}${process.pid % 1000}${++n}`;

async function onboard(handle: string): Promise<TestProfile> {
  const p = await ready(makeProfile(opts()));
  await p.call({ type: 'createIdentity', handle, directoryUrl: dir.url });
  await p.call({ type: 'publish' });
  return p;
}

async function linkPair(handle: string) {
  const a1 = await onboard(handle);
  const a2 = await ready(makeProfile(opts()));
  const { code } = await a1.call<{ code: string }>({ type: 'startLink' });
  await a2.call<LinkState>({ type: 'joinWithCode', code });
  await a1.call<LinkState>({ type: 'linkStatus' });
  await a1.call<LinkState>({ type: 'confirmLink', accept: true });
  expect(await a2.call<LinkState>({ type: 'joinStatus' })).toMatchObject({ state: 'joined' });
  return { a1, a2 };
}

const contactOf = async (p: TestProfile, handle: string) =>
  (await p.call<{ contacts: ContactView[] }>({ type: 'listContacts' })).contacts.find(
    (c) => c.handle === handle,
  );
const sitesOf = async (p: TestProfile) =>
  (await p.call<Settings>({ type: 'getSettings' })).enabledSites.sort();
const enable = async (p: TestProfile, ...sites: string[]) =>
  p.call({ type: 'setSettings', enabledSites: [...(await sitesOf(p)), ...sites] });
const sync = (p: TestProfile) => syncNow(p.service);
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'none',
    (e: { code?: string }) => e.code ?? 'thrown',
  );

const isSyncGet = (url: string, init: RequestInit) =>
  url.endsWith('/sync') && (init.method ?? 'GET') === 'GET';
const jsonResponse = (body: unknown) =>
  new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });

/** The directory's current blob for `handle`, as it would answer (for replaying it later). */
async function blobNow(handle: string) {
  const blob = await dir.store.getSyncBlob(handle);
  return blob!;
}

/** A blob made with `p`'s sync key and signed by `p`'s device key, holding `state`. */
async function forgeBlob(p: TestProfile, handle: string, version: number, state: SyncState) {
  const key = fromBase64Url((await p.service.store.get<string>('secrets', 'syncKey'))!);
  const me = (await p.service.veil.getIdentity())!;
  const sealed = sealSyncState(key, state, {
    handle,
    version,
    device: me.deviceId!,
    randomBytes: (k) => p.service.crypto.randomBytes(k),
  });
  const body = syncBlobBody([], sealed);
  return joinSyncBlob(body, await p.service.veil.sign(syncBlobMessage(handle, body)));
}

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');

describe('device sync, attacks', () => {
  it('refuses a rollback: an older blob served again changes nothing', async () => {
    const ha = unique('ann');
    const hb = unique('ben');
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await sync(a1);
    await sync(a2);
    const old = await blobNow(ha);
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    await sync(a1);
    await sync(a2);
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    // Later the person un-verifies on a2 … and the directory serves the old blob to a1.
    intercept = async (url, init) =>
      isSyncGet(url, init)
        ? jsonResponse({
            handle: ha,
            version: old.version,
            ciphertext: b64u(old.ciphertext),
            updatedAt: Math.floor(old.updatedAt / 1000),
          })
        : undefined;
    expect(await codeOf(sync(a1))).toBe('bad-proof');
    // … or claims the old blob is the newest version.
    const current = await blobNow(ha);
    intercept = async (url, init) =>
      isSyncGet(url, init)
        ? jsonResponse({
            handle: ha,
            version: current.version,
            ciphertext: b64u(old.ciphertext),
            updatedAt: 1,
          })
        : undefined;
    expect(await codeOf(sync(a2))).toBe('bad-proof');
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'verified' });
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    intercept = undefined;
    expect(await sync(a2)).toMatchObject({ pushed: false });
  });

  it("refuses another account's blob", async () => {
    const { a1 } = await linkPair(unique('cat'));
    const hd = unique('dan');
    const d = await onboard(hd);
    await ensureSyncKey(d.service);
    await d.call({ type: 'setSettings', enabledSites: ['evil.example'] });
    await sync(d);
    const theirs = await blobNow(hd);
    intercept = async (url, init) =>
      isSyncGet(url, init)
        ? jsonResponse({
            handle: hd,
            version: theirs.version,
            ciphertext: b64u(theirs.ciphertext),
            updatedAt: 1,
          })
        : undefined;
    expect(await codeOf(sync(a1))).toBe('bad-proof');
    expect(await sitesOf(a1)).toEqual([]);
  });

  it('refuses a blob written by an unlinked browser that kept the sync key', async () => {
    const ha = unique('eve');
    const hb = unique('fox');
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await a1.call({ type: 'addContact', handle: hb });
    await sync(a1);
    await sync(a2);
    await a1.call({ type: 'removeDevice', deviceId: 2 });
    // The unlinked browser writes a state that verifies bob and enables a site; a hostile
    // directory stores it and serves it to a1.
    const { version } = await blobNow(ha);
    let state = decodeSyncState(
      new TextEncoder().encode(
        (await a2.service.store.get<{ state: string }>('meta', 'sync'))!.state,
      ),
    );
    let hlc = startClock(2);
    const key = bytesToHex(fromBase64Url((await contactOf(a1, hb))!.identityKey));
    ({ state, clock: hlc } = applyLocal(
      state,
      { op: 'verify', handle: hb, identityKey: key },
      hlc,
      time,
    ));
    ({ state } = applyLocal(
      state,
      { op: 'setSite', site: 'evil.example', settings: { enabled: true } },
      hlc,
      time,
    ));
    const forged = await forgeBlob(a2, ha, version + 1, state);
    intercept = async (url, init) =>
      isSyncGet(url, init)
        ? jsonResponse({ handle: ha, version: version + 1, ciphertext: b64u(forged), updatedAt: 1 })
        : undefined;
    expect(await codeOf(sync(a1))).toBe('bad-proof');
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'unverified' });
    expect(await sitesOf(a1)).toEqual([]);
    // The honest directory refuses the write itself.
    intercept = undefined;
    expect(
      await codeOf(a2.service.directory.putSync(dir.url, ha, a2.service.veil, version + 1, forged)),
    ).not.toBe('none');
    expect((await blobNow(ha)).version).toBe(version);
  });

  it('an unlinked browser cannot read what syncs after its removal (the sync key is replaced)', async () => {
    const ha = unique('kit');
    const hb = unique('lex');
    const { a1, a2 } = await linkPair(ha);
    const a3 = await ready(makeProfile(opts()));
    const { code } = await a1.call<{ code: string }>({ type: 'startLink' });
    await a3.call({ type: 'joinWithCode', code });
    await a1.call({ type: 'linkStatus' });
    await a1.call({ type: 'confirmLink', accept: true });
    await a3.call({ type: 'joinStatus' });
    await onboard(hb);
    for (const p of [a1, a2, a3]) await sync(p);
    const stolen = fromBase64Url((await a3.service.store.get<string>('secrets', 'syncKey'))!);
    const readable = async () => {
      const { sealed } = splitSyncBlob((await blobNow(ha)).ciphertext);
      return codeOf(Promise.resolve().then(() => openSyncState(stolen, sealed, { handle: ha })));
    };
    expect(await readable()).toBe('none');
    await a1.call({ type: 'removeDevice', deviceId: 3 });
    // The next pass writes the state again under the new key, even with nothing new in it.
    expect(await sync(a1)).toMatchObject({ pushed: true });
    expect(await readable()).toBe('bad-mac');
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    await sync(a1);
    // a2 learns the new key from its wrap and reads the verification; a3 cannot open it.
    await sync(a2);
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    expect(await readable()).toBe('bad-mac');
    const { wraps } = splitSyncBlob((await blobNow(ha)).ciphertext);
    expect(wraps.map((w) => w.device)).toEqual([2]);
    // Nor what a2 writes under it next.
    await enable(a2, 'after.example');
    await sync(a2);
    expect(await readable()).toBe('bad-mac');
    expect(splitSyncBlob((await blobNow(ha)).ciphertext).wraps.map((w) => w.device)).toEqual([1]);
    await sync(a1);
    expect(await sitesOf(a1)).toEqual(['after.example']);
  });

  it('never marks a contact verified with another key than the one verified', async () => {
    const ha = unique('gil');
    const hb = unique('hal');
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await a1.call({ type: 'addContact', handle: hb });
    await sync(a1);
    await sync(a2);
    // a2 (a listed device) writes a state where bob has another key, verified.
    const other = bytesToHex(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));
    let state = decodeSyncState(
      new TextEncoder().encode(
        (await a2.service.store.get<{ state: string }>('meta', 'sync'))!.state,
      ),
    );
    let hlc = startClock(2);
    ({ state, clock: hlc } = applyLocal(
      state,
      { op: 'changeKey', handle: hb, identityKey: other },
      hlc,
      time,
    ));
    ({ state } = applyLocal(state, { op: 'verify', handle: hb, identityKey: other }, hlc, time));
    const { version } = await blobNow(ha);
    const blob = await forgeBlob(a2, ha, version + 1, state);
    expect(
      await a2.service.directory.putSync(dir.url, ha, a2.service.veil, version + 1, blob),
    ).toEqual({
      ok: true,
    });
    await sync(a1);
    const bob = (await contactOf(a1, hb))!;
    // The other key is a pending change to compare; the pinned key stays, unverified.
    expect(bob.status).toBe('key-changed');
    expect(bytesToHex(fromBase64Url(bob.identityKey))).not.toBe(other);
    expect(await codeOf(a1.call({ type: 'markVerified', handle: hb, verified: true }))).toBe(
      'untrusted-identity',
    );
  });

  it("a key change accepted on one browser wins over the other's older verification", async () => {
    const ha = unique('ida');
    const hb = unique('jon');
    const { a1, a2 } = await linkPair(ha);
    let bob = await onboard(hb);
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    await sync(a1);
    await sync(a2);
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    // Bob starts over with a new key; a2 sees it and accepts it (later than a1's verification).
    await bob.call({ type: 'deleteEverything' });
    bob = await onboard(hb);
    time += 1000;
    await a2.call({ type: 'lookupContact', handle: hb });
    const accepted = await a2.call<ContactView>({ type: 'acknowledgeKeyChange', handle: hb });
    expect(accepted.status).toBe('unverified');
    await sync(a2);
    await sync(a1);
    // a1 has not seen the directory show the new key: it is a pending change there, not verified.
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'key-changed' });
    // Once a1's own look-up shows the same key, the accepted change applies, unverified.
    await a1.call({ type: 'lookupContact', handle: hb });
    await sync(a1);
    expect(await contactOf(a1, hb)).toMatchObject({
      status: 'unverified',
      identityKey: accepted.identityKey,
    });
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'unverified' });
  });
});

describe('device sync', () => {
  it('a contact verified and a site enabled on one browser show on the other', async () => {
    const ha = unique('kim');
    const hb = unique('lou');
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    await enable(a1, 'chat.example');
    expect(await sync(a1)).toMatchObject({ pushed: true, version: 1 });
    expect(await sync(a2)).toMatchObject({ version: 1 });
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    expect(await sitesOf(a2)).toEqual(['chat.example']);
    // And back: a2 turns a site off and un-verifies; a1 follows.
    await a2.call({ type: 'setSettings', enabledSites: [] });
    await a2.call({ type: 'markVerified', handle: hb, verified: false });
    await sync(a2);
    await sync(a1);
    expect(await sitesOf(a1)).toEqual([]);
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'unverified' });
  });

  it('a verification on one and an edit on the other both survive, through a version conflict', async () => {
    const ha = unique('max');
    const [hb, hc] = [unique('ned'), unique('ola')];
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await onboard(hc);
    await a1.call({ type: 'addContact', handle: hb });
    await sync(a1);
    await sync(a2);
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    await a2.call({ type: 'addContact', handle: hc });
    await enable(a2, 'other.example');
    // a2 writes between a1's pull and a1's push: a1's first push is stale, it merges and retries.
    let once = true;
    let stale = 0;
    intercept = async (url, init) => {
      if (once && isSyncGet(url, init)) {
        once = false;
        const reply = await fetch(url, init);
        expect(await syncNow(a2.service)).toMatchObject({ pushed: true });
        return reply;
      }
      if (url.endsWith('/sync') && init.method === 'PUT') {
        const reply = await fetch(url, init);
        if (reply.status === 409) stale++;
        return reply;
      }
      return undefined;
    };
    const before = (await blobNow(ha)).version;
    const result = await sync(a1);
    intercept = undefined;
    expect(stale).toBe(1);
    expect(result).toMatchObject({ pushed: true, version: before + 2 });
    await sync(a2);
    for (const p of [a1, a2]) {
      expect(await contactOf(p, hb)).toMatchObject({ status: 'verified' });
      expect(await contactOf(p, hc)).toMatchObject({ status: 'unverified' });
      expect(await sitesOf(p)).toEqual(['other.example']);
    }
  });

  it('a browser offline for a week comes back after the other edited, losing and reviving nothing', async () => {
    const ha = unique('pam');
    const [hb, hc] = [unique('quin'), unique('rea')];
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await onboard(hc);
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'addContact', handle: hc });
    await sync(a1);
    await sync(a2);
    // a2 goes offline and, on its own, enables a site and verifies bob.
    await enable(a2, 'week.example');
    await a2.call({ type: 'markVerified', handle: hb, verified: true });
    // A week later a1 removes carol and teaches a site, and syncs.
    time += 7 * DAY;
    await a1.call({ type: 'removeContact', handle: hc });
    await enable(a1, 'chat.example');
    await sync(a1);
    // Another week on, a2 comes back.
    time += 7 * DAY;
    await sync(a2);
    await sync(a1);
    for (const p of [a1, a2]) {
      expect(await contactOf(p, hb)).toMatchObject({ status: 'verified' });
      expect(await contactOf(p, hc)).toBeUndefined();
      expect(await sitesOf(p)).toEqual(['chat.example', 'week.example']);
    }
  });

  it('an edit is pushed by itself shortly after; remembered recipients follow', async () => {
    const ha = unique('tim');
    const hb = unique('uma');
    const { a1, a2 } = await linkPair(ha);
    await onboard(hb);
    await sync(a1);
    await sync(a2);
    const before = (await blobNow(ha)).version;
    syncTiming.debounceMs = 200;
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    await noteSyncChange(a1.service, {
      op: 'setRecipients',
      conversation: 'chat.example/room/1',
      handles: [hb],
    });
    const deadline = Date.now() + 5_000;
    while ((await blobNow(ha)).version === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await blobNow(ha)).version).toBe(before + 1);
    syncTiming.debounceMs = 3_600_000;
    await sync(a2);
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    const name = await a2.service.names.of('recipients', 'chat.example/room/1');
    expect(await a2.service.store.get('secrets', name)).toEqual([hb]);
  });

  it("each browser shows when the other last reached the directory, from the directory's signed answer", async () => {
    const { a1, a2 } = await linkPair(unique('vic'));
    await sync(a1);
    const first = Math.floor(time / 1000) * 1000;
    time += 60_000;
    await sync(a2);
    await sync(a1);
    const seen = await a1.call<DevicesView>({ type: 'listDevices' });
    expect(seen.devices.find((d) => d.id === 2)?.lastSeen).toBe(Math.floor(time / 1000) * 1000);
    expect(seen.devices.find((d) => d.id === 1)?.lastSeen).toBeUndefined(); // this browser
    const other = await a2.call<DevicesView>({ type: 'listDevices' });
    // a2 last heard from the directory before a1's second pass.
    expect(other.devices.find((d) => d.id === 1)?.lastSeen).toBe(first);
  });

  it('500 contacts and 50 sites: blob size, push and pull times (figures for docs/devices.md)', async () => {
    const ha = unique('wes');
    const { a1, a2 } = await linkPair(ha);
    await sync(a1);
    await sync(a2);
    const keys: string[] = [];
    for (let i = 0; i < 500; i++) {
      const key = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
      keys.push(bytesToHex(key));
      await a1.service.veil.addContact(`peer${String(i).padStart(3, '0')}`, key);
      if (i % 2 === 0) await a1.service.veil.markVerified(`peer${String(i).padStart(3, '0')}`);
    }
    const sites = Array.from({ length: 50 }, (_, i) => `site${i}.example.com`);
    await a1.call({ type: 'setSettings', enabledSites: sites });
    let started = performance.now();
    await sync(a1);
    const pushMs = performance.now() - started;
    const blob = await blobNow(ha);
    started = performance.now();
    await sync(a2);
    const pullMs = performance.now() - started;
    console.log(
      `[figures] 500 contacts + 50 sites: blob ${blob.ciphertext.length} bytes, ` +
        `push ${pushMs.toFixed(0)} ms, pull+apply ${pullMs.toFixed(0)} ms`,
    );
    const got = (await a2.call<{ contacts: ContactView[] }>({ type: 'listContacts' })).contacts;
    expect(got.filter((c) => c.handle.startsWith('peer')).length).toBe(500);
    expect(got.filter((c) => c.status === 'verified').length).toBe(250);
    expect((await sitesOf(a2)).length).toBe(50);
    // A pass with nothing new pushes nothing.
    expect(await sync(a2)).toMatchObject({ pushed: false });
  }, 60_000);

  it("a just-linked browser's first pass takes the account's newer state over the link's copy", async () => {
    const ha = unique('xan');
    const hb = unique('yul');
    const a1 = await onboard(ha);
    await onboard(hb);
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    const a2 = await ready(makeProfile(opts()));
    const { code } = await a1.call<{ code: string }>({ type: 'startLink' });
    await a2.call({ type: 'joinWithCode', code });
    await a1.call({ type: 'linkStatus' });
    await a1.call({ type: 'confirmLink', accept: true });
    await a2.call({ type: 'joinStatus' });
    // The link answer carried bob as verified; then alice un-verifies him on a1.
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
    time += 1000;
    await a1.call({ type: 'markVerified', handle: hb, verified: false });
    await sync(a1);
    time += 1000;
    await sync(a2);
    await sync(a1);
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'unverified' });
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'unverified' });
  });

  it('a browser that is not linked, or locked, does not sync', async () => {
    const solo = await onboard(unique('sol'));
    expect(await sync(solo)).toMatchObject({ skipped: 'no-sync-key' });
    const { a1 } = await linkPair(unique('zed'));
    await a1.call({ type: 'setLockPassphrase', passphrase: 'correct horse battery' });
    await a1.call({ type: 'lock' });
    expect(await sync(a1)).toMatchObject({ skipped: 'locked' });
  });
});

describe('device sync, review attacks', () => {
  it("a just-linked browser's first pass neither turns off the account's sites nor drops what the link answer left out", async () => {
    const ha = unique('rev');
    const hb = unique('rob');
    const a1 = await onboard(ha);
    let bob = await onboard(hb);
    await enable(a1, 'chat.example');
    await a1.call({ type: 'addContact', handle: hb });
    await a1.call({ type: 'markVerified', handle: hb, verified: true });
    // Bob starts over: a1 holds his new key as a pending change when the browser links.
    await bob.call({ type: 'deleteEverything' });
    bob = await onboard(hb);
    await a1.call({ type: 'lookupContact', handle: hb });
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'key-changed' });
    const a2 = await ready(makeProfile(opts()));
    const { code } = await a1.call<{ code: string }>({ type: 'startLink' });
    await a2.call({ type: 'joinWithCode', code });
    await a1.call({ type: 'linkStatus' });
    await a1.call({ type: 'confirmLink', accept: true });
    await a2.call({ type: 'joinStatus' });
    await sync(a1);
    // a2 holds none of a1's sites: not an edit of its own.
    time += 1000;
    await sync(a2);
    await sync(a1);
    expect(await sitesOf(a1)).toEqual(['chat.example']);
    expect(await sitesOf(a2)).toEqual(['chat.example']);
    expect(await contactOf(a1, hb)).toMatchObject({ status: 'key-changed' });
    expect(await contactOf(a2, hb)).toMatchObject({ status: 'verified' });
  });

  it('a just-linked browser refuses a blob older than the one the account browser had seen (no revived contact)', async () => {
    const ha = unique('rol');
    const he = unique('eve');
    const { a1 } = await linkPair(ha);
    await onboard(he);
    await a1.call({ type: 'addContact', handle: he });
    await a1.call({ type: 'markVerified', handle: he, verified: true });
    await sync(a1);
    const old = await blobNow(ha);
    await a1.call({ type: 'removeContact', handle: he });
    await sync(a1);
    // A third browser links; the directory serves it the blob from before eve was removed.
    const a3 = await ready(makeProfile(opts()));
    const { code } = await a1.call<{ code: string }>({ type: 'startLink' });
    await a3.call({ type: 'joinWithCode', code });
    await a1.call({ type: 'linkStatus' });
    await a1.call({ type: 'confirmLink', accept: true });
    await a3.call({ type: 'joinStatus' });
    intercept = async (url, init) =>
      isSyncGet(url, init) && url.includes(ha)
        ? jsonResponse({
            handle: ha,
            version: old.version,
            ciphertext: b64u(old.ciphertext),
            updatedAt: Math.floor(old.updatedAt / 1000),
          })
        : undefined;
    expect(await codeOf(sync(a3))).toBe('bad-proof');
    expect(await contactOf(a3, he)).toBeUndefined();
    intercept = undefined;
    await sync(a3);
    expect(await contactOf(a3, he)).toBeUndefined();
  });

  it('a browser whose directory withholds the new device list neither wraps the new sync key for the unlinked browser nor takes its blob under the old key', async () => {
    const ha = unique('wit');
    const { a1, a2 } = await linkPair(ha);
    const a3 = await ready(makeProfile(opts()));
    const { code } = await a1.call<{ code: string }>({ type: 'startLink' });
    await a3.call({ type: 'joinWithCode', code });
    await a1.call({ type: 'linkStatus' });
    await a1.call({ type: 'confirmLink', accept: true });
    await a3.call({ type: 'joinStatus' });
    for (const p of [a1, a2, a3]) await sync(p);
    await a1.call({ type: 'removeDevice', deviceId: 3 });
    await sync(a1);
    // a2's directory will not show it the list without device 3 (it keeps the one it has).
    intercept = async (url, init) =>
      url.endsWith('/devices') && (init.method ?? 'GET') === 'GET'
        ? new Response('{}', { status: 503 })
        : undefined;
    time += 120_000;
    await sync(a2);
    await enable(a2, 'later.example');
    await sync(a2);
    intercept = undefined;
    const { wraps } = splitSyncBlob((await blobNow(ha)).ciphertext);
    expect(wraps.map((w) => w.device)).toEqual([1]);
    // Nor does a2 take a blob the unlinked browser seals under the old key it kept.
    const { version } = await blobNow(ha);
    let state = decodeSyncState(
      new TextEncoder().encode(
        (await a3.service.store.get<{ state: string }>('meta', 'sync'))!.state,
      ),
    );
    ({ state } = applyLocal(
      state,
      { op: 'setSite', site: 'evil.example', settings: { enabled: true } },
      startClock(3),
      time + 60_000,
    ));
    const forged = await forgeBlob(a3, ha, version + 1, state);
    intercept = async (url, init) =>
      url.endsWith('/devices') && (init.method ?? 'GET') === 'GET'
        ? new Response('{}', { status: 503 })
        : isSyncGet(url, init)
          ? jsonResponse({
              handle: ha,
              version: version + 1,
              ciphertext: b64u(forged),
              updatedAt: 1,
            })
          : undefined;
    expect(await codeOf(sync(a2))).toBe('bad-proof');
    expect(await sitesOf(a2)).toEqual(['later.example']);
  });
});
