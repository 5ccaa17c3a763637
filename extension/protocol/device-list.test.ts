// Device lists: signed by the account key over one canonical encoding; a list signed by another
// key, for another handle, older than one already seen, or with a device twice is refused with a
// typed error; the JSON form round-trips and bad JSON is refused field by field.
import { describe, expect, it } from 'vitest';
import { nobleProvider as crypto } from './crypto/noble';
import {
  MAX_DEVICES,
  decodeSignedDeviceList,
  deviceListDigest,
  deviceListFromJson,
  deviceListMessage,
  deviceListToJson,
  encodeSignedDeviceList,
  signDeviceList,
  verifyDeviceList,
  type DeviceList,
} from './device-list';
import { VeilError } from './errors';
import { generateIdentity } from './identity';

const key = (b: number) => new Uint8Array(32).fill(b);

async function setup() {
  const account = await generateIdentity(crypto);
  const list: DeviceList = {
    handle: 'alice',
    version: 3,
    devices: [
      { id: 2, key: key(2), addedAt: 1_700_000_100 },
      { id: 1, key: key(1), addedAt: 1_700_000_000 },
    ],
  };
  return { account, signed: await signDeviceList(crypto, account.privateKey, list) };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'none';
  } catch (e) {
    if (e instanceof VeilError) return e.code;
    throw e;
  }
};

describe('device lists', () => {
  it('signs one canonical encoding (devices sorted by id) and verifies under the account key', async () => {
    const { account, signed } = await setup();
    expect(signed.devices.map((d) => d.id)).toEqual([1, 2]);
    expect(deviceListMessage(signed).length).toBe(7 + 1 + 5 + 4 + 1 + 2 * 44);
    expect(deviceListDigest(signed).length).toBe(32);
    await verifyDeviceList(crypto, account.publicKey, signed, { handle: 'alice', minVersion: 3 });
  });

  it('refuses another signer, another handle, a rollback and a changed device', async () => {
    const { account, signed } = await setup();
    const mallory = await generateIdentity(crypto);
    expect(
      await code(verifyDeviceList(crypto, mallory.publicKey, signed, { handle: 'alice' })),
    ).toBe('bad-signature');
    expect(await code(verifyDeviceList(crypto, account.publicKey, signed, { handle: 'bob' }))).toBe(
      'malformed',
    );
    expect(
      await code(
        verifyDeviceList(crypto, account.publicKey, signed, { handle: 'alice', minVersion: 4 }),
      ),
    ).toBe('bad-proof');
    // A directory adding its own device to a signed list.
    const added = { ...signed, devices: [...signed.devices, { id: 3, key: key(9), addedAt: 1 }] };
    expect(
      await code(verifyDeviceList(crypto, account.publicKey, added, { handle: 'alice' })),
    ).toBe('bad-signature');
    const swapped = {
      ...signed,
      devices: [signed.devices[0]!, { ...signed.devices[1]!, key: key(9) }],
    };
    expect(
      await code(verifyDeviceList(crypto, account.publicKey, swapped, { handle: 'alice' })),
    ).toBe('bad-signature');
  });

  it('round-trips JSON and refuses bad lists with a typed error', async () => {
    const { signed } = await setup();
    const json = JSON.parse(JSON.stringify(deviceListToJson(signed)));
    expect(deviceListFromJson(json)).toEqual(signed);
    const bad = [
      null,
      { ...json, version: 0 },
      { ...json, handle: 'Not A Handle' },
      { ...json, devices: [] },
      { ...json, devices: [json.devices[1], json.devices[0]] },
      { ...json, devices: [json.devices[0], { ...json.devices[1], key: json.devices[0].key }] },
      {
        ...json,
        devices: Array.from({ length: MAX_DEVICES + 1 }, (_, i) => ({
          ...json.devices[0],
          id: i + 1,
        })),
      },
      { ...json, signature: 'AAAA' },
      { ...json, devices: [{ ...json.devices[0], id: 1.5 }] },
    ];
    for (const b of bad)
      expect(() => deviceListFromJson(b), JSON.stringify(b)?.slice(0, 80)).toThrow(VeilError);
  });
});

describe('device list, binary form (carried in messages)', () => {
  it('round-trips and refuses every truncation, extra byte and changed prefix', async () => {
    const account = await generateIdentity(crypto);
    const list = await signDeviceList(crypto, account.privateKey, {
      handle: 'alice',
      version: 7,
      devices: [
        { id: 1, key: account.publicKey, addedAt: 1_700_000_000 },
        { id: 4, key: new Uint8Array(32).fill(4), addedAt: 2 ** 40 },
      ],
    });
    const bytes = encodeSignedDeviceList(list);
    expect(decodeSignedDeviceList(bytes)).toEqual(list);
    for (let n = 0; n < bytes.length; n++)
      expect(() => decodeSignedDeviceList(bytes.subarray(0, n))).toThrow(
        /signed device list|device/,
      );
    expect(() => decodeSignedDeviceList(new Uint8Array([...bytes, 0]))).toThrow();
    const prefix = bytes.slice();
    prefix[0] = prefix[0]! ^ 1;
    expect(() => decodeSignedDeviceList(prefix)).toThrow();
  });
});
