// The directory client against the real key directory (SQLite, production listener, loopback
// port, real fetch): signed publish and delete, lookups checked against the log, and the
// attacks a directory could try – a swapped key, a head signed by another key, a forked log –
// each caught as 'bad-proof'. Insecure directory URLs are refused before any request.
import 'fake-indexeddb/auto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testSigner } from '../../key-directory/testing';
import { nobleProvider } from '../protocol/crypto/noble';
import { deviceListMessage, deviceListToJson, type DeviceList } from '../protocol/device-list';
import { base64UrlEncode, decodeTreeHead } from '../protocol/directory-request';
import {
  createLinkCode,
  linkKeys,
  linkReplyKeyPair,
  openLinkAnswer,
  openLinkRequest,
  parseLinkCode,
  sealLinkAnswer,
  sealLinkRequest,
} from '../protocol/link-code';
import { signTreeHead } from '../protocol/transparency';
import { Veil } from '../protocol/veil';
import { DirectoryClient, normalizeDirectoryUrl, type DirectoryState } from './directory-client';
import { KeyStore } from './key-store';
import { startDirectory, type RunningDirectory } from './testing';

type Json = Record<string, unknown>;
type Fetch = (input: string, init: RequestInit) => Promise<Response>;

let n = 0;
const stores: KeyStore[] = [];
function freshStore(): KeyStore {
  const s = new KeyStore({ name: `directory-client-test-${process.pid}-${++n}` });
  stores.push(s);
  return s;
}

function client(fetchFn?: Fetch, store = freshStore()) {
  return { store, dir: new DirectoryClient({ store, fetch: fetchFn }) };
}

/** A device: a Veil over its own store, published to `url`. */
async function publishedDevice(url: string, handle: string) {
  const store = freshStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock: Date.now });
  const { identityKey } = await veil.createIdentity(handle);
  const dir = new DirectoryClient({ store });
  const logged = await dir.publish(url, veil, await veil.publicBundle({ oneTimePrekeys: 3 }));
  return { veil, identityKey, logged, dir, store };
}

/** Rewrites JSON answers whose URL matches. */
function tampering(match: (url: string) => boolean, edit: (json: Json) => void): Fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!match(input) || !res.ok) return res;
    const json = (await res.json()) as Json;
    edit(json);
    return new Response(JSON.stringify(json), { status: res.status });
  };
}

const isLookup = (handle: string) => (url: string) => url.endsWith(`/v1/identities/${handle}`);

let dirA: RunningDirectory;

beforeAll(async () => {
  dirA = await startDirectory();
});

afterAll(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await dirA.close();
});

describe('directory URLs', () => {
  it('accepts https anywhere and http only on this machine', () => {
    expect(normalizeDirectoryUrl('https://dir.example/')).toBe('https://dir.example');
    expect(normalizeDirectoryUrl(' https://dir.example/veil/ ')).toBe('https://dir.example/veil');
    expect(normalizeDirectoryUrl('http://localhost:8787')).toBe('http://localhost:8787');
    expect(normalizeDirectoryUrl('http://127.0.0.1:8787/')).toBe('http://127.0.0.1:8787');
    expect(normalizeDirectoryUrl('http://[::1]:9000')).toBe('http://[::1]:9000');
  });

  it.each([
    'http://dir.example',
    'http://192.168.1.20:8787',
    'http://localhost.evil.example',
    'http://127.0.0.1.evil.example',
    'ws://localhost:8787',
    'ftp://dir.example',
  ])('refuses %s as insecure', (url) => {
    expect(() => normalizeDirectoryUrl(url)).toThrow(
      expect.objectContaining({ code: 'insecure-directory' }),
    );
  });

  it.each([
    'not a url',
    'https://user:pw@dir.example',
    'https://dir.example/?x=1',
    'https://d.example/#f',
  ])('refuses %s as invalid', (url) => {
    expect(() => normalizeDirectoryUrl(url)).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  it('never sends a request to an insecure directory', async () => {
    const spy = vi.fn<Fetch>();
    const { dir } = client(spy);
    await expect(dir.lookup('http://dir.example', 'alice')).rejects.toMatchObject({
      code: 'insecure-directory',
    });
    expect(spy).not.toHaveBeenCalled();
  });
});

describe('publish and lookup against the real directory', () => {
  it('publishes signed by the identity key and finds the key with a verified inclusion proof', async () => {
    const alice = await publishedDevice(dirA.url, 'alice');
    expect(alice.logged.identityKey).toEqual(alice.identityKey);
    const { dir, store } = client();
    const found = await dir.lookup(dirA.url, 'alice');
    expect(found).toMatchObject({ handle: 'alice', identityKey: alice.identityKey });
    // Pinned on first use: the directory's real tree-head key, and the head we checked.
    const state = (await store.get<DirectoryState>('directory', dirA.url))!;
    expect(state.trust.publicKey).toEqual(dirA.signer.publicKey);
    expect(state.head.treeSize).toBeGreaterThan(found.logIndex);
    expect(state.sequences.alice).toBe(found.sequence);
  });

  it('checks each new head against the remembered one and moves forward', async () => {
    await publishedDevice(dirA.url, 'carol');
    const { dir, store } = client();
    await dir.lookup(dirA.url, 'carol');
    const before = (await store.get<DirectoryState>('directory', dirA.url))!.head.treeSize;
    await publishedDevice(dirA.url, 'dave');
    await publishedDevice(dirA.url, 'erin');
    await dir.lookup(dirA.url, 'dave');
    const after = (await store.get<DirectoryState>('directory', dirA.url))!.head.treeSize;
    expect(after).toBeGreaterThan(before);
  });

  it('fetches a bundle whose key is in the log', async () => {
    const frank = await publishedDevice(dirA.url, 'frank');
    const { dir } = client();
    const { bundle, identity } = await dir.bundle(dirA.url, 'frank');
    expect(bundle.identityKey).toEqual(frank.identityKey);
    expect(identity.identityKey).toEqual(frank.identityKey);
    expect(bundle.oneTimePrekey).toBeDefined();
  });

  it('says not-found, handle-taken and directory-unreachable plainly', async () => {
    const { dir } = client();
    await expect(dir.lookup(dirA.url, 'nobody-here')).rejects.toMatchObject({ code: 'not-found' });
    await publishedDevice(dirA.url, 'grace');
    await expect(publishedDevice(dirA.url, 'grace')).rejects.toMatchObject({
      code: 'handle-taken',
    });
    const closed = await startDirectory();
    await closed.close();
    await expect(dir.lookup(closed.url, 'grace')).rejects.toMatchObject({
      code: 'directory-unreachable',
    });
  });

  it('deletes an identity with a signed request', async () => {
    const heidi = await publishedDevice(dirA.url, 'heidi');
    expect(await heidi.dir.remove(dirA.url, heidi.veil, 'heidi')).toBe(true);
    await expect(client().dir.lookup(dirA.url, 'heidi')).rejects.toMatchObject({
      code: 'not-found',
    });
    expect(await heidi.dir.remove(dirA.url, heidi.veil, 'heidi')).toBe(false);
    // Someone else's key cannot delete it.
    const ivan = await publishedDevice(dirA.url, 'ivan');
    const other = await publishedDevice(dirA.url, 'judy');
    await expect(other.dir.remove(dirA.url, other.veil, 'ivan')).rejects.toMatchObject({
      code: 'directory-error',
    });
    expect((await client().dir.lookup(dirA.url, 'ivan')).identityKey).toEqual(ivan.identityKey);
  });
});

describe('CORS for the extension origin', () => {
  const origin = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop';

  it('answers lookups, errors and log reads to another origin', async () => {
    await publishedDevice(dirA.url, 'cors-one');
    for (const path of ['/v1/identities/cors-one', '/v1/identities/nobody-x', '/v1/log/head']) {
      const res = await fetch(dirA.url + path, { headers: { origin } });
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*');
    }
  });

  it('lets a signed write through its preflight', async () => {
    const res = await fetch(`${dirA.url}/v1/identities/cors-one`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'PUT',
        'access-control-request-headers':
          'content-type,x-veil-timestamp,x-veil-nonce,x-veil-signature',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const h of ['content-type', 'x-veil-timestamp', 'x-veil-nonce', 'x-veil-signature'])
      expect(allowed).toContain(h);
  });
});

describe('a directory that lies', () => {
  it('swapping the key in an answer → bad-proof, nothing remembered', async () => {
    await publishedDevice(dirA.url, 'kate');
    const mallory = await publishedDevice(dirA.url, 'mallory');
    const { dir, store } = client(
      tampering(isLookup('kate'), (json) => {
        json.identityKey = base64UrlEncode(mallory.identityKey);
      }),
    );
    await expect(dir.lookup(dirA.url, 'kate')).rejects.toMatchObject({
      code: 'bad-proof',
      message: expect.stringMatching(/inclusion proof/),
    });
    expect(
      (await store.get<DirectoryState>('directory', dirA.url))?.sequences.kate,
    ).toBeUndefined();
  });

  it('a head signed by another key → bad-proof', async () => {
    await publishedDevice(dirA.url, 'liam');
    const rogue = ed25519.utils.randomSecretKey();
    let tamper = false;
    const { dir } = client(
      tampering(isLookup('liam'), (json) => {
        if (!tamper) return;
        const head = decodeTreeHead(json.head);
        const forged = signTreeHead({ ...head, timestamp: head.timestamp + 1 }, rogue);
        json.head = {
          ...(json.head as Json),
          timestamp: forged.timestamp,
          signature: base64UrlEncode(forged.signature),
        };
      }),
    );
    await dir.lookup(dirA.url, 'liam'); // pins the real key
    tamper = true;
    await expect(dir.lookup(dirA.url, 'liam')).rejects.toMatchObject({
      code: 'bad-proof',
      message: expect.stringMatching(/signature/),
    });
  });

  it('a swapped directory key on first contact → bad-proof, nothing pinned', async () => {
    await publishedDevice(dirA.url, 'mia');
    const rogue = ed25519.utils.randomSecretKey();
    const { dir, store } = client(
      tampering(
        (url) => url.endsWith('/v1/log/head'),
        (json) => {
          json.publicKey = base64UrlEncode(ed25519.getPublicKey(rogue));
        },
      ),
    );
    await expect(dir.lookup(dirA.url, 'mia')).rejects.toMatchObject({ code: 'bad-proof' });
    expect(await store.get('directory', dirA.url)).toBeUndefined();
  });

  it('a later head that does not extend the remembered one (forked log) → bad-proof', async () => {
    // Two logs under one directory key and origin: what a directory showing different
    // histories to different people looks like. Each head is validly signed.
    const signer = testSigner();
    const real = await startDirectory(signer);
    const fork = await startDirectory(signer);
    try {
      await publishedDevice(real.url, 'nina');
      await publishedDevice(real.url, 'oscar');
      // The fork holds a different "nina" and more entries, so its head is larger.
      await publishedDevice(fork.url, 'nina');
      for (const h of ['p1', 'p2', 'p3']) await publishedDevice(fork.url, h);
      let useFork = false;
      const routed: Fetch = (input, init) =>
        fetch(useFork ? input.replace(real.url, fork.url) : input, init);
      const { dir, store } = client(routed);
      const honest = await dir.lookup(real.url, 'nina');
      const remembered = (await store.get<DirectoryState>('directory', real.url))!.head;
      useFork = true;
      await expect(dir.lookup(real.url, 'nina')).rejects.toMatchObject({
        code: 'bad-proof',
        message: expect.stringMatching(/consistency proof/),
      });
      // Nothing moved: the remembered head is the honest one.
      const after = (await store.get<DirectoryState>('directory', real.url))!.head;
      expect(after).toEqual(remembered);
      useFork = false;
      expect((await dir.lookup(real.url, 'nina')).identityKey).toEqual(honest.identityKey);
    } finally {
      await real.close();
      await fork.close();
    }
  });

  it('a same-size head with another root → bad-proof', async () => {
    const signer = testSigner();
    const real = await startDirectory(signer);
    const fork = await startDirectory(signer);
    try {
      await publishedDevice(real.url, 'quinn');
      await publishedDevice(fork.url, 'quinn');
      let useFork = false;
      const routed: Fetch = (input, init) =>
        fetch(useFork ? input.replace(real.url, fork.url) : input, init);
      const { dir } = client(routed);
      await dir.lookup(real.url, 'quinn');
      useFork = true;
      await expect(dir.lookup(real.url, 'quinn')).rejects.toMatchObject({
        code: 'bad-proof',
        message: expect.stringMatching(/same size, different roots/),
      });
    } finally {
      await real.close();
      await fork.close();
    }
  });

  it('an answer that is not the directory format → bad-proof', async () => {
    await publishedDevice(dirA.url, 'rose');
    const { dir } = client(
      tampering(isLookup('rose'), (json) => {
        json.inclusionProof = ['not base64!'];
      }),
    );
    await expect(dir.lookup(dirA.url, 'rose')).rejects.toMatchObject({ code: 'bad-proof' });
  });
});

describe('device lists (signed by the account key, logged)', () => {
  /** `device` signs a list of `keys` at `version` with its account (identity) key and publishes it. */
  async function publishList(
    device: Awaited<ReturnType<typeof publishedDevice>>,
    handle: string,
    version: number,
    keys: Uint8Array[],
  ) {
    const unsigned: DeviceList = {
      handle,
      version,
      devices: keys.map((key, i) => ({ id: i + 1, key, addedAt: 1_700_000_000 + i })),
    };
    const list = { ...unsigned, signature: await device.veil.sign(deviceListMessage(unsigned)) };
    await device.dir.publishDeviceList(dirA.url, device.veil, list);
    return list;
  }

  it('serves the list with its log proof; key lookups and history stay right after it', async () => {
    const sam = await publishedDevice(dirA.url, 'sam');
    const laptop = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    await publishList(sam, 'sam', 1, [sam.identityKey, laptop]);
    const { dir } = client();
    const list = await dir.deviceList(dirA.url, 'sam', sam.identityKey);
    expect(list.devices.map((d) => d.key)).toEqual([sam.identityKey, laptop]);
    // The history now ends in a 'devices' entry; the key lookup after it is still accepted.
    const history = await dir.history(dirA.url, 'sam');
    expect(history.entries.map((e) => e.action)).toEqual(['publish', 'devices']);
    expect((await dir.lookup(dirA.url, 'sam')).identityKey).toEqual(sam.identityKey);
  });

  it('refuses a list swapped in the answer, one under another account key, and a rollback', async () => {
    const tia = await publishedDevice(dirA.url, 'tia');
    const first = await publishList(tia, 'tia', 1, [tia.identityKey]);
    const mallorysKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    // The directory adds a device of its own to the list it serves.
    const added = client(
      tampering(
        (url) => url.endsWith('/v1/identities/tia/devices'),
        (json) => {
          const l = json.deviceList as { devices: { id: number; key: string; addedAt: number }[] };
          l.devices.push({ id: 9, key: base64UrlEncode(mallorysKey), addedAt: 1 });
        },
      ),
    );
    await expect(added.dir.deviceList(dirA.url, 'tia', tia.identityKey)).rejects.toMatchObject({
      code: 'bad-proof',
    });
    // A list is only as good as the account key the caller checked.
    await expect(client().dir.deviceList(dirA.url, 'tia', mallorysKey)).rejects.toMatchObject({
      code: 'bad-proof',
    });
    // Version 2 seen; the directory then serves version 1 again (replayed from before).
    const { dir, store } = client();
    await publishList(tia, 'tia', 2, [tia.identityKey, mallorysKey]);
    expect((await dir.deviceList(dirA.url, 'tia', tia.identityKey)).version).toBe(2);
    const stale = new DirectoryClient({
      store,
      fetch: tampering(
        (url) => url.endsWith('/v1/identities/tia/devices'),
        (json) => {
          json.deviceList = deviceListToJson(first);
        },
      ),
    });
    await expect(stale.deviceList(dirA.url, 'tia', tia.identityKey)).rejects.toMatchObject({
      code: 'bad-proof',
    });
  });
});

describe('the link relay (linking a new browser)', () => {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

  /** A code shown on A, parsed on B; B's request for its device key and reply key. */
  function link() {
    const accountKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const now = Math.floor(Date.now() / 1000);
    const { code } = createLinkCode({
      handle: 'lia',
      accountKey,
      directoryUrl: dirA.url,
      expiresAt: now + 600,
      randomBytes: random,
    });
    const parsed = parseLinkCode(code, now);
    const keys = linkKeys(parsed.secret);
    const deviceKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const reply = linkReplyKeyPair(random);
    const request = sealLinkRequest(keys, { handle: 'lia', deviceKey, replyKey: reply.publicKey });
    return { parsed, keys, deviceKey, reply, request };
  }

  it('carries the request to A and the sealed answer to B once, then forgets the link', async () => {
    const { parsed, keys, deviceKey, reply, request } = link();
    const b = client().dir;
    const a = client().dir;
    expect(await a.getLinkRequest(parsed.directoryUrl, keys.idHex)).toBeUndefined();
    await b.putLinkRequest(parsed.directoryUrl, keys.idHex, request);

    const got = (await a.getLinkRequest(dirA.url, keys.idHex))!;
    expect(got.answered).toBe(false);
    const opened = openLinkRequest(keys, 'lia', got);
    expect(opened.deviceKey).toEqual(deviceKey);
    expect(await b.getLinkAnswer(dirA.url, keys.idHex)).toBeUndefined();

    const payload = new TextEncoder().encode('{"deviceList":{},"syncKey":"…"}');
    await a.putLinkAnswer(dirA.url, keys.idHex, sealLinkAnswer(keys, opened, payload, random));
    expect((await a.getLinkRequest(dirA.url, keys.idHex))!.answered).toBe(true);

    const sealed = (await b.getLinkAnswer(dirA.url, keys.idHex))!;
    expect(openLinkAnswer(keys, { deviceKey, replySecretKey: reply.secretKey }, sealed)).toEqual(
      payload,
    );
    expect(await b.getLinkAnswer(dirA.url, keys.idHex)).toBeUndefined();
    expect(await a.getLinkRequest(dirA.url, keys.idHex)).toBeUndefined();
  });

  it('takes a retry of the same request, refuses another one as conflict', async () => {
    const { keys, request } = link();
    const { dir } = client();
    await dir.putLinkRequest(dirA.url, keys.idHex, request);
    await dir.putLinkRequest(dirA.url, keys.idHex, request);
    const other = { ...request, deviceKey: ed25519.getPublicKey(ed25519.utils.randomSecretKey()) };
    await expect(dir.putLinkRequest(dirA.url, keys.idHex, other)).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('says not-found for an answer without request, conflict for a second answer', async () => {
    const { keys, request } = link();
    const { dir } = client();
    await expect(dir.putLinkAnswer(dirA.url, keys.idHex, random(100))).rejects.toMatchObject({
      code: 'not-found',
    });
    await dir.putLinkRequest(dirA.url, keys.idHex, request);
    await dir.putLinkAnswer(dirA.url, keys.idHex, random(100));
    await expect(dir.putLinkAnswer(dirA.url, keys.idHex, random(100))).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('refuses a bad link id or answer size before any request', async () => {
    const spy = vi.fn<Fetch>();
    const { dir } = client(spy);
    const { keys, request } = link();
    for (const id of ['A'.repeat(32), 'a'.repeat(31), '../identities/alice', ''])
      await expect(dir.getLinkRequest(dirA.url, id)).rejects.toMatchObject({
        code: 'invalid-argument',
      });
    await expect(dir.putLinkRequest(dirA.url, 'x', request)).rejects.toMatchObject({
      code: 'invalid-argument',
    });
    await expect(
      dir.putLinkAnswer(dirA.url, keys.idHex, new Uint8Array(8193)),
    ).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(dir.getLinkAnswer('http://dir.example', keys.idHex)).rejects.toMatchObject({
      code: 'insecure-directory',
    });
    expect(spy).not.toHaveBeenCalled();
  });

  it('types what goes wrong: a malformed relay answer, a rate limit, an unreachable directory', async () => {
    const { keys, request } = link();
    await client().dir.putLinkRequest(dirA.url, keys.idHex, request);
    const bent = client(
      tampering(
        (url) => url.includes('/v1/links/'),
        (json) => {
          json.mac = 'AAAA';
        },
      ),
    ).dir;
    await expect(bent.getLinkRequest(dirA.url, keys.idHex)).rejects.toMatchObject({
      code: 'directory-error',
    });
    const limited = client(async () =>
      Response.json({ error: { code: 'rate-limited', message: 'x' } }, { status: 429 }),
    ).dir;
    await expect(limited.getLinkAnswer(dirA.url, keys.idHex)).rejects.toMatchObject({
      code: 'rate-limited',
    });
    const down = client(async () => {
      throw new TypeError('fetch failed');
    }).dir;
    await expect(down.putLinkRequest(dirA.url, keys.idHex, request)).rejects.toMatchObject({
      code: 'directory-unreachable',
    });
  });
});
