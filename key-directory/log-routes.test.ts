// The routes that let a client see the whole log, not only what one lookup proves: a handle's
// history (every entry, each with an inclusion proof against one signed head, paged) and the
// compact range of [0, size) a monitor starts from; plus their bad-input answers and the log
// key fingerprint on the lookup page. Both stores (SQLite; PostgreSQL with DATABASE_URL_TEST).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeCompactRange,
  decodeHistoryPage,
  decodeTreeHead,
} from '../extension/protocol/directory-request';
import {
  compactRange,
  compactRangeRoot,
  directoryKeyFingerprint,
  encodeLogEntry,
  leafHash,
  verifyInclusion,
  verifySignedTreeHead,
} from '../extension/protocol/transparency';
import { makeIdentity, publishBody, signedRequest, type TestIdentity } from './client-signing';
import { rootAt } from './log';
import { type OpenedStore, type TestApp, secondsOf, storeFactories, testApp } from './testing';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const get = async (t: TestApp, path: string) => {
  const res = await t.app.request(path);
  return { status: res.status, body: (await res.json()) as Json };
};

function put(t: TestApp, id: TestIdentity, signer = id, newKey?: TestIdentity) {
  const body = JSON.stringify(publishBody(id, 1));
  return t.send(
    signedRequest('PUT', id.handle, body, signer, { newKey, timestamp: secondsOf(t.clock) }),
  );
}

function del(t: TestApp, handle: string, signer: TestIdentity) {
  return t.send(signedRequest('DELETE', handle, '', signer, { timestamp: secondsOf(t.clock) }));
}

for (const factory of storeFactories()) {
  describe.skipIf(factory.skip !== undefined)(`log routes (${factory.name})`, () => {
    let opened: OpenedStore;
    let t: TestApp;
    const trust = () => ({ origin: t.signer.origin, publicKey: t.signer.publicKey });

    beforeAll(async () => {
      opened = await factory.open();
      t = testApp(opened.store, { limits: { maxHistoryEntriesPerRequest: 2 } });
      // alice: publish, rotate, delete, publish again; other handles' entries in between.
      const a1 = makeIdentity('alice');
      const a2 = makeIdentity('alice');
      const a3 = makeIdentity('alice');
      expect((await put(t, a1)).status).toBe(201);
      for (const h of ['bob', 'carol']) expect((await put(t, makeIdentity(h))).status).toBe(201);
      t.clock.advance(1000);
      expect((await put(t, a2, a1, a2)).status).toBe(200);
      expect((await put(t, makeIdentity('dave'))).status).toBe(201);
      expect((await del(t, 'alice', a2)).status).toBe(200);
      expect((await put(t, a3)).status).toBe(201);
      expect((await put(t, makeIdentity('erin'))).status).toBe(201);
    });
    afterAll(async () => opened?.cleanup());

    it("lists every entry of a handle in pages, each proven against the page's signed head", async () => {
      const seen: [number, string][] = [];
      let after = 0;
      for (let page = 0; page < 5; page++) {
        const { status, body } = await get(
          t,
          `/v1/identities/alice/history${after ? `?after=${after}` : ''}`,
        );
        expect(status).toBe(200);
        const decoded = decodeHistoryPage(body, 'alice');
        verifySignedTreeHead(decoded.head, trust());
        expect(decoded.entries.length).toBeLessThanOrEqual(2);
        for (const { entry, inclusionProof } of decoded.entries) {
          if ('redacted' in entry) throw new Error('alice is not deleted');
          verifyInclusion(
            leafHash(encodeLogEntry(entry)),
            entry.index,
            decoded.head.treeSize,
            inclusionProof,
            decoded.head.rootHash,
          );
          seen.push([entry.sequence, entry.action]);
          after = entry.sequence;
        }
        if (!decoded.more) break;
      }
      expect(seen).toEqual([
        [1, 'publish'],
        [2, 'rotate'],
        [3, 'delete'],
        [4, 'publish'],
      ]);
    });

    it('answers an empty page after the last entry, and 404 for a handle never logged', async () => {
      const last = await get(t, '/v1/identities/alice/history?after=4');
      expect(last.status).toBe(200);
      expect(last.body).toMatchObject({ handle: 'alice', entries: [], more: false });
      const never = await get(t, '/v1/identities/nobody/history');
      expect(never.status).toBe(404);
      expect(never.body).toEqual({
        error: { code: 'not-found', message: expect.any(String) },
      });
      // A deleted handle still has its history.
      const bob = await get(t, '/v1/identities/bob/history');
      expect(bob.body.entries).toHaveLength(1);
    });

    it.each([
      ['/v1/identities/Alice!/history', 400, 'bad-handle'],
      ['/v1/identities/alice/history?after=x', 400, 'invalid-query'],
      ['/v1/identities/alice/history?after=-1', 400, 'invalid-query'],
      ['/v1/identities/alice/history?after=01', 400, 'invalid-query'],
      ['/v1/identities/alice/history?after=99999999999999999', 400, 'invalid-query'],
      ['/v1/identities/alice/history?start=1', 400, 'invalid-query'],
      ['/v1/log/compact-range', 400, 'invalid-query'],
      ['/v1/log/compact-range?size=', 400, 'invalid-query'],
      ['/v1/log/compact-range?size=1.5', 400, 'invalid-query'],
      ['/v1/log/compact-range?size=3&start=0', 400, 'invalid-query'],
      ['/v1/log/compact-range?size=1000', 400, 'out-of-range'],
    ])('GET %s → %i %s', async (path, status, code) => {
      const res = await get(t, path);
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    });

    it('serves the compact range of every size up to the head, folding to that root', async () => {
      const head = decodeTreeHead((await get(t, '/v1/log/head')).body);
      for (let size = 0; size <= head.treeSize; size++) {
        const { status, body } = await get(t, `/v1/log/compact-range?size=${size}`);
        expect(status).toBe(200);
        const decoded = decodeCompactRange(body);
        expect(decoded.size).toBe(size);
        const range = compactRange(decoded.size, decoded.hashes);
        expect(compactRangeRoot(range)).toEqual(await rootAt(opened.store, size));
      }
      const full = decodeCompactRange(
        (await get(t, `/v1/log/compact-range?size=${head.treeSize}`)).body,
      );
      expect(compactRangeRoot(compactRange(full.size, full.hashes))).toEqual(head.rootHash);
    });

    it("shows the log key's fingerprint on the lookup page", async () => {
      const expected = directoryKeyFingerprint(t.signer.origin, t.signer.publicKey);
      for (const path of ['/', '/?handle=carol', '/?handle=nobody', '/?handle=Bad!']) {
        const html = await (await t.app.request(path)).text();
        expect(html, path).toContain(`<code data-veil="directory-key">${expected}</code>`);
      }
    });
  });
}
