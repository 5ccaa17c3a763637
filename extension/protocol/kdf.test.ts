// The keyed-once HMAC / HKDF wrappers against published vectors (FIPS 180-4, RFC 4231,
// RFC 5869) and against one-shot @noble/hashes calls on random inputs.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { utf8ToBytes } from './bytes';
import { HmacSha256, hkdfExpand, hkdfExtract, hkdfSha256, hmacSha256, sha256 } from './kdf';

const hex = (b: Uint8Array) => bytesToHex(b);

describe('sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(hex(sha256(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(hex(sha256(utf8ToBytes('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(
      hex(sha256(utf8ToBytes('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    ).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('equals @noble/hashes for every length 0..300', () => {
    for (let n = 0; n <= 300; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n * 7) & 0xff);
      expect(hex(sha256(data)), `length ${n}`).toBe(hex(nobleSha256(data)));
    }
  });

  it('equals @noble/hashes on random inputs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1000 }), (data) => {
        expect(hex(sha256(data))).toBe(hex(nobleSha256(data)));
      }),
    );
  });
});

describe('HMAC-SHA256', () => {
  // RFC 4231 §4.2, 4.3, 4.4, 4.7, 4.8.
  const cases: [string, string, string][] = [
    [
      '0b'.repeat(20),
      bytesToHex(utf8ToBytes('Hi There')),
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    ],
    [
      bytesToHex(utf8ToBytes('Jefe')),
      bytesToHex(utf8ToBytes('what do ya want for nothing?')),
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    ],
    [
      'aa'.repeat(20),
      'dd'.repeat(50),
      '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
    ],
    [
      'aa'.repeat(131),
      bytesToHex(utf8ToBytes('Test Using Larger Than Block-Size Key - Hash Key First')),
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
    ],
    [
      'aa'.repeat(131),
      bytesToHex(
        utf8ToBytes(
          'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
        ),
      ),
      '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
    ],
  ];
  it.each(cases)('RFC 4231 vector (key %s)', (key, data, mac) => {
    expect(hex(hmacSha256(hexToBytes(key), hexToBytes(data)))).toBe(mac);
  });

  it('a keyed instance gives the same MAC every time and writes at an offset', () => {
    const key = new HmacSha256(hexToBytes('0b'.repeat(20)));
    const data = utf8ToBytes('Hi There');
    const out = new Uint8Array(40);
    key.mac(data, out, 4);
    expect(hex(out.subarray(4, 36))).toBe(hex(key.mac(data)));
    expect(hex(key.mac(data))).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
  });

  it('equals @noble/hashes on random keys and messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 300 }),
        (key, data) => {
          expect(hex(hmacSha256(key, data))).toBe(hex(hmac(nobleSha256, key, data)));
        },
      ),
    );
  });
});

describe('HKDF-SHA256', () => {
  it('matches RFC 5869 test cases 1–3', () => {
    const ikm = hexToBytes('0b'.repeat(22));
    const prk1 = hkdfExtract(hexToBytes('000102030405060708090a0b0c'), ikm);
    expect(hex(prk1)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(hex(hkdfExpand(prk1, hexToBytes('f0f1f2f3f4f5f6f7f8f9'), 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );

    const ikm2 = Uint8Array.from({ length: 80 }, (_, i) => i);
    const salt2 = Uint8Array.from({ length: 80 }, (_, i) => 0x60 + i);
    const info2 = Uint8Array.from({ length: 80 }, (_, i) => 0xb0 + i);
    expect(hex(hkdfSha256(ikm2, salt2, info2, 82))).toBe(
      'b11e398dc80327a1c8e7f78c596a4934' +
        '4f012eda2d4efad8a050cc4c19afa97c' +
        '59045a99cac7827271cb41c65e590e09' +
        'da3275600c2f09b8367793a9aca3db71' +
        'cc30c58179ec3e87c14c01d5c1f3434f' +
        '1d87',
    );

    // Test case 3: no salt (HashLen zeros), no info.
    const prk3 = hkdfExtract(undefined, ikm);
    expect(hex(prk3)).toBe('19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04');
    expect(hex(hkdfSha256(ikm, undefined, new Uint8Array(0), 42))).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
    expect(hex(hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), 42))).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });

  it('equals @noble/hashes on random inputs and lengths', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.option(fc.uint8Array({ maxLength: 100 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 100 }),
        fc.integer({ min: 0, max: 300 }),
        (ikm, salt, info, length) => {
          expect(hex(hkdfSha256(ikm, salt, info, length))).toBe(
            hex(hkdf(nobleSha256, ikm, salt, info, length)),
          );
        },
      ),
    );
  });

  it('refuses impossible lengths', () => {
    expect(() => hkdfExpand(new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1)).toThrow();
    expect(() => hkdfExpand(new Uint8Array(32), new Uint8Array(0), -1)).toThrow();
  });
});
