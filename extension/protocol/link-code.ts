// Linking a new browser (B) to an account from one already linked (A), with one short-lived
// code A shows and B scans or pastes (docs/devices.md, "Linking"). The account key never leaves
// A: the code carries only its public half, so B can check the device list A signs. The
// directory relays two messages it can neither read nor forge. Pure: randomness comes in as
// `randomBytes`, crypto from @noble/* and kdf.ts.
//
// Example (A, then B, then A, then B):
//   const { code, secret } = createLinkCode({ handle, accountKey, directoryUrl, expiresAt, randomBytes });
//   const parsed = parseLinkCode(code, nowSeconds);            // on B
//   const keys = linkKeys(parsed.secret);                      // both sides; keys.idHex names the link
//   const reply = linkReplyKeyPair(randomBytes);               // B, kept in memory for this link
//   const req = sealLinkRequest(keys, { handle, deviceKey, replyKey: reply.publicKey });
//   const got = openLinkRequest(keys, handle, req);            // A: 'bad-mac' unless B knew the code
//   const sealed = sealLinkAnswer(keys, got, payload, randomBytes);
//   const payload2 = openLinkAnswer(keys, { deviceKey, replySecretKey: reply.secretKey }, sealed);
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual, bytesToUtf8, concatBytes, utf8ToBytes, wipe } from './bytes';
import { fromBase64Url, toBase64Url } from './encoding';
import { VeilError } from './errors';
import { isValidHandle } from './identity';
import { hkdfSha256, hmacSha256 } from './kdf';

export const LINK_CODE_PREFIX = 'veil-link:';
export const LINK_CODE_VERSION = 1;
export const LINK_SECRET_LENGTH = 16;
export const LINK_ID_LENGTH = 16;
/** Longest directory URL a code carries (bytes, printable ASCII). */
export const MAX_LINK_URL_LENGTH = 200;
/** Longest sealed answer the directory relays (key-directory/link-routes.ts). */
export const MAX_LINK_ANSWER_LENGTH = 8192;

const KEY_LENGTH = 32;
const MAC_LENGTH = 32;
const NONCE_LENGTH = 24;
const TAG_LENGTH = 16;
const ANSWER_VERSION = 1;
/** version || ephemeral X25519 key || nonce, then ciphertext || tag. */
const ANSWER_HEADER_LENGTH = 1 + KEY_LENGTH + NONCE_LENGTH;
/** Payload bytes an answer may carry so that the sealed answer fits the directory's cap. */
export const MAX_LINK_PAYLOAD_LENGTH = MAX_LINK_ANSWER_LENGTH - ANSWER_HEADER_LENGTH - TAG_LENGTH;

const MAX_U32 = 0xffff_ffff;
const URL_PATTERN = /^https?:\/\/[\x21-\x7e]+$/;
const REQUEST_LABEL = utf8ToBytes('VeilLinkReq1');
const ANSWER_LABEL = utf8ToBytes('VeilLinkAns1');
const INFO_ID = utf8ToBytes('Veil link id');
const INFO_MAC = utf8ToBytes('Veil link mac');
const INFO_BOX = utf8ToBytes('Veil link box');
const INFO_ANSWER = utf8ToBytes('Veil link answer key');

export interface LinkCodeInput {
  handle: string;
  /** The account's Ed25519 public key (32 bytes): B checks device lists under it. */
  accountKey: Uint8Array;
  /** The directory both devices use (printable ASCII, http(s)://, at most 200 bytes). */
  directoryUrl: string;
  /** Unix seconds after which B refuses the code. */
  expiresAt: number;
  randomBytes: (n: number) => Uint8Array;
}

export interface LinkCode {
  handle: string;
  accountKey: Uint8Array;
  /** S: 16 random bytes, the only secret in the code. */
  secret: Uint8Array;
  expiresAt: number;
  directoryUrl: string;
}

export interface LinkKeys {
  /** Names the link at the directory (who sees it learns nothing of the other two keys). */
  id: Uint8Array;
  /** `id` in lowercase hex (32 characters), for URLs. */
  idHex: string;
  /** HMAC-SHA256 key of B's request. */
  macKey: Uint8Array;
  /** Mixed into the key of A's answer. */
  boxKey: Uint8Array;
}

/** What B sends through the directory (and A reads back from it). */
export interface LinkRequest {
  /** B's Ed25519 device key, to be added to the device list. */
  deviceKey: Uint8Array;
  /** B's one-time X25519 key for this link: A's answer can only be opened with its secret. */
  replyKey: Uint8Array;
  /** HMAC-SHA256(macKey, "VeilLinkReq1" || u8 len || handle || deviceKey || replyKey). */
  mac: Uint8Array;
}

/**
 * The code text: `veil-link:` + base64url of
 * `u8 version (1) || u8 len || handle || accountKey(32) || S(16) || u32 expiresAt (big-endian)
 * || u8 len || directoryUrl`, nothing after it. 100 bytes (144 characters) for a 5-letter handle
 * and a 40-character URL; at most 222 + 200 characters for the longest handle and URL.
 */
export function createLinkCode(input: LinkCodeInput): { code: string; secret: Uint8Array } {
  const { handle, accountKey, directoryUrl, expiresAt, randomBytes } = input;
  if (!isValidHandle(handle)) throw new VeilError('invalid-argument', 'not a valid handle');
  if (!(accountKey instanceof Uint8Array) || accountKey.length !== KEY_LENGTH)
    throw new VeilError('invalid-argument', 'account key must be 32 bytes');
  checkUrl(directoryUrl, 'invalid-argument');
  if (!Number.isInteger(expiresAt) || expiresAt < 1 || expiresAt > MAX_U32)
    throw new VeilError('invalid-argument', 'expiresAt must be Unix seconds (a u32)');
  const secret = randomBytes(LINK_SECRET_LENGTH);
  if (!(secret instanceof Uint8Array) || secret.length !== LINK_SECRET_LENGTH)
    throw new VeilError('invalid-argument', 'randomBytes gave the wrong length');
  const h = utf8ToBytes(handle);
  const u = utf8ToBytes(directoryUrl);
  const out = new Uint8Array(1 + 1 + h.length + KEY_LENGTH + LINK_SECRET_LENGTH + 4 + 1 + u.length);
  const view = new DataView(out.buffer);
  let o = 0;
  out[o++] = LINK_CODE_VERSION;
  out[o++] = h.length;
  out.set(h, o);
  o += h.length;
  out.set(accountKey, o);
  o += KEY_LENGTH;
  out.set(secret, o);
  o += LINK_SECRET_LENGTH;
  view.setUint32(o, expiresAt);
  o += 4;
  out[o++] = u.length;
  out.set(u, o);
  const code = LINK_CODE_PREFIX + toBase64Url(out);
  wipe(out);
  return { code, secret: secret.slice() };
}

/**
 * Parses a code (whitespace around it tolerated). Throws VeilError: 'invalid-argument' (not a
 * string), 'malformed' (prefix, base64url, lengths, handle, URL), 'unknown-version', or
 * 'too-old' when `nowSeconds` is past its expiry.
 */
export function parseLinkCode(text: string, nowSeconds: number): LinkCode {
  if (typeof text !== 'string') throw new VeilError('invalid-argument', 'link code is not text');
  const trimmed = text.trim();
  if (!trimmed.startsWith(LINK_CODE_PREFIX))
    throw new VeilError('malformed', 'not a Veil link code (it starts with veil-link:)');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(trimmed.slice(LINK_CODE_PREFIX.length));
  } catch {
    throw new VeilError('malformed', 'the link code is damaged (not base64url)');
  }
  if (bytes.length < 1) throw new VeilError('malformed', 'the link code is empty');
  if (bytes[0] !== LINK_CODE_VERSION)
    throw new VeilError('unknown-version', 'the link code is of a version Veil does not know');
  const short = () => new VeilError('malformed', 'the link code is cut short or too long');
  let o = 1;
  const take = (n: number): Uint8Array => {
    if (o + n > bytes.length) throw short();
    const part = bytes.slice(o, o + n);
    o += n;
    return part;
  };
  const handleBytes = take(take(1)[0]!);
  const accountKey = take(KEY_LENGTH);
  const secret = take(LINK_SECRET_LENGTH);
  const expiresAt = new DataView(take(4).buffer).getUint32(0);
  const urlBytes = take(take(1)[0]!);
  if (o !== bytes.length) throw short();
  wipe(bytes);
  const handle = decodeUtf8(handleBytes);
  if (!isValidHandle(handle))
    throw new VeilError('malformed', 'the link code names no valid handle');
  const directoryUrl = decodeUtf8(urlBytes);
  checkUrl(directoryUrl, 'malformed');
  if (expiresAt === 0) throw new VeilError('malformed', 'the link code has no expiry');
  if (!Number.isFinite(nowSeconds)) throw new VeilError('invalid-argument', 'now is not a time');
  if (nowSeconds >= expiresAt) {
    wipe(secret);
    throw new VeilError('too-old', 'the link code expired: show a new one on the linked device');
  }
  return { handle, accountKey, secret, expiresAt, directoryUrl };
}

/** The link's id, MAC key and box key: HKDF-SHA256(S) with one info label each. */
export function linkKeys(secret: Uint8Array): LinkKeys {
  if (!(secret instanceof Uint8Array) || secret.length !== LINK_SECRET_LENGTH)
    throw new VeilError('invalid-argument', 'link secret must be 16 bytes');
  const id = hkdfSha256(secret, undefined, INFO_ID, LINK_ID_LENGTH);
  return {
    id,
    idHex: bytesToHex(id),
    macKey: hkdfSha256(secret, undefined, INFO_MAC, 32),
    boxKey: hkdfSha256(secret, undefined, INFO_BOX, 32),
  };
}

/** B's one-time X25519 key pair for one link (the secret stays in B's memory). */
export function linkReplyKeyPair(randomBytes: (n: number) => Uint8Array): {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
} {
  const secretKey = randomBytes(KEY_LENGTH);
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== KEY_LENGTH)
    throw new VeilError('invalid-argument', 'randomBytes gave the wrong length');
  return { publicKey: x25519.getPublicKey(secretKey), secretKey };
}

/** B's request: its device key and reply key, MACed under the code's MAC key. */
export function sealLinkRequest(
  keys: LinkKeys,
  request: { handle: string; deviceKey: Uint8Array; replyKey: Uint8Array },
): LinkRequest {
  checkKey(request.deviceKey, 'device key', 'invalid-argument');
  checkKey(request.replyKey, 'reply key', 'invalid-argument');
  return {
    deviceKey: request.deviceKey.slice(),
    replyKey: request.replyKey.slice(),
    mac: requestMac(keys, request.handle, request.deviceKey, request.replyKey),
  };
}

/**
 * A's check of a relayed request: 'bad-mac' unless it was made with this code's secret for
 * `handle` and exactly these keys; 'malformed' for wrong lengths.
 */
export function openLinkRequest(
  keys: LinkKeys,
  handle: string,
  body: LinkRequest,
): { deviceKey: Uint8Array; replyKey: Uint8Array } {
  checkKey(body.deviceKey, 'device key', 'malformed');
  checkKey(body.replyKey, 'reply key', 'malformed');
  if (!(body.mac instanceof Uint8Array) || body.mac.length !== MAC_LENGTH)
    throw new VeilError('malformed', 'link request MAC must be 32 bytes');
  const expected = requestMac(keys, handle, body.deviceKey, body.replyKey);
  if (!bytesEqual(expected, body.mac))
    throw new VeilError('bad-mac', 'the link request was not made with this code');
  return { deviceKey: body.deviceKey.slice(), replyKey: body.replyKey.slice() };
}

/**
 * A's answer to a checked request: `0x01 || E(32) || nonce(24) || XChaCha20-Poly1305(k, nonce,
 * payload, AD)` with `k = HKDF-SHA256(boxKey || X25519(e, replyKey), info "Veil link answer
 * key")` and `AD = "VeilLinkAns1" || id || deviceKey || replyKey || E`. Only B (holding the reply
 * key's secret) opens it, and only as the answer to its own request under this link.
 */
export function sealLinkAnswer(
  keys: LinkKeys,
  request: { deviceKey: Uint8Array; replyKey: Uint8Array },
  payload: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
): Uint8Array {
  checkKey(request.deviceKey, 'device key', 'invalid-argument');
  checkKey(request.replyKey, 'reply key', 'invalid-argument');
  if (!(payload instanceof Uint8Array) || payload.length > MAX_LINK_PAYLOAD_LENGTH)
    throw new VeilError(
      'invalid-argument',
      `payload must be bytes, at most ${MAX_LINK_PAYLOAD_LENGTH}`,
    );
  const ephemeral = linkReplyKeyPair(randomBytes);
  const nonce = randomBytes(NONCE_LENGTH);
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_LENGTH)
    throw new VeilError('invalid-argument', 'randomBytes gave the wrong length');
  const key = answerKey(keys, ephemeral.secretKey, request.replyKey, 'invalid-argument');
  wipe(ephemeral.secretKey);
  const header = concatBytes(Uint8Array.of(ANSWER_VERSION), ephemeral.publicKey, nonce);
  const ad = answerAd(keys, request.deviceKey, request.replyKey, ephemeral.publicKey);
  const sealed = xchacha20poly1305(key, nonce, ad).encrypt(payload);
  wipe(key);
  return concatBytes(header, sealed);
}

/** B opens A's answer; 'bad-mac' for any other link, request or secret, 'malformed' if cut. */
export function openLinkAnswer(
  keys: LinkKeys,
  own: { deviceKey: Uint8Array; replySecretKey: Uint8Array },
  sealed: Uint8Array,
): Uint8Array {
  checkKey(own.deviceKey, 'device key', 'invalid-argument');
  checkKey(own.replySecretKey, 'reply secret key', 'invalid-argument');
  if (!(sealed instanceof Uint8Array) || sealed.length < ANSWER_HEADER_LENGTH + TAG_LENGTH)
    throw new VeilError('malformed', 'the link answer is cut short');
  if (sealed.length > MAX_LINK_ANSWER_LENGTH)
    throw new VeilError('malformed', 'the link answer is too long');
  if (sealed[0] !== ANSWER_VERSION)
    throw new VeilError('unknown-version', 'the link answer is of a version Veil does not know');
  const ephemeral = sealed.subarray(1, 1 + KEY_LENGTH);
  const nonce = sealed.subarray(1 + KEY_LENGTH, ANSWER_HEADER_LENGTH);
  const replyKey = x25519.getPublicKey(own.replySecretKey);
  const key = answerKey(keys, own.replySecretKey, ephemeral, 'bad-mac');
  const ad = answerAd(keys, own.deviceKey, replyKey, ephemeral);
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed.subarray(ANSWER_HEADER_LENGTH));
  } catch {
    throw new VeilError('bad-mac', 'the link answer does not open with this code');
  } finally {
    wipe(key);
  }
}

// ---- internal ----

function requestMac(
  keys: LinkKeys,
  handle: string,
  deviceKey: Uint8Array,
  replyKey: Uint8Array,
): Uint8Array {
  if (!isValidHandle(handle)) throw new VeilError('invalid-argument', 'not a valid handle');
  const h = utf8ToBytes(handle);
  return hmacSha256(
    keys.macKey,
    concatBytes(REQUEST_LABEL, Uint8Array.of(h.length), h, deviceKey, replyKey),
  );
}

function answerKey(
  keys: LinkKeys,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  onBadKey: 'invalid-argument' | 'bad-mac',
): Uint8Array {
  let shared: Uint8Array;
  try {
    // noble refuses a low-order public key (an all-zero shared secret).
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch {
    throw new VeilError(onBadKey === 'bad-mac' ? 'bad-mac' : 'invalid-key', 'unusable X25519 key');
  }
  const ikm = concatBytes(keys.boxKey, shared);
  const key = hkdfSha256(ikm, undefined, INFO_ANSWER, 32);
  wipe(ikm, shared);
  return key;
}

function answerAd(
  keys: LinkKeys,
  deviceKey: Uint8Array,
  replyKey: Uint8Array,
  ephemeral: Uint8Array,
): Uint8Array {
  return concatBytes(ANSWER_LABEL, keys.id, deviceKey, replyKey, ephemeral);
}

function checkKey(
  key: unknown,
  what: string,
  code: 'malformed' | 'invalid-argument',
): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH)
    throw new VeilError(code, `${what} must be 32 bytes`);
}

function checkUrl(url: unknown, code: 'malformed' | 'invalid-argument'): void {
  if (
    typeof url !== 'string' ||
    url.length > MAX_LINK_URL_LENGTH ||
    !URL_PATTERN.test(url) ||
    url.endsWith('/')
  )
    throw new VeilError(code, 'directory URL must be http(s)://, printable ASCII, ≤ 200 bytes');
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    const text = bytesToUtf8(bytes);
    if (!bytesEqual(utf8ToBytes(text), bytes)) throw new Error('not canonical');
    return text;
  } catch {
    throw new VeilError('malformed', 'the link code holds text that is not UTF-8');
  }
}
