// Handle labels from the client's side (issue 14): a v2 entry is accepted only with a VRF proof
// of the handle's label under the pinned VRF key; the VRF key is pinned with the log key, or
// re-pinned (signed by the pinned log key) for directories pinned before labels; a deleted
// handle's pre-migration entries are accepted by their leaf hash, and the own-handle monitor
// matches entries by label.
import 'fake-indexeddb/auto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeIdentity, publishBody, signedRequest } from '../../key-directory/client-signing';
import { keyFingerprint, safetyNumberHalf } from '../../key-directory/fingerprint';
import { writeContext } from '../../key-directory/testing';
import { logKeySwap, makeAttacker } from '../../tests/e2e/hostile-directory';
import { type DeviceList, deviceListMessage } from '../protocol/device-list';
import { nobleProvider } from '../protocol/crypto/noble';
import { base64UrlDecode, base64UrlEncode } from '../protocol/directory-request';
import {
  compactRangeAppend,
  compactRangeRoot,
  EMPTY_COMPACT_RANGE,
  listedLeafHash,
  vrfKeyMessage,
} from '../protocol/transparency';
import { Veil } from '../protocol/veil';
import { proveHandleLabel, vrfPublicKey } from '../protocol/vrf';
import { DirectoryClient, type DirectoryState } from './directory-client';
import { KeyStore } from './key-store';
import { LogAlarms } from './log-alarms';
import { foreignEntryReason, LogMonitor } from './log-monitor';
import { startDirectory, type RunningDirectory } from './testing';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Fetch = (input: string, init: RequestInit) => Promise<Response>;

let n = 0;
const stores: KeyStore[] = [];
function freshStore(): KeyStore {
  const s = new KeyStore({ name: `handle-labels-test-${process.pid}-${++n}` });
  stores.push(s);
  return s;
}

const running: RunningDirectory[] = [];
async function directory(): Promise<RunningDirectory> {
  const d = await startDirectory();
  running.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.close()));
});
afterAll(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function publishedDevice(url: string, handle: string) {
  const store = freshStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock: Date.now });
  const { identityKey } = await veil.createIdentity(handle);
  const dir = new DirectoryClient({ store });
  const logged = await dir.publish(url, veil, await veil.publicBundle({ oneTimePrekeys: 3 }));
  return { veil, identityKey, logged, dir, store };
}

/** Rewrites JSON answers whose path matches. */
function tampering(match: (path: string) => boolean, edit: (json: Json) => void): Fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!match(new URL(input).pathname) || !res.ok) return res;
    const json = (await res.json()) as Json;
    edit(json);
    return Response.json(json, { status: res.status });
  };
}

const lookupOf = (handle: string) => (path: string) => path.endsWith(`/v1/identities/${handle}`);

describe('a label the client cannot verify is refused', () => {
  it('a label proven under another VRF key, a wrong proof, or none → bad-proof', async () => {
    const dir = await directory();
    await publishedDevice(dir.url, 'alice');
    const otherKey = ed25519.utils.randomSecretKey();
    const edits: ((json: Json) => void)[] = [
      // A directory that computed alice's label with another key (say, to give her contacts a
      // label her monitor does not know): its proof does not verify under the pinned key.
      (json) => (json.vrfProof = base64UrlEncode(proveHandleLabel(otherKey, 'alice').proof)),
      (json) => {
        const proof = base64UrlDecode(json.vrfProof);
        proof[50]! ^= 1;
        json.vrfProof = base64UrlEncode(proof);
      },
      // bob's genuine proof: a label, but not alice's.
      (json) => (json.vrfProof = json.bobProof),
      (json) => delete json.vrfProof,
    ];
    await publishedDevice(dir.url, 'bob');
    const bobProof = ((await (await fetch(`${dir.url}/v1/identities/bob`)).json()) as Json)
      .vrfProof as string;
    for (const edit of edits) {
      const client = new DirectoryClient({
        store: freshStore(),
        fetch: tampering(lookupOf('alice'), (json) => {
          json.bobProof = bobProof;
          edit(json);
          delete json.bobProof;
        }),
      });
      await expect(client.lookup(dir.url, 'alice')).rejects.toMatchObject({ code: 'bad-proof' });
    }
    // Untouched, the same answer verifies.
    const honest = new DirectoryClient({ store: freshStore() });
    expect((await honest.lookup(dir.url, 'alice')).handle).toBe('alice');
  });

  it('a history or device list with another label → bad-proof', async () => {
    const dir = await directory();
    const alice = await publishedDevice(dir.url, 'alice');
    await publishedDevice(dir.url, 'bob');
    const bobLabel = (
      ((await (await fetch(`${dir.url}/v1/log/entries?start=1&count=1`)).json()) as Json)
        .entries[0] as Json
    ).label;
    const history = new DirectoryClient({
      store: freshStore(),
      fetch: tampering(
        (p) => p.endsWith('/alice/history'),
        (json) => (json.entries[0].entry.label = bobLabel),
      ),
    });
    await expect(history.history(dir.url, 'alice')).rejects.toMatchObject({
      code: 'bad-proof',
    });
    const otherKey = ed25519.utils.randomSecretKey();
    const devices = new DirectoryClient({
      store: freshStore(),
      fetch: tampering(
        (p) => p.endsWith('/alice/devices'),
        (json) => (json.vrfProof = base64UrlEncode(proveHandleLabel(otherKey, 'alice').proof)),
      ),
    });
    const unsigned: DeviceList = {
      handle: 'alice',
      version: 1,
      devices: [{ id: 1, key: alice.identityKey, addedAt: 1_767_225_600 }],
    };
    const list = { ...unsigned, signature: await alice.veil.sign(deviceListMessage(unsigned)) };
    await alice.dir.publishDeviceList(dir.url, alice.veil, list);
    await expect(devices.deviceList(dir.url, 'alice', alice.identityKey)).rejects.toMatchObject({
      code: 'bad-proof',
    });
  });
});

describe('pinning the VRF key', () => {
  it('is pinned with the log key, and re-pinned for a directory pinned before labels', async () => {
    const dir = await directory();
    await publishedDevice(dir.url, 'alice');
    const store = freshStore();
    const client = new DirectoryClient({ store });
    await client.refreshHead(dir.url);
    const vrfKey = (await client.state(dir.url))!.trust.vrfKey!;
    expect(vrfKey).toEqual(await dir.store.vrfPublicKey());
    // A state saved before the directory labelled handles: no VRF key.
    await client.updateState(dir.url, (s) => ({ ...s, trust: { ...s.trust, vrfKey: undefined } }));
    expect((await client.state(dir.url))!.trust.vrfKey).toBeUndefined();
    expect((await client.lookup(dir.url, 'alice')).handle).toBe('alice');
    expect((await client.state(dir.url))!.trust.vrfKey).toEqual(vrfKey);
  });

  it('a VRF key not signed by the pinned log key is not pinned → bad-proof', async () => {
    const dir = await directory();
    await publishedDevice(dir.url, 'alice');
    const store = freshStore();
    const forger = ed25519.utils.randomSecretKey();
    const forgedVrf = vrfPublicKey(ed25519.utils.randomSecretKey());
    let forge = false;
    const client = new DirectoryClient({
      store,
      fetch: tampering(
        (p) => p.endsWith('/v1/log/head') && forge,
        (json) => {
          json.vrfKey = base64UrlEncode(forgedVrf);
          json.vrfKeySignature = base64UrlEncode(
            ed25519.sign(vrfKeyMessage(json.origin, forgedVrf), forger),
          );
        },
      ),
    });
    await client.refreshHead(dir.url);
    await client.updateState(dir.url, (s) => ({ ...s, trust: { ...s.trust, vrfKey: undefined } }));
    forge = true;
    await expect(client.lookup(dir.url, 'alice')).rejects.toMatchObject({ code: 'bad-proof' });
    await expect(client.refreshHead(dir.url)).rejects.toMatchObject({ code: 'bad-proof' });
    expect((await client.state(dir.url))!.trust.vrfKey).toBeUndefined();
  });
});

describe('a directory migrated from handles to labels', () => {
  /**
   * olga and pia publish before migration 5 (v1 entries, handles in the clear); the directory
   * migrates; olga deletes her account. Returns olga's identity and the running directory.
   */
  async function migratedWithDeletion() {
    const dir = await directory();
    const { store, signer } = dir;
    await store.migrate(3);
    await store.ensureHead(Date.now(), signer.signHead);
    const olga = makeIdentity('olga');
    const pia = makeIdentity('pia');
    for (const id of [olga, pia]) {
      const body = publishBody(id, 1);
      const result = await store.publish(
        {
          handle: id.handle,
          identityKey: id.publicKey,
          signedPrekey: {
            id: body.signedPrekey.id,
            publicKey: base64UrlDecode(body.signedPrekey.publicKey),
            signature: base64UrlDecode(body.signedPrekey.signature),
          },
          oneTimePrekeys: [],
          fingerprint: keyFingerprint(id.publicKey),
          safetyNumberHalf: safetyNumberHalf(id.handle, id.publicKey),
          expectedCurrentKey: null,
          maxStoredOneTimePrekeys: 10,
        },
        writeContext(signer, Date.now()),
      );
      expect(result.ok).toBe(true);
    }
    await store.migrate();
    const v1 = ((await (await fetch(`${dir.url}/v1/log/entries?start=0&count=10`)).json()) as Json)
      .entries;
    expect(v1.map((e: Json) => e.handle)).toEqual(['olga', 'pia']);
    const del = signedRequest('DELETE', 'olga', '', olga);
    const res = await fetch(dir.url + del.path, { method: 'DELETE', headers: del.headers });
    expect(res.status).toBe(200);
    return { dir, olga, pia };
  }

  it("serves the deleted handle's old entries redacted; the listed log still folds to the signed root", async () => {
    const { dir } = await migratedWithDeletion();
    const json = (await (await fetch(`${dir.url}/v1/log/entries?start=0&count=10`)).json()) as Json;
    expect(json.entries[0]).toEqual({ index: 0, redacted: true, leafHash: expect.any(String) });
    expect(json.entries[1].handle).toBe('pia');
    expect(json.entries[2]).toMatchObject({ version: 2, action: 'delete', sequence: 2 });
    expect(JSON.stringify(json)).not.toContain('olga');
    const client = new DirectoryClient({ store: freshStore() });
    const head = await client.refreshHead(dir.url);
    const listed = await client.logEntries(dir.url, 0, 10);
    const range = compactRangeAppend(EMPTY_COMPACT_RANGE, listed.map(listedLeafHash));
    expect(compactRangeRoot(range)).toEqual(head.rootHash);
    expect(
      foreignEntryReason(listed[0]!, { handle: 'olga', identityKey: new Uint8Array(32) }),
    ).toBeUndefined();
    // The deleted handle's history: the redacted entry keeps its place (no gap), then the delete.
    const history = await client.history(dir.url, 'olga');
    expect(history.entries.map((e) => [e.sequence, e.action])).toEqual([[2, 'delete']]);
  });

  it("pia's monitor reads the redacted entry by its leaf hash and flags an entry with her label she did not make", async () => {
    const { dir, pia } = await migratedWithDeletion();
    const store = freshStore();
    const client = new DirectoryClient({ store });
    const alarms = new LogAlarms(store);
    const monitor = new LogMonitor({
      directory: client,
      alarms,
      profile: async () =>
        ({
          handle: 'pia',
          identityKey: pia.publicKey,
          published: { url: dir.url, logIndex: 1 },
        }) as never,
      now: Date.now,
      fingerprint: () => '0'.repeat(30),
    });
    expect(await monitor.run()).toMatchObject({ status: 'checked', newAlarms: 0 });
    const state = (await client.state(dir.url)) as DirectoryState;
    expect(state.monitor!.label).toBeDefined();
    // The directory logs a rotation of pia to an attacker's key: a v2 entry with her label.
    await logKeySwap(dir.store, dir.signer, 'pia', makeAttacker());
    const raw = ((await (await fetch(`${dir.url}/v1/log/entries?start=3&count=1`)).json()) as Json)
      .entries[0];
    expect(raw).toMatchObject({ version: 2, action: 'rotate' });
    expect(raw.handle).toBeUndefined();
    expect(await monitor.run()).toMatchObject({ status: 'checked', newAlarms: 1 });
  });
});
