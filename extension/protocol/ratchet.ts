// The Double Ratchet of 1:1 sessions (docs/protocol.md, "Double Ratchet"). State is plain data
// for IndexedDB; every function returns a new state and never modifies the one it was given.
import { openChaCha20Poly1305, sealChaCha20Poly1305 } from './aead';
import { bytesEqual, utf8ToBytes, wipe } from './bytes';
import type { CryptoProvider, KeyPair } from './crypto/provider';
import {
  AEAD_TAG_LENGTH,
  BYTE0_KEY_WRAP,
  CONTENT_KEY_LENGTH,
  HEADER_MAC_LENGTH,
  MAX_ENVELOPE_LENGTH,
  ratchetHeaderLength,
  writeRatchetHeader,
  type RatchetMessage,
} from './envelope';
import { VeilError } from './errors';
import { HmacSha256, hkdfSha256, hmacSha256 } from './kdf';

/** Most message keys skipped by one message, per chain (libsignal MAX_FORWARD_JUMPS). */
export const RATCHET_MAX_FORWARD_JUMP = 25_000;
/** Most skipped message keys stored over all chains (libsignal MAX_MESSAGE_KEYS). */
export const RATCHET_MAX_SKIPPED_KEYS = 2_000;
/** Most closed receiving chains remembered, and own past ratchet keys recognised. */
export const RATCHET_MAX_OLD_CHAINS = 40;
/**
 * Most message keys a pre-key message may skip when it starts a session. Anyone can start a
 * session (the directory's prekeys are public), so this is work an unknown sender can cause;
 * an initiator starts a new session before its first chain gets this long unanswered.
 */
export const RATCHET_MAX_FIRST_JUMP = 64;

const KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const MAX_COUNTER = 0xffff_ffff;
// Largest type-2 header: byte 0, tag, key, two 5-byte varints, header MAC.
const MAX_HEADER_LENGTH = 1 + 8 + KEY_LENGTH + 5 + 5 + HEADER_MAC_LENGTH;
const RATCHET_INFO = utf8ToBytes('Veil ratchet');
/** Each message key encrypts one message, so the nonce is a constant (Double Ratchet §3.1). */
const NONCE = new Uint8Array(NONCE_LENGTH);
const MESSAGE_KEY_LABEL = Uint8Array.of(0x01);
const CHAIN_KEY_LABEL = Uint8Array.of(0x02);
const KEY_WRAP_INFO = utf8ToBytes('Veil key wrap');
const EMPTY = new Uint8Array(0);

/**
 * One of the peer's sending chains that we still receive on: the current one, and closed ones
 * that still hold keys of messages skipped over. Keys are packed into one buffer because
 * IndexedDB's structured clone pays per typed array, not per byte.
 */
export interface ReceivingChain {
  /** The peer's ratchet public key for this chain. */
  ratchetKey: Uint8Array;
  /** Chain key at counter `next`; null once the peer has moved on to a newer chain. */
  chainKey: Uint8Array | null;
  /** Key of this chain's header MACs, checked before the chain is walked. */
  headerKey: Uint8Array;
  /** First counter not yet derived (for a closed chain: the length the peer announced). */
  next: number;
  /** Counters of the messages skipped over whose keys we keep, ascending. */
  skippedCounters: number[];
  /** Their message keys (`HMAC(ck, 0x01)`), 32 bytes each, in the same order. */
  skippedKeys: Uint8Array;
  /**
   * Counters in [evictedFrom, evictedTo) may have had their key evicted (`too-old`); a missing
   * counter outside it was used already (`replay`). Empty when equal.
   */
  evictedFrom: number;
  evictedTo: number;
}

/**
 * A session's ratchet state. Plain data: Uint8Arrays (each its own compact buffer), numbers,
 * arrays. States returned by the functions below share unchanged buffers with their input, so
 * never modify a state in place.
 */
export interface RatchetState {
  version: 1;
  sessionTag: Uint8Array;
  /** X3DH associated data, `"Veil1" || IK_A.pub || IK_B.pub`. */
  ad: Uint8Array;
  rootKey: Uint8Array;
  /** Our current ratchet key pair (the responder starts with its signed prekey). */
  ourRatchetKey: KeyPair | null;
  /** Public halves of our earlier sending ratchet keys, 32 bytes each, oldest first. */
  ourPastRatchetKeys: Uint8Array;
  /** The peer's newest ratchet public key; null until the responder's first message arrives. */
  theirRatchetKey: Uint8Array | null;
  /** Null when a sending step is due: done lazily, on our next encrypt. */
  sendChainKey: Uint8Array | null;
  /** Header-MAC key of the current sending chain (set with sendChainKey). */
  sendHeaderKey: Uint8Array | null;
  /** Counter of the next message we send in the current sending chain. */
  sendCounter: number;
  /** Length of our previous sending chain (`pn`). */
  previousSendCounter: number;
  /** Closed chains still holding skipped keys, oldest first, then the current chain. */
  receiving: ReceivingChain[];
  /** Closed chains with no keys left, oldest first: their ratchet keys, 32 bytes each … */
  retiredRatchetKeys: Uint8Array;
  /** … and for each, `end, evictedFrom, evictedTo` (see ReceivingChain), flat. */
  retiredChains: number[];
  /** Skipped keys over all receiving chains. */
  skippedCount: number;
}

/** Alice, after x3dhInitiate: Bob's signed prekey is his first ratchet key; RK = SK. */
export function initInitiator(params: {
  sk: Uint8Array;
  ad: Uint8Array;
  sessionTag: Uint8Array;
  theirSignedPrekey: Uint8Array;
}): RatchetState {
  checkBytes(params.sk, KEY_LENGTH, 'root key');
  checkBytes(params.theirSignedPrekey, KEY_LENGTH, 'signed prekey');
  return {
    ...baseState(params),
    theirRatchetKey: params.theirSignedPrekey.slice(),
  };
}

/** Bob, after x3dhRespond: his signed prekey pair is his first ratchet key pair; RK = SK. */
export function initResponder(params: {
  sk: Uint8Array;
  ad: Uint8Array;
  sessionTag: Uint8Array;
  ourSignedPrekey: KeyPair;
}): RatchetState {
  checkBytes(params.sk, KEY_LENGTH, 'root key');
  const { privateKey, publicKey } = params.ourSignedPrekey;
  checkBytes(privateKey, KEY_LENGTH, 'signed prekey');
  checkBytes(publicKey, KEY_LENGTH, 'signed prekey');
  return {
    ...baseState(params),
    ourRatchetKey: { privateKey: privateKey.slice(), publicKey: publicKey.slice() },
  };
}

/**
 * Encrypts an already framed and padded plaintext (plaintext.ts) to a type-2 envelope, or to a
 * type-1 envelope when `prekeyHeader` (envelope.ts encodePrekeyHeader) is given. The first
 * message after receiving a new ratchet key costs one key generation and one DH; the rest are
 * symmetric only.
 */
export async function ratchetEncrypt(
  crypto: CryptoProvider,
  state: RatchetState,
  plaintext: Uint8Array,
  opts: { prekeyHeader?: Uint8Array; keyWrap?: KeyWrapOptions } = {},
): Promise<{ state: RatchetState; envelope: Uint8Array }> {
  const prefix = opts.prekeyHeader ?? EMPTY;
  if (prefix.length + MAX_HEADER_LENGTH + plaintext.length + AEAD_TAG_LENGTH > MAX_ENVELOPE_LENGTH)
    throw new VeilError('oversized', 'message too long');
  const wrap = opts.keyWrap;
  // A derived wrap sends no key: the content key is the wrap's own pad (below).
  const derive = wrap !== undefined && 'deriveKey' in wrap;
  if (wrap && !derive) checkBytes(plaintext, CONTENT_KEY_LENGTH, 'content key');
  const wrappedLength = derive ? 0 : plaintext.length;

  let next: RatchetState = state;
  if (state.sendChainKey === null) next = await sendingStep(crypto, state);
  const counter = next.sendCounter;
  if (counter >= MAX_COUNTER)
    throw new VeilError('invalid-argument', 'sending chain exhausted; start a new session');
  const { messageKey, chainKey } = chainStep(next.sendChainKey!);
  const ourRatchetKey = next.ourRatchetKey!;

  const headerLength = ratchetHeaderLength(counter, next.previousSendCounter);
  const bodyStart = prefix.length + headerLength;
  const envelope = new Uint8Array(bodyStart + wrappedLength + (wrap ? 0 : AEAD_TAG_LENGTH));
  envelope.set(prefix);
  const header = {
    sessionTag: next.sessionTag,
    ratchetKey: ourRatchetKey.publicKey,
    counter,
    previousCounter: next.previousSendCounter,
  };
  try {
    if (wrap) {
      const macAt = writeRatchetHeader(envelope, prefix.length, header, BYTE0_KEY_WRAP);
      const wrapped = envelope.subarray(bodyStart);
      let contentHash: Uint8Array;
      if ('deriveKey' in wrap) {
        const key = keyWrapPad(messageKey);
        contentHash = wrap.deriveKey(key);
        wipe(key);
      } else {
        xorKeyWrap(messageKey, plaintext, wrapped);
        contentHash = wrap.contentHash;
      }
      checkBytes(contentHash, KEY_LENGTH, 'content hash');
      const mac = keyWrapMac(
        next.sendHeaderKey!,
        next.ad,
        envelope.subarray(0, macAt),
        wrapped,
        contentHash,
      );
      envelope.set(mac, macAt);
    } else {
      const macAt = writeRatchetHeader(envelope, prefix.length, header);
      envelope.set(headerMac(next.sendHeaderKey!, next.ad, envelope.subarray(0, macAt)), macAt);
      const aad = associatedData(next.ad, envelope.subarray(0, bodyStart));
      sealChaCha20Poly1305(messageKey, NONCE, aad, plaintext, envelope.subarray(bodyStart));
    }
  } finally {
    wipe(messageKey);
  }
  return {
    state: { ...next, sendChainKey: chainKey, sendCounter: counter + 1 },
    envelope,
  };
}

/**
 * Decrypts a parsed type-2 message (for a type-1 envelope: its inner message, with the pre-key
 * header bytes as `prekeyHeader`). Checks, before any key is touched: session tag
 * (`no-session`), chain position (`replay`, `too-old`, `too-far-ahead`), one of our own ratchet
 * keys (`own-message`: the host shows us our own messages too); then at most one DH (a new
 * chain), the header MAC (`bad-mac`) before any chain is walked, so a forged header costs no
 * more than that, and the AEAD (`bad-mac`). `maxJump` lowers the skip limit (a session's first
 * message). Returns the new state; on any error the caller keeps the state it had, which this
 * function never modifies.
 */
export async function ratchetDecrypt(
  crypto: CryptoProvider,
  state: RatchetState,
  message: RatchetMessage,
  prekeyHeader: Uint8Array = EMPTY,
  opts: { maxJump?: number; keyWrap?: { contentHash: Uint8Array } } = {},
): Promise<{ state: RatchetState; plaintext: Uint8Array }> {
  if (!bytesEqual(message.sessionTag, state.sessionTag))
    throw new VeilError('no-session', 'message belongs to another session');
  // A key wrap is opened only with the content it names, and an ordinary message never so.
  if (!!message.keyWrap !== !!opts.keyWrap)
    throw new VeilError('malformed', 'a key wrap belongs inside a fan-out');

  const maxJump = opts.maxJump ?? RATCHET_MAX_FORWARD_JUMP;
  const wrap = opts.keyWrap;
  const open = wrap
    ? (messageKey: Uint8Array) => {
        if (message.ciphertext.length === 0) return keyWrapPad(messageKey);
        const key = new Uint8Array(CONTENT_KEY_LENGTH);
        xorKeyWrap(messageKey, message.ciphertext, key);
        return key;
      }
    : (messageKey: Uint8Array) => openMessage(messageKey, state.ad, prekeyHeader, message);
  const checkHeader = wrap
    ? (headerKey: Uint8Array) => checkKeyWrapMac(headerKey, state.ad, prekeyHeader, message, wrap)
    : (headerKey: Uint8Array) => checkHeaderMac(headerKey, state.ad, prekeyHeader, message);
  const { counter } = message;
  const index = findChain(state.receiving, message.ratchetKey);

  if (index >= 0) {
    const chain = state.receiving[index]!;
    checkHeader(chain.headerKey);
    if (counter < chain.next) {
      // An earlier message of a chain we know: only a stored skipped key can open it.
      const at = findCounter(chain.skippedCounters, counter);
      if (at < 0) throw missingKey(counter, chain.evictedFrom, chain.evictedTo);
      const plaintext = open(chain.skippedKeys.subarray(at * KEY_LENGTH, (at + 1) * KEY_LENGTH));
      const receiving = replaceAt(state.receiving, index, withoutSkipped(chain, at));
      return {
        state: settle({ ...state, receiving, skippedCount: state.skippedCount - 1 }),
        plaintext,
      };
    }
    if (chain.chainKey === null)
      throw new VeilError('bad-mac', 'message lies past the end of a finished chain');
    checkJump(counter - chain.next, maxJump);
    const advanced = advance(chain, counter);
    let plaintext: Uint8Array;
    try {
      plaintext = open(advanced.messageKey);
    } finally {
      wipe(advanced.messageKey);
    }
    const receiving = replaceAt(state.receiving, index, advanced.chain);
    return {
      state: settle({ ...state, receiving, skippedCount: state.skippedCount + advanced.added }),
      plaintext,
    };
  }

  const retired = findPacked(state.retiredRatchetKeys, message.ratchetKey);
  if (retired >= 0) {
    const [end, evictedFrom, evictedTo] = state.retiredChains.slice(3 * retired, 3 * retired + 3);
    if (counter >= end!)
      throw new VeilError('bad-mac', 'message lies past the end of a finished chain');
    throw missingKey(counter, evictedFrom!, evictedTo!);
  }
  if (isOurRatchetKey(state, message.ratchetKey))
    throw new VeilError('own-message', 'message was written by this device');

  // A new ratchet key from the peer: close the current chain up to `pn`, start a new one.
  const ourRatchetKey = state.ourRatchetKey;
  if (ourRatchetKey === null)
    throw new VeilError('no-session', 'no ratchet key to receive with before the first send');
  const last = state.receiving[state.receiving.length - 1];
  const current = last && last.chainKey !== null ? last : undefined;
  if (current && message.previousCounter > current.next)
    checkJump(message.previousCounter - current.next, maxJump);
  checkJump(counter, maxJump);

  const dh = await crypto.x25519(ourRatchetKey.privateKey, message.ratchetKey);
  const [rootKey, chainKey, headerKey] = await kdfRoot(crypto, state.rootKey, dh);
  wipe(dh);
  checkHeader(headerKey);
  const fresh: ReceivingChain = {
    ratchetKey: message.ratchetKey.slice(),
    chainKey,
    headerKey,
    next: 0,
    skippedCounters: [],
    skippedKeys: EMPTY,
    evictedFrom: 0,
    evictedTo: 0,
  };
  const advanced = advance(fresh, counter);
  let plaintext: Uint8Array;
  try {
    plaintext = open(advanced.messageKey);
  } finally {
    wipe(advanced.messageKey);
  }

  let receiving = state.receiving;
  let skippedCount = state.skippedCount + advanced.added;
  if (current) {
    const closed = closeChain(current, message.previousCounter);
    receiving = replaceAt(receiving, receiving.length - 1, closed.chain);
    skippedCount += closed.added;
  }
  return {
    state: settle({
      ...state,
      rootKey,
      theirRatchetKey: fresh.ratchetKey,
      sendChainKey: null,
      sendHeaderKey: null,
      receiving: [...receiving, advanced.chain],
      skippedCount,
    }),
    plaintext,
  };
}

// ---- internals ----

function baseState(params: { ad: Uint8Array; sessionTag: Uint8Array; sk: Uint8Array }) {
  return {
    version: 1 as const,
    sessionTag: params.sessionTag.slice(),
    ad: params.ad.slice(),
    rootKey: params.sk.slice(),
    ourRatchetKey: null,
    ourPastRatchetKeys: EMPTY,
    theirRatchetKey: null,
    sendChainKey: null,
    sendHeaderKey: null,
    sendCounter: 0,
    previousSendCounter: 0,
    receiving: [],
    retiredRatchetKeys: EMPTY,
    retiredChains: [],
    skippedCount: 0,
  };
}

/** The lazy half of a DH ratchet step: a new key pair and sending chain. */
async function sendingStep(crypto: CryptoProvider, state: RatchetState): Promise<RatchetState> {
  const theirRatchetKey = state.theirRatchetKey;
  if (theirRatchetKey === null)
    throw new VeilError('no-session', 'cannot send before the first message arrives');
  const ourRatchetKey = await crypto.x25519Generate();
  const dh = await crypto.x25519(ourRatchetKey.privateKey, theirRatchetKey);
  const [rootKey, sendChainKey, sendHeaderKey] = await kdfRoot(crypto, state.rootKey, dh);
  wipe(dh);
  let ourPastRatchetKeys = state.ourPastRatchetKeys;
  // Only keys we have sent with (the responder's first key pair is its signed prekey, unsent).
  if (state.ourRatchetKey && state.sendCounter > 0)
    ourPastRatchetKeys = appendPacked(
      ourPastRatchetKeys,
      [state.ourRatchetKey.publicKey],
      RATCHET_MAX_OLD_CHAINS,
    );
  return {
    ...state,
    rootKey,
    ourRatchetKey,
    ourPastRatchetKeys,
    sendChainKey,
    sendHeaderKey,
    sendCounter: 0,
    previousSendCounter: state.sendCounter,
  };
}

function isOurRatchetKey(state: RatchetState, key: Uint8Array): boolean {
  if (state.ourRatchetKey && bytesEqual(state.ourRatchetKey.publicKey, key)) return true;
  return findPacked(state.ourPastRatchetKeys, key) >= 0;
}

/** `too-old` inside the evicted range, `replay` outside it. */
function missingKey(counter: number, evictedFrom: number, evictedTo: number): VeilError {
  if (counter >= evictedFrom && counter < evictedTo)
    return new VeilError('too-old', 'message key is no longer kept');
  return new VeilError('replay', 'message was already decrypted');
}

/**
 * `KDF_RK`: HKDF(salt = rk, ikm = dh, "Veil ratchet", 96) → (rk', ck, hk), as separate buffers.
 * The first 64 bytes are what a 64-byte HKDF gives; hk keys the chain's header MACs.
 */
async function kdfRoot(
  crypto: CryptoProvider,
  rootKey: Uint8Array,
  dh: Uint8Array,
): Promise<[Uint8Array, Uint8Array, Uint8Array]> {
  const length = 3 * KEY_LENGTH;
  const out = crypto.hkdfSha256
    ? await crypto.hkdfSha256(dh, rootKey, RATCHET_INFO, length)
    : hkdfSha256(dh, rootKey, RATCHET_INFO, length);
  if (out.length !== length) throw new VeilError('invalid-key', 'HKDF output is short');
  const keys: [Uint8Array, Uint8Array, Uint8Array] = [
    out.slice(0, KEY_LENGTH),
    out.slice(KEY_LENGTH, 2 * KEY_LENGTH),
    out.slice(2 * KEY_LENGTH),
  ];
  wipe(out);
  return keys;
}

/** `KDF_CK`: mk = HMAC(ck, 0x01), ck' = HMAC(ck, 0x02); the keyed HMAC is set up once. */
function chainStep(chainKey: Uint8Array): { messageKey: Uint8Array; chainKey: Uint8Array } {
  const keyed = new HmacSha256(chainKey);
  const messageKey = keyed.mac(MESSAGE_KEY_LABEL);
  const next = keyed.mac(CHAIN_KEY_LABEL);
  keyed.destroy();
  return { messageKey, chainKey: next };
}

/** Only the chain key moves on: for counters whose message key would be evicted at once. */
function nextChainKey(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, CHAIN_KEY_LABEL);
}

/**
 * Scratch space for associated data (public bytes only), reused by every call: engines put each
 * byte array above a few dozen bytes outside the JS heap, which costs about a microsecond.
 * Only used synchronously, between building the AD and the AEAD call.
 */
let aadScratch = new Uint8Array(256);

function aadBuffer(length: number): Uint8Array {
  if (aadScratch.length < length) aadScratch = new Uint8Array(length);
  return aadScratch.subarray(0, length);
}

/** `AD || headers` in the scratch buffer (`headers`: the pre-key and ratchet headers). */
function associatedData(ad: Uint8Array, headers: Uint8Array): Uint8Array {
  const out = aadBuffer(ad.length + headers.length);
  out.set(ad);
  out.set(headers, ad.length);
  return out;
}

/** `HMAC(hk, AD || prekeyHeader || ratchetHeader up to the MAC)[0..8]`. */
function headerMac(headerKey: Uint8Array, ad: Uint8Array, headers: Uint8Array): Uint8Array {
  return hmacSha256(headerKey, associatedData(ad, headers)).subarray(0, HEADER_MAC_LENGTH);
}

/**
 * A fan-out's key wrap: the content's SHA-256, which its MAC covers, for a wrap of a given key;
 * or, for the one derived wrap, `deriveKey(K)` seals the content under the key this wrap makes
 * and returns the content's hash.
 */
export type KeyWrapOptions =
  { contentHash: Uint8Array } | { deriveKey: (contentKey: Uint8Array) => Uint8Array };

/** `HKDF(mk, "Veil key wrap")`: a derived wrap's content key, or the pad a wrapped key is XORed with. */
function keyWrapPad(messageKey: Uint8Array): Uint8Array {
  return hkdfSha256(messageKey, undefined, KEY_WRAP_INFO, CONTENT_KEY_LENGTH);
}

/**
 * The wrapped content key: `K XOR HKDF(mk, "Veil key wrap")`. Its integrity is the wrap's MAC;
 * a changed K would also fail the content's AEAD.
 */
function xorKeyWrap(messageKey: Uint8Array, input: Uint8Array, out: Uint8Array): void {
  const pad = keyWrapPad(messageKey);
  for (let i = 0; i < CONTENT_KEY_LENGTH; i++) out[i] = input[i]! ^ pad[i]!;
  wipe(pad);
}

/**
 * A key wrap's one MAC, `HMAC(hk, AD || prekeyHeader || header || wrapped || SHA-256(content))`
 * truncated to 8 bytes as libsignal's message MAC is: checked before any chain is walked, and it
 * ties the wrap to the content, so one recipient (who learns K) cannot give another a text of
 * its own under the sender's wraps.
 */
function keyWrapMac(
  headerKey: Uint8Array,
  ad: Uint8Array,
  headers: Uint8Array,
  wrapped: Uint8Array,
  contentHash: Uint8Array,
): Uint8Array {
  const aad = aadBuffer(ad.length + headers.length + wrapped.length + contentHash.length);
  aad.set(ad);
  aad.set(headers, ad.length);
  aad.set(wrapped, ad.length + headers.length);
  aad.set(contentHash, ad.length + headers.length + wrapped.length);
  return hmacSha256(headerKey, aad).subarray(0, HEADER_MAC_LENGTH);
}

function checkKeyWrapMac(
  headerKey: Uint8Array,
  ad: Uint8Array,
  prekeyHeader: Uint8Array,
  message: RatchetMessage,
  wrap: { contentHash: Uint8Array },
): void {
  const headers = new Uint8Array(prekeyHeader.length + message.macedHeader.length);
  headers.set(prekeyHeader);
  headers.set(message.macedHeader, prekeyHeader.length);
  const expected = keyWrapMac(headerKey, ad, headers, message.ciphertext, wrap.contentHash);
  if (!bytesEqual(expected, message.headerMac))
    throw new VeilError('bad-mac', 'key wrap fails authentication');
}

function checkHeaderMac(
  headerKey: Uint8Array,
  ad: Uint8Array,
  prekeyHeader: Uint8Array,
  message: RatchetMessage,
): void {
  const aad = aadBuffer(ad.length + prekeyHeader.length + message.macedHeader.length);
  aad.set(ad);
  aad.set(prekeyHeader, ad.length);
  aad.set(message.macedHeader, ad.length + prekeyHeader.length);
  const expected = hmacSha256(headerKey, aad).subarray(0, HEADER_MAC_LENGTH);
  if (!bytesEqual(expected, message.headerMac))
    throw new VeilError('bad-mac', 'message header fails authentication');
}

function openMessage(
  messageKey: Uint8Array,
  ad: Uint8Array,
  prekeyHeader: Uint8Array,
  message: RatchetMessage,
): Uint8Array {
  const aad = aadBuffer(ad.length + prekeyHeader.length + message.header.length);
  aad.set(ad);
  aad.set(prekeyHeader, ad.length);
  aad.set(message.header, ad.length + prekeyHeader.length);
  try {
    return openChaCha20Poly1305(messageKey, NONCE, aad, message.ciphertext);
  } catch {
    throw new VeilError('bad-mac', 'message fails authentication');
  }
}

function checkJump(jump: number, max: number): void {
  if (jump > max) throw new VeilError('too-far-ahead', 'message is too far ahead in its chain');
}

/**
 * Walks an open chain from `next` to `counter`, keeping the skipped keys (only the newest
 * RATCHET_MAX_SKIPPED_KEYS are derived: older ones would be evicted at once), and returns the
 * key for `counter`. The input chain is not modified.
 */
function advance(
  chain: ReceivingChain,
  counter: number,
): { chain: ReceivingChain; messageKey: Uint8Array; added: number } {
  const { chain: walked, added } = skipTo(chain, counter);
  const { messageKey, chainKey } = chainStep(walked.chainKey!);
  return { chain: { ...walked, chainKey, next: counter + 1 }, messageKey, added };
}

/** Closes the current chain when the peer moves on: keeps keys up to its announced length. */
function closeChain(
  chain: ReceivingChain,
  length: number,
): { chain: ReceivingChain; added: number } {
  const { chain: walked, added } = skipTo(chain, Math.max(length, chain.next));
  return { chain: { ...walked, chainKey: null }, added };
}

function skipTo(chain: ReceivingChain, counter: number): { chain: ReceivingChain; added: number } {
  if (counter <= chain.next) return { chain, added: 0 };
  let chainKey = chain.chainKey!;
  const keepFrom = Math.max(chain.next, counter - RATCHET_MAX_SKIPPED_KEYS);
  let { evictedFrom, evictedTo } = chain;
  for (let i = chain.next; i < keepFrom; i++) chainKey = nextChainKey(chainKey);
  if (keepFrom > chain.next) [evictedFrom, evictedTo] = widen(chain, chain.next, keepFrom);
  const added = counter - keepFrom;
  const old = chain.skippedKeys;
  const skippedKeys = new Uint8Array(old.length + added * KEY_LENGTH);
  skippedKeys.set(old);
  const skippedCounters = chain.skippedCounters.slice();
  for (let i = keepFrom; i < counter; i++) {
    const step = chainStep(chainKey);
    skippedKeys.set(step.messageKey, old.length + (i - keepFrom) * KEY_LENGTH);
    wipe(step.messageKey);
    skippedCounters.push(i);
    chainKey = step.chainKey;
  }
  return {
    chain: {
      ...chain,
      chainKey,
      next: counter,
      skippedCounters,
      skippedKeys,
      evictedFrom,
      evictedTo,
    },
    added,
  };
}

/** The chain without its skipped key at index `at`. */
function withoutSkipped(chain: ReceivingChain, at: number): ReceivingChain {
  const skippedCounters = chain.skippedCounters.slice();
  skippedCounters.splice(at, 1);
  const old = chain.skippedKeys;
  const skippedKeys = new Uint8Array(old.length - KEY_LENGTH);
  skippedKeys.set(old.subarray(0, at * KEY_LENGTH));
  skippedKeys.set(old.subarray((at + 1) * KEY_LENGTH), at * KEY_LENGTH);
  return { ...chain, skippedCounters, skippedKeys };
}

/** The chain without its `drop` oldest skipped keys, which count as evicted. */
function withoutOldest(chain: ReceivingChain, drop: number): ReceivingChain {
  if (drop === 0) return chain;
  const [evictedFrom, evictedTo] = widen(
    chain,
    chain.skippedCounters[0]!,
    chain.skippedCounters[drop - 1]! + 1,
  );
  return {
    ...chain,
    skippedCounters: chain.skippedCounters.slice(drop),
    skippedKeys: chain.skippedKeys.slice(drop * KEY_LENGTH),
    evictedFrom,
    evictedTo,
  };
}

/** The evicted range of `chain` grown to cover [from, to). */
function widen(chain: ReceivingChain, from: number, to: number): [number, number] {
  if (chain.evictedFrom === chain.evictedTo) return [from, to];
  return [Math.min(chain.evictedFrom, from), Math.max(chain.evictedTo, to)];
}

/**
 * Enforces the storage limits after a change: at most RATCHET_MAX_SKIPPED_KEYS keys (oldest
 * chain first, lowest counter first), at most RATCHET_MAX_OLD_CHAINS closed chains holding keys
 * and as many retired ones; closed chains left without keys are retired to the packed list.
 * Copies only what changes, so the usual in-order message costs a scan of a few chains.
 */
function settle(state: RatchetState): RatchetState {
  let { receiving, skippedCount } = state;
  const openCount = receiving.length > 0 && receiving[receiving.length - 1]!.chainKey ? 1 : 0;
  const overCap = receiving.length - openCount - RATCHET_MAX_OLD_CHAINS;
  let excess = skippedCount - RATCHET_MAX_SKIPPED_KEYS;
  if (overCap > 0 || excess > 0) {
    receiving = receiving.slice();
    for (let i = 0; i < overCap; i++) {
      const chain = receiving[i]!;
      skippedCount -= chain.skippedCounters.length;
      excess -= chain.skippedCounters.length;
      receiving[i] = withoutOldest(chain, chain.skippedCounters.length);
    }
    for (let i = 0; i < receiving.length && excess > 0; i++) {
      const chain = receiving[i]!;
      const drop = Math.min(excess, chain.skippedCounters.length);
      receiving[i] = withoutOldest(chain, drop);
      skippedCount -= drop;
      excess -= drop;
    }
  }
  const done = receiving.filter((c) => c.chainKey === null && c.skippedCounters.length === 0);
  if (done.length === 0) {
    return receiving === state.receiving ? state : { ...state, receiving, skippedCount };
  }
  let retiredChains = state.retiredChains.concat(
    done.flatMap((c) => [c.next, c.evictedFrom, c.evictedTo]),
  );
  const retiredRatchetKeys = appendPacked(
    state.retiredRatchetKeys,
    done.map((c) => c.ratchetKey),
    RATCHET_MAX_OLD_CHAINS,
  );
  retiredChains = retiredChains.slice(-3 * (retiredRatchetKeys.length / KEY_LENGTH));
  return {
    ...state,
    receiving: receiving.filter((c) => !done.includes(c)),
    retiredRatchetKeys,
    retiredChains,
    skippedCount,
  };
}

/** `packed` (32-byte keys) with `keys` appended, keeping the newest `max`. */
function appendPacked(packed: Uint8Array, keys: Uint8Array[], max: number): Uint8Array {
  const count = Math.min(max, packed.length / KEY_LENGTH + keys.length);
  const out = new Uint8Array(count * KEY_LENGTH);
  const all = [...keys].reverse();
  // Fill from the end: newest last.
  let o = out.length;
  for (const key of all) {
    if (o === 0) return out;
    o -= KEY_LENGTH;
    out.set(key, o);
  }
  out.set(packed.subarray(packed.length - o), 0);
  return out;
}

/** Index of `key` among the 32-byte keys packed in `packed`, or -1. Keys here are public. */
function findPacked(packed: Uint8Array, key: Uint8Array): number {
  if (key.length !== KEY_LENGTH) return -1;
  outer: for (let i = 0; i < packed.length; i += KEY_LENGTH) {
    for (let j = 0; j < KEY_LENGTH; j++) if (packed[i + j] !== key[j]) continue outer;
    return i / KEY_LENGTH;
  }
  return -1;
}

function findChain(receiving: ReceivingChain[], ratchetKey: Uint8Array): number {
  for (let i = receiving.length - 1; i >= 0; i--)
    if (bytesEqual(receiving[i]!.ratchetKey, ratchetKey)) return i;
  return -1;
}

/** Index of `counter` in an ascending list, or -1. */
function findCounter(counters: number[], counter: number): number {
  let lo = 0;
  let hi = counters.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = counters[mid]!;
    if (at === counter) return mid;
    if (at < counter) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function replaceAt<T>(items: T[], index: number, item: T): T[] {
  const out = items.slice();
  out[index] = item;
  return out;
}

function checkBytes(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length)
    throw new VeilError('invalid-argument', `${what} must be ${length} bytes`);
}
