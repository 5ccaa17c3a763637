// Linked devices over HTTP (in-process, both stores): a listed device's own prekeys (published
// with its own key, served with the logged device list that names it), the account device served
// from the identity's prekeys, the sync blob, and what a stranger, another device, a removed
// device or another handle's device tries.
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  base64UrlDecode,
  base64UrlEncode,
  decodeDeviceListLookup,
  signedPrekeyMessage,
} from '../extension/protocol/directory-request';
import { nobleProvider } from '../extension/protocol/crypto/noble';
import { type Device, verifyDeviceList } from '../extension/protocol/device-list';
import { kemPrekeyFromJson, verifyKemPrekey } from '../extension/protocol/kem-prekey';
import { type DirectoryTrust, verifyDeviceListEntry } from '../extension/protocol/transparency';
import {
  type TestIdentity,
  deviceListJson,
  devicePrekeysBody,
  kemPrekeyJson,
  makeIdentity,
  publishBody,
  signedRequest,
} from './client-signing';
import { type OpenedStore, type TestApp, secondsOf, storeFactories, testApp } from './testing';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const json = async (res: Response) => (await res.json()) as Json;

async function trustOf(t: TestApp): Promise<DirectoryTrust> {
  const head = await json(await t.app.request('/v1/log/head'));
  return {
    origin: head.origin,
    publicKey: base64UrlDecode(head.publicKey),
    vrfKey: base64UrlDecode(head.vrfKey),
  };
}

function send(
  t: TestApp,
  method: 'PUT' | 'GET' | 'DELETE',
  handle: string,
  under: string,
  body: object | string | undefined,
  signer: TestIdentity,
  options: { nonce?: string } = {},
) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return t.send(
    signedRequest(method, handle, text, signer, {
      timestamp: secondsOf(t.clock),
      under,
      nonce: options.nonce,
    }),
  );
}

const asDevice = (id: number, key: TestIdentity): Device => ({
  id,
  key: key.publicKey,
  addedAt: 1_767_225_600 + id,
});

/**
 * `handle` published under a fresh account key with a device list of the account (device 1)
 * and `others` more devices (ids 2, 3, …), each a key pair that signs as that device.
 */
async function account(t: TestApp, handle: string, others = 2) {
  const owner = makeIdentity(handle);
  expect((await send(t, 'PUT', handle, '', publishBody(owner, 3), owner)).status).toBe(201);
  const devices = Array.from({ length: others }, () => makeIdentity(handle));
  const list = deviceListJson(owner, 1, {
    devices: [asDevice(1, owner), ...devices.map((d, i) => asDevice(i + 2, d))],
  });
  expect((await send(t, 'PUT', handle, '/devices', list, owner)).status).toBe(200);
  return { owner, devices, device: (id: number) => devices[id - 2]! };
}

const putKeys = (
  t: TestApp,
  handle: string,
  id: number | string,
  body: object | string,
  signer: TestIdentity,
  options: { nonce?: string } = {},
) => send(t, 'PUT', handle, `/devices/${id}/keys`, body, signer, options);

const bundleOf = (t: TestApp, handle: string, id: number | string, ip = 'test-client') =>
  t.app.request(`/v1/identities/${handle}/devices/${id}/bundle`, { headers: { 'x-test-ip': ip } });

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = await json(res);
  return { status: res.status, code: body.error?.code, message: body.error?.message };
}

for (const factory of storeFactories()) {
  describe.skipIf(factory.skip !== undefined)(`linked devices over HTTP: ${factory.name}`, () => {
    let opened: OpenedStore;
    let t: TestApp;
    beforeEach(async () => {
      opened = await factory.open();
      t = testApp(opened.store);
    });
    afterEach(async () => opened.cleanup());

    it('a listed device publishes prekeys signed by its own key; its bundle carries the logged list', async () => {
      const { owner, device } = await account(t, 'alice');
      const phone = device(2);
      const body = devicePrekeysBody(phone, 3, 10, 4, {
        kem: { oneTime: 2, firstId: 20, lastResortId: 30 },
      });
      const res = await putKeys(t, 'alice', 2, body, phone);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({
        handle: 'alice',
        deviceId: 2,
        oneTimePrekeys: 3,
        kemOneTimePrekeys: 2,
      });
      // Not logged: the log holds the publish and the list only.
      expect((await json(await t.app.request('/v1/log/head'))).treeSize).toBe(2);

      const trust = await trustOf(t);
      const served = await json(await bundleOf(t, 'alice', 2));
      expect(served).toMatchObject({
        handle: 'alice',
        deviceId: 2,
        deviceKey: base64UrlEncode(phone.publicKey),
        signedPrekey: body.signedPrekey,
        oneTimePrekey: body.oneTimePrekeys[0],
        kemPrekey: body.kemPrekeys!.oneTime![0],
        logIndex: 1,
        sequence: 2,
      });
      // What a client checks: the list is logged under a signed head, signed by the account key,
      // names device 2 with the served key, and the prekeys are signed by that key.
      const { list, lookup } = decodeDeviceListLookup(served, 'alice');
      verifyDeviceListEntry(lookup, trust);
      await verifyDeviceList(nobleProvider, owner.publicKey, list, { handle: 'alice' });
      expect(list.devices.find((d) => d.id === 2)!.key).toEqual(phone.publicKey);
      const spk = served.signedPrekey;
      expect(
        ed25519.verify(
          base64UrlDecode(spk.signature),
          signedPrekeyMessage(spk.id, base64UrlDecode(spk.publicKey)),
          phone.publicKey,
        ),
      ).toBe(true);
      expect(
        await verifyKemPrekey(nobleProvider, phone.publicKey, kemPrekeyFromJson(served.kemPrekey)),
      ).toBe(true);

      // One-time prekeys go once each, in id order; then the last-resort KEM prekey.
      const next = await json(await bundleOf(t, 'alice', 2));
      expect([next.oneTimePrekey.id, next.kemPrekey.id]).toEqual([11, 21]);
      const third = await json(await bundleOf(t, 'alice', 2));
      expect([third.oneTimePrekey.id, third.kemPrekey.id, third.kemPrekey.lastResort]).toEqual([
        12,
        30,
        true,
      ]);
      const empty = await json(await bundleOf(t, 'alice', 2));
      expect(empty.oneTimePrekey).toBeUndefined();
      expect(empty.signedPrekey).toEqual(body.signedPrekey);

      // Counts for the device, signed by it; a refill tops up and replaces the signed prekey.
      const counts = await send(t, 'GET', 'alice', '/devices/2/prekeys', undefined, phone);
      expect(await json(counts)).toEqual({
        handle: 'alice',
        deviceId: 2,
        oneTimePrekeys: 0,
        signedPrekeyId: 4,
        kemOneTimePrekeys: 0,
        kemLastResortId: 30,
      });
      const refill = devicePrekeysBody(phone, 4, 40, 5);
      expect((await json(await putKeys(t, 'alice', 2, refill, phone))).oneTimePrekeys).toBe(4);
      const after = await json(await bundleOf(t, 'alice', 2));
      expect(after.signedPrekey).toEqual(refill.signedPrekey);
      expect(after.oneTimePrekey.id).toBe(40);
      expect(after.kemPrekey.id).toBe(30);
      // The account's own prekeys were not touched.
      const own = await send(t, 'GET', 'alice', '/prekeys', undefined, owner);
      expect((await json(own)).oneTimePrekeys).toBe(3);
    });

    it("device 1 (the account key) is served from the identity's own prekeys", async () => {
      const { owner } = await account(t, 'bob');
      const identity = publishBody(owner, 2, 50, 9);
      expect((await send(t, 'PUT', 'bob', '', identity, owner)).status).toBe(200);
      const served = await json(await bundleOf(t, 'bob', 1));
      expect(served).toMatchObject({
        deviceId: 1,
        deviceKey: base64UrlEncode(owner.publicKey),
        signedPrekey: identity.signedPrekey,
        oneTimePrekey: { id: 1 },
      });
      const viaBundle = await json(await t.app.request('/v1/identities/bob/bundle'));
      expect(viaBundle.oneTimePrekey.id).toBe(2);
      // Its prekeys are published with the identity, and counted as /prekeys counts them.
      expect(await errorOf(await putKeys(t, 'bob', 1, devicePrekeysBody(owner), owner))).toEqual(
        expect.objectContaining({ status: 400, code: 'account-device' }),
      );
      const counts = await json(
        await send(t, 'GET', 'bob', '/devices/1/prekeys', undefined, owner),
      );
      const plain = await json(await send(t, 'GET', 'bob', '/prekeys', undefined, owner));
      expect(counts).toEqual({ deviceId: 1, ...plain });
    });

    it('a device not in the list, or another device, cannot publish keys for a device id', async () => {
      const { owner, device } = await account(t, 'carol');
      const stranger = makeIdentity('carol');
      // An id the list does not have.
      expect(
        await errorOf(await putKeys(t, 'carol', 4, devicePrekeysBody(stranger), stranger)),
      ).toMatchObject({ status: 403, code: 'device-not-listed' });
      // A listed id, signed by a key that is not that device's: a stranger, device 2 for
      // device 3, the account key for device 2.
      for (const [id, signer] of [
        [2, stranger],
        [3, device(2)],
        [2, owner],
      ] as const)
        expect(
          await errorOf(await putKeys(t, 'carol', id, devicePrekeysBody(signer), signer)),
        ).toMatchObject({ status: 401, code: 'bad-signature' });
      // Device 2 signs the request for its own id but brings prekeys signed by device 3.
      const forged = devicePrekeysBody(device(3));
      expect(await errorOf(await putKeys(t, 'carol', 2, forged, device(2)))).toMatchObject({
        status: 400,
        code: 'bad-prekey-signature',
        message: expect.stringContaining('signedPrekey.signature'),
      });
      const badKem = {
        ...devicePrekeysBody(device(2)),
        kemPrekeys: { oneTime: [kemPrekeyJson(device(3), 5, false)] },
      };
      expect(await errorOf(await putKeys(t, 'carol', 2, badKem, device(2)))).toMatchObject({
        status: 400,
        code: 'bad-kem-prekey-signature',
        message: expect.stringContaining('kemPrekeys.oneTime[0].signature'),
      });
      // Nothing was stored for devices 2 and 3.
      for (const id of [2, 3]) expect((await bundleOf(t, 'carol', id)).status).toBe(404);
      // No identity at all.
      expect((await putKeys(t, 'nobody', 2, devicePrekeysBody(stranger), stranger)).status).toBe(
        404,
      );
    });

    it('a device removed from the list can no longer publish, count or be served', async () => {
      const { owner, device } = await account(t, 'dave');
      const phone = device(2);
      expect((await putKeys(t, 'dave', 2, devicePrekeysBody(phone), phone)).status).toBe(200);
      expect((await bundleOf(t, 'dave', 2)).status).toBe(200);
      const v2 = deviceListJson(owner, 2, {
        devices: [asDevice(1, owner), asDevice(3, device(3))],
      });
      expect((await send(t, 'PUT', 'dave', '/devices', v2, owner)).status).toBe(200);
      expect((await bundleOf(t, 'dave', 2)).status).toBe(404);
      expect(
        await errorOf(await putKeys(t, 'dave', 2, devicePrekeysBody(phone), phone)),
      ).toMatchObject({ status: 403, code: 'device-not-listed' });
      const counts = await send(t, 'GET', 'dave', '/devices/2/prekeys', undefined, phone);
      expect(counts.status).toBe(403);
      // Linked again under a new id with the same key: it starts with no prekeys.
      const v3 = deviceListJson(owner, 3, {
        devices: [asDevice(1, owner), asDevice(3, device(3)), asDevice(4, phone)],
      });
      expect((await send(t, 'PUT', 'dave', '/devices', v3, owner)).status).toBe(200);
      expect((await bundleOf(t, 'dave', 4)).status).toBe(404);
    });

    it('answers unknown devices with 404 and bad device ids with 400 bad-device-id', async () => {
      await account(t, 'erin');
      expect((await bundleOf(t, 'erin', 7)).status).toBe(404);
      expect(await errorOf(await bundleOf(t, 'erin', 3))).toMatchObject({
        status: 404,
        code: 'not-found',
      });
      expect((await bundleOf(t, 'nobody', 1)).status).toBe(404);
      for (const id of ['0', 'x', '4294967296', '01', '-1'])
        expect(await errorOf(await bundleOf(t, 'erin', id)), id).toMatchObject({
          status: 400,
          code: 'bad-device-id',
        });
    });

    it('refuses malformed device prekeys with a 400 naming the field, and a replay', async () => {
      const { device } = await account(t, 'finn');
      const phone = device(2);
      const good = devicePrekeysBody(phone, 2);
      const cases: [unknown, string, string][] = [
        [{ ...good, handle: 'finn' }, 'unknown-field', 'body'],
        [
          { ...good, signedPrekey: { ...good.signedPrekey, publicKey: 'AA' } },
          'invalid-field',
          'body.signedPrekey.publicKey',
        ],
        [
          { ...good, oneTimePrekeys: [{ id: 0, publicKey: good.oneTimePrekeys[0]!.publicKey }] },
          'invalid-field',
          'body.oneTimePrekeys[0].id',
        ],
        [{ signedPrekey: good.signedPrekey }, 'invalid-field', 'body.oneTimePrekeys'],
        [
          { ...good, kemPrekeys: { lastResort: kemPrekeyJson(phone, 3, false) } },
          'malformed-kem-prekey',
          'body.kemPrekeys.lastResort',
        ],
      ];
      for (const [body, code, field] of cases)
        expect(await errorOf(await putKeys(t, 'finn', 2, body as object, phone))).toMatchObject({
          status: 400,
          code,
          message: expect.stringContaining(field),
        });
      expect(await errorOf(await putKeys(t, 'finn', 2, '{nope', phone))).toMatchObject({
        status: 400,
        code: 'malformed-json',
      });
      const nonce = 'device-keys-nonce-0001';
      expect((await putKeys(t, 'finn', 2, good, phone, { nonce })).status).toBe(200);
      expect(await errorOf(await putKeys(t, 'finn', 2, good, phone, { nonce }))).toMatchObject({
        status: 401,
        code: 'replayed-request',
      });
    });

    it('sync blob: version + 1 only, the account or a listed device, never another handle', async () => {
      t = testApp(opened.store, { limits: { rates: null } }); // many writes of one handle
      const { owner, device } = await account(t, 'gina');
      const other = await account(t, 'hugo');
      const put = (version: number, signer: TestIdentity, bytes = 100) =>
        send(
          t,
          'PUT',
          'gina',
          '/sync',
          {
            version,
            ciphertext: base64UrlEncode(new Uint8Array(bytes).fill(version)),
          },
          signer,
        );
      const get = (signer: TestIdentity) => send(t, 'GET', 'gina', '/sync', undefined, signer);
      expect((await get(owner)).status).toBe(404);
      expect(await json(await put(1, owner))).toEqual({ handle: 'gina', version: 1 });
      const read = await json(await get(device(3)));
      expect(read).toEqual({
        handle: 'gina',
        version: 1,
        ciphertext: base64UrlEncode(new Uint8Array(100).fill(1)),
        updatedAt: secondsOf(t.clock),
        // Last seen: the account key's write (device 1) and device 3's read, both signed.
        seen: expect.arrayContaining([
          { id: 1, at: secondsOf(t.clock) },
          { id: 3, at: secondsOf(t.clock) },
        ]),
      });
      // Replaying a version, or skipping one: 409 stale-sync with the stored version.
      for (const v of [1, 3]) {
        const res = await put(v, device(2));
        expect(res.status).toBe(409);
        expect((await json(res)).error).toMatchObject({ code: 'stale-sync', version: 1 });
      }
      expect((await put(2, device(2))).status).toBe(200);
      // Another handle's device or account key cannot write or read it.
      for (const signer of [other.device(2), other.owner, makeIdentity('gina')]) {
        expect(await errorOf(await put(3, signer))).toMatchObject({
          status: 401,
          code: 'bad-signature',
        });
        expect((await get(signer)).status).toBe(401);
      }
      // Unsigned reads are refused.
      expect((await t.app.request('/v1/identities/gina/sync')).status).toBe(401);
      // Bad input: typed 400s naming the field; a too large blob.
      for (const [body, field] of [
        [{ version: 0, ciphertext: 'AAAA' }, 'body.version'],
        [{ version: 1.5, ciphertext: 'AAAA' }, 'body.version'],
        [{ version: 3, ciphertext: 'AA==' }, 'body.ciphertext'],
        [{ version: 3, ciphertext: '' }, 'body.ciphertext'],
        [{ version: 3 }, 'body.ciphertext'],
        [{ version: 3, ciphertext: 'AAAA', at: 1 }, 'body'],
      ] as const)
        expect(await errorOf(await send(t, 'PUT', 'gina', '/sync', body, owner))).toMatchObject({
          status: 400,
          message: expect.stringContaining(field),
        });
      expect((await put(3, owner, 256 * 1024)).status).toBe(200);
      expect(await errorOf(await put(4, owner, 256 * 1024 + 1))).toMatchObject({
        status: 400,
        code: 'invalid-field',
        message: expect.stringContaining('body.ciphertext'),
      });
      expect((await put(4, owner, 300 * 1024)).status).toBe(413);
      // A device taken off the list can no longer write or read.
      const v2 = deviceListJson(owner, 2, {
        devices: [asDevice(1, owner), asDevice(3, device(3))],
      });
      expect((await send(t, 'PUT', 'gina', '/devices', v2, owner)).status).toBe(200);
      expect((await put(4, device(2))).status).toBe(401);
      expect((await get(device(2))).status).toBe(401);
      // Gone with the identity.
      expect((await send(t, 'DELETE', 'gina', '', undefined, owner)).status).toBe(200);
      const again = makeIdentity('gina');
      expect((await send(t, 'PUT', 'gina', '', publishBody(again), again)).status).toBe(201);
      expect((await send(t, 'GET', 'gina', '/sync', undefined, again)).status).toBe(404);
    });
  });
}

describe('device bundle rate limits', () => {
  it('are per requester and handle, never per handle alone', async () => {
    const factory = storeFactories()[0]!;
    const opened = await factory.open();
    try {
      const t = testApp(opened.store, {
        limits: { rates: { bundlesPerRequester: { burst: 2, perMinute: 1 } } },
      });
      const { device } = await account(t, 'ivy');
      await account(t, 'jon');
      const phone = device(2);
      expect((await putKeys(t, 'ivy', 2, devicePrekeysBody(phone, 10), phone)).status).toBe(200);
      expect((await bundleOf(t, 'ivy', 2, '10.0.0.1')).status).toBe(200);
      expect((await bundleOf(t, 'ivy', 1, '10.0.0.1')).status).toBe(200);
      const limited = await bundleOf(t, 'ivy', 2, '10.0.0.1');
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBeTruthy();
      // Another requester still gets the handle's bundles; the first one other handles'.
      expect((await bundleOf(t, 'ivy', 2, '10.0.0.2')).status).toBe(200);
      expect((await bundleOf(t, 'jon', 1, '10.0.0.1')).status).toBe(200);
    } finally {
      await opened.cleanup();
    }
  });
});
