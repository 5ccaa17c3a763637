// Bad input, table-driven: each request gets a 4xx JSON error with a stable code, and nothing is
// stored (checked in the store afterwards, and an existing identity is left exactly as it was).
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64UrlEncode } from '../extension/protocol/directory-request';
import {
  kemPrekeyJson,
  makeIdentity,
  publishBody,
  signedRequest,
  type PublishBodyJson,
} from './client-signing';
import type { IdentityRecord } from './store';
import {
  type OpenedStore,
  type TestApp,
  TestClock,
  openTestSqlite,
  secondsOf,
  testApp,
} from './testing';

interface Case {
  name: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  status: number;
  code?: string;
}

const alice = makeIdentity('alice');
const eve = makeIdentity('alice');
const owner = makeIdentity('owner');
const long = 'a'.repeat(2000);
const valid = (): PublishBodyJson => publishBody(alice, 2);
const P_MINUS_1 = Uint8Array.from({ length: 32 }, (_, i) =>
  i === 0 ? 0xec : i === 31 ? 0x7f : 0xff,
);
const ED_IDENTITY_POINT = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));

/** A valid body with KEM prekeys (made once: ML-KEM key generation takes a few ms a key). */
const withKem: PublishBodyJson = publishBody(alice, 2, 1, 1, {
  kem: { oneTime: 2, firstId: 1, lastResortId: 9 },
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary JSON
function mutate(f: (b: Record<string, any>) => void, base: PublishBodyJson = valid()): string {
  const b = JSON.parse(JSON.stringify(base));
  f(b);
  return JSON.stringify(b);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary JSON
const mutateKem = (f: (b: Record<string, any>) => void) => mutate(f, withKem);

const clock = new TestClock();
let t: TestApp;
/** A PUT for alice signed correctly over `body` (unless `signer` or headers say otherwise). */
function signed(
  body: string,
  opts: {
    signer?: typeof alice;
    handle?: string;
    skew?: number;
    headers?: Record<string, string>;
  } = {},
) {
  const req = signedRequest('PUT', opts.handle ?? 'alice', body, opts.signer ?? alice, {
    timestamp: secondsOf(clock) + (opts.skew ?? 0),
  });
  return { path: req.path, headers: { ...req.headers, ...opts.headers }, body };
}

function cases(): Case[] {
  const ok = JSON.stringify(valid());
  const c = (name: string, status: number, code: string, req: Partial<Case>): Case => ({
    name,
    status,
    code,
    ...req,
  });
  return [
    // --- JSON and schema ---
    c('malformed JSON', 400, 'malformed-json', signed('{"handle": "alice",')),
    c('invalid UTF-8', 400, 'malformed-json', {
      ...signed('x'),
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
    }),
    c('empty body', 400, 'malformed-json', signed('')),
    c('JSON array', 400, 'invalid-field', signed('[]')),
    c('JSON null', 400, 'invalid-field', signed('null')),
    c('JSON string', 400, 'invalid-field', signed('"alice"')),
    c('unknown top-level field', 400, 'unknown-field', signed(mutate((b) => (b.admin = true)))),
    c('__proto__ field', 400, 'unknown-field', signed(ok.replace('{', '{"__proto__":{"x":1},'))),
    c(
      'unknown nested field',
      400,
      'unknown-field',
      signed(mutate((b) => (b.signedPrekey.extra = 1))),
    ),
    c('missing field', 400, 'invalid-field', signed(mutate((b) => delete b.signedPrekey))),
    c('identityKey as number', 400, 'invalid-field', signed(mutate((b) => (b.identityKey = 123)))),
    c(
      'identityKey padded base64',
      400,
      'invalid-field',
      signed(mutate((b) => (b.identityKey += '='))),
    ),
    c(
      'identityKey standard base64',
      400,
      'invalid-field',
      signed(mutate((b) => (b.identityKey = '+' + b.identityKey.slice(1)))),
    ),
    c(
      'identityKey 31 bytes',
      400,
      'invalid-field',
      signed(mutate((b) => (b.identityKey = base64UrlEncode(new Uint8Array(31))))),
    ),
    c(
      'identityKey 2000 chars',
      400,
      'invalid-field',
      signed(mutate((b) => (b.identityKey = long))),
    ),
    c(
      'identityKey small-order point',
      400,
      'invalid-field',
      signed(mutate((b) => (b.identityKey = base64UrlEncode(ED_IDENTITY_POINT)))),
    ),
    c('spk id as string', 400, 'invalid-field', signed(mutate((b) => (b.signedPrekey.id = '1')))),
    c('spk id negative', 400, 'invalid-field', signed(mutate((b) => (b.signedPrekey.id = -1)))),
    c('spk id fractional', 400, 'invalid-field', signed(mutate((b) => (b.signedPrekey.id = 1.5)))),
    c(
      'spk id above u32',
      400,
      'invalid-field',
      signed(mutate((b) => (b.signedPrekey.id = 2 ** 32))),
    ),
    c(
      'spk all-zero key',
      400,
      'invalid-field',
      signed(mutate((b) => (b.signedPrekey.publicKey = base64UrlEncode(new Uint8Array(32))))),
    ),
    c(
      'spk key p-1 (low order)',
      400,
      'invalid-field',
      signed(mutate((b) => (b.signedPrekey.publicKey = base64UrlEncode(P_MINUS_1)))),
    ),
    c(
      'spk signature by another key',
      400,
      'bad-prekey-signature',
      signed(mutate((b) => (b.signedPrekey = publishBody(eve).signedPrekey))),
    ),
    c(
      'spk signature for another id',
      400,
      'bad-prekey-signature',
      signed(mutate((b) => (b.signedPrekey.id = 2))),
    ),
    c(
      'oneTimePrekeys as object',
      400,
      'invalid-field',
      signed(mutate((b) => (b.oneTimePrekeys = {}))),
    ),
    c(
      'one-time prekey id 0',
      400,
      'invalid-field',
      signed(mutate((b) => (b.oneTimePrekeys[0].id = 0))),
    ),
    c(
      'duplicate one-time prekey ids',
      400,
      'invalid-field',
      signed(mutate((b) => (b.oneTimePrekeys[1].id = b.oneTimePrekeys[0].id))),
    ),
    c(
      'one-time prekey null',
      400,
      'invalid-field',
      signed(mutate((b) => (b.oneTimePrekeys[0] = null))),
    ),
    c(
      '201 one-time prekeys',
      400,
      'invalid-field',
      signed(JSON.stringify(publishBody(alice, 201))),
    ),
    c(
      'body handle differs from path',
      400,
      'handle-mismatch',
      signed(mutate((b) => (b.handle = 'bob'))),
    ),
    c(
      'body handle with NUL',
      400,
      'invalid-field',
      signed(mutate((b) => (b.handle = 'ali\u0000ce'))),
    ),
    c('body handle with emoji', 400, 'invalid-field', signed(mutate((b) => (b.handle = 'ali😀')))),
    c(
      'body handle SQL',
      400,
      'invalid-field',
      signed(mutate((b) => (b.handle = "alice'; DROP TABLE identities; --"))),
    ),
    c('body handle 2000 chars', 400, 'invalid-field', signed(mutate((b) => (b.handle = long)))),
    // --- KEM prekeys (the shape; signatures are in app.test.ts) ---
    c('kemPrekeys null', 400, 'invalid-field', signed(mutateKem((b) => (b.kemPrekeys = null)))),
    c('kemPrekeys an array', 400, 'invalid-field', signed(mutateKem((b) => (b.kemPrekeys = [])))),
    c(
      'kemPrekeys unknown field',
      400,
      'unknown-field',
      signed(mutateKem((b) => (b.kemPrekeys.extra = []))),
    ),
    c(
      'kemPrekeys.oneTime not an array',
      400,
      'invalid-field',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime = b.kemPrekeys.oneTime[0]))),
    ),
    c(
      'KEM prekey unknown field',
      400,
      'unknown-field',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[1].secretKey = 'AAAA'))),
    ),
    c(
      'KEM prekey not an object',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[0] = 'key'))),
    ),
    c(
      'KEM prekey public key 1183 bytes',
      400,
      'malformed-kem-prekey',
      signed(
        mutateKem(
          (b) => (b.kemPrekeys.oneTime[0].publicKey = base64UrlEncode(new Uint8Array(1183))),
        ),
      ),
    ),
    c(
      'KEM prekey public key missing',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => delete b.kemPrekeys.lastResort.publicKey)),
    ),
    c(
      'KEM prekey signature padded base64',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[0].signature += '=='))),
    ),
    c(
      'KEM prekey id 0',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[0].id = 0))),
    ),
    c(
      'KEM prekey id 2^32',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[0].id = 2 ** 32))),
    ),
    c(
      'KEM prekey id as string',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[0].id = '1'))),
    ),
    c(
      'KEM prekey lastResort as string',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.lastResort.lastResort = 'true'))),
    ),
    c(
      'duplicate one-time KEM prekey id',
      400,
      'malformed-kem-prekey',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[1] = b.kemPrekeys.oneTime[0]))),
    ),
    c(
      'last-resort KEM prekey id also a one-time id',
      400,
      'malformed-kem-prekey',
      signed(
        mutateKem(
          (b) => (b.kemPrekeys.oneTime[1] = kemPrekeyJson(alice, 9, false, new Uint8Array(1184))),
        ),
      ),
    ),
    c(
      'more one-time KEM prekeys than a request may carry',
      409,
      'too-many-kem-prekeys',
      signed(
        mutateKem(
          (b) =>
            (b.kemPrekeys.oneTime = Array.from({ length: 51 }, (_, i) => ({
              ...b.kemPrekeys.oneTime[0],
              id: i + 1,
            }))),
        ),
      ),
    ),
    c(
      'KEM prekey signed by another key',
      400,
      'bad-kem-prekey-signature',
      signed(mutateKem((b) => (b.kemPrekeys.oneTime[1] = kemPrekeyJson(eve, 2, false)))),
    ),
    // --- size and media type ---
    c(
      'oversized body',
      413,
      'payload-too-large',
      signed(mutate((b) => (b.pad = 'x'.repeat(270_000)))),
    ),
    c(
      'lying content-length',
      413,
      'payload-too-large',
      signed(ok, { headers: { 'content-length': '999999999' } }),
    ),
    c(
      'text/plain',
      415,
      'unsupported-media-type',
      signed(ok, { headers: { 'content-type': 'text/plain' } }),
    ),
    c(
      'form encoded',
      415,
      'unsupported-media-type',
      signed(ok, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    ),
    // --- signatures ---
    c('no signature headers', 401, 'missing-signature', {
      path: '/v1/identities/alice',
      headers: { 'content-type': 'application/json' },
      body: ok,
    }),
    c('signed by another key', 401, 'bad-signature', signed(ok, { signer: eve })),
    c('signature over another body', 401, 'bad-signature', {
      ...signed(ok),
      body: mutate(() => {}).replace('"alice"', '"alice" '),
    }),
    c('signature for another handle', 401, 'bad-signature', {
      ...signed(ok, { handle: 'bob' }),
      path: '/v1/identities/alice',
    }),
    c(
      'signature not base64url',
      401,
      'bad-signature',
      signed(ok, { headers: { 'x-veil-signature': 'not*base64' } }),
    ),
    c(
      'signature 2000 chars',
      401,
      'bad-signature',
      signed(ok, { headers: { 'x-veil-signature': long } }),
    ),
    c(
      'timestamp not a number',
      400,
      'bad-timestamp',
      signed(ok, { headers: { 'x-veil-timestamp': '12abc' } }),
    ),
    c('timestamp too old', 401, 'stale-request', signed(ok, { skew: -3600 })),
    c('timestamp in the future', 401, 'stale-request', signed(ok, { skew: 3600 })),
    c('nonce too short', 400, 'bad-nonce', signed(ok, { headers: { 'x-veil-nonce': 'abc' } })),
    c(
      'nonce with +/ characters',
      400,
      'bad-nonce',
      signed(ok, { headers: { 'x-veil-nonce': 'abcdefghijklmnop+/' } }),
    ),
    // --- handles in the path ---
    ...[
      ['../x', 404],
      ['%2e%2e', 404],
      ['%2e%2e%2fx', 400],
      ['..%2f..%2fetc%2fpasswd', 400],
      ['a%00b', 400],
      ['ALICE', 400],
      ['%F0%9F%98%80', 400],
      ["a'%3B%20DROP%20TABLE%20identities%3B--", 400],
      ['a%22%20OR%201%3D1', 400],
      ['-alice', 400],
      ['.alice', 400],
      ['a'.repeat(65), 400],
      [long, 400],
      ['al%20ice', 400],
    ].map(([h, status]) =>
      c(
        `PUT handle ${String(h).slice(0, 24)}`,
        status as number,
        status === 404 ? 'not-found' : 'bad-handle',
        {
          ...signed(ok),
          path: `/v1/identities/${h}`,
        },
      ),
    ),
    c('GET handle with NUL', 400, 'bad-handle', { method: 'GET', path: '/v1/identities/a%00b' }),
    c('GET handle 2000 chars', 400, 'bad-handle', {
      method: 'GET',
      path: `/v1/identities/${long}`,
    }),
    c('GET bundle emoji handle', 400, 'bad-handle', {
      method: 'GET',
      path: '/v1/identities/%F0%9F%98%80/bundle',
    }),
    c('GET unknown handle', 404, 'not-found', { method: 'GET', path: '/v1/identities/nobody' }),
    // --- deletes ---
    c('DELETE with a body', 400, 'unexpected-body', {
      method: 'DELETE',
      path: '/v1/identities/owner',
      headers: signedRequest('DELETE', 'owner', '', owner, { timestamp: secondsOf(clock) }).headers,
      body: 'x',
    }),
    c('DELETE unsigned', 401, 'missing-signature', {
      method: 'DELETE',
      path: '/v1/identities/owner',
    }),
    c('DELETE signed by another key', 401, 'bad-signature', {
      method: 'DELETE',
      path: '/v1/identities/owner',
      headers: signedRequest('DELETE', 'owner', '', eve, { timestamp: secondsOf(clock) }).headers,
    }),
    // --- an update of an existing identity that must change nothing ---
    c(
      'owner update with a bad prekey',
      400,
      'invalid-field',
      (() => {
        const b = publishBody(owner, 1, 500);
        b.oneTimePrekeys[0]!.publicKey = base64UrlEncode(new Uint8Array(32));
        const req = signedRequest('PUT', 'owner', JSON.stringify(b), owner, {
          timestamp: secondsOf(clock),
        });
        return { path: req.path, headers: req.headers, body: req.body };
      })(),
    ),
    c(
      'owner update with a KEM prekey signed by someone else',
      400,
      'bad-kem-prekey-signature',
      (() => {
        const b = publishBody(owner, 1, 600, 2, { kem: { oneTime: 1, firstId: 600 } });
        b.kemPrekeys!.lastResort = kemPrekeyJson(eve, 601, true);
        const req = signedRequest('PUT', 'owner', JSON.stringify(b), owner, {
          timestamp: secondsOf(clock),
        });
        return { path: req.path, headers: req.headers, body: req.body };
      })(),
    ),
    c(
      'owner rotation without the new key',
      401,
      'bad-signature',
      (() => {
        const req = signedRequest(
          'PUT',
          'owner',
          JSON.stringify(publishBody({ ...eve, handle: 'owner' })),
          owner,
          {
            timestamp: secondsOf(clock),
          },
        );
        return { path: req.path, headers: req.headers, body: req.body };
      })(),
    ),
  ];
}

describe('bad input gets a 4xx JSON error and stores nothing', () => {
  let opened: OpenedStore;
  let ownerBefore: IdentityRecord;

  beforeAll(async () => {
    opened = await openTestSqlite();
    t = testApp(opened.store, { limits: { rates: null } }, clock);
    const body = publishBody(owner, 3, 1, 1, { kem: { oneTime: 2, firstId: 1, lastResortId: 10 } });
    const req = signedRequest('PUT', 'owner', JSON.stringify(body), owner, {
      timestamp: secondsOf(clock),
    });
    expect((await t.send(req)).status).toBe(201);
    ownerBefore = (await opened.store.getIdentity('owner'))!;
  });
  afterAll(async () => opened.cleanup());

  it.each(cases())('$name → $status $code', async (k) => {
    const res = await t.app.request(k.path ?? '/v1/identities/alice', {
      method: k.method ?? 'PUT',
      headers: k.headers,
      body: k.body,
    });
    expect(res.status).toBe(k.status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(typeof body.error.message).toBe('string');
    if (k.code) expect(body.error.code).toBe(k.code);
    // Errors never echo what was sent.
    expect(body.error.message.length).toBeLessThan(200);
    expect(body.error.message).not.toContain(base64UrlEncode(alice.publicKey).slice(0, 12));
  });

  it('stored nothing, and left the existing identity as it was', async () => {
    expect(cases().length).toBeGreaterThan(60);
    const stats = await opened.store.stats();
    expect(stats).toEqual({ identities: 1, oneTimePrekeys: 3, kemOneTimePrekeys: 2, logSize: 1 });
    expect(await opened.store.countKemPrekeys('owner')).toEqual({ oneTime: 2, lastResortId: 10 });
    expect(await opened.store.getIdentity('alice')).toBeUndefined();
    expect(await opened.store.getIdentity('owner')).toEqual(ownerBefore);
    expect(ed25519.getPublicKey(owner.secretKey)).toEqual(ownerBefore.identityKey);
  });
});
