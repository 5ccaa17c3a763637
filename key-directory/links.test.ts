// The link relay (link-routes.ts, link-store.ts) on both stores: a request stored once, read by
// the linked browser, answered once, the answer taken once and the entry gone; nothing served
// after 10 minutes (and purged); strict 400s naming the field; the per-IP limit; migration 6.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { base64UrlDecode, base64UrlEncode } from '../extension/protocol/directory-request';
import {
  createLinkCode,
  linkKeys,
  linkReplyKeyPair,
  openLinkAnswer,
  openLinkRequest,
  sealLinkAnswer,
  sealLinkRequest,
} from '../extension/protocol/link-code';
import { LINK_TTL_MS } from './link-routes';
import { LATEST_VERSION } from './migrations/index';
import type { DirectoryStore } from './store';
import { type OpenedStore, type TestApp, TestClock, storeFactories, testApp } from './testing';

const randomBytes = (n: number) => new Uint8Array(nodeRandomBytes(n));
type Json = Record<string, unknown>;

let ipCounter = 0;

/** A link from A's and B's side, with the JSON bodies B and A would send. */
function newLink() {
  const accountKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const { secret } = createLinkCode({
    handle: 'alice',
    accountKey,
    directoryUrl: 'https://dir.example',
    expiresAt: 2_000_000_000,
    randomBytes,
  });
  const keys = linkKeys(secret);
  const deviceKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const reply = linkReplyKeyPair(randomBytes);
  const request = sealLinkRequest(keys, {
    handle: 'alice',
    deviceKey,
    replyKey: reply.publicKey,
  });
  return {
    keys,
    id: keys.idHex,
    deviceKey,
    reply,
    request,
    requestJson: {
      deviceKey: base64UrlEncode(request.deviceKey),
      replyKey: base64UrlEncode(request.replyKey),
      mac: base64UrlEncode(request.mac),
    },
  };
}

for (const factory of storeFactories()) {
  describe.skipIf(factory.skip !== undefined)(`link relay: ${factory.name}`, () => {
    let opened: OpenedStore;
    let store: DirectoryStore;
    let t: TestApp;
    let clock: TestClock;
    let ip: string;

    beforeAll(async () => {
      opened = await factory.open();
      store = opened.store;
      clock = new TestClock();
      t = testApp(store, {}, clock);
    });
    afterAll(async () => {
      await opened?.cleanup();
    });

    // Each test its own IP: the per-IP limit is tested on its own.
    const call = (method: 'GET' | 'PUT', path: string, body?: unknown, headers: Json = {}) =>
      t.app.request(path, {
        method,
        headers: {
          'x-test-ip': ip,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(headers as Record<string, string>),
        },
        body:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
    const putRequest = (id: string, body: unknown) => call('PUT', `/v1/links/${id}`, body);
    const getRequest = (id: string) => call('GET', `/v1/links/${id}`);
    const putAnswer = (id: string, body: unknown) => call('PUT', `/v1/links/${id}/answer`, body);
    const getAnswer = (id: string) => call('GET', `/v1/links/${id}/answer`);
    const errorCode = async (res: Response) =>
      ((await res.json()) as { error: { code: string } }).error.code;
    const cutoff = () => clock.now - LINK_TTL_MS;

    beforeEach(() => {
      ip = `links-${++ipCounter}`;
    });

    it('relays a request and its answer once, then forgets the link (happy path)', async () => {
      const link = newLink();
      const put = await putRequest(link.id, link.requestJson);
      expect(put.status).toBe(201);
      expect(await put.json()).toEqual({
        id: link.id,
        expiresAt: Math.floor((clock.now + LINK_TTL_MS) / 1000),
      });

      // A reads the request and checks its MAC.
      const got = await getRequest(link.id);
      expect(got.status).toBe(200);
      const served = (await got.json()) as Json;
      expect(served).toEqual({ ...link.requestJson, answered: false });
      const opened = openLinkRequest(link.keys, 'alice', {
        deviceKey: base64UrlDecode(served.deviceKey as string),
        replyKey: base64UrlDecode(served.replyKey as string),
        mac: base64UrlDecode(served.mac as string),
      });
      expect(opened.deviceKey).toEqual(link.deviceKey);

      // No answer yet.
      expect((await getAnswer(link.id)).status).toBe(404);

      const payload = new TextEncoder().encode('signed device list and sync key');
      const sealed = sealLinkAnswer(link.keys, opened, payload, randomBytes);
      const answered = await putAnswer(link.id, { sealed: base64UrlEncode(sealed) });
      expect(answered.status).toBe(201);
      expect(((await (await getRequest(link.id)).json()) as Json).answered).toBe(true);

      // B takes the answer and opens it; the entry is gone at once.
      const taken = await getAnswer(link.id);
      expect(taken.status).toBe(200);
      const body = (await taken.json()) as { sealed: string };
      const own = { deviceKey: link.deviceKey, replySecretKey: link.reply.secretKey };
      expect(openLinkAnswer(link.keys, own, base64UrlDecode(body.sealed))).toEqual(payload);
      expect((await getAnswer(link.id)).status).toBe(404);
      expect((await getRequest(link.id)).status).toBe(404);
      expect(await store.links.getRequest(link.id, cutoff())).toBeUndefined();
    });

    it('refuses a second request for the same id with 409 link-exists, keeping the first', async () => {
      const link = newLink();
      expect((await putRequest(link.id, link.requestJson)).status).toBe(201);
      const other = newLink();
      const again = await putRequest(link.id, other.requestJson);
      expect(again.status).toBe(409);
      expect(await errorCode(again)).toBe('link-exists');
      const same = await putRequest(link.id, link.requestJson);
      expect(same.status).toBe(409);
      expect(((await (await getRequest(link.id)).json()) as Json).deviceKey).toBe(
        link.requestJson.deviceKey,
      );
    });

    it('answers 404 to an answer without a request, and 409 link-answered to a second answer', async () => {
      const link = newLink();
      const sealed = { sealed: base64UrlEncode(randomBytes(100)) };
      const orphan = await putAnswer(link.id, sealed);
      expect(orphan.status).toBe(404);
      expect(await errorCode(orphan)).toBe('not-found');
      expect(await store.links.count(cutoff())).toBeGreaterThanOrEqual(0);
      expect(await store.links.getRequest(link.id, cutoff())).toBeUndefined();

      expect((await putRequest(link.id, link.requestJson)).status).toBe(201);
      expect((await putAnswer(link.id, sealed)).status).toBe(201);
      const second = await putAnswer(link.id, { sealed: base64UrlEncode(randomBytes(50)) });
      expect(second.status).toBe(409);
      expect(await errorCode(second)).toBe('link-answered');
      // The first answer stands.
      const taken = (await (await getAnswer(link.id)).json()) as { sealed: string };
      expect(taken.sealed).toBe(sealed.sealed);
    });

    it('answers 404 for the answer and the request once the answer was read', async () => {
      const link = newLink();
      await putRequest(link.id, link.requestJson);
      await putAnswer(link.id, { sealed: base64UrlEncode(randomBytes(80)) });
      expect((await getAnswer(link.id)).status).toBe(200);
      expect((await getAnswer(link.id)).status).toBe(404);
      expect((await getRequest(link.id)).status).toBe(404);
      // The id is free again only in the sense that nothing is stored; a new request under it
      // would need the same code, which B never reuses.
      expect(await store.links.getRequest(link.id, cutoff())).toBeUndefined();
    });

    it('serves nothing 10 minutes after the request, and purges it', async () => {
      const start = clock.now;
      const answeredLink = newLink();
      const openLink = newLink();
      await putRequest(answeredLink.id, answeredLink.requestJson);
      await putRequest(openLink.id, openLink.requestJson);
      await putAnswer(answeredLink.id, { sealed: base64UrlEncode(randomBytes(80)) });

      clock.now = start + LINK_TTL_MS - 1;
      expect((await getRequest(openLink.id)).status).toBe(200);

      clock.now = start + LINK_TTL_MS;
      expect((await getAnswer(answeredLink.id)).status).toBe(404);
      expect((await getRequest(openLink.id)).status).toBe(404);
      expect((await putAnswer(openLink.id, { sealed: 'AAAA' })).status).toBe(404);
      // Gone from the table, not just hidden.
      expect(await store.links.getRequest(openLink.id, 0)).toBeUndefined();
      expect(await store.links.getRequest(answeredLink.id, 0)).toBeUndefined();
      expect(await store.links.count(cutoff())).toBe(0);
    });

    describe('bad input: 400 naming the field, nothing stored', () => {
      const good = () => newLink();

      it.each([
        ['uppercase hex', 'A'.repeat(32)],
        ['too short', 'a'.repeat(31)],
        ['too long', 'a'.repeat(33)],
        ['not hex', 'g'.repeat(32)],
      ])('bad id (%s) → 400 bad-link-id on every route', async (_name, id) => {
        const link = good();
        for (const res of [
          await putRequest(id, link.requestJson),
          await getRequest(id),
          await putAnswer(id, { sealed: 'AAAA' }),
          await getAnswer(id),
        ]) {
          expect(res.status).toBe(400);
          expect(await errorCode(res)).toBe('bad-link-id');
        }
      });

      it.each([
        ['deviceKey', { deviceKey: 'AAAA' }, /body\.deviceKey/],
        ['replyKey padded', { replyKey: `${base64UrlEncode(randomBytes(31))}=` }, /body\.replyKey/],
        ['mac with +', { mac: `+${base64UrlEncode(randomBytes(32)).slice(1)}` }, /body\.mac/],
        ['mac not a string', { mac: 32 }, /body\.mac/],
        ['mac too long', { mac: base64UrlEncode(randomBytes(33)) }, /body\.mac/],
      ])('request with a bad %s → 400 invalid-field', async (_name, change, field) => {
        const link = good();
        const res = await putRequest(link.id, { ...link.requestJson, ...change });
        expect(res.status).toBe(400);
        const { error } = (await res.json()) as { error: { code: string; message: string } };
        expect(error.code).toBe('invalid-field');
        expect(error.message).toMatch(field);
        expect(await store.links.getRequest(link.id, cutoff())).toBeUndefined();
      });

      it('request with a missing or unknown field, or not JSON → 400', async () => {
        const link = good();
        const { mac: _mac, ...noMac } = link.requestJson;
        const missing = await putRequest(link.id, noMac);
        expect(missing.status).toBe(400);
        expect(await errorCode(missing)).toBe('invalid-field');
        const extra = await putRequest(link.id, { ...link.requestJson, handle: 'alice' });
        expect(extra.status).toBe(400);
        expect(await errorCode(extra)).toBe('unknown-field');
        const notJson = await putRequest(link.id, '{"deviceKey":');
        expect(notJson.status).toBe(400);
        expect(await errorCode(notJson)).toBe('malformed-json');
        const array = await putRequest(link.id, '[]');
        expect(array.status).toBe(400);
        expect(await errorCode(array)).toBe('invalid-field');
        const text = await call('PUT', `/v1/links/${link.id}`, JSON.stringify(link.requestJson), {
          'content-type': 'text/plain',
        });
        expect(text.status).toBe(415);
        expect(await store.links.getRequest(link.id, cutoff())).toBeUndefined();
      });

      it('oversize or bad answers → 400 (or 413 for the body), nothing stored', async () => {
        const link = good();
        await putRequest(link.id, link.requestJson);
        const cases: [unknown, number, string][] = [
          [{ sealed: base64UrlEncode(randomBytes(8193)) }, 400, 'invalid-field'],
          [{ sealed: '' }, 400, 'invalid-field'],
          [{ sealed: 'AAA=' }, 400, 'invalid-field'],
          [{ sealed: 'A A' }, 400, 'invalid-field'],
          [{}, 400, 'invalid-field'],
          [{ sealed: 'AAAA', more: 1 }, 400, 'unknown-field'],
          [JSON.stringify({ sealed: 'A'.repeat(20_000) }), 413, 'payload-too-large'],
        ];
        for (const [body, status, code] of cases) {
          const res = await putAnswer(link.id, body);
          expect(res.status, JSON.stringify(body).slice(0, 40)).toBe(status);
          const { error } = (await res.json()) as { error: { code: string; message: string } };
          expect(error.code).toBe(code);
          if (code === 'invalid-field') expect(error.message).toMatch(/body\.sealed|body:/);
        }
        expect(((await (await getRequest(link.id)).json()) as Json).answered).toBe(false);
        // The largest answer passes.
        const max = await putAnswer(link.id, { sealed: base64UrlEncode(randomBytes(8192)) });
        expect(max.status).toBe(201);
      });
    });

    it('limits link requests per IP (60 at once), other IPs unaffected', async () => {
      const link = newLink();
      for (let i = 0; i < 60; i++) expect((await getRequest(link.id)).status).toBe(404);
      const limited = await getRequest(link.id);
      expect(limited.status).toBe(429);
      expect(await errorCode(limited)).toBe('rate-limited');
      expect(limited.headers.get('retry-after')).toBe('1');
      const writeLimited = await putRequest(link.id, link.requestJson);
      expect(writeLimited.status).toBe(429);
      ip = 'links-other';
      expect((await putRequest(link.id, link.requestJson)).status).toBe(201);
    });

    it('migration 6 (link requests) goes down and up', async () => {
      const temp = await factory.open();
      try {
        const link = newLink();
        expect(await temp.store.links.putRequest(link.id, link.request, 1000, 0)).toBe('stored');
        await temp.store.migrate(3);
        expect(await temp.store.schemaVersion()).toBe(3);
        await expect(temp.store.links.getRequest(link.id, 0)).rejects.toThrow();
        await temp.store.migrate();
        expect(await temp.store.schemaVersion()).toBe(LATEST_VERSION);
        // Down dropped the short-lived entries: nothing of them comes back.
        expect(await temp.store.links.getRequest(link.id, 0)).toBeUndefined();
        expect(await temp.store.links.putRequest(link.id, link.request, 1000, 0)).toBe('stored');
        expect(await temp.store.links.putRequest(link.id, link.request, 1000, 0)).toBe('exists');
      } finally {
        await temp.cleanup();
      }
    });
  });
}
