// One conformance suite for every CryptoProvider (noble, WebCrypto): RFC 7748 X25519 and RFC 8032
// Ed25519 vectors, low-order and malformed input, cross-provider compatibility, and the
// Ed25519→X25519 identity conversion. Providers must be interchangeable byte for byte.
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  bestProvider,
  createWebCryptoProvider,
  webCryptoSupported,
} from '../../crypto/webcrypto-provider';
import { isVeilError } from '../errors';
import { hkdfSha256 } from '../kdf';
import { identityDhPrivate, identityDhPublic } from '../identity';
import { edPublicToX25519, edSecretToX25519, nobleProvider } from './noble';
import type { CryptoProvider } from './provider';

const webcrypto = createWebCryptoProvider();
const PROVIDERS: [string, CryptoProvider][] = [
  ['noble', nobleProvider],
  ['webcrypto (generateKey keygen)', createWebCryptoProvider({ keygen: 'generate' })],
  ['webcrypto (importKey keygen)', createWebCryptoProvider({ keygen: 'import' })],
];

// RFC 7748 §5.2: scalar, input u-coordinate, output u-coordinate. Vector 2's u has its top bit
// set, which X25519 must ignore.
const RFC7748_5_2 = [
  [
    'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  ],
  [
    '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  ],
] as const;
const ITERATED_1 = '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079';
const ITERATED_1000 = '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51';
const BASE_POINT = '09' + '00'.repeat(31);

// RFC 7748 §6.1.
const ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_PRIVATE = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

// RFC 8032 §7.1 TEST 1–3: seed, public key, message, signature.
const RFC8032 = [
  [
    '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ],
  [
    '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  ],
  [
    'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    'af82',
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  ],
] as const;

// Curve25519 u-coordinates of small order (orders 1, 2, 4, 8), plus p-1, p, p+1 and top-bit
// variants, as in libsodium's blocklist: DH with any of them gives zero.
const LOW_ORDER_POINTS = [
  '00'.repeat(32),
  '01' + '00'.repeat(31),
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ec' + 'ff'.repeat(30) + '7f',
  'ed' + 'ff'.repeat(30) + '7f',
  'ee' + 'ff'.repeat(30) + '7f',
  '00'.repeat(31) + '80',
  '01' + '00'.repeat(30) + '80',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
];

const ED_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

function flip(b: Uint8Array, i: number, bit = 1): Uint8Array {
  const c = b.slice();
  c[i]! ^= bit;
  return c;
}

async function expectInvalidKey(p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toSatisfy((e) => isVeilError(e, 'invalid-key'));
}

describe.each(PROVIDERS)('%s provider conformance', (_name, p) => {
  it.each(RFC7748_5_2)('RFC 7748 §5.2 X25519(%s, …)', async (scalar, u, out) => {
    expect(bytesToHex(await p.x25519(hexToBytes(scalar), hexToBytes(u)))).toBe(out);
  });

  it('RFC 7748 §5.2 iterated: 1 and 1,000 rounds', async () => {
    let k: Uint8Array = hexToBytes(BASE_POINT);
    let u: Uint8Array = hexToBytes(BASE_POINT);
    for (let i = 1; i <= 1000; i++) {
      const r = await p.x25519(k, u);
      u = k;
      k = r;
      if (i === 1) expect(bytesToHex(k)).toBe(ITERATED_1);
    }
    expect(bytesToHex(k)).toBe(ITERATED_1000);
  });

  it('RFC 7748 §6.1 Diffie-Hellman', async () => {
    const base = hexToBytes(BASE_POINT);
    expect(bytesToHex(await p.x25519(hexToBytes(ALICE_PRIVATE), base))).toBe(ALICE_PUBLIC);
    expect(bytesToHex(await p.x25519(hexToBytes(BOB_PRIVATE), base))).toBe(BOB_PUBLIC);
    expect(bytesToHex(await p.x25519(hexToBytes(ALICE_PRIVATE), hexToBytes(BOB_PUBLIC)))).toBe(
      SHARED,
    );
    expect(bytesToHex(await p.x25519(hexToBytes(BOB_PRIVATE), hexToBytes(ALICE_PUBLIC)))).toBe(
      SHARED,
    );
  });

  it.each(RFC8032)('RFC 8032 §7.1 Ed25519 seed %s', async (seed, pub, msg, sig) => {
    const signature = await p.ed25519Sign(hexToBytes(seed), hexToBytes(msg));
    expect(bytesToHex(signature)).toBe(sig);
    expect(await p.ed25519Verify(hexToBytes(pub), hexToBytes(msg), signature)).toBe(true);
    expect(
      await p.ed25519Verify(hexToBytes(pub), Uint8Array.of(1, ...hexToBytes(msg)), signature),
    ).toBe(false);
    expect(await p.ed25519Verify(hexToBytes(pub), hexToBytes(msg), flip(signature, 0))).toBe(false);
    expect(await p.ed25519Verify(flip(hexToBytes(pub), 0), hexToBytes(msg), signature)).toBe(false);
  });

  it.each(LOW_ORDER_POINTS)('rejects low-order public key %s', async (point) => {
    const { privateKey } = await p.x25519Generate();
    await expectInvalidKey(p.x25519(privateKey, hexToBytes(point)));
    // Also with a fixed RFC scalar, so the result does not depend on the random one.
    await expectInvalidKey(p.x25519(hexToBytes(ALICE_PRIVATE), hexToBytes(point)));
  });

  it('rejects wrong-length X25519 keys with a typed error that does not echo them', async () => {
    const { privateKey, publicKey } = await p.x25519Generate();
    await expectInvalidKey(p.x25519(privateKey, publicKey.subarray(1)));
    await expectInvalidKey(p.x25519(privateKey, Uint8Array.of(...publicKey, 0)));
    await expectInvalidKey(p.x25519(privateKey.subarray(1), publicKey));
    try {
      await p.x25519(privateKey, new Uint8Array(32));
    } catch (e) {
      expect((e as Error).message).not.toContain(bytesToHex(privateKey));
    }
  });

  it('verify is false, never a throw, for malformed keys and signatures', async () => {
    const { privateKey, publicKey } = await p.ed25519Generate();
    const msg = Uint8Array.of(1, 2, 3);
    const sig = await p.ed25519Sign(privateKey, msg);
    expect(await p.ed25519Verify(publicKey, msg, sig)).toBe(true);
    const s = sig.subarray(32);
    let sValue = 0n;
    for (let i = 31; i >= 0; i--) sValue = (sValue << 8n) | BigInt(s[i]!);
    const sPlusL = sig.slice();
    let v = sValue + ED_ORDER;
    for (let i = 32; i < 64; i++, v >>= 8n) sPlusL[i] = Number(v & 0xffn);
    const cases: [Uint8Array, Uint8Array][] = [
      [publicKey.subarray(1), sig],
      [Uint8Array.of(...publicKey, 0), sig],
      [new Uint8Array(0), sig],
      [publicKey, sig.subarray(1)],
      [publicKey, Uint8Array.of(...sig, 0)],
      [publicKey, new Uint8Array(0)],
      [publicKey, new Uint8Array(64)],
      [publicKey, new Uint8Array(64).fill(0xff)],
      [publicKey, sPlusL], // non-canonical S (S + L): RFC 8032 requires S < L
      [new Uint8Array(32).fill(0xff), sig], // y ≥ p: not a canonical encoding
    ];
    for (const [key, signature] of cases)
      expect(await p.ed25519Verify(key, msg, signature)).toBe(false);
  });

  it('refuses small-order Ed25519 public keys even with a "signature" that fits them', async () => {
    // A = identity point, R = identity, S = 0 satisfies the verification equation for every
    // message; OpenSSL and BoringSSL accept it, RFC 8032-strict verifiers must not.
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const forged = new Uint8Array(64);
    forged[0] = 1;
    expect(await p.ed25519Verify(identityPoint, Uint8Array.of(9), forged)).toBe(false);
    // Order-2 point (0, -1).
    const minusOne = hexToBytes('ec' + 'ff'.repeat(30) + '7f');
    expect(await p.ed25519Verify(minusOne, Uint8Array.of(9), forged)).toBe(false);
  });

  it('signing needs a 32-byte seed', async () => {
    await expectInvalidKey(p.ed25519Sign(new Uint8Array(31), Uint8Array.of(1)));
    await expectInvalidKey(p.ed25519Sign(new Uint8Array(64), Uint8Array.of(1)));
  });

  it('generates consistent key pairs', async () => {
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    expect(a.privateKey).toHaveLength(32);
    expect(a.publicKey).toHaveLength(32);
    expect(bytesToHex(a.publicKey)).not.toBe(bytesToHex(b.publicKey));
    expect(await p.x25519(a.privateKey, hexToBytes(BASE_POINT))).toEqual(a.publicKey);
    expect(await p.x25519(a.privateKey, b.publicKey)).toEqual(
      await p.x25519(b.privateKey, a.publicKey),
    );
    const e = await p.ed25519Generate();
    expect(e.publicKey).toEqual(ed25519.getPublicKey(e.privateKey));
  });

  it('randomBytes returns fresh bytes of any length', () => {
    expect(p.randomBytes(0)).toHaveLength(0);
    const big = p.randomBytes(100_000);
    expect(big).toHaveLength(100_000);
    expect(big.subarray(70_000).some((x) => x !== 0)).toBe(true);
    expect(bytesToHex(p.randomBytes(32))).not.toBe(bytesToHex(p.randomBytes(32)));
  });

  it('Ed25519→X25519: DH(x(edA), x(edB)) agrees both ways and matches the X25519 public key', async () => {
    const a = await p.ed25519Generate();
    const b = await p.ed25519Generate();
    const xa = identityDhPrivate(a.privateKey);
    const xb = identityDhPrivate(b.privateKey);
    expect(await p.x25519(xa, hexToBytes(BASE_POINT))).toEqual(identityDhPublic(a.publicKey));
    const ab = await p.x25519(xa, identityDhPublic(b.publicKey));
    const ba = await p.x25519(xb, identityDhPublic(a.publicKey));
    expect(ab).toEqual(ba);
    // RFC 8032 test 1 converted: same answer from noble's converters.
    const seed = hexToBytes(RFC8032[0][0]);
    expect(await p.x25519(edSecretToX25519(seed), hexToBytes(BASE_POINT))).toEqual(
      edPublicToX25519(hexToBytes(RFC8032[0][1])),
    );
  });

  it('handles many concurrent operations on the same keys', async () => {
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => p.x25519(a.privateKey, b.publicKey)),
    );
    for (const r of results) expect(r).toEqual(results[0]);
  });
});

describe('cross-provider compatibility', () => {
  it.each([
    [nobleProvider, webcrypto],
    [webcrypto, nobleProvider],
  ])('keys from %s work with the other', async (from, to) => {
    const a = await from.x25519Generate();
    const b = await to.x25519Generate();
    expect(await to.x25519(a.privateKey, b.publicKey)).toEqual(
      await from.x25519(b.privateKey, a.publicKey),
    );
    const e = await from.ed25519Generate();
    const msg = Uint8Array.of(4, 5, 6);
    const sig = await from.ed25519Sign(e.privateKey, msg);
    expect(await to.ed25519Verify(e.publicKey, msg, sig)).toBe(true);
    // Ed25519 is deterministic: both sign identically.
    expect(await to.ed25519Sign(e.privateKey, msg)).toEqual(sig);
  });

  it('agree on many random DH and signature checks', async () => {
    for (let i = 0; i < 25; i++) {
      const a = await nobleProvider.x25519Generate();
      const b = await webcrypto.x25519Generate();
      const x1 = await nobleProvider.x25519(a.privateKey, b.publicKey);
      const x2 = await webcrypto.x25519(a.privateKey, b.publicKey);
      expect(x1).toEqual(x2);
      const e = await webcrypto.ed25519Generate();
      const msg = nobleProvider.randomBytes(i * 7);
      const sig = await webcrypto.ed25519Sign(e.privateKey, msg);
      const bad = flip(sig, i % 64, 1 << (i % 8));
      expect(await nobleProvider.ed25519Verify(e.publicKey, msg, sig)).toBe(true);
      expect(await nobleProvider.ed25519Verify(e.publicKey, msg, bad)).toBe(
        await webcrypto.ed25519Verify(e.publicKey, msg, bad),
      );
    }
  });
});

// RFC 5869 appendix A.1–A.3 (SHA-256): ikm, salt, info, length, okm.
const RFC5869 = [
  [
    '0b'.repeat(22),
    '000102030405060708090a0b0c',
    'f0f1f2f3f4f5f6f7f8f9',
    42,
    '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  ],
  [
    hexRange(0x00, 0x50),
    hexRange(0x60, 0xb0),
    hexRange(0xb0, 0x100),
    82,
    'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
  ],
  [
    '0b'.repeat(22),
    '',
    '',
    42,
    '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  ],
] as const;

function hexRange(from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) out += i.toString(16).padStart(2, '0');
  return out;
}

describe('native HKDF (the root-key step)', () => {
  it.each(RFC5869)('RFC 5869 vector with ikm %s', async (ikm, salt, info, length, okm) => {
    const out = await webcrypto.hkdfSha256(
      hexToBytes(ikm),
      hexToBytes(salt),
      hexToBytes(info),
      length,
    );
    expect(bytesToHex(out)).toBe(okm);
  });

  it('equals the @noble HKDF the protocol uses without it, for random input', async () => {
    for (let i = 0; i < 50; i++) {
      const ikm = nobleProvider.randomBytes(32);
      const salt = nobleProvider.randomBytes(i % 2 ? 32 : i);
      const info = nobleProvider.randomBytes(i % 17);
      const length = 1 + ((i * 13) % 96);
      expect(await webcrypto.hkdfSha256(ikm, salt, info, length)).toEqual(
        hkdfSha256(ikm, salt, info, length),
      );
    }
  });
});

describe('bestProvider', () => {
  it('picks WebCrypto where it works (Node 20 has X25519 and Ed25519)', async () => {
    expect(await webCryptoSupported()).toBe(true);
    expect((await bestProvider()).name).toBe('webcrypto');
  });

  it('falls back when WebCrypto is missing, broken or wrong', async () => {
    expect(await webCryptoSupported(null)).toBe(false);
    const subtle = globalThis.crypto.subtle;
    const noEd25519 = new Proxy(subtle, {
      get(target, prop) {
        if (prop === 'importKey' || prop === 'generateKey')
          return (...args: unknown[]) => {
            const alg = args[prop === 'importKey' ? 2 : 0] as { name: string };
            if (alg.name === 'Ed25519')
              return Promise.reject(new DOMException('no', 'NotSupportedError'));
            return Reflect.apply(
              Reflect.get(target, prop) as (...a: unknown[]) => unknown,
              target,
              args,
            );
          };
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    expect(await webCryptoSupported(noEd25519)).toBe(false);
    // An implementation that gets X25519 wrong (here: flips a bit of every result).
    const wrong = new Proxy(subtle, {
      get(target, prop) {
        if (prop === 'deriveBits')
          return async (...args: Parameters<SubtleCrypto['deriveBits']>) => {
            const out = new Uint8Array(await target.deriveBits(...args));
            out[0]! ^= 1;
            return out.buffer;
          };
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    expect(await webCryptoSupported(wrong)).toBe(false);
    // One that has no HKDF.
    const noHkdf = new Proxy(subtle, {
      get(target, prop) {
        if (prop === 'importKey')
          return (...args: Parameters<SubtleCrypto['importKey']>) =>
            args[2] === 'HKDF'
              ? Promise.reject(new DOMException('no', 'NotSupportedError'))
              : target.importKey(...args);
        const v = Reflect.get(target, prop);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    expect(await webCryptoSupported(noHkdf)).toBe(false);
  });
});
