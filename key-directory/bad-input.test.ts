// Bad input, table-driven: each request gets a 4xx JSON error with a stable code, and nothing is
// stored (checked in the store afterwards, and an existing identity is left exactly as it was).
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64UrlEncode, signDirectoryRequest } from '../extension/protocol/directory-request';
import {
  deviceListJson,
  kemPrekeyJson,
  makeDevice,
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

/** A `PUT /v1/identities/owner/devices` signed correctly by owner over `body` (unless told). */
function devicesPut(
  body: string,
  opts: { signer?: typeof owner; handle?: string; headers?: Record<string, string> } = {},
) {
  const req = signedRequest('PUT', opts.handle ?? 'owner', body, opts.signer ?? owner, {
    timestamp: secondsOf(clock),
    under: '/devices',
  });
  return { path: req.path, headers: { ...req.headers, ...opts.headers }, body };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary JSON
function mutateList(f: (b: Record<string, any>) => void): string {
  const b = JSON.parse(JSON.stringify(deviceListJson(owner, 1)));
  f(b);
  return JSON.stringify(b);
}

/** Bad `PUT …/devices` bodies and requests: each a typed 4xx, none stores a list. */
function deviceListCases(): Case[] {
  const c = (name: string, status: number, code: string, req: Partial<Case>): Case => ({
    name: `devices: ${name}`,
    status,
    code,
    ...req,
  });
  const list = JSON.stringify(deviceListJson(owner, 1));
  const m = (name: string, f: Parameters<typeof mutateList>[0]) =>
    c(name, 400, 'malformed-device-list', devicesPut(mutateList(f)));
  return [
    c('malformed JSON', 400, 'malformed-json', devicesPut('{"handle": "owner",')),
    c('empty body', 400, 'malformed-json', devicesPut('')),
    c('invalid UTF-8', 400, 'malformed-json', {
      path: '/v1/identities/owner/devices',
      headers: {
        'content-type': 'application/json',
        ...signDirectoryRequest({
          method: 'PUT',
          path: '/v1/identities/owner/devices',
          timestamp: secondsOf(clock),
          nonce: 'invalid-utf8-nonce-0001',
          body: new Uint8Array([0x7b, 0xff, 0x7d]),
          identitySecretKey: owner.secretKey,
        }),
      },
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
    }),
    c('JSON array', 400, 'malformed-device-list', devicesPut('[]')),
    c('JSON null', 400, 'malformed-device-list', devicesPut('null')),
    c('JSON number', 400, 'malformed-device-list', devicesPut('7')),
    m('unknown top-level field', (b) => (b.admin = true)),
    c(
      '__proto__ field',
      400,
      'malformed-device-list',
      devicesPut(list.replace('{', '{"__proto__":{"x":1},')),
    ),
    m('unknown field in a device', (b) => (b.devices[0].name = 'laptop')),
    m('missing signature', (b) => delete b.signature),
    m('missing devices', (b) => delete b.devices),
    m('missing version', (b) => delete b.version),
    m('devices not a list', (b) => (b.devices = { 0: b.devices[0] })),
    m('no devices', (b) => (b.devices = [])),
    m('17 devices', (b) => {
      b.devices = Array.from({ length: 17 }, (_, i) => ({
        id: i + 1,
        key: base64UrlEncode(makeDevice(i + 1).key),
        addedAt: 1,
      }));
    }),
    m('device not an object', (b) => (b.devices[1] = 'laptop')),
    m('version 0', (b) => (b.version = 0)),
    m('version negative', (b) => (b.version = -1)),
    m('version fractional', (b) => (b.version = 1.5)),
    m('version as string', (b) => (b.version = '2')),
    m('version above u32', (b) => (b.version = 2 ** 32)),
    m('duplicate device ids', (b) => (b.devices[1].id = b.devices[0].id)),
    m('device ids out of order', (b) => b.devices.reverse()),
    m('device id 0', (b) => (b.devices[0].id = 0)),
    m('device id above u32', (b) => (b.devices[1].id = 2 ** 32)),
    m('a device key twice', (b) => (b.devices[1].key = b.devices[0].key)),
    m('device key 31 bytes', (b) => (b.devices[0].key = base64UrlEncode(new Uint8Array(31)))),
    m('device key padded base64', (b) => (b.devices[0].key += '=')),
    m('device key as number', (b) => (b.devices[0].key = 5)),
    m('device key 2000 chars', (b) => (b.devices[0].key = long)),
    m('device key small-order point', (b) => {
      b.devices[0].key = base64UrlEncode(ED_IDENTITY_POINT);
    }),
    m('addedAt negative', (b) => (b.devices[0].addedAt = -1)),
    m('addedAt as string', (b) => (b.devices[0].addedAt = '1767225600')),
    m('signature 63 bytes', (b) => (b.signature = base64UrlEncode(new Uint8Array(63)))),
    m('signature standard base64', (b) => (b.signature = '+' + b.signature.slice(1))),
    m('handle not a string', (b) => (b.handle = 7)),
    m('handle uppercase', (b) => (b.handle = 'OWNER')),
    c(
      'handle of another person',
      400,
      'handle-mismatch',
      devicesPut(JSON.stringify(deviceListJson(owner, 1, { handle: 'alice' }))),
    ),
    c(
      'list signed by another key',
      400,
      'bad-device-list-signature',
      devicesPut(JSON.stringify(deviceListJson(owner, 1, { signer: eve }))),
    ),
    c(
      'version changed after signing',
      400,
      'bad-device-list-signature',
      devicesPut(mutateList((b) => (b.version = 2))),
    ),
    c(
      'device added after signing',
      400,
      'bad-device-list-signature',
      devicesPut(
        mutateList((b) =>
          b.devices.push({ id: 9, key: base64UrlEncode(makeDevice(9).key), addedAt: 1 }),
        ),
      ),
    ),
    c('text/plain body', 415, 'unsupported-media-type', {
      ...devicesPut(list),
      headers: { ...devicesPut(list).headers, 'content-type': 'text/plain' },
    }),
    c('body over the limit', 413, 'payload-too-large', devicesPut('x'.repeat(300 * 1024))),
    c('unsigned', 401, 'missing-signature', {
      path: '/v1/identities/owner/devices',
      headers: { 'content-type': 'application/json' },
      body: list,
    }),
    c('request signed by another key', 401, 'bad-signature', devicesPut(list, { signer: eve })),
    c('timestamp too old', 401, 'stale-request', {
      ...devicesPut(list),
      headers: { ...devicesPut(list).headers, 'x-veil-timestamp': String(secondsOf(clock) - 3600) },
    }),
    c('bad nonce', 400, 'bad-nonce', devicesPut(list, { headers: { 'x-veil-nonce': 'abc' } })),
    c('no identity for the handle', 404, 'not-found', devicesPut(list, { handle: 'nobody' })),
    c('bad handle in the path', 400, 'bad-handle', {
      ...devicesPut(list),
      path: '/v1/identities/OWNER/devices',
    }),
    c('DELETE (no such route)', 404, 'not-found', {
      method: 'DELETE',
      path: '/v1/identities/owner/devices',
    }),
    c('GET bad handle', 400, 'bad-handle', {
      method: 'GET',
      path: '/v1/identities/a%00b/devices',
    }),
    c('GET an identity without a list', 404, 'not-found', {
      method: 'GET',
      path: '/v1/identities/owner/devices',
    }),
    c('GET unknown handle', 404, 'not-found', {
      method: 'GET',
      path: '/v1/identities/nobody/devices',
    }),
  ];
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

  it.each([...cases(), ...deviceListCases()])('$name → $status $code', async (k) => {
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

  it('stored nothing (no device list either), and left the existing identity as it was', async () => {
    expect(cases().length).toBeGreaterThan(60);
    expect(deviceListCases().length).toBeGreaterThan(50);
    expect(await opened.store.getDeviceList('owner')).toBeUndefined();
    const stats = await opened.store.stats();
    expect(stats).toEqual({ identities: 1, oneTimePrekeys: 3, kemOneTimePrekeys: 2, logSize: 1 });
    expect(await opened.store.countKemPrekeys('owner')).toEqual({ oneTime: 2, lastResortId: 10 });
    expect(await opened.store.getIdentity('alice')).toBeUndefined();
    expect(await opened.store.getIdentity('owner')).toEqual(ownerBefore);
    expect(ed25519.getPublicKey(owner.secretKey)).toEqual(ownerBefore.identityKey);
  });
});
