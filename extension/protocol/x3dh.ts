// X3DH session setup (docs/protocol.md, "Session setup"): the shared secret, associated data and
// session tag both sides of a 1:1 session start from. With a signed ML-KEM-768 prekey in the
// bundle it is hybrid, in the style of Signal's PQXDH: the KEM's shared secret is appended to the
// DH outputs and a distinct HKDF label is used, so recording the setup now and breaking X25519
// later is not enough. Pure; DH and randomness via CryptoProvider.
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes, wipe } from './bytes';
import type { CryptoProvider } from './crypto/provider';
import { RECIPIENT_TAG_LENGTH, SESSION_TAG_LENGTH } from './envelope';
import { VeilError } from './errors';
import { kemDecapsulate, kemEncapsulate, verifyKemPrekey } from './kem-prekey';
import {
  identityDhPrivate,
  identityDhPublic,
  verifySignedPrekey,
  type IdentityKeyPair,
  type PrekeyBundle,
} from './identity';

const KEY_LENGTH = 32;
const X3DH_INFO = utf8ToBytes('Veil X3DH v1');
const PQXDH_INFO = utf8ToBytes('Veil PQXDH X25519 ML-KEM-768 v1');
const SESSION_TAG_INFO = utf8ToBytes('Veil session tag');
const AD_PREFIX = utf8ToBytes('Veil1');
const ZERO_SALT = new Uint8Array(32);

/** What both sides derive; the ratchet starts from `sk`. */
export interface X3dhShared {
  /** Root key; secret. */
  sk: Uint8Array;
  /** `"Veil1" || IK_A.pub || IK_B.pub`: associated data of every message in the session. */
  ad: Uint8Array;
  /** Names the session in every message so the reader finds it without trial decryption. */
  sessionTag: Uint8Array;
}

export interface X3dhInitiatorResult extends X3dhShared {
  /** Our ephemeral public key EK_A, sent in pre-key messages (its private half is wiped). */
  baseKey: Uint8Array;
  signedPrekeyId: number;
  /** Bob's signed prekey: his first ratchet public key. */
  theirSignedPrekey: Uint8Array;
  /** 0 when the bundle had no one-time prekey. */
  usedOneTimePrekeyId: number;
  /** `SHA-256(IK_B.pub)[0..4]`, so Bob can tell a pre-key message is meant for him. */
  recipientTag: Uint8Array;
  theirIdentityKey: Uint8Array;
  /** Post-quantum setup: the KEM prekey used and the ciphertext Bob decapsulates. */
  kem?: { id: number; cipherText: Uint8Array };
}

/** Only the bundle fields X3DH reads (identity.ts PrekeyBundle fits). */
export type X3dhBundle = Pick<
  PrekeyBundle,
  'identityKey' | 'signedPrekey' | 'oneTimePrekey' | 'kemPrekey'
>;

/**
 * Alice's side: verifies Bob's signed prekey (`bad-signature`), then derives the shared secret.
 * Example: `const x = await x3dhInitiate(nobleProvider, { ourIdentity, theirBundle })`.
 */
export async function x3dhInitiate(
  crypto: CryptoProvider,
  params: { ourIdentity: IdentityKeyPair; theirBundle: X3dhBundle },
): Promise<X3dhInitiatorResult> {
  const { ourIdentity, theirBundle } = params;
  const { identityKey, signedPrekey, oneTimePrekey, kemPrekey } = theirBundle;
  checkKey(identityKey, 'identity key');
  checkKey(signedPrekey.publicKey, 'signed prekey');
  if (oneTimePrekey) {
    checkKey(oneTimePrekey.publicKey, 'one-time prekey');
    if (
      !Number.isInteger(oneTimePrekey.id) ||
      oneTimePrekey.id < 1 ||
      oneTimePrekey.id > 0xffff_ffff
    )
      throw new VeilError('invalid-argument', 'one-time prekey id out of range');
  }
  if (!(await verifySignedPrekey(crypto, identityKey, signedPrekey)))
    throw new VeilError('bad-signature', 'signed prekey signature does not verify');
  if (kemPrekey && !(await verifyKemPrekey(crypto, identityKey, kemPrekey)))
    throw new VeilError('bad-signature', 'KEM prekey signature does not verify');

  const theirIdentityDh = identityDhPublic(identityKey);
  const ourIdentityDh = identityDhPrivate(ourIdentity.privateKey);
  const ephemeral = await crypto.x25519Generate();
  const dhs: Uint8Array[] = [];
  try {
    dhs.push(await crypto.x25519(ourIdentityDh, signedPrekey.publicKey));
    dhs.push(await crypto.x25519(ephemeral.privateKey, theirIdentityDh));
    dhs.push(await crypto.x25519(ephemeral.privateKey, signedPrekey.publicKey));
    if (oneTimePrekey) dhs.push(await crypto.x25519(ephemeral.privateKey, oneTimePrekey.publicKey));
    const kem = kemPrekey ? kemEncapsulate(crypto, kemPrekey.publicKey) : undefined;
    if (kem) dhs.push(kem.sharedSecret);
    const shared = deriveShared(dhs, ourIdentity.publicKey, identityKey, kem !== undefined);
    return {
      ...(kem && kemPrekey ? { kem: { id: kemPrekey.id, cipherText: kem.cipherText } } : {}),
      ...shared,
      baseKey: ephemeral.publicKey,
      signedPrekeyId: signedPrekey.id,
      theirSignedPrekey: signedPrekey.publicKey,
      usedOneTimePrekeyId: oneTimePrekey ? oneTimePrekey.id : 0,
      recipientTag: recipientTag(identityKey),
      theirIdentityKey: identityKey,
    };
  } finally {
    wipe(ourIdentityDh, ephemeral.privateKey, ...dhs);
  }
}

/**
 * Bob's side, from the keys named in Alice's pre-key message. The caller looks up its signed and
 * one-time prekeys by id and checks Alice's identity against what it has pinned.
 */
export async function x3dhRespond(
  crypto: CryptoProvider,
  params: {
    ourIdentity: IdentityKeyPair;
    ourSignedPrekey: { privateKey: Uint8Array };
    ourOneTimePrekey?: { privateKey: Uint8Array };
    /** Post-quantum setup: our KEM prekey named in the message, and its ciphertext. */
    kem?: { secretKey: Uint8Array; cipherText: Uint8Array };
    theirIdentityKey: Uint8Array;
    theirBaseKey: Uint8Array;
  },
): Promise<X3dhShared> {
  const { ourIdentity, ourSignedPrekey, ourOneTimePrekey, kem, theirIdentityKey, theirBaseKey } =
    params;
  checkKey(theirIdentityKey, 'identity key');
  checkKey(theirBaseKey, 'base key');
  const theirIdentityDh = identityDhPublic(theirIdentityKey);
  const ourIdentityDh = identityDhPrivate(ourIdentity.privateKey);
  const dhs: Uint8Array[] = [];
  try {
    dhs.push(await crypto.x25519(ourSignedPrekey.privateKey, theirIdentityDh));
    dhs.push(await crypto.x25519(ourIdentityDh, theirBaseKey));
    dhs.push(await crypto.x25519(ourSignedPrekey.privateKey, theirBaseKey));
    if (ourOneTimePrekey) dhs.push(await crypto.x25519(ourOneTimePrekey.privateKey, theirBaseKey));
    if (kem) dhs.push(kemDecapsulate(kem.secretKey, kem.cipherText));
    return deriveShared(dhs, theirIdentityKey, ourIdentity.publicKey, kem !== undefined);
  } finally {
    wipe(ourIdentityDh, ...dhs);
  }
}

/** `SHA-256(identityKey)[0..4]`: the recipient tag of pre-key messages to that identity. */
export function recipientTag(identityKey: Uint8Array): Uint8Array {
  return sha256(identityKey).subarray(0, RECIPIENT_TAG_LENGTH);
}

/** `dhs`: the DH outputs, then (post-quantum setup) the KEM's shared secret last. */
function deriveShared(
  dhs: Uint8Array[],
  initiatorIdentity: Uint8Array,
  responderIdentity: Uint8Array,
  postQuantum: boolean,
): X3dhShared {
  // 32 × 0xFF first, as Signal's X3DH does, so the input never starts like a bare X25519 output.
  const ikm = new Uint8Array(KEY_LENGTH * (1 + dhs.length));
  ikm.fill(0xff, 0, KEY_LENGTH);
  dhs.forEach((dh, i) => ikm.set(dh, KEY_LENGTH * (i + 1)));
  const sk = hkdf(sha256, ikm, ZERO_SALT, postQuantum ? PQXDH_INFO : X3DH_INFO, KEY_LENGTH);
  wipe(ikm);
  const ad = new Uint8Array(AD_PREFIX.length + 2 * KEY_LENGTH);
  ad.set(AD_PREFIX);
  ad.set(initiatorIdentity, AD_PREFIX.length);
  ad.set(responderIdentity, AD_PREFIX.length + KEY_LENGTH);
  const sessionTag = hkdf(sha256, sk, ZERO_SALT, SESSION_TAG_INFO, SESSION_TAG_LENGTH);
  return { sk, ad, sessionTag };
}

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH)
    throw new VeilError('invalid-key', `${what} must be 32 bytes`);
}
