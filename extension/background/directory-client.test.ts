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
import {
  base64UrlEncode,
  decodeTreeHead,
  signedPrekeyMessage,
} from '../protocol/directory-request';
import {
  createOneTimePrekeys,
  createSignedPrekey,
  oneTimePrekeyPublic,
  signedPrekeyPublic,
} from '../protocol/identity';
import { createKemPrekeys, kemPrekeyPublic } from '../protocol/kem-prekey';
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
import {
  DirectoryClient,
  normalizeDirectoryUrl,
  type DevicePrekeys,
  type DirectoryState,
  type RequestSigner,
} from './directory-client';
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

describe('linked devices: own prekeys, device bundles, sync', () => {
  /** A linked browser: its own Ed25519 device key (a RequestSigner) and directory client. */
  async function linkedDevice() {
    const pair = await nobleProvider.ed25519Generate();
    const signer: RequestSigner = { sign: (m) => nobleProvider.ed25519Sign(pair.privateKey, m) };
    return { pair, signer, dir: new DirectoryClient({ store: freshStore() }) };
  }

  /** Prekeys signed by the device key: a signed one (id `spkId`), `count` one-time, KEM ones. */
  async function devicePrekeys(
    pair: { publicKey: Uint8Array; privateKey: Uint8Array },
    count = 3,
    spkId = 1,
  ): Promise<DevicePrekeys> {
    const now = Date.now();
    const spk = await createSignedPrekey(nobleProvider, pair, spkId, now);
    const otpks = await createOneTimePrekeys(nobleProvider, 1, count);
    const lastResort = await createKemPrekeys(nobleProvider, pair.privateKey, 100, 1, {
      lastResort: true,
      now,
    });
    const kem = await createKemPrekeys(nobleProvider, pair.privateKey, 101, 1, {
      lastResort: false,
      now,
    });
    return {
      signedPrekey: signedPrekeyPublic(spk),
      oneTimePrekeys: otpks.map(oneTimePrekeyPublic),
      kemPrekeys: {
        lastResort: kemPrekeyPublic(lastResort[0]!),
        oneTime: kem.map(kemPrekeyPublic),
      },
    };
  }

  /** The account (a published Veil) lists itself as device 1 and `others` from id 2. */
  async function listDevices(
    account: Awaited<ReturnType<typeof publishedDevice>>,
    handle: string,
    version: number,
    others: Uint8Array[],
  ) {
    const unsigned: DeviceList = {
      handle,
      version,
      devices: [account.identityKey, ...others].map((key, i) => ({
        id: i + 1,
        key,
        addedAt: 1_700_000_000 + i,
      })),
    };
    const list = { ...unsigned, signature: await account.veil.sign(deviceListMessage(unsigned)) };
    await account.dir.publishDeviceList(dirA.url, account.veil, list);
    return list;
  }

  const isDeviceBundle = (handle: string, id: number) => (url: string) =>
    url.endsWith(`/v1/identities/${handle}/devices/${id}/bundle`);

  it('a linked device publishes its own prekeys; its bundle is checked against the logged list', async () => {
    const uma = await publishedDevice(dirA.url, 'uma');
    const laptop = await linkedDevice();
    await listDevices(uma, 'uma', 1, [laptop.pair.publicKey]);
    const keys = await devicePrekeys(laptop.pair, 3, 7);
    expect(await laptop.dir.publishDeviceKeys(dirA.url, 'uma', 2, laptop.signer, keys)).toEqual({
      oneTimePrekeys: 3,
      kemOneTimePrekeys: 1,
    });

    const { dir } = client();
    const got = await dir.deviceBundle(dirA.url, 'uma', 2, uma.identityKey);
    expect(got.device).toMatchObject({ id: 2, key: laptop.pair.publicKey });
    expect(got.deviceList.version).toBe(1);
    expect(got.bundle.identityKey).toEqual(laptop.pair.publicKey);
    expect(got.bundle.signedPrekey).toEqual(keys.signedPrekey);
    expect(got.bundle.oneTimePrekey).toEqual(keys.oneTimePrekeys[0]);
    expect(got.bundle.kemPrekey).toEqual(keys.kemPrekeys!.oneTime[0]);
    // Without an account key the client looks the handle's key up in the log first.
    const looked = await client().dir.deviceBundle(dirA.url, 'uma', 2);
    expect(looked.bundle.oneTimePrekey!.id).toBe(2);
    expect(looked.bundle.kemPrekey).toEqual(keys.kemPrekeys!.lastResort);
    // Device 1 is the account: the identity's own prekeys.
    const own = await dir.deviceBundle(dirA.url, 'uma', 1, uma.identityKey);
    expect(own.bundle.identityKey).toEqual(uma.identityKey);
    expect(await laptop.dir.devicePrekeyCounts(dirA.url, 'uma', 2, laptop.signer)).toEqual({
      oneTimePrekeys: 1,
      signedPrekeyId: 7,
      kemOneTimePrekeys: 0,
      kemLastResortId: 100,
    });
    await expect(dir.deviceBundle(dirA.url, 'uma', 5, uma.identityKey)).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it('a device off the list, or signing for another id, cannot publish; a removed one is not served', async () => {
    const vic = await publishedDevice(dirA.url, 'vic');
    const [phone, tablet, stranger] = await Promise.all([
      linkedDevice(),
      linkedDevice(),
      linkedDevice(),
    ]);
    await listDevices(vic, 'vic', 1, [phone.pair.publicKey, tablet.pair.publicKey]);
    const keys = await devicePrekeys(stranger.pair);
    await expect(
      stranger.dir.publishDeviceKeys(dirA.url, 'vic', 2, stranger.signer, keys),
    ).rejects.toMatchObject({ code: 'directory-error', message: expect.stringMatching(/401/) });
    await expect(
      stranger.dir.publishDeviceKeys(dirA.url, 'vic', 9, stranger.signer, keys),
    ).rejects.toMatchObject({ message: expect.stringMatching(/403 device-not-listed/) });
    // The phone signs for the tablet's id with the tablet's prekeys.
    await expect(
      phone.dir.publishDeviceKeys(
        dirA.url,
        'vic',
        3,
        phone.signer,
        await devicePrekeys(tablet.pair),
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/401 bad-signature/) });
    await phone.dir.publishDeviceKeys(
      dirA.url,
      'vic',
      2,
      phone.signer,
      await devicePrekeys(phone.pair),
    );
    expect((await client().dir.deviceBundle(dirA.url, 'vic', 2, vic.identityKey)).device.id).toBe(
      2,
    );
    await listDevices(vic, 'vic', 2, []);
    await expect(
      client().dir.deviceBundle(dirA.url, 'vic', 2, vic.identityKey),
    ).rejects.toMatchObject({ code: 'not-found' });
    await expect(
      phone.dir.publishDeviceKeys(
        dirA.url,
        'vic',
        2,
        phone.signer,
        await devicePrekeys(phone.pair),
      ),
    ).rejects.toMatchObject({ message: expect.stringMatching(/403/) });
  });

  it('a device key that is not in the logged list → bad-proof', async () => {
    const wes = await publishedDevice(dirA.url, 'wes');
    const laptop = await linkedDevice();
    const first = await listDevices(wes, 'wes', 1, [laptop.pair.publicKey]);
    await laptop.dir.publishDeviceKeys(
      dirA.url,
      'wes',
      2,
      laptop.signer,
      await devicePrekeys(laptop.pair, 10),
    );
    // The directory swaps in a key of its own, with prekeys it signed: the list names another.
    const rogue = await nobleProvider.ed25519Generate();
    const rogueKeys = await devicePrekeys(rogue);
    const swapped = client(
      tampering(isDeviceBundle('wes', 2), (json) => {
        json.deviceKey = base64UrlEncode(rogue.publicKey);
        json.signedPrekey = {
          id: rogueKeys.signedPrekey.id,
          publicKey: base64UrlEncode(rogueKeys.signedPrekey.publicKey),
          signature: base64UrlEncode(rogueKeys.signedPrekey.signature),
        };
        delete json.kemPrekey;
      }),
    );
    await expect(
      swapped.dir.deviceBundle(dirA.url, 'wes', 2, wes.identityKey),
    ).rejects.toMatchObject({ code: 'bad-proof', message: expect.stringMatching(/logged list/) });
    // … or adds the rogue key to the list it serves with the bundle.
    const added = client(
      tampering(isDeviceBundle('wes', 2), (json) => {
        const l = json.deviceList as { devices: { id: number; key: string; addedAt: number }[] };
        l.devices[1]!.key = base64UrlEncode(rogue.publicKey);
        json.deviceKey = base64UrlEncode(rogue.publicKey);
      }),
    );
    await expect(added.dir.deviceBundle(dirA.url, 'wes', 2, wes.identityKey)).rejects.toMatchObject(
      { code: 'bad-proof' },
    );
    // … or keeps the key and replaces the signed prekey with one the device never signed.
    const resigned = client(
      tampering(isDeviceBundle('wes', 2), (json) => {
        const spk = json.signedPrekey as Json;
        spk.signature = base64UrlEncode(
          ed25519.sign(
            signedPrekeyMessage(spk.id as number, rogueKeys.signedPrekey.publicKey),
            rogue.privateKey,
          ),
        );
        spk.publicKey = base64UrlEncode(rogueKeys.signedPrekey.publicKey);
      }),
    );
    await expect(
      resigned.dir.deviceBundle(dirA.url, 'wes', 2, wes.identityKey),
    ).rejects.toMatchObject({ code: 'bad-proof' });
    // A list under another account key, and a rolled-back list once a newer one was seen.
    await expect(
      client().dir.deviceBundle(dirA.url, 'wes', 2, rogue.publicKey),
    ).rejects.toMatchObject({ code: 'bad-proof' });
    const { dir, store } = client();
    await listDevices(wes, 'wes', 2, [laptop.pair.publicKey]);
    expect((await dir.deviceBundle(dirA.url, 'wes', 2, wes.identityKey)).deviceList.version).toBe(
      2,
    );
    const stale = new DirectoryClient({
      store,
      fetch: tampering(isDeviceBundle('wes', 2), (json) => {
        json.deviceList = deviceListToJson(first);
      }),
    });
    await expect(stale.deviceBundle(dirA.url, 'wes', 2, wes.identityKey)).rejects.toMatchObject({
      code: 'bad-proof',
    });
  });

  it('sync blob: written version by version by the account or a listed device', async () => {
    const xia = await publishedDevice(dirA.url, 'xia');
    const laptop = await linkedDevice();
    await listDevices(xia, 'xia', 1, [laptop.pair.publicKey]);
    expect(await xia.dir.getSync(dirA.url, 'xia', xia.veil)).toBeUndefined();
    const sealed = new Uint8Array([1, 2, 3, 4, 5]);
    expect(await xia.dir.putSync(dirA.url, 'xia', xia.veil, 1, sealed)).toEqual({ ok: true });
    expect(await laptop.dir.putSync(dirA.url, 'xia', laptop.signer, 1, sealed)).toEqual({
      ok: false,
      reason: 'stale',
      storedVersion: 1,
    });
    const next = new Uint8Array([9, 9]);
    expect(await laptop.dir.putSync(dirA.url, 'xia', laptop.signer, 2, next)).toEqual({ ok: true });
    const read = (await xia.dir.getSync(dirA.url, 'xia', xia.veil))!;
    expect(read).toMatchObject({ version: 2, ciphertext: next });
    expect(read.updatedAt).toBeGreaterThan(1_700_000_000);
    // Another handle's device cannot write or read it.
    const yan = await publishedDevice(dirA.url, 'yan');
    await expect(yan.dir.putSync(dirA.url, 'xia', yan.veil, 3, next)).rejects.toMatchObject({
      code: 'directory-error',
    });
    await expect(yan.dir.getSync(dirA.url, 'xia', yan.veil)).rejects.toMatchObject({
      code: 'directory-error',
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
