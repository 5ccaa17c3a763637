// Cross-check of ratchet.ts against a second, deliberately plain implementation of the same
// wire protocol: Signal's spec as written (eager DH step, in-order only) on Node's OpenSSL.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
} from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { nobleProvider } from './crypto/noble';
import { parseRatchetMessage } from './envelope';
import {
  createSignedPrekey,
  generateIdentity,
  signedPrekeyPublic,
  type IdentityKeyPair,
  type SignedPrekey,
} from './identity';
import {
  initInitiator,
  initResponder,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
} from './ratchet';
import { x3dhInitiate, x3dhRespond, type X3dhInitiatorResult } from './x3dh';

const crypto = nobleProvider;

// ---- the reference party ----

interface RawPair {
  priv: Buffer;
  pub: Buffer;
}

function generate(): RawPair {
  const jwk = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
  return { priv: Buffer.from(jwk.d!, 'base64url'), pub: Buffer.from(jwk.x!, 'base64url') };
}

function dh(priv: Uint8Array, pub: Uint8Array): Buffer {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]);
  const spki = Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]);
  return diffieHellman({
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
  });
}

/** [rk', ck, hk] */
function kdfRk(rk: Buffer, dhOut: Buffer): [Buffer, Buffer, Buffer] {
  const out = Buffer.from(hkdfSync('sha256', dhOut, rk, 'Veil ratchet', 96));
  return [out.subarray(0, 32), out.subarray(32, 64), out.subarray(64)];
}

/** The 8-byte header MAC: HMAC(hk, AD || header up to the MAC). */
function headerMac(hk: Buffer, ad: Buffer, header: Buffer): Buffer {
  return createHmac('sha256', hk)
    .update(Buffer.concat([ad, header]))
    .digest()
    .subarray(0, 8);
}

/** [ck', mk] */
function kdfCk(ck: Buffer): [Buffer, Buffer] {
  const h = (b: number) => createHmac('sha256', ck).update(Buffer.of(b)).digest();
  return [h(2), h(1)];
}

/** The AEAD key is the message key itself; the nonce is constant (each key seals once). */
function messageKeys(mk: Buffer): { key: Buffer; nonce: Buffer } {
  return { key: mk, nonce: Buffer.alloc(12) };
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}

function readVarint(b: Buffer, off: number): [number, number] {
  let v = 0;
  let scale = 1;
  for (;;) {
    const x = b[off++]!;
    v += (x & 0x7f) * scale;
    if (!(x & 0x80)) return [v, off];
    scale *= 128;
  }
}

/** The Double Ratchet of the Signal spec, section 3.4, with this protocol's encodings. */
class ReferenceParty {
  dhs: RawPair;
  dhr: Buffer | null;
  rk: Buffer;
  cks: Buffer | null = null;
  ckr: Buffer | null = null;
  hks: Buffer | null = null;
  hkr: Buffer | null = null;
  ns = 0;
  nr = 0;
  pn = 0;

  constructor(
    private readonly sessionTag: Buffer,
    private readonly ad: Buffer,
    sk: Buffer,
    init: { theirSignedPrekey: Buffer } | { ourSignedPrekey: RawPair },
  ) {
    this.rk = sk;
    if ('theirSignedPrekey' in init) {
      this.dhs = generate();
      this.dhr = init.theirSignedPrekey;
      [this.rk, this.cks, this.hks] = kdfRk(this.rk, dh(this.dhs.priv, this.dhr));
    } else {
      this.dhs = init.ourSignedPrekey;
      this.dhr = null;
    }
  }

  encrypt(plaintext: Buffer): Buffer {
    const [ck, mk] = kdfCk(this.cks!);
    this.cks = ck;
    const maced = Buffer.concat([
      Buffer.of(0x12),
      this.sessionTag,
      this.dhs.pub,
      varint(this.ns),
      varint(this.pn),
    ]);
    const header = Buffer.concat([maced, headerMac(this.hks!, this.ad, maced)]);
    this.ns++;
    const { key, nonce } = messageKeys(mk);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    c.setAAD(Buffer.concat([this.ad, header]), { plaintextLength: plaintext.length });
    return Buffer.concat([header, c.update(plaintext), c.final(), c.getAuthTag()]);
  }

  decrypt(envelope: Buffer): Buffer {
    expect(envelope[0]).toBe(0x12);
    expect(envelope.subarray(1, 9).equals(this.sessionTag)).toBe(true);
    const ratchetKey = envelope.subarray(9, 41);
    const [n, afterN] = readVarint(envelope, 41);
    const [, afterPn] = readVarint(envelope, afterN);
    const headerEnd = afterPn + 8;
    if (!this.dhr || !ratchetKey.equals(this.dhr)) {
      // DHRatchet(state, header), eager as in the spec.
      this.pn = this.ns;
      this.ns = 0;
      this.nr = 0;
      this.dhr = Buffer.from(ratchetKey);
      [this.rk, this.ckr, this.hkr] = kdfRk(this.rk, dh(this.dhs.priv, this.dhr));
      this.dhs = generate();
      [this.rk, this.cks, this.hks] = kdfRk(this.rk, dh(this.dhs.priv, this.dhr));
    }
    expect(
      headerMac(this.hkr!, this.ad, envelope.subarray(0, afterPn)).equals(
        envelope.subarray(afterPn, headerEnd),
      ),
    ).toBe(true);
    expect(n).toBe(this.nr); // in order only
    const [ck, mk] = kdfCk(this.ckr!);
    this.ckr = ck;
    this.nr++;
    const { key, nonce } = messageKeys(mk);
    const body = envelope.subarray(headerEnd, envelope.length - 16);
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAAD(Buffer.concat([this.ad, envelope.subarray(0, headerEnd)]), {
      plaintextLength: body.length,
    });
    d.setAuthTag(envelope.subarray(envelope.length - 16));
    return Buffer.concat([d.update(body), d.final()]);
  }
}

// ---- the cross-check ----

let aliceId: IdentityKeyPair;
let bobId: IdentityKeyPair;
let spk: SignedPrekey;

beforeAll(async () => {
  aliceId = await generateIdentity(crypto);
  bobId = await generateIdentity(crypto);
  spk = await createSignedPrekey(crypto, bobId, 3, 0);
});

async function setup(): Promise<{ x: X3dhInitiatorResult; sk: Buffer }> {
  const x = await x3dhInitiate(crypto, {
    ourIdentity: aliceId,
    theirBundle: { identityKey: bobId.publicKey, signedPrekey: signedPrekeyPublic(spk) },
  });
  const y = await x3dhRespond(crypto, {
    ourIdentity: bobId,
    ourSignedPrekey: spk.keyPair,
    theirIdentityKey: aliceId.publicKey,
    theirBaseKey: x.baseKey,
  });
  return { x, sk: Buffer.from(y.sk) };
}

/** Turns of (who, how many): messages alternate in runs so both sides step and stay. */
const SCRIPT: ['ours' | 'ref', number][] = [
  ['ours', 1],
  ['ref', 1],
  ['ours', 3],
  ['ref', 4],
  ['ours', 1],
  ['ref', 1],
  ['ours', 2],
  ['ref', 2],
  ['ref', 1],
  ['ours', 5],
];

async function converse(ours: RatchetState, ref: ReferenceParty, oursFirst: boolean) {
  const script = oursFirst ? SCRIPT : SCRIPT.map(([w, n]) => [w === 'ours' ? 'ref' : 'ours', n]);
  let i = 0;
  for (const [who, count] of script as typeof SCRIPT) {
    for (let k = 0; k < count; k++) {
      const text = Buffer.from(`interop ${i++} `.repeat(3));
      if (who === 'ours') {
        const out = await ratchetEncrypt(crypto, ours, text);
        ours = out.state;
        expect(ref.decrypt(Buffer.from(out.envelope)).equals(text)).toBe(true);
      } else {
        const envelope = ref.encrypt(text);
        const out = await ratchetDecrypt(crypto, ours, parseRatchetMessage(envelope));
        ours = out.state;
        expect(Buffer.from(out.plaintext).equals(text)).toBe(true);
      }
    }
  }
  return ours;
}

describe('ratchet.ts against the reference', () => {
  it('as initiator (lazy) with a reference responder (eager)', async () => {
    const { x, sk } = await setup();
    const ref = new ReferenceParty(Buffer.from(x.sessionTag), Buffer.from(x.ad), sk, {
      ourSignedPrekey: {
        priv: Buffer.from(spk.keyPair.privateKey),
        pub: Buffer.from(spk.keyPair.publicKey),
      },
    });
    await converse(initInitiator(x), ref, true);
  });

  it('as responder (lazy) with a reference initiator (eager)', async () => {
    const { x, sk } = await setup();
    const ref = new ReferenceParty(Buffer.from(x.sessionTag), Buffer.from(x.ad), sk, {
      theirSignedPrekey: Buffer.from(spk.keyPair.publicKey),
    });
    const bob = initResponder({
      sk,
      ad: x.ad,
      sessionTag: x.sessionTag,
      ourSignedPrekey: spk.keyPair,
    });
    const end = await converse(bob, ref, false);
    // The reference sent last, so both have taken the same DH steps: one root key.
    expect(end.rootKey).toEqual(new Uint8Array(ref.rk));
  });
});
