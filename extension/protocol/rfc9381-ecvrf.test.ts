// ECVRF-EDWARDS25519-SHA512-ELL2 against RFC 9381 Appendix B.4 (examples 16-18; SK, PK and alpha
// are RFC 8032 §7.1's), plus what the handle labels rely on: proofs under another key, for
// another input, or altered in any byte are refused, and a small-order key is refused.
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes, bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { utf8ToBytes } from './bytes';
import {
  proveHandleLabel,
  verifyHandleLabel,
  vrfProofToHash,
  vrfProve,
  vrfPublicKey,
  vrfVerify,
} from './vrf';

// RFC 9381 Appendix B.4, ECVRF-EDWARDS25519-SHA512-ELL2.
const VECTORS = [
  {
    sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    alpha: '',
    pi: '7d9c633ffeee27349264cf5c667579fc583b4bda63ab71d001f89c10003ab46f14adf9a3cd8b8412d9038531e865c341cafa73589b023d14311c331a9ad15ff2fb37831e00f0acaa6d73bc9997b06501',
    beta: '9d574bf9b8302ec0fc1e21c3ec5368269527b87b462ce36dab2d14ccf80c53cccf6758f058c5b1c856b116388152bbe509ee3b9ecfe63d93c3b4346c1fbc6c54',
  },
  {
    sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    alpha: '72',
    pi: '47b327393ff2dd81336f8a2ef10339112401253b3c714eeda879f12c509072ef055b48372bb82efbdce8e10c8cb9a2f9d60e93908f93df1623ad78a86a028d6bc064dbfc75a6a57379ef855dc6733801',
    beta: '38561d6b77b71d30eb97a062168ae12b667ce5c28caccdf76bc88e093e4635987cd96814ce55b4689b3dd2947f80e59aac7b7675f8083865b46c89b2ce9cc735',
  },
  {
    sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    alpha: 'af82',
    pi: '926e895d308f5e328e7aa159c06eddbe56d06846abf5d98c2512235eaa57fdce35b46edfc655bc828d44ad09d1150f31374e7ef73027e14760d42e77341fe05467bb286cc2c9d7fde29120a0b2320d04',
    beta: '121b7f9b9aaaa29099fc04a94ba52784d44eac976dd1a3cca458733be5cd090a7b5fbd148444f17f8daf1fb55cb04b1ae85a626e30a54b4b0f8abf4a43314a58',
  },
];

describe('RFC 9381 ECVRF-EDWARDS25519-SHA512-ELL2', () => {
  it.each(VECTORS)('proves and verifies Appendix B.4 (pk $pk)', (v) => {
    const sk = hexToBytes(v.sk);
    const alpha = hexToBytes(v.alpha);
    expect(bytesToHex(vrfPublicKey(sk))).toBe(v.pk);
    const pi = vrfProve(sk, alpha);
    expect(bytesToHex(pi)).toBe(v.pi);
    expect(bytesToHex(vrfProofToHash(pi))).toBe(v.beta);
    expect(bytesToHex(vrfVerify(hexToBytes(v.pk), alpha, hexToBytes(v.pi)))).toBe(v.beta);
  });

  it('refuses a proof altered in any byte, for another input, or under another key', () => {
    const v = VECTORS[1]!;
    const pk = hexToBytes(v.pk);
    const alpha = hexToBytes(v.alpha);
    const pi = hexToBytes(v.pi);
    for (let i = 0; i < pi.length; i++) {
      const bad = pi.slice();
      bad[i]! ^= 0x01;
      expect(() => vrfVerify(pk, alpha, bad), `byte ${i}`).toThrow(/VRF/);
    }
    expect(() => vrfVerify(pk, hexToBytes('73'), pi)).toThrow(/does not verify/);
    expect(() => vrfVerify(hexToBytes(VECTORS[0]!.pk), alpha, pi)).toThrow(/does not verify/);
    expect(() => vrfVerify(pk, alpha, pi.subarray(0, 79))).toThrow(/80 bytes/);
  });

  it('refuses s >= q and small-order public keys (uniqueness needs both)', () => {
    const v = VECTORS[0]!;
    const pi = hexToBytes(v.pi);
    const q = ed25519.Point.Fn.ORDER;
    const s = pi.slice(48);
    // s + q encodes the same scalar mod q: accepting it would be a second proof.
    let n = 0n;
    for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(s[i]!);
    n += q;
    const high = pi.slice();
    for (let i = 0; i < 32; i++) high[48 + i] = Number((n >> BigInt(8 * i)) & 0xffn);
    expect(() => vrfVerify(hexToBytes(v.pk), new Uint8Array(0), high)).toThrow(/out of range/);
    const identity = ed25519.Point.ZERO.toBytes();
    expect(() => vrfVerify(identity, new Uint8Array(0), pi)).toThrow(/small order/);
  });
});

describe('handle labels', () => {
  const sk = ed25519.utils.randomSecretKey();
  const vrfKey = vrfPublicKey(sk);

  it('one label per handle, verified from its proof; another handle or key gives another', () => {
    const a = proveHandleLabel(sk, 'alice');
    expect(a.label).toHaveLength(32);
    expect(a.proof).toHaveLength(80);
    expect(verifyHandleLabel(vrfKey, 'alice', a.proof)).toEqual(a.label);
    expect(proveHandleLabel(sk, 'alice')).toEqual(a);
    expect(proveHandleLabel(sk, 'bob').label).not.toEqual(a.label);
    expect(() => verifyHandleLabel(vrfKey, 'bob', a.proof)).toThrow(/does not verify/);
    const other = ed25519.utils.randomSecretKey();
    const forged = proveHandleLabel(other, 'alice');
    expect(forged.label).not.toEqual(a.label);
    expect(() => verifyHandleLabel(vrfKey, 'alice', forged.proof)).toThrow(/does not verify/);
  });

  it('a second label for the same handle cannot be made to verify', () => {
    // The directory knows the secret key and may try any Gamma: a proof whose Gamma is not
    // x * H fails the challenge, whatever c and s it picks (tried here with fresh nonces).
    const honest = proveHandleLabel(sk, 'alice');
    const alpha = utf8ToBytes('veil-handle:alice');
    for (let i = 0; i < 16; i++) {
      const gamma = ed25519.Point.BASE.multiply(BigInt(i + 2)).toBytes();
      const attempt = honest.proof.slice();
      attempt.set(gamma, 0);
      expect(() => vrfVerify(vrfKey, alpha, attempt)).toThrow(/VRF/);
      // Gamma + a small-order point: the same label after cofactor clearing, still refused.
      const torsion = ed25519.Point.fromBytes(honest.proof.subarray(0, 32)).add(
        ed25519.Point.fromBytes(
          hexToBytes('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05'),
        ),
      );
      const shifted = honest.proof.slice();
      shifted.set(torsion.toBytes(), 0);
      expect(() => vrfVerify(vrfKey, alpha, shifted)).toThrow(/does not verify/);
    }
  });

  it('costs (figures for the report)', () => {
    const t0 = performance.now();
    const n = 50;
    const proofs = Array.from({ length: n }, (_, i) => proveHandleLabel(sk, `user${i}`));
    const t1 = performance.now();
    proofs.forEach((p, i) => verifyHandleLabel(vrfKey, `user${i}`, p.proof));
    const t2 = performance.now();
    console.log(
      `VRF prove ${((t1 - t0) / n).toFixed(2)} ms, verify ${((t2 - t1) / n).toFixed(2)} ms, proof 80 B, label 32 B`,
    );
  });
});
