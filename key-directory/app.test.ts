// The directory over HTTP (in-process, no port): publish, lookup with client-side proof checks,
// bundles, rotation, deletion, limits, the log endpoints, health, metrics and the lookup page.
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  base64UrlDecode,
  base64UrlEncode,
  decodeConsistencyProof,
  decodeHistoryPage,
  decodeIdentityLookup,
  decodeTreeHead,
  signedPrekeyMessage,
} from '../extension/protocol/directory-request';
import { nobleProvider } from '../extension/protocol/crypto/noble';
import {
  type SignedDeviceListJson,
  deviceListDigest,
  deviceListFromJson,
  verifyDeviceList,
} from '../extension/protocol/device-list';
import { isVeilError } from '../extension/protocol/errors';
import { kemPrekeyFromJson, kemPrekeyMessage } from '../extension/protocol/kem-prekey';
import {
  type DirectoryTrust,
  type SignedTreeHead,
  encodeLogEntry,
  leafHash,
  parseCheckpoint,
  verifyHeadUpdate,
  verifyInclusion,
  type LogEntry,
  verifiedLabel,
  verifyKeyLookup,
  verifySignedTreeHead,
} from '../extension/protocol/transparency';
import { verifyHandleLabel } from '../extension/protocol/vrf';
import { DEFAULT_LIMITS } from './app';
import {
  deviceListJson,
  kemPrekeyJson,
  makeDevice,
  makeIdentity,
  publishBody,
  signedRequest,
  type TestIdentity,
} from './client-signing';
import { keyFingerprint, safetyNumberHalf } from './fingerprint';
import type { DirectoryStore } from './store';
import {
  type OpenedStore,
  type TestApp,
  openTestSqlite,
  secondsOf,
  storeFactories,
  testApp,
} from './testing';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/** `handle`'s label (base64url) as a client learns it: from a VRF proof, under the head's VRF key. */
async function labelOf(t: TestApp, handle: string): Promise<string> {
  const head = await json(await t.app.request('/v1/log/head'));
  const history = await json(await t.app.request(`/v1/identities/${handle}/history`));
  return base64UrlEncode(
    verifyHandleLabel(base64UrlDecode(head.vrfKey), handle, base64UrlDecode(history.vrfProof)),
  );
}

async function trustOf(t: TestApp): Promise<DirectoryTrust> {
  const head = await json(await t.app.request('/v1/log/head'));
  return {
    origin: head.origin,
    publicKey: base64UrlDecode(head.publicKey),
    vrfKey: base64UrlDecode(head.vrfKey),
  };
}

function put(t: TestApp, id: TestIdentity, body: object, signer = id, newKey?: TestIdentity) {
  return t.send(
    signedRequest('PUT', id.handle, JSON.stringify(body), signer, {
      newKey,
      timestamp: secondsOf(t.clock),
    }),
  );
}

function del(t: TestApp, handle: string, signer: TestIdentity) {
  return t.send(signedRequest('DELETE', handle, '', signer, { timestamp: secondsOf(t.clock) }));
}

/** What a client does: fetch, decode, check the proof and the head against the one it remembers. */
async function clientLookup(
  t: TestApp,
  handle: string,
  trust: DirectoryTrust,
  remembered?: SignedTreeHead,
) {
  const res = await t.app.request(`/v1/identities/${handle}`);
  expect(res.status).toBe(200);
  const decoded = decodeIdentityLookup(await json(res), handle);
  verifyKeyLookup(decoded.lookup, trust);
  let proof: Uint8Array[] = [];
  if (remembered) {
    const [a, b] = [remembered.treeSize, decoded.lookup.head.treeSize].sort((x, y) => x - y);
    proof = decodeConsistencyProof(
      await json(await t.app.request(`/v1/log/consistency?from=${a}&to=${b}`)),
    );
  }
  const head = verifyHeadUpdate(remembered, decoded.lookup.head, proof, trust);
  return { ...decoded, head };
}

describe('directory over HTTP (SQLite)', () => {
  let opened: OpenedStore;
  let t: TestApp;
  beforeEach(async () => {
    opened = await openTestSqlite();
    t = testApp(opened.store);
  });
  afterEach(async () => opened.cleanup());

  it('publishes, looks up with a verified proof, and serves bundles', async () => {
    const alice = makeIdentity('alice');
    const body = publishBody(alice, 3);
    const res = await put(t, alice, body);
    expect(res.status).toBe(201);
    expect(await json(res)).toEqual({
      handle: 'alice',
      status: 'created',
      logIndex: 0,
      sequence: 1,
      oneTimePrekeys: 3,
    });

    const trust = await trustOf(t);
    const found = await clientLookup(t, 'alice', trust);
    expect(found.identityKey).toEqual(alice.publicKey);
    expect(found.fingerprint).toBe(keyFingerprint(alice.publicKey));
    expect(found.safetyNumberHalf).toBe(safetyNumberHalf('alice', alice.publicKey));
    expect(found.safetyNumberHalf).toMatch(/^\d{30}$/);

    const bundle = await json(await t.app.request('/v1/identities/alice/bundle'));
    expect(bundle.signedPrekey).toEqual(body.signedPrekey);
    const spk = bundle.signedPrekey;
    expect(
      ed25519.verify(
        base64UrlDecode(spk.signature),
        signedPrekeyMessage(spk.id, base64UrlDecode(spk.publicKey)),
        alice.publicKey,
      ),
    ).toBe(true);
    expect(bundle.oneTimePrekey).toEqual(body.oneTimePrekeys[0]);
    verifyKeyLookup(decodeIdentityLookup(bundle, 'alice').lookup, trust);
    await t.app.request('/v1/identities/alice/bundle');
    await t.app.request('/v1/identities/alice/bundle');
    const last = await json(await t.app.request('/v1/identities/alice/bundle'));
    expect(last.oneTimePrekey).toBeUndefined();
    expect(last.signedPrekey).toEqual(body.signedPrekey);

    // More prekeys under the same key: no new log entry.
    const more = await put(t, alice, publishBody(alice, 4, 10, 2));
    expect(await json(more)).toMatchObject({
      status: 'updated',
      logIndex: 0,
      sequence: 1,
      oneTimePrekeys: 4,
    });
    expect((await json(await t.app.request('/v1/log/head'))).treeSize).toBe(1);
  });

  it('rotates a key only with both signatures, and clients follow the log', async () => {
    const alice = makeIdentity('alice');
    const next = makeIdentity('alice');
    await put(t, alice, publishBody(alice, 5));
    const bob = makeIdentity('bob');
    await put(t, bob, publishBody(bob));
    const trust = await trustOf(t);
    const before = await clientLookup(t, 'alice', trust);

    const body = publishBody(next, 2, 100, 9);
    const onlyOld = await put(t, next, body, alice);
    expect(onlyOld.status).toBe(401);
    expect((await json(onlyOld)).error.code).toBe('bad-signature');
    const onlyNew = await put(t, next, body, next);
    expect(onlyNew.status).toBe(409); // the new key alone looks like someone else claiming the handle
    expect((await json(onlyNew)).error.code).toBe('handle-taken');

    t.clock.advance(1000);
    const rotated = await put(t, next, body, alice, next);
    expect(rotated.status).toBe(200);
    expect(await json(rotated)).toMatchObject({
      status: 'rotated',
      sequence: 2,
      oneTimePrekeys: 2,
    });

    const after = await clientLookup(t, 'alice', trust, before.head);
    expect(after.identityKey).toEqual(next.publicKey);
    expect(after.lookup.entry).toMatchObject({ action: 'rotate', sequence: 2 });
    expect(after.safetyNumberHalf).not.toBe(before.safetyNumberHalf);
    // The old key can no longer write; the old prekeys are gone.
    expect((await put(t, alice, publishBody(alice), alice)).status).toBe(409);
    const bundle = await json(await t.app.request('/v1/identities/alice/bundle'));
    expect(bundle.oneTimePrekey.id).toBe(100);
    expect(bundle.signedPrekey.id).toBe(9);
    // A client that saw sequence 2 refuses the older entry even though it is in the log.
    const stale = await json(await t.app.request(`/v1/log/inclusion?index=${before.lookup.index}`));
    const staleLookup = {
      entry: {
        handle: 'alice',
        identityKey: base64UrlDecode(stale.entry.identityKey),
        action: stale.entry.action,
        sequence: stale.entry.sequence,
        timestamp: stale.entry.timestamp,
      },
      vrfProof: before.lookup.vrfProof,
      index: stale.index,
      inclusionProof: stale.inclusionProof.map(base64UrlDecode),
      head: decodeTreeHead(stale.head),
    };
    verifyKeyLookup(staleLookup, trust); // the old entry is genuinely in the log…
    expect(() => verifyKeyLookup(staleLookup, trust, after.lookup.entry.sequence)).toThrow(
      expect.objectContaining({ code: 'bad-proof' }),
    ); // …but a client that saw sequence 2 refuses it
  });

  it('deletes with the current key, keeps the log entry, and frees the handle', async () => {
    const alice = makeIdentity('alice');
    await put(t, alice, publishBody(alice, 2));
    const trust = await trustOf(t);
    const mallory = makeIdentity('alice');
    expect((await del(t, 'alice', mallory)).status).toBe(401);
    expect((await del(t, 'nobody', mallory)).status).toBe(404);
    const res = await del(t, 'alice', alice);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      handle: 'alice',
      status: 'deleted',
      logIndex: 1,
      sequence: 2,
    });
    expect((await t.app.request('/v1/identities/alice')).status).toBe(404);
    expect((await t.app.request('/v1/identities/alice/bundle')).status).toBe(404);
    expect(await opened.store.countOneTimePrekeys('alice')).toBe(0);

    const inc = await json(await t.app.request('/v1/log/inclusion?handle=alice'));
    // The delete entry is v2: alice's label (proven by the answer's VRF proof), not her handle.
    const label = verifiedLabel(trust, 'alice', base64UrlDecode(inc.vrfProof));
    expect(inc.entry).toMatchObject({
      action: 'delete',
      sequence: 2,
      version: 2,
      label: base64UrlEncode(label),
    });
    expect(inc.entry.handle).toBeUndefined();
    const head = decodeTreeHead(inc.head);
    const entry = {
      label,
      identityKey: base64UrlDecode(inc.entry.identityKey),
      action: inc.entry.action,
      sequence: inc.entry.sequence,
      timestamp: inc.entry.timestamp,
    };
    verifyInclusion(
      leafHash(encodeLogEntry(entry)),
      inc.index,
      inc.treeSize,
      inc.inclusionProof.map(base64UrlDecode),
      head.rootHash,
    );

    const claimed = await put(t, mallory, publishBody(mallory));
    expect(claimed.status).toBe(201);
    expect((await json(claimed)).sequence).toBe(3);
    const lookup = await clientLookup(t, 'alice', trust);
    expect(lookup.lookup.entry).toMatchObject({ action: 'publish', sequence: 3 });
  });

  it('refuses stale and replayed signed requests', async () => {
    const alice = makeIdentity('alice');
    const body = JSON.stringify(publishBody(alice));
    const old = signedRequest('PUT', 'alice', body, alice, { timestamp: secondsOf(t.clock) - 301 });
    expect((await json(await t.send(old))).error.code).toBe('stale-request');
    const future = signedRequest('PUT', 'alice', body, alice, {
      timestamp: secondsOf(t.clock) + 301,
    });
    expect((await json(await t.send(future))).error.code).toBe('stale-request');
    const req = signedRequest('PUT', 'alice', body, alice, { timestamp: secondsOf(t.clock) });
    expect((await t.send(req)).status).toBe(201);
    const again = await t.send(req);
    expect(again.status).toBe(401);
    expect((await json(again)).error.code).toBe('replayed-request');
  });

  it('serves the log: head checkpoint, inclusion by index, consistency, entries', async () => {
    const ids = ['a1', 'b2', 'c3', 'd4', 'e5'].map(makeIdentity);
    const trust = await trustOf(t);
    const first = decodeTreeHead(await json(await t.app.request('/v1/log/head')));
    for (const id of ids) expect((await put(t, id, publishBody(id, 0))).status).toBe(201);
    const headJson = await json(await t.app.request('/v1/log/head'));
    const head = parseCheckpoint(headJson.checkpoint, trust);
    expect(head).toEqual(decodeTreeHead(headJson));
    expect(head.treeSize).toBe(5);

    const inc = await json(await t.app.request('/v1/log/inclusion?index=2&treeSize=4'));
    expect(inc.treeSize).toBe(4);
    expect(inc.entry.label).toBe(await labelOf(t, 'c3'));
    expect(inc.entry.handle).toBeUndefined();
    const cons = await json(await t.app.request('/v1/log/consistency?from=4&to=5'));
    const root4 = (await json(await t.app.request('/v1/log/consistency?from=0&to=4'))).proof;
    expect(root4).toEqual([]);
    verifyHeadUpdate(first, head, [], trust);
    expect(cons.proof.length).toBeGreaterThan(0);
    const entries = await json(await t.app.request('/v1/log/entries?start=1&count=2'));
    expect(entries.entries.map((e: Json) => e.label)).toEqual([
      await labelOf(t, 'b2'),
      await labelOf(t, 'c3'),
    ]);

    for (const bad of [
      '/v1/log/inclusion?index=5',
      '/v1/log/inclusion?index=1&treeSize=9',
      '/v1/log/inclusion?index=-1',
      '/v1/log/inclusion?index=1&extra=1',
      '/v1/log/inclusion?handle=../x',
      '/v1/log/consistency?from=6',
      '/v1/log/consistency?from=3&to=2',
      '/v1/log/consistency',
      '/v1/log/entries?start=0&count=0',
      '/v1/log/entries?start=0&count=100000',
      '/v1/log/entries?start=1e3',
    ]) {
      const res = await t.app.request(bad);
      expect(res.status, bad).toBe(400);
      expect((await json(res)).error.code).toMatch(/^(invalid-query|out-of-range|bad-handle)$/);
    }
    expect((await t.app.request('/v1/log/inclusion?handle=nobody')).status).toBe(404);
  });

  it('answers health, metrics and the lookup page', async () => {
    const alice = makeIdentity('alice');
    await put(t, alice, publishBody(alice, 2));
    await t.app.request('/v1/identities/alice');
    await t.app.request('/v1/identities/alice/bundle');
    expect(await json(await t.app.request('/v1/health'))).toEqual({
      status: 'ok',
      store: 'sqlite',
      treeSize: 1,
    });

    const metrics = await (await t.app.request('/metrics')).text();
    expect(metrics).toContain(
      'veil_http_requests_total{route="/v1/identities/:handle",method="GET",status="200"} 1',
    );
    expect(metrics).toContain(
      'veil_http_request_duration_seconds_bucket{route="/v1/identities/:handle/bundle",method="GET",le="+Inf"} 1',
    );
    expect(metrics).toContain('veil_log_size 1');
    expect(metrics).toContain('veil_one_time_prekeys_remaining 1');
    expect(metrics).toContain('veil_kem_one_time_prekeys_remaining 0');

    const page = await t.app.request('/?handle=alice');
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
    const html = await page.text();
    expect(html).toContain(keyFingerprint(alice.publicKey));
    expect(html).toContain(safetyNumberHalf('alice', alice.publicKey).slice(0, 5));
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const hostile = await t.app.request('/?handle=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(hostile.status).toBe(400);
    expect(await hostile.text()).not.toContain('<script>');
    expect((await t.app.request('/?handle=nobody')).status).toBe(404);
    expect((await t.app.request('/')).status).toBe(200);
  });

  it('rate-limits writes, bundle fetches and unknown-handle lookups (429 + Retry-After)', async () => {
    const limited = testApp(opened.store, {
      limits: {
        rates: {
          writesPerHandle: { burst: 2, perMinute: 2 },
          bundlesPerRequester: { burst: 3, perMinute: 3 },
          bundlesPerIp: { burst: 100, perMinute: 100 },
          notFoundPerIp: { burst: 2, perMinute: 1 },
        },
      },
    });
    const alice = makeIdentity('alice');
    expect((await put(limited, alice, publishBody(alice, 10))).status).toBe(201);
    expect((await put(limited, alice, publishBody(alice, 1, 50))).status).toBe(200);
    const third = await put(limited, alice, publishBody(alice, 1, 60));
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await json(third)).error.code).toBe('rate-limited');

    for (let i = 0; i < 3; i++)
      expect((await limited.app.request('/v1/identities/alice/bundle')).status).toBe(200);
    const drained = await limited.app.request('/v1/identities/alice/bundle');
    expect(drained.status).toBe(429);
    expect(await opened.store.countOneTimePrekeys('alice')).toBe(8); // 11 stored, 3 handed out
    limited.clock.advance(60_000);
    expect((await limited.app.request('/v1/identities/alice/bundle')).status).toBe(200);

    expect((await limited.app.request('/v1/identities/nobody1')).status).toBe(404);
    expect((await limited.app.request('/v1/identities/nobody2')).status).toBe(404);
    expect((await limited.app.request('/v1/identities/nobody3')).status).toBe(429);
    expect(
      (await limited.app.request('/v1/identities/alice', { headers: { 'x-test-ip': 'other' } }))
        .status,
    ).toBe(200);
  });

  it('limits writes per IP across handles: the write after the burst is a 429, other IPs and the refill are not', async () => {
    const limited = testApp(opened.store, {
      limits: { rates: { writesPerIp: { burst: 3, perMinute: 3 } } },
    });
    const publishFrom = (ip: string, id: TestIdentity) => {
      const req = signedRequest('PUT', id.handle, JSON.stringify(publishBody(id, 1)), id, {
        timestamp: secondsOf(limited.clock),
      });
      return limited.send({ ...req, headers: { ...req.headers, 'x-test-ip': ip } });
    };
    // Distinct handles: only the per-IP budget is spent, never a per-handle one.
    const [w1, w2, w3, w4, w5, w6] = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'].map(makeIdentity);
    for (const id of [w1!, w2!, w3!]) expect((await publishFrom('ip-a', id)).status).toBe(201);
    const refused = await publishFrom('ip-a', w4!);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('20'); // one token at 3 per minute
    expect((await json(refused)).error.code).toBe('rate-limited');
    expect(await opened.store.getIdentity('w4')).toBeUndefined();
    // A deletion is a write too: same budget.
    const deletion = signedRequest('DELETE', 'w1', '', w1!, {
      timestamp: secondsOf(limited.clock),
    });
    expect(
      (await limited.send({ ...deletion, headers: { ...deletion.headers, 'x-test-ip': 'ip-a' } }))
        .status,
    ).toBe(429);
    expect(await opened.store.getIdentity('w1')).toBeDefined();

    expect((await publishFrom('ip-b', w4!)).status).toBe(201);
    limited.clock.advance(20_000);
    expect((await publishFrom('ip-a', w5!)).status).toBe(201);
    expect((await publishFrom('ip-a', w6!)).status).toBe(429);
  });

  it('tells only the owner how many one-time prekeys are left (signed GET /prekeys)', async () => {
    const t = testApp(opened.store);
    const alice = makeIdentity('alice');
    const mallory = makeIdentity('mallory');
    expect((await put(t, alice, publishBody(alice, 5, 1, 7))).status).toBe(201);
    await t.app.request('/v1/identities/alice/bundle');
    const ask = (signer: typeof alice) =>
      t.send(
        signedRequest('GET', 'alice', '', signer, {
          timestamp: secondsOf(t.clock),
          under: '/prekeys',
        }),
      );
    const mine = await ask(alice);
    expect(mine.status).toBe(200);
    expect(await json(mine)).toEqual({
      handle: 'alice',
      oneTimePrekeys: 4,
      signedPrekeyId: 7,
      kemOneTimePrekeys: 0,
      kemLastResortId: null,
    });
    const theirs = await ask(mallory);
    expect(theirs.status).toBe(401);
    expect((await json(theirs)).error.code).toBe('bad-signature');
    expect((await t.app.request('/v1/identities/alice/prekeys')).status).toBe(401);
    // Signed for another path (a bundle fetch), it is not a status request.
    const other = signedRequest('GET', 'alice', '', alice, { timestamp: secondsOf(t.clock) });
    expect((await t.send({ ...other, path: '/v1/identities/alice/prekeys' })).status).toBe(401);
  });

  it('one requester cannot lock others out of a handle: bundle limits count per requester and handle', async () => {
    const limited = testApp(opened.store);
    const bob = makeIdentity('bob');
    expect((await put(limited, bob, publishBody(bob, 100))).status).toBe(201);
    const bundleFrom = (ip: string) =>
      limited.app.request('/v1/identities/bob/bundle', { headers: { 'x-test-ip': ip } });
    // Three attackers, each at one request a second for two minutes (within their per-IP budget).
    // Alice asks once a minute, each time right after them: she is never refused.
    let refused = 0;
    const alice: number[] = [];
    for (let s = 1; s <= 120; s++) {
      for (const ip of ['a1', 'a2', 'a3']) if ((await bundleFrom(ip)).status === 429) refused++;
      if (s % 60 === 0) alice.push((await bundleFrom('alice-ip')).status);
      limited.clock.advance(1_000);
    }
    expect(refused).toBeGreaterThan(0);
    expect(alice).toEqual([200, 200]);
  });

  it('limits bundle fetches per IP across handles: the fetch after the burst is a 429 and takes no prekey', async () => {
    const limited = testApp(opened.store, {
      limits: { rates: { bundlesPerIp: { burst: 3, perMinute: 3 } } },
    });
    for (const handle of ['alice', 'bob']) {
      const id = makeIdentity(handle);
      expect((await put(limited, id, publishBody(id, 10))).status).toBe(201);
    }
    const bundleFrom = (ip: string, handle: string) =>
      limited.app.request(`/v1/identities/${handle}/bundle`, { headers: { 'x-test-ip': ip } });
    for (const handle of ['alice', 'bob', 'alice'])
      expect((await bundleFrom('ip-a', handle)).status).toBe(200);
    const refused = await bundleFrom('ip-a', 'bob');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('20');
    expect((await json(refused)).error.code).toBe('rate-limited');
    expect(await opened.store.countOneTimePrekeys('bob')).toBe(9); // only the first fetch took one

    expect((await bundleFrom('ip-b', 'bob')).status).toBe(200);
    limited.clock.advance(20_000);
    expect((await bundleFrom('ip-a', 'bob')).status).toBe(200);
    expect((await bundleFrom('ip-a', 'bob')).status).toBe(429);
  });

  it('writes that fail their signature do not use up the handle: its owner can still rotate', async () => {
    const limited = testApp(opened.store, {
      limits: { rates: { writesPerHandle: { burst: 2, perMinute: 2 } } },
    });
    const alice = makeIdentity('alice');
    expect((await put(limited, alice, publishBody(alice, 1))).status).toBe(201);
    // Someone else's key under alice's name: PUTs and DELETEs that fail alice's signature check.
    const mallory = makeIdentity('alice');
    for (let i = 0; i < 5; i++) {
      expect((await put(limited, mallory, publishBody(mallory, 1))).status).toBe(409);
      expect((await del(limited, 'alice', mallory)).status).toBe(401);
    }
    // Alice's own rotation still goes through: the handle's budget was hers alone.
    const next = makeIdentity('alice');
    expect((await put(limited, alice, publishBody(next, 1), alice, next)).status).toBe(200);
    expect((await put(limited, next, publishBody(next, 1, 20))).status).toBe(429);
  });

  it('hides internals on 5xx and never logs keys or bodies', async () => {
    const broken: DirectoryStore = Object.create(opened.store, {
      publish: {
        value: () =>
          Promise.reject(Object.assign(new Error('boom: secret value in message'), { code: 'X1' })),
      },
    });
    const b = testApp(broken);
    const alice = makeIdentity('alice');
    const body = publishBody(alice);
    const res = await put(b, alice, body);
    expect(res.status).toBe(500);
    expect(await json(res)).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(b.logs.length).toBe(1);
    const logged = b.logs.join('\n');
    expect(logged).not.toContain(body.identityKey);
    expect(logged).not.toContain('secret value');
    expect(logged).not.toContain(body.signedPrekey.publicKey);
  });
});

/** Signed `GET …/prekeys` as the owner asks it. */
async function prekeyStatus(t: TestApp, handle: string, signer: TestIdentity): Promise<Json> {
  const res = await t.send(
    signedRequest('GET', handle, '', signer, { timestamp: secondsOf(t.clock), under: '/prekeys' }),
  );
  expect(res.status).toBe(200);
  return json(res);
}

/** What a client does with a bundle's KEM prekey: parse it and check the identity's signature. */
function verifiedKemPrekey(bundle: Json, identityKey: Uint8Array) {
  const kpk = kemPrekeyFromJson(bundle.kemPrekey);
  expect(
    ed25519.verify(
      kpk.signature,
      kemPrekeyMessage(kpk.id, kpk.lastResort, kpk.publicKey),
      identityKey,
    ),
  ).toBe(true);
  return kpk;
}

describe('KEM prekeys over HTTP (SQLite)', () => {
  let opened: OpenedStore;
  let t: TestApp;
  beforeEach(async () => {
    opened = await openTestSqlite();
    t = testApp(opened.store, { limits: { rates: null } });
  });
  afterEach(async () => opened.cleanup());

  it('stores signed KEM prekeys and hands out each one-time one once, then the last-resort one', async () => {
    const alice = makeIdentity('alice');
    const body = publishBody(alice, 2, 1, 1, {
      kem: { oneTime: 3, firstId: 10, lastResortId: 1 },
    });
    expect((await put(t, alice, body)).status).toBe(201);
    expect(await prekeyStatus(t, 'alice', alice)).toEqual({
      handle: 'alice',
      oneTimePrekeys: 2,
      signedPrekeyId: 1,
      kemOneTimePrekeys: 3,
      kemLastResortId: 1,
    });

    const bundles: Json[] = [];
    for (let i = 0; i < 5; i++)
      bundles.push(await json(await t.app.request('/v1/identities/alice/bundle')));
    expect(bundles.map((b) => b.kemPrekey)).toEqual([
      ...body.kemPrekeys!.oneTime!,
      body.kemPrekeys!.lastResort,
      body.kemPrekeys!.lastResort,
    ]);
    expect(bundles.map((b) => verifiedKemPrekey(b, alice.publicKey).lastResort)).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
    expect(bundles[3]!.kemPrekey.lastResort).toBe(true);
    expect(bundles[0]!.kemPrekey).not.toHaveProperty('lastResort');
    expect(await prekeyStatus(t, 'alice', alice)).toMatchObject({
      kemOneTimePrekeys: 0,
      kemLastResortId: 1,
    });

    // A same-key publish without kemPrekeys (an older client) leaves them as they are.
    expect((await put(t, alice, publishBody(alice, 1, 20))).status).toBe(200);
    expect(await prekeyStatus(t, 'alice', alice)).toMatchObject({
      kemOneTimePrekeys: 0,
      kemLastResortId: 1,
    });
    // A new last-resort key replaces the old one; one-time keys are added.
    const refill = publishBody(alice, 0, 1, 1, {
      kem: { oneTime: 2, firstId: 13, lastResortId: 2 },
    });
    expect((await put(t, alice, refill)).status).toBe(200);
    expect(await prekeyStatus(t, 'alice', alice)).toMatchObject({
      kemOneTimePrekeys: 2,
      kemLastResortId: 2,
    });
    const more: Json[] = [];
    for (let i = 0; i < 3; i++)
      more.push(await json(await t.app.request('/v1/identities/alice/bundle')));
    expect(more.map((b) => b.kemPrekey)).toEqual([
      ...refill.kemPrekeys!.oneTime!,
      refill.kemPrekeys!.lastResort,
    ]);

    // A handle published without KEM prekeys has none in its bundle.
    const bob = makeIdentity('bob');
    expect((await put(t, bob, publishBody(bob, 1))).status).toBe(201);
    expect(await json(await t.app.request('/v1/identities/bob/bundle'))).not.toHaveProperty(
      'kemPrekey',
    );
    expect(await prekeyStatus(t, 'bob', bob)).toMatchObject({
      kemOneTimePrekeys: 0,
      kemLastResortId: null,
    });
  });

  it('refuses KEM prekeys whose signature fails, or that claim the other flag, and stores nothing', async () => {
    const alice = makeIdentity('alice');
    const mallory = makeIdentity('mallory');
    expect(
      (await put(t, alice, publishBody(alice, 1, 1, 1, { kem: { oneTime: 1, lastResortId: 99 } })))
        .status,
    ).toBe(201);
    const before = await prekeyStatus(t, 'alice', alice);
    const identityBefore = await opened.store.getIdentity('alice');
    const headBefore = await json(await t.app.request('/v1/log/head'));

    const oneTimeKey = kemPrekeyJson(alice, 5, false);
    const lastResortKey = kemPrekeyJson(alice, 6, true);
    const good = () => [kemPrekeyJson(alice, 2, false), kemPrekeyJson(alice, 3, false)];
    const withKem = (kemPrekeys: object) => ({ ...publishBody(alice, 1, 50), kemPrekeys });
    const cases: [string, object, string][] = [
      [
        'a one-time key signed by another key',
        withKem({ oneTime: [...good(), kemPrekeyJson(mallory, 4, false)] }),
        'bad-kem-prekey-signature',
      ],
      [
        'a last-resort key signed by another key',
        withKem({ lastResort: kemPrekeyJson(mallory, 4, true) }),
        'bad-kem-prekey-signature',
      ],
      [
        "a signature over another key's bytes",
        withKem({
          oneTime: [{ ...oneTimeKey, publicKey: kemPrekeyJson(alice, 5, false).publicKey }],
        }),
        'bad-kem-prekey-signature',
      ],
      [
        'a signature under another id',
        withKem({ oneTime: [{ ...oneTimeKey, id: 6 }] }),
        'bad-kem-prekey-signature',
      ],
      [
        'a one-time key claimed as the last-resort one',
        withKem({ lastResort: { ...oneTimeKey, lastResort: true } }),
        'bad-kem-prekey-signature',
      ],
      [
        'a last-resort key passed off as a one-time one',
        withKem({ oneTime: [{ ...lastResortKey, lastResort: undefined }] }),
        'bad-kem-prekey-signature',
      ],
      [
        'a last-resort key without lastResort: true',
        withKem({ lastResort: oneTimeKey }),
        'malformed-kem-prekey',
      ],
      [
        'a one-time key with lastResort: true',
        withKem({ oneTime: [lastResortKey] }),
        'malformed-kem-prekey',
      ],
      [
        'an all-zero signature',
        withKem({ oneTime: [{ ...oneTimeKey, signature: base64UrlEncode(new Uint8Array(64)) }] }),
        'bad-kem-prekey-signature',
      ],
    ];
    for (const [name, body, code] of cases) {
      const res = await put(t, alice, body);
      expect(res.status, name).toBe(400);
      expect((await json(res)).error.code, name).toBe(code);
    }
    // A first publish with a bad KEM prekey creates no identity.
    const carol = makeIdentity('carol');
    const carolBody = {
      ...publishBody(carol, 1),
      kemPrekeys: { oneTime: [kemPrekeyJson(mallory, 1, false)] },
    };
    const res = await put(t, carol, carolBody);
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('bad-kem-prekey-signature');
    expect(await opened.store.getIdentity('carol')).toBeUndefined();
    // A rotation's KEM prekeys must be signed by the new key, not the old one.
    const next = makeIdentity('alice');
    const rotation = {
      ...publishBody(next, 1, 100, 9),
      kemPrekeys: { lastResort: kemPrekeyJson(alice, 7, true) },
    };
    const rotated = await put(t, next, rotation, alice, next);
    expect(rotated.status).toBe(400);
    expect((await json(rotated)).error.code).toBe('bad-kem-prekey-signature');

    expect(await prekeyStatus(t, 'alice', alice)).toEqual(before);
    expect(await opened.store.getIdentity('alice')).toEqual(identityBefore);
    expect(await json(await t.app.request('/v1/log/head'))).toEqual(headBefore);
    expect(await opened.store.countOneTimePrekeys('alice')).toBe(1);
  });

  it('limits KEM prekeys per request and per handle (409 too-many-kem-prekeys, nothing stored)', async () => {
    const small = testApp(opened.store, {
      limits: { rates: null, maxKemPrekeysPerRequest: 3, maxStoredKemPrekeys: 5 },
    });
    const alice = makeIdentity('alice');
    const tooMany = await put(small, alice, publishBody(alice, 1, 1, 1, { kem: { oneTime: 4 } }));
    expect(tooMany.status).toBe(409);
    expect((await json(tooMany)).error.code).toBe('too-many-kem-prekeys');
    expect(await opened.store.getIdentity('alice')).toBeUndefined();

    expect(
      (await put(small, alice, publishBody(alice, 1, 1, 1, { kem: { oneTime: 3 } }))).status,
    ).toBe(201);
    expect(
      (await put(small, alice, publishBody(alice, 1, 2, 1, { kem: { oneTime: 2, firstId: 4 } })))
        .status,
    ).toBe(200);
    // Overwriting a stored id adds none.
    expect(
      (await put(small, alice, publishBody(alice, 0, 1, 1, { kem: { oneTime: 1, firstId: 5 } })))
        .status,
    ).toBe(200);
    const before = await prekeyStatus(small, 'alice', alice);
    expect(before).toMatchObject({
      oneTimePrekeys: 2,
      kemOneTimePrekeys: 5,
      kemLastResortId: null,
    });
    const identityBefore = await opened.store.getIdentity('alice');
    // One more one-time KEM key is one too many: the X25519 prekeys and the last-resort key
    // in the same body are not stored either.
    const sixth = await put(
      small,
      alice,
      publishBody(alice, 3, 10, 2, { kem: { oneTime: 1, firstId: 6, lastResortId: 50 } }),
    );
    expect(sixth.status).toBe(409);
    expect((await json(sixth)).error.code).toBe('too-many-kem-prekeys');
    expect(await prekeyStatus(small, 'alice', alice)).toEqual(before);
    expect(await opened.store.getIdentity('alice')).toEqual(identityBefore);
    // The last-resort key is not a one-time key: it never counts against the limit.
    expect(
      (await put(small, alice, publishBody(alice, 0, 1, 1, { kem: { lastResortId: 50 } }))).status,
    ).toBe(200);
  });

  it('takes 50 one-time KEM prekeys and a last-resort one in one publish under the default limits', async () => {
    expect(DEFAULT_LIMITS).toMatchObject({
      maxBodyBytes: 256 * 1024,
      maxKemPrekeysPerRequest: 50,
      maxStoredKemPrekeys: 200,
    });
    const alice = makeIdentity('alice');
    const body = publishBody(alice, 200, 1, 1, { kem: { oneTime: 50, lastResortId: 1000 } });
    const size = new TextEncoder().encode(JSON.stringify(body)).length;
    expect(size).toBeGreaterThan(64 * 1024);
    expect(size).toBeLessThan(DEFAULT_LIMITS.maxBodyBytes / 2);
    expect((await put(t, alice, body)).status).toBe(201);
    expect(await prekeyStatus(t, 'alice', alice)).toMatchObject({
      oneTimePrekeys: 200,
      kemOneTimePrekeys: 50,
      kemLastResortId: 1000,
    });
    const oneMore = { ...body, kemPrekeys: { oneTime: [...body.kemPrekeys!.oneTime!] } };
    oneMore.kemPrekeys.oneTime.push(kemPrekeyJson(alice, 51, false));
    const refused = await put(t, alice, oneMore);
    expect(refused.status).toBe(409);
    expect((await json(refused)).error.code).toBe('too-many-kem-prekeys');
  });

  it('drops every KEM prekey of a handle on rotation and on deletion', async () => {
    const alice = makeIdentity('alice');
    const next = makeIdentity('alice');
    expect(
      (await put(t, alice, publishBody(alice, 1, 1, 1, { kem: { oneTime: 2, lastResortId: 9 } })))
        .status,
    ).toBe(201);
    expect((await put(t, next, publishBody(next, 1, 100, 9), alice, next)).status).toBe(200);
    expect(await prekeyStatus(t, 'alice', next)).toMatchObject({
      kemOneTimePrekeys: 0,
      kemLastResortId: null,
    });
    expect(await json(await t.app.request('/v1/identities/alice/bundle'))).not.toHaveProperty(
      'kemPrekey',
    );

    // A rotation that brings KEM prekeys of the new key keeps those.
    const third = makeIdentity('alice');
    const rotation = publishBody(third, 0, 1, 1, { kem: { oneTime: 1, lastResortId: 3 } });
    expect((await put(t, third, rotation, next, third)).status).toBe(200);
    expect(await prekeyStatus(t, 'alice', third)).toMatchObject({
      kemOneTimePrekeys: 1,
      kemLastResortId: 3,
    });
    expect((await del(t, 'alice', third)).status).toBe(200);
    expect(await opened.store.countKemPrekeys('alice')).toEqual({
      oneTime: 0,
      lastResortId: null,
    });
    // Claimed again, the handle starts without KEM prekeys.
    const again = makeIdentity('alice');
    expect((await put(t, again, publishBody(again, 1))).status).toBe(201);
    expect(await json(await t.app.request('/v1/identities/alice/bundle'))).not.toHaveProperty(
      'kemPrekey',
    );
  });
});

for (const factory of storeFactories()) {
  describe.skipIf(factory.skip !== undefined)(
    `concurrent bundle fetches over HTTP: ${factory.name}`,
    () => {
      let opened: OpenedStore;
      afterAll(async () => opened?.cleanup());

      it('50 clients fetching bundles for one handle never get the same one-time prekey', async () => {
        opened = await factory.open();
        const t = testApp(opened.store, { limits: { rates: null } });
        const bob = makeIdentity('bob');
        const body = publishBody(bob, 30, 1, 1, {
          kem: { oneTime: 30, firstId: 100, lastResortId: 7 },
        });
        expect((await put(t, bob, body)).status).toBe(201);
        const responses = await Promise.all(
          Array.from({ length: 50 }, async () =>
            json(await t.app.request('/v1/identities/bob/bundle')),
          ),
        );
        const ids = responses.flatMap((r) =>
          r.oneTimePrekey ? [r.oneTimePrekey.id as number] : [],
        );
        expect(ids.length).toBe(30);
        expect(new Set(ids).size).toBe(30);
        expect(responses.filter((r) => !r.oneTimePrekey).length).toBe(20);
        expect(await opened.store.countOneTimePrekeys('bob')).toBe(0);
        // The KEM one-time prekeys likewise: each handed out once, then the last-resort one.
        const kemOneTime = responses.flatMap((r) =>
          r.kemPrekey.lastResort ? [] : [r.kemPrekey.id as number],
        );
        expect(kemOneTime.length).toBe(30);
        expect(new Set(kemOneTime).size).toBe(30);
        const lastResort = responses.filter((r) => r.kemPrekey.lastResort);
        expect(lastResort.length).toBe(20);
        for (const r of lastResort) expect(r.kemPrekey).toEqual(body.kemPrekeys!.lastResort);
        expect(await opened.store.countKemPrekeys('bob')).toEqual({ oneTime: 0, lastResortId: 7 });
      });
    },
  );
}

/** `PUT /v1/identities/{handle}/devices`, the request signed by `signer`. */
function putDevices(
  t: TestApp,
  handle: string,
  list: SignedDeviceListJson | string,
  signer: TestIdentity,
  options: { nonce?: string; ip?: string } = {},
) {
  const req = signedRequest(
    'PUT',
    handle,
    typeof list === 'string' ? list : JSON.stringify(list),
    signer,
    { timestamp: secondsOf(t.clock), under: '/devices', nonce: options.nonce },
  );
  return t.send(
    options.ip ? { ...req, headers: { ...req.headers, 'x-test-ip': options.ip } } : req,
  );
}

/**
 * What a client does with `GET …/devices`: parse the list, check it is signed by the account key
 * it verified, that the head is the directory's, and that the 'devices' leaf (handle, digest,
 * sequence, timestamp) is in the log under that head.
 */
async function clientDeviceList(
  t: TestApp,
  handle: string,
  trust: DirectoryTrust,
  accountKey: Uint8Array,
) {
  const res = await t.app.request(`/v1/identities/${handle}/devices`);
  expect(res.status).toBe(200);
  const body = await json(res);
  expect(Object.keys(body).sort()).toEqual([
    'deviceList',
    'entryVersion',
    'head',
    'logIndex',
    'proof',
    'sequence',
    'timestamp',
    'vrfProof',
  ]);
  expect(body.entryVersion).toBe(2);
  const list = deviceListFromJson(body.deviceList);
  await verifyDeviceList(nobleProvider, accountKey, list, { handle });
  const head = decodeTreeHead(body.head);
  verifySignedTreeHead(head, trust);
  const leaf = leafHash(
    encodeLogEntry({
      handle,
      // The label from the VRF proof under the pinned VRF key, never the directory's word.
      label: verifiedLabel(trust, handle, base64UrlDecode(body.vrfProof)),
      identityKey: deviceListDigest(list),
      action: 'devices',
      sequence: body.sequence,
      timestamp: body.timestamp,
    }),
  );
  verifyInclusion(
    leaf,
    body.logIndex,
    head.treeSize,
    body.proof.map((p: string) => base64UrlDecode(p)),
    head.rootHash,
  );
  return { body, list, head };
}

const treeSizeOf = async (t: TestApp) =>
  (await json(await t.app.request('/v1/log/head'))).treeSize as number;

for (const factory of storeFactories()) {
  describe.skipIf(factory.skip !== undefined)(`device lists over HTTP: ${factory.name}`, () => {
    let opened: OpenedStore;
    let t: TestApp;
    beforeEach(async () => {
      opened = await factory.open();
      t = testApp(opened.store);
    });
    afterEach(async () => opened.cleanup());

    it('stores, serves and logs a signed device list; a newer version replaces it', async () => {
      const alice = makeIdentity('alice');
      expect((await put(t, alice, publishBody(alice))).status).toBe(201);
      const trust = await trustOf(t);
      expect((await t.app.request('/v1/identities/alice/devices')).status).toBe(404);

      const v1 = deviceListJson(alice, 1);
      const res = await putDevices(t, 'alice', v1, alice);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({ handle: 'alice', version: 1, logIndex: 1, sequence: 2 });
      const served = await clientDeviceList(t, 'alice', trust, alice.publicKey);
      expect(served.body.deviceList).toEqual(v1);
      expect(served.body).toMatchObject({
        logIndex: 1,
        sequence: 2,
        timestamp: secondsOf(t.clock),
      });
      expect(served.head.treeSize).toBe(2);

      // The log holds the list's digest in the entry's 32-byte field, action 'devices'.
      const digest = base64UrlEncode(deviceListDigest(deviceListFromJson(v1)));
      const entries = await json(await t.app.request('/v1/log/entries?start=0&count=10'));
      expect(entries.entries[1]).toEqual({
        index: 1,
        version: 2,
        label: await labelOf(t, 'alice'),
        identityKey: digest,
        action: 'devices',
        sequence: 2,
        timestamp: secondsOf(t.clock),
      });
      const history = decodeHistoryPage(
        await json(await t.app.request('/v1/identities/alice/history')),
        'alice',
      );
      expect(history.entries.map((e) => [e.entry.sequence, (e.entry as LogEntry).action])).toEqual([
        [1, 'publish'],
        [2, 'devices'],
      ]);
      for (const { entry, inclusionProof } of history.entries)
        verifyInclusion(
          leafHash(encodeLogEntry(entry as LogEntry)),
          entry.index,
          history.head.treeSize,
          inclusionProof,
          history.head.rootHash,
        );

      // A newer version (a third device linked) replaces it and is logged too.
      t.clock.advance(5000);
      const v2 = deviceListJson(alice, 2, {
        devices: [...deviceListFromJson(v1).devices, makeDevice(3)],
      });
      expect(await json(await putDevices(t, 'alice', v2, alice))).toEqual({
        handle: 'alice',
        version: 2,
        logIndex: 2,
        sequence: 3,
      });
      const newer = await clientDeviceList(t, 'alice', trust, alice.publicKey);
      expect(newer.body.deviceList).toEqual(v2);
      expect(newer.list.devices.map((d) => d.id)).toEqual([1, 2, 3]);
      expect(newer.body).toMatchObject({ logIndex: 2, sequence: 3 });
    });

    it('keeps the identity lookup on the key entry when device-list entries follow it', async () => {
      const alice = makeIdentity('alice');
      expect((await put(t, alice, publishBody(alice, 3))).status).toBe(201);
      const trust = await trustOf(t);
      const before = await clientLookup(t, 'alice', trust);
      for (let v = 1; v <= 3; v++)
        expect((await putDevices(t, 'alice', deviceListJson(alice, v), alice)).status).toBe(200);
      expect(await treeSizeOf(t)).toBe(4);

      const after = await clientLookup(t, 'alice', trust, before.head);
      expect(after.identityKey).toEqual(alice.publicKey);
      expect(after.lookup.index).toBe(0);
      expect(after.lookup.entry).toMatchObject({ action: 'publish', sequence: 1 });
      expect(after.lookup.head.treeSize).toBe(4);
      const bundle = await json(await t.app.request('/v1/identities/alice/bundle'));
      expect(bundle).toMatchObject({ logIndex: 0, logEntry: { action: 'publish', sequence: 1 } });
      verifyKeyLookup(decodeIdentityLookup(bundle, 'alice').lookup, trust);
      const inc = await json(await t.app.request('/v1/log/inclusion?handle=alice'));
      expect(inc).toMatchObject({ index: 0, entry: { action: 'publish', sequence: 1 } });
      expect(inc.entry.identityKey).toBe(base64UrlEncode(alice.publicKey));
      // A same-key update answers the key entry too, and keeps the list.
      expect(await json(await put(t, alice, publishBody(alice, 1, 50)))).toMatchObject({
        status: 'updated',
        logIndex: 0,
        sequence: 1,
      });
      expect((await t.app.request('/v1/identities/alice/devices')).status).toBe(200);

      // A rotation after them continues the handle's one sequence (1 publish, 2-4 devices).
      const next = makeIdentity('alice');
      const rotated = await put(t, next, publishBody(next, 1), alice, next);
      expect(rotated.status).toBe(200);
      expect(await json(rotated)).toMatchObject({ status: 'rotated', logIndex: 4, sequence: 5 });
      const lookup = await clientLookup(t, 'alice', trust, after.head);
      expect(lookup.lookup.entry).toMatchObject({ action: 'rotate', sequence: 5 });
      expect((await del(t, 'alice', next)).status).toBe(200);
      expect(
        (await json(await t.app.request('/v1/log/inclusion?handle=alice'))).entry,
      ).toMatchObject({ action: 'delete', sequence: 6 });
    });

    it('refuses requests not signed by the current key, replays, and unknown handles', async () => {
      const alice = makeIdentity('alice');
      const mallory = makeIdentity('alice');
      expect((await put(t, alice, publishBody(alice))).status).toBe(201);
      const list = deviceListJson(alice, 1);

      const noIdentity = await putDevices(
        t,
        'nobody',
        deviceListJson(makeIdentity('nobody')),
        alice,
      );
      expect(noIdentity.status).toBe(404);
      expect((await json(noIdentity)).error.code).toBe('not-found');

      // The list is alice's, the request is not signed by her key.
      const forged = await putDevices(t, 'alice', list, mallory);
      expect(forged.status).toBe(401);
      expect((await json(forged)).error.code).toBe('bad-signature');
      // Signed by alice, but for another path (her identity PUT), the body the same.
      const other = signedRequest('PUT', 'alice', JSON.stringify(list), alice, {
        timestamp: secondsOf(t.clock),
      });
      const moved = await t.send({ ...other, path: '/v1/identities/alice/devices' });
      expect(moved.status).toBe(401);
      expect((await json(moved)).error.code).toBe('bad-signature');
      // Unsigned.
      const unsigned = await t.app.request('/v1/identities/alice/devices', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(list),
      });
      expect((await json(unsigned)).error.code).toBe('missing-signature');
      expect(await treeSizeOf(t)).toBe(1);

      const req = signedRequest('PUT', 'alice', JSON.stringify(list), alice, {
        timestamp: secondsOf(t.clock),
        under: '/devices',
      });
      expect((await t.send(req)).status).toBe(200);
      const again = await t.send(req);
      expect(again.status).toBe(401);
      expect((await json(again)).error.code).toBe('replayed-request');
      // The nonce store is the one identity writes use: a nonce spent here is spent there.
      const reuse = signedRequest('PUT', 'alice', JSON.stringify(publishBody(alice)), alice, {
        timestamp: secondsOf(t.clock),
        nonce: req.headers['x-veil-nonce'],
      });
      expect((await json(await t.send(reuse))).error.code).toBe('replayed-request');
      expect(await treeSizeOf(t)).toBe(2);
    });

    it('refuses a list signed by another key, for another handle, or not newer than the stored one', async () => {
      const alice = makeIdentity('alice');
      const mallory = makeIdentity('mallory');
      expect((await put(t, alice, publishBody(alice))).status).toBe(201);
      expect((await put(t, mallory, publishBody(mallory))).status).toBe(201);
      const expectRefused = async (res: Response, status: number, code: string) => {
        expect(res.status).toBe(status);
        expect((await json(res)).error.code).toBe(code);
      };

      // Mallory's devices in a list for alice, signed by mallory; alice's request carries it.
      await expectRefused(
        await putDevices(t, 'alice', deviceListJson(alice, 1, { signer: mallory }), alice),
        400,
        'bad-device-list-signature',
      );
      // A list alice signed for another handle, sent under hers or under that handle.
      const forBob = deviceListJson(alice, 1, { handle: 'mallory' });
      await expectRefused(await putDevices(t, 'alice', forBob, alice), 400, 'handle-mismatch');
      await expectRefused(
        await putDevices(t, 'mallory', forBob, mallory),
        400,
        'bad-device-list-signature',
      );
      // Mallory re-sends alice's genuine list under his own handle.
      await expectRefused(
        await putDevices(t, 'mallory', deviceListJson(alice, 1), mallory),
        400,
        'handle-mismatch',
      );
      expect(await treeSizeOf(t)).toBe(2);
      expect((await t.app.request('/v1/identities/alice/devices')).status).toBe(404);

      const v1 = deviceListJson(alice, 1);
      const v2 = deviceListJson(alice, 2);
      expect((await putDevices(t, 'alice', v1, alice)).status).toBe(200);
      expect((await putDevices(t, 'alice', v2, alice)).status).toBe(200);
      // The older list again, in a fresh request signed by alice (a replay of what she once
      // sent, or a device that missed the update): refused, the newer one stays.
      await expectRefused(await putDevices(t, 'alice', v1, alice), 409, 'stale-device-list');
      // The same version with other devices: refused too.
      await expectRefused(
        await putDevices(t, 'alice', deviceListJson(alice, 2), alice),
        409,
        'stale-device-list',
      );
      expect(await treeSizeOf(t)).toBe(4);
      expect((await json(await t.app.request('/v1/identities/alice/devices'))).deviceList).toEqual(
        v2,
      );
    });

    it('drops the list on rotation and deletion; the new key starts again at any version', async () => {
      const alice = makeIdentity('alice');
      const next = makeIdentity('alice');
      expect((await put(t, alice, publishBody(alice))).status).toBe(201);
      const old = deviceListJson(alice, 7);
      expect((await putDevices(t, 'alice', old, alice)).status).toBe(200);
      const trust = await trustOf(t);

      expect((await put(t, next, publishBody(next), alice, next)).status).toBe(200);
      const gone = await t.app.request('/v1/identities/alice/devices');
      expect(gone.status).toBe(404);
      expect(await opened.store.getDeviceList('alice')).toBeUndefined();
      // The old key's list, sent again by the new key: its signature is the old key's.
      const resent = await putDevices(t, 'alice', old, next);
      expect(resent.status).toBe(400);
      expect((await json(resent)).error.code).toBe('bad-device-list-signature');
      // The old key can no longer sign a list.
      expect((await putDevices(t, 'alice', deviceListJson(alice, 8), alice)).status).toBe(401);
      // The new key's list may start at 1.
      const fresh = deviceListJson(next, 1);
      expect(await json(await putDevices(t, 'alice', fresh, next))).toMatchObject({
        version: 1,
        sequence: 4,
      });
      expect((await clientDeviceList(t, 'alice', trust, next.publicKey)).body.deviceList).toEqual(
        fresh,
      );
      // Served under the old key it would not verify.
      await expect(clientDeviceList(t, 'alice', trust, alice.publicKey)).rejects.toMatchObject({
        code: 'bad-signature',
      });

      expect((await del(t, 'alice', next)).status).toBe(200);
      expect((await t.app.request('/v1/identities/alice/devices')).status).toBe(404);
      expect(await opened.store.getDeviceList('alice')).toBeUndefined();
      const again = makeIdentity('alice');
      expect((await put(t, again, publishBody(again))).status).toBe(201);
      expect((await t.app.request('/v1/identities/alice/devices')).status).toBe(404);
      // Every list stays in the log: publish, devices, rotate, devices, delete, publish.
      const history = await json(await t.app.request('/v1/identities/alice/history'));
      expect(history.entries.map((e: Json) => e.entry.action)).toEqual([
        'publish',
        'devices',
        'rotate',
        'devices',
        'delete',
        'publish',
      ]);
    });

    it('rate-limits device-list writes like other writes, and their lookups like lookups', async () => {
      const limited = testApp(opened.store, {
        limits: {
          rates: {
            writesPerIp: { burst: 4, perMinute: 4 },
            writesPerHandle: { burst: 2, perMinute: 2 },
            notFoundPerIp: { burst: 2, perMinute: 1 },
          },
        },
      });
      const alice = makeIdentity('alice');
      const mallory = makeIdentity('alice');
      expect((await put(limited, alice, publishBody(alice))).status).toBe(201); // handle: 1 of 2
      // Requests that fail the signature do not use up alice's handle budget…
      expect((await putDevices(limited, 'alice', deviceListJson(mallory, 1), mallory)).status).toBe(
        401,
      );
      expect((await putDevices(limited, 'alice', deviceListJson(alice, 1), alice)).status).toBe(
        200,
      );
      const third = await putDevices(limited, 'alice', deviceListJson(alice, 2), alice);
      expect(third.status).toBe(429);
      const thirdError = (await json(third)).error;
      expect(thirdError.code).toBe('rate-limited');
      expect(thirdError.message).toContain('for this handle');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      // …and the per-IP budget covers every write: four spent on this address.
      const fromIp = await putDevices(limited, 'alice', deviceListJson(alice, 2), alice);
      expect(fromIp.status).toBe(429);
      expect((await json(fromIp)).error.message).not.toContain('for this handle');
      expect(
        (await putDevices(limited, 'alice', deviceListJson(alice, 2), alice, { ip: 'other' }))
          .status,
      ).toBe(429); // still the handle's budget
      expect(
        (await json(await limited.app.request('/v1/identities/alice/devices'))).deviceList.version,
      ).toBe(1);

      expect((await limited.app.request('/v1/identities/nobody1/devices')).status).toBe(404);
      expect((await limited.app.request('/v1/identities/nobody2/devices')).status).toBe(404);
      expect((await limited.app.request('/v1/identities/nobody3/devices')).status).toBe(429);
      expect((await limited.app.request('/v1/identities/nobody3')).status).toBe(429);
    });
  });
}

describe('a directory that swaps a key is caught (real app, tampered store)', () => {
  it('serving a key without a log entry, or from a forked log, fails client checks', async () => {
    const real = await openTestSqlite();
    const fork = await openTestSqlite();
    try {
      const honest = testApp(real.store);
      const alice = makeIdentity('alice');
      const mallory = makeIdentity('alice');
      const bob = makeIdentity('bob');
      await put(honest, bob, publishBody(bob));
      await put(honest, alice, publishBody(alice));
      const trust = await trustOf(honest);
      const remembered = (await clientLookup(honest, 'alice', trust)).head;

      // 1. The operator rewrites alice's key in the database, without a log entry.
      const db = new (await import('better-sqlite3')).default(real.file);
      db.prepare('UPDATE identities SET identity_key = ? WHERE handle = ?').run(
        Buffer.from(mallory.publicKey),
        'alice',
      );
      db.close();
      const tampered = testApp(real.store, { signer: honest.signer }); // the operator restarts it
      const swapped = await json(await tampered.app.request('/v1/identities/alice'));
      const decoded = decodeIdentityLookup(swapped, 'alice');
      expect(decoded.identityKey).toEqual(mallory.publicKey);
      expect(() => verifyKeyLookup(decoded.lookup, trust)).toThrow(
        expect.objectContaining({ code: 'bad-proof' }),
      );

      // 2. The operator runs a forked log (same signing key) where alice has mallory's key.
      const forked = testApp(fork.store, { signer: honest.signer });
      await put(forked, bob, publishBody(bob));
      await put(forked, mallory, publishBody(mallory));
      const carol = makeIdentity('carol');
      await put(forked, carol, publishBody(carol));
      let caught: unknown;
      try {
        await clientLookup(forked, 'alice', trust, remembered);
      } catch (e) {
        caught = e;
      }
      expect(isVeilError(caught, 'bad-proof')).toBe(true);
    } finally {
      await real.cleanup();
      await fork.cleanup();
    }
  });
});
