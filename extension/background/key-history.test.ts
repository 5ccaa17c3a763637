// DirectoryClient.history + keyStanding against the real directory (two entries a page, so
// paging is exercised): every entry of a handle, each proven, and where a key stands in it
// ('current', 'earlier', 'never'); and a directory that lies in a history answer — skipping
// an entry, swapping a key, cutting off the newest entries, signing with another key,
// promising more and sending nothing — refused as 'bad-proof'.
import 'fake-indexeddb/auto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeIdentity,
  publishBody,
  signedRequest,
  type TestIdentity,
} from '../../key-directory/client-signing';
import { startKeySwapDirectory } from '../../tests/e2e/hostile-directory';
import { base64UrlDecode, base64UrlEncode, decodeTreeHead } from '../protocol/directory-request';
import { keyStanding, signTreeHead } from '../protocol/transparency';
import { DirectoryClient, type DirectoryState } from './directory-client';
import { KeyStore } from './key-store';
import { startDirectory, type RunningDirectory } from './testing';

type Json = Record<string, unknown>;
type Fetch = (input: string, init: RequestInit) => Promise<Response>;

let n = 0;
const stores: KeyStore[] = [];
function client(fetchFn?: Fetch) {
  const store = new KeyStore({ name: `key-history-test-${process.pid}-${++n}` });
  stores.push(store);
  return { store, dir: new DirectoryClient({ store, fetch: fetchFn }) };
}

async function write(
  url: string,
  method: 'PUT' | 'DELETE',
  id: TestIdentity,
  signer = id,
  newKey?: TestIdentity,
) {
  const body = method === 'PUT' ? JSON.stringify(publishBody(id, 1)) : '';
  const req = signedRequest(method, id.handle, body, signer, { newKey });
  const res = await fetch(url + req.path, {
    method,
    headers: req.headers,
    body: method === 'PUT' ? body : undefined,
  });
  expect(res.ok).toBe(true);
}

/** Rewrites history answers of `handle` (pages in order: the edit sees the page number). */
function tamperingHistory(edit: (json: Json, page: number) => void): Fetch {
  let page = 0;
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!new URL(input).pathname.endsWith('/history') || !res.ok) return res;
    const json = (await res.json()) as Json;
    edit(json, page++);
    return Response.json(json);
  };
}

let directory: RunningDirectory;
// kim: publish k1, rotate to k2, delete, publish k3 (other handles in between).
const k1 = makeIdentity('kim');
const k2 = makeIdentity('kim');
const k3 = makeIdentity('kim');
const stranger = makeIdentity('kim');

beforeAll(async () => {
  directory = await startDirectory(undefined, { maxHistoryEntriesPerRequest: 2 });
  const url = directory.url;
  await write(url, 'PUT', k1);
  await write(url, 'PUT', makeIdentity('lee'));
  await write(url, 'PUT', k2, k1, k2);
  await write(url, 'DELETE', k2);
  await write(url, 'PUT', makeIdentity('max'));
  await write(url, 'PUT', k3);
});

afterAll(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await directory.close();
});

describe('a handle’s history', () => {
  it('lists every entry in order, each proven, across pages', async () => {
    const { dir, store } = client();
    const history = await dir.history(directory.url, 'kim');
    expect(history.entries.map((e) => [e.sequence, e.action])).toEqual([
      [1, 'publish'],
      [2, 'rotate'],
      [3, 'delete'],
      [4, 'publish'],
    ]);
    expect(history.entries.map((e) => e.index)).toEqual([0, 2, 3, 5]);
    const state = (await store.get<DirectoryState>('directory', directory.url))!;
    expect(state.head).toEqual(history.head);
    expect(state.sequences.kim).toBe(4);
  });

  it('says where a key stands: current, earlier (rotated away or deleted), never', async () => {
    const { entries } = await client().dir.history(directory.url, 'kim');
    expect(keyStanding(entries, k3.publicKey)).toBe('current');
    expect(keyStanding(entries, k2.publicKey)).toBe('earlier');
    expect(keyStanding(entries, k1.publicKey)).toBe('earlier');
    expect(keyStanding(entries, stranger.publicKey)).toBe('never');
    // lee: one publish; a deleted handle's last key is 'earlier'.
    const lee = await client().dir.history(directory.url, 'lee');
    expect(lee.entries).toHaveLength(1);
    expect(keyStanding(entries.slice(0, 3), k2.publicKey)).toBe('earlier');
  });

  it('a handle never logged → not-found', async () => {
    await expect(client().dir.history(directory.url, 'nobody')).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it('with a key-swap directory: the owner’s key becomes earlier, the attacker’s current', async () => {
    const swap = await startKeySwapDirectory();
    try {
      const owner = makeIdentity('nia');
      await write(swap.url, 'PUT', owner);
      swap.arm('nia');
      const { entries } = await client().dir.history(swap.url, 'nia');
      expect(keyStanding(entries, swap.attacker.identityKey)).toBe('current');
      expect(keyStanding(entries, owner.publicKey)).toBe('earlier');
    } finally {
      await swap.close();
    }
  });
});

describe('a directory that lies in a history', () => {
  const refused = (fetchFn: Fetch, pattern: RegExp) =>
    expect(client(fetchFn).dir.history(directory.url, 'kim')).rejects.toMatchObject({
      code: 'bad-proof',
      message: expect.stringMatching(pattern),
    });

  it('skipping an entry (the deletion) → bad-proof', () =>
    refused(
      tamperingHistory((json, page) => {
        // The second page starts after sequence 2: drop sequence 3.
        if (page === 1) (json.entries as Json[]).splice(0, 1);
      }),
      /skips/,
    ));

  it('naming another key in an entry → bad-proof (the proof is for the logged key)', () =>
    refused(
      tamperingHistory((json) => {
        const e = (json.entries as { entry: Json }[])[0]!;
        e.entry.identityKey = base64UrlEncode(stranger.publicKey);
      }),
      /inclusion proof/,
    ));

  it('cutting off the newest entries after a lookup showed them → bad-proof', async () => {
    const { dir } = client(
      tamperingHistory((json, page) => {
        if (page === 1) {
          json.entries = (json.entries as Json[]).slice(0, 1);
          json.more = false;
        }
      }),
    );
    await dir.lookup(directory.url, 'kim'); // sees sequence 4
    await expect(dir.history(directory.url, 'kim')).rejects.toMatchObject({
      code: 'bad-proof',
      message: expect.stringMatching(/ends before/),
    });
  });

  it('a head signed by another key → bad-proof', async () => {
    const rogue = ed25519.utils.randomSecretKey();
    const { dir } = client(
      tamperingHistory((json, page) => {
        if (page === 0) return;
        const head = decodeTreeHead(json.head);
        json.head = {
          ...(json.head as Json),
          signature: base64UrlEncode(signTreeHead(head, rogue).signature),
        };
      }),
    );
    await expect(dir.history(directory.url, 'kim')).rejects.toMatchObject({
      code: 'bad-proof',
      message: expect.stringMatching(/signature/),
    });
  });

  it('promising more entries and sending none → bad-proof', () =>
    refused(
      tamperingHistory((json, page) => {
        if (page === 1) {
          json.entries = [];
          json.more = true;
        }
      }),
      /promised more/,
    ));

  it('an entry of another handle → bad-proof', () =>
    refused(
      tamperingHistory((json) => {
        // Entries carry labels now: another label than the one the VRF proof gives is refused.
        (json.entries as { entry: Json }[])[0]!.entry.label =
          'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc';
      }),
      /another label/,
    ));

  it('a VRF proof for another handle, or under another key → bad-proof', async () => {
    await refused(
      tamperingHistory((json) => {
        const proof = base64UrlDecode(json.vrfProof as string);
        proof[40]! ^= 1;
        json.vrfProof = base64UrlEncode(proof);
      }),
      /VRF/,
    );
  });
});
