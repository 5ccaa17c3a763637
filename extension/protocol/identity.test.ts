// Tests for identities and prekeys: the exact signed-prekey message, verification failures, id
// ranges, the Ed25519→X25519 identity forms, handle syntax, and strict bundle JSON parsing.
// Runs against both providers so the core is checked with what the extension really uses.
import { describe, expect, it } from 'vitest';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { createWebCryptoProvider } from '../crypto/webcrypto-provider';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider } from './crypto/provider';
import { toBase64Url } from './encoding';
import { isVeilError } from './errors';
import {
  bundleFromJson,
  bundleToJson,
  createOneTimePrekeys,
  createSignedPrekey,
  generateIdentity,
  identityDhPrivate,
  identityDhPublic,
  isUsableIdentityKey,
  isValidHandle,
  MAX_ONE_TIME_PREKEY_BATCH,
  oneTimePrekeyPublic,
  signedPrekeyMessage,
  signedPrekeyPublic,
  validateHandle,
  verifyBundle,
  verifySignedPrekey,
  type PrekeyBundle,
} from './identity';

const NOW = 1_700_000_000_000;

async function expectRejects(code: string, p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toSatisfy((e) => isVeilError(e) && e.code === code);
}

function expectThrows(code: string, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(isVeilError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected VeilError(${code})`);
}

describe.each([
  ['noble', nobleProvider],
  ['webcrypto', createWebCryptoProvider()],
] as [string, CryptoProvider][])('identity with the %s provider', (_name, crypto) => {
  it('generates an Ed25519 identity whose public key matches its seed', async () => {
    const id = await generateIdentity(crypto);
    expect(id.privateKey).toHaveLength(32);
    expect(id.publicKey).toEqual(ed25519.getPublicKey(id.privateKey));
  });

  it('identity X25519 forms agree: DH(x(A), x(B)) is the same both ways', async () => {
    const a = await generateIdentity(crypto);
    const b = await generateIdentity(crypto);
    expect(identityDhPublic(a.publicKey)).toEqual(
      x25519.getPublicKey(identityDhPrivate(a.privateKey)),
    );
    const ab = await crypto.x25519(identityDhPrivate(a.privateKey), identityDhPublic(b.publicKey));
    const ba = await crypto.x25519(identityDhPrivate(b.privateKey), identityDhPublic(a.publicKey));
    expect(ab).toEqual(ba);
  });

  it('signs exactly "VeilSPK1" || u32(id) || pub', async () => {
    const id = await generateIdentity(crypto);
    const spk = await createSignedPrekey(crypto, id, 0x01020304, NOW);
    expect(spk.createdAt).toBe(NOW);
    expect(spk.keyPair.publicKey).toEqual(x25519.getPublicKey(spk.keyPair.privateKey));
    const message = hexToBytes('5665696c53504b31' + '01020304' + bytesToHex(spk.keyPair.publicKey));
    expect(signedPrekeyMessage(spk.id, spk.keyPair.publicKey)).toEqual(message);
    expect(ed25519.verify(spk.signature, message, id.publicKey)).toBe(true);
    expect(await verifySignedPrekey(crypto, id.publicKey, signedPrekeyPublic(spk))).toBe(true);
  });

  it('rejects a signed prekey with any field changed, or from another identity', async () => {
    const id = await generateIdentity(crypto);
    const other = await generateIdentity(crypto);
    const spk = signedPrekeyPublic(await createSignedPrekey(crypto, id, 7, NOW));
    const flip = (b: Uint8Array, i: number) => {
      const c = b.slice();
      c[i]! ^= 1;
      return c;
    };
    const bad = [
      { ...spk, id: 8 },
      { ...spk, publicKey: flip(spk.publicKey, 0) },
      { ...spk, signature: flip(spk.signature, 10) },
      { ...spk, signature: flip(spk.signature, 63) },
      { ...spk, signature: spk.signature.subarray(0, 63) },
      { ...spk, publicKey: new Uint8Array(31) },
      { ...spk, id: -1 },
      { ...spk, id: 2 ** 32 },
    ];
    for (const b of bad) expect(await verifySignedPrekey(crypto, id.publicKey, b)).toBe(false);
    expect(await verifySignedPrekey(crypto, other.publicKey, spk)).toBe(false);
    expect(await verifySignedPrekey(crypto, new Uint8Array(32), spk)).toBe(false);
    await expectRejects(
      'bad-signature',
      verifyBundle(crypto, { handle: 'bob', identityKey: other.publicKey, signedPrekey: spk }),
    );
    await verifyBundle(crypto, { handle: 'bob', identityKey: id.publicKey, signedPrekey: spk });
  });

  it('accepts the whole u32 range of signed prekey ids and nothing else', async () => {
    const id = await generateIdentity(crypto);
    for (const n of [0, 2 ** 32 - 1]) {
      const spk = await createSignedPrekey(crypto, id, n, NOW);
      expect(await verifySignedPrekey(crypto, id.publicKey, signedPrekeyPublic(spk))).toBe(true);
    }
    for (const n of [-1, 2 ** 32, 1.5, Number.NaN])
      await expectRejects('invalid-argument', createSignedPrekey(crypto, id, n, NOW));
  });

  it('creates one-time prekeys with consecutive ids and distinct keys', async () => {
    const opks = await createOneTimePrekeys(crypto, 5, 20);
    expect(opks.map((k) => k.id)).toEqual(Array.from({ length: 20 }, (_, i) => 5 + i));
    expect(new Set(opks.map((k) => bytesToHex(k.keyPair.publicKey))).size).toBe(20);
    for (const k of opks)
      expect(k.keyPair.publicKey).toEqual(x25519.getPublicKey(k.keyPair.privateKey));
    expect(await createOneTimePrekeys(crypto, 1, 0)).toEqual([]);
    const last = await createOneTimePrekeys(crypto, 2 ** 32 - 2, 2);
    expect(last.map((k) => k.id)).toEqual([2 ** 32 - 2, 2 ** 32 - 1]);
  });

  it('refuses one-time prekey id 0, id overflow and silly counts', async () => {
    await expectRejects('invalid-argument', createOneTimePrekeys(crypto, 0, 1));
    await expectRejects('invalid-argument', createOneTimePrekeys(crypto, 2 ** 32 - 1, 2));
    await expectRejects('invalid-argument', createOneTimePrekeys(crypto, 1, -1));
    await expectRejects('invalid-argument', createOneTimePrekeys(crypto, 1, 2.5));
    await expectRejects(
      'invalid-argument',
      createOneTimePrekeys(crypto, 1, MAX_ONE_TIME_PREKEY_BATCH + 1),
    );
  });
});

describe('validateHandle', () => {
  it.each(['a', 'alice', '0day', 'bob.smith', 'x_y-z', 'a'.repeat(64), '9'])('accepts %j', (h) => {
    expect(validateHandle(h)).toBe(h);
    expect(isValidHandle(h)).toBe(true);
  });

  it.each([
    '',
    'a'.repeat(65),
    'Alice',
    '.alice',
    '_a',
    '-a',
    'al ice',
    'al@ice',
    'alice\n',
    'ålice',
    'аlice', // Cyrillic а
    'a/b',
  ])('rejects %j', (h) => {
    expectThrows('invalid-argument', () => validateHandle(h));
    expect(isValidHandle(h)).toBe(false);
  });

  it('rejects non-strings', () => {
    expectThrows('invalid-argument', () => validateHandle(undefined as unknown as string));
    expect(isValidHandle(42)).toBe(false);
  });
});

describe('bundle JSON', () => {
  async function makeBundle(withOpk: boolean): Promise<PrekeyBundle> {
    const id = await generateIdentity(nobleProvider);
    const spk = await createSignedPrekey(nobleProvider, id, 3, NOW);
    const [opk] = await createOneTimePrekeys(nobleProvider, 42, 1);
    const bundle: PrekeyBundle = {
      handle: 'bob.smith',
      identityKey: id.publicKey,
      signedPrekey: signedPrekeyPublic(spk),
    };
    if (withOpk) bundle.oneTimePrekey = oneTimePrekeyPublic(opk!);
    return bundle;
  }

  it('round-trips through JSON text, with and without a one-time prekey', async () => {
    for (const withOpk of [true, false]) {
      const bundle = await makeBundle(withOpk);
      const json = bundleToJson(bundle);
      expect(json.identityKey).toBe(toBase64Url(bundle.identityKey));
      expect('oneTimePrekey' in json).toBe(withOpk);
      const back = bundleFromJson(JSON.parse(JSON.stringify(json)));
      expect(back).toEqual(bundle);
      await verifyBundle(nobleProvider, back);
    }
  });

  it('treats null as "no one-time prekey" and ignores unknown fields', async () => {
    const json = { ...bundleToJson(await makeBundle(false)), oneTimePrekey: null, extra: 1 };
    const back = bundleFromJson(json);
    expect(back.oneTimePrekey).toBeUndefined();
    expect('extra' in back).toBe(false);
  });

  it('rejects every kind of bad field as malformed, without echoing the value', async () => {
    const good = bundleToJson(await makeBundle(true));
    const spk = good.signedPrekey;
    const opk = good.oneTimePrekey!;
    const key31 = toBase64Url(new Uint8Array(31));
    // y = 2 is not the y-coordinate of any Ed25519 point (checked below).
    const offCurve = new Uint8Array(32);
    offCurve[0] = 2;
    // The identity point (y = 1) has order 1.
    const smallOrder = new Uint8Array(32);
    smallOrder[0] = 1;
    const cases: [string, unknown][] = [
      ['not an object', 'bundle'],
      ['null', null],
      ['array', [good]],
      ['bad handle', { ...good, handle: 'Bob' }],
      ['missing handle', { ...good, handle: undefined }],
      ['short identity key', { ...good, identityKey: key31 }],
      ['identity key with padding', { ...good, identityKey: good.identityKey + '=' }],
      [
        'identity key in base64 alphabet',
        { ...good, identityKey: good.identityKey.replace(/[-_]/g, '+') + '+' },
      ],
      ['identity key off the curve', { ...good, identityKey: toBase64Url(offCurve) }],
      ['small-order identity key', { ...good, identityKey: toBase64Url(smallOrder) }],
      ['identity key not a string', { ...good, identityKey: [1, 2, 3] }],
      ['missing signed prekey', { ...good, signedPrekey: undefined }],
      ['short signed prekey', { ...good, signedPrekey: { ...spk, publicKey: key31 } }],
      ['short signature', { ...good, signedPrekey: { ...spk, signature: key31 } }],
      ['negative spk id', { ...good, signedPrekey: { ...spk, id: -1 } }],
      ['spk id too big', { ...good, signedPrekey: { ...spk, id: 2 ** 32 } }],
      ['spk id as string', { ...good, signedPrekey: { ...spk, id: '3' } }],
      ['fractional spk id', { ...good, signedPrekey: { ...spk, id: 3.5 } }],
      ['opk id 0', { ...good, oneTimePrekey: { ...opk, id: 0 } }],
      ['opk id too big', { ...good, oneTimePrekey: { ...opk, id: 2 ** 32 } }],
      ['short opk', { ...good, oneTimePrekey: { ...opk, publicKey: key31 } }],
      ['opk not an object', { ...good, oneTimePrekey: 'none' }],
    ];
    expect(isUsableIdentityKey(offCurve)).toBe(false);
    expect(() => ed25519.Point.fromBytes(offCurve)).toThrow();
    for (const [name, value] of cases) {
      try {
        bundleFromJson(value);
        throw new Error(`accepted: ${name}`);
      } catch (e) {
        expect(isVeilError(e, 'malformed'), name).toBe(true);
        expect((e as Error).message).not.toContain(key31);
        expect((e as Error).message).not.toContain(good.identityKey);
      }
    }
  });
});
