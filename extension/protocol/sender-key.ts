// Group messaging with Signal-style sender keys: each member has one symmetric chain plus an
// Ed25519 signing key, distributed over pairwise sessions. Pure core; states are plain data.
import { ed25519 } from '@noble/curves/ed25519.js';
import { openChaCha20Poly1305, sealChaCha20Poly1305 } from './aead';
import { bytesEqual, concatBytes, wipe } from './bytes';
import type { CryptoProvider, KeyPair } from './crypto/provider';
import { encodeSenderKeyHeader, parseSenderKeyMessage, type SenderKeyMessage } from './envelope';
import { VeilError } from './errors';
import { HmacSha256, hmacSha256 } from './kdf';

/** At most this many message keys are derived ahead in one message (libsignal MAX_FORWARD_JUMPS). */
export const MAX_FORWARD_JUMP = 25_000;
/** At most this many skipped message keys are kept per sender key (libsignal MAX_MESSAGE_KEYS). */
export const MAX_SKIPPED_KEYS = 2_000;
/** Iterations are u32 as in libsignal; the sender must rotate before the chain runs out. */
export const MAX_ITERATION = 0xffff_ffff;

export const SENDER_KEY_ID_LENGTH = 8;
const KEY_LENGTH = 32;
const CTX_TAG_LENGTH = 4;
const CTX_HASH_LENGTH = 32;
const SIGNATURE_LENGTH = 64;

const MESSAGE_KEY_LABEL = Uint8Array.of(0x01);
const CHAIN_KEY_LABEL = Uint8Array.of(0x02);
/** Each message key encrypts one message, so the nonce is a constant (as in ratchet.ts). */
const NONCE = new Uint8Array(12);

/** Our own sending chain for one group. Stored only on this device; never distributed whole. */
export interface OwnSenderKey {
  senderKeyId: Uint8Array;
  /** Iteration of the next message we send; `chainKey` is the chain key at that iteration. */
  iteration: number;
  chainKey: Uint8Array;
  signingKey: KeyPair;
}

export interface SkippedSenderKey {
  iteration: number;
  /** The message key `HMAC(ck, 0x01)` (the AEAD key) for that iteration. */
  seed: Uint8Array;
}

/** Another member's chain as we track it, one per (sender, senderKeyId). */
export interface ReceivedSenderKey {
  senderKeyId: Uint8Array;
  /** The next iteration not yet derived; `chainKey` is the chain key at that iteration. */
  iteration: number;
  chainKey: Uint8Array;
  signingPublicKey: Uint8Array;
  /**
   * Below this iteration we hold no keys: they predate the distribution we got or were evicted
   * from `skipped`. Lets us say `too-old` rather than `replay` for them.
   */
  windowStart: number;
  /** Keys of messages skipped over, ascending by iteration, at most MAX_SKIPPED_KEYS. */
  skipped: SkippedSenderKey[];
}

/** Where the message is read and who wrote it; both sides compute it the same way. */
export interface GroupContext {
  /** SHA-256("Veil context v1" || UTF-8(context)), see docs/protocol.md "Context". */
  ctxHash: Uint8Array;
  /** ctxHash[0..4], carried in the header. */
  ctxTag: Uint8Array;
  /**
   * The sender's Ed25519 identity public key (the owner of the sender key). Signed with every
   * message, since a type-3 message is routed by senderKeyId alone and a member could
   * re-distribute someone else's signing key as their own.
   */
  senderIdentityKey: Uint8Array;
  /**
   * The account key a linked device writes for (absent when the device key is the account key):
   * signed after the device key, so a message verifies only under the state filed for that
   * member and that device (docs/protocol.md "Groups across devices").
   */
  accountKey?: Uint8Array;
}

/**
 * Starts a fresh sender key (random id and chain, new signing key). Call again to rotate, e.g.
 * after removing a member. Example: `const own = await createSenderKey(nobleProvider)`.
 */
export async function createSenderKey(crypto: CryptoProvider): Promise<OwnSenderKey> {
  const senderKeyId = crypto.randomBytes(SENDER_KEY_ID_LENGTH);
  const chainKey = crypto.randomBytes(KEY_LENGTH);
  if (senderKeyId.length !== SENDER_KEY_ID_LENGTH || chainKey.length !== KEY_LENGTH)
    throw new VeilError('invalid-argument', 'random source returned the wrong length');
  const signingKey = await crypto.ed25519Generate();
  return { senderKeyId, iteration: 0, chainKey, signingKey };
}

/**
 * The distribution record for the current chain position:
 * `senderKeyId(8) || varint iteration || chainKey(32) || signingPublicKey(32)`. A member who
 * receives it can read our messages from this iteration on, never earlier ones.
 */
export function distributionRecord(own: OwnSenderKey): Uint8Array {
  checkIteration(own.iteration);
  return concatBytes(
    checkLength(own.senderKeyId, SENDER_KEY_ID_LENGTH),
    encodeVarint(own.iteration),
    checkLength(own.chainKey, KEY_LENGTH),
    checkLength(own.signingKey.publicKey, KEY_LENGTH),
  );
}

/** Parses a distribution record (strictly: `truncated` if short, `malformed` otherwise). */
export function parseDistribution(bytes: Uint8Array): ReceivedSenderKey {
  if (bytes.length < SENDER_KEY_ID_LENGTH + 1 + 2 * KEY_LENGTH)
    throw new VeilError('truncated', 'sender key distribution ends early');
  let off = 0;
  const senderKeyId = bytes.slice(off, (off += SENDER_KEY_ID_LENGTH));
  const [iteration, varintLength] = decodeVarint(bytes, off);
  off += varintLength;
  if (bytes.length < off + 2 * KEY_LENGTH)
    throw new VeilError('truncated', 'sender key distribution ends early');
  if (bytes.length > off + 2 * KEY_LENGTH)
    throw new VeilError('malformed', 'sender key distribution has trailing bytes');
  const chainKey = bytes.slice(off, (off += KEY_LENGTH));
  const signingPublicKey = bytes.slice(off, (off += KEY_LENGTH));
  checkSigningPublicKey(signingPublicKey);
  return {
    senderKeyId,
    iteration,
    chainKey,
    signingPublicKey,
    windowStart: iteration,
    skipped: [],
  };
}

/**
 * Which state to keep when a distribution arrives for a (sender, senderKeyId) we may already
 * hold. The same chain again (a re-sent or replayed record) must not reset our position, or
 * messages we already read would decrypt a second time; a different signing key is a new chain.
 */
export function acceptDistribution(
  existing: ReceivedSenderKey | undefined,
  incoming: ReceivedSenderKey,
): ReceivedSenderKey {
  if (
    existing &&
    bytesEqual(existing.senderKeyId, incoming.senderKeyId) &&
    bytesEqual(existing.signingPublicKey, incoming.signingPublicKey)
  )
    return existing;
  return incoming;
}

/**
 * Encrypts one already framed and padded plaintext to a type-3 envelope and advances the chain.
 * Returns the new state; the input state is left as it was. Persist `own` before sending.
 */
export async function groupEncrypt(
  crypto: CryptoProvider,
  own: OwnSenderKey,
  paddedPlaintext: Uint8Array,
  context: GroupContext,
): Promise<{ own: OwnSenderKey; envelope: Uint8Array }> {
  checkContext(context);
  checkIteration(own.iteration);
  if (own.iteration === MAX_ITERATION)
    throw new VeilError('invalid-argument', 'sender key chain exhausted; rotate the sender key');
  const header = encodeSenderKeyHeader({
    senderKeyId: checkLength(own.senderKeyId, SENDER_KEY_ID_LENGTH),
    iteration: own.iteration,
    ctxTag: context.ctxTag,
  });
  const { seed, next } = stepChain(checkLength(own.chainKey, KEY_LENGTH));
  const sealed = seal(seed, header, context.ctxHash, paddedPlaintext);
  const unsigned = concatBytes(header, sealed);
  const signature = await crypto.ed25519Sign(
    own.signingKey.privateKey,
    signedMessage(unsigned, context),
  );
  if (signature.length !== SIGNATURE_LENGTH)
    throw new VeilError('invalid-argument', 'signer returned the wrong length');
  return {
    own: { ...own, iteration: own.iteration + 1, chainKey: next },
    envelope: concatBytes(unsigned, signature),
  };
}

/**
 * The sender key id of a type-3 envelope, so the caller can find the state to decrypt with.
 * Throws `unknown-version`, `malformed` or `truncated` for anything that is not one.
 */
export function peekSenderKeyId(envelope: Uint8Array): Uint8Array {
  return parseSenderKeyMessage(envelope).senderKeyId.slice();
}

/**
 * Verifies and decrypts a type-3 envelope with the sender's state. Checks, in order: layout,
 * context tag (`wrong-context`), key id (`no-session`), signature (`bad-signature`), chain
 * position (`too-far-ahead`, `too-old`, `replay`), AEAD (`bad-mac`). Returns the new state and
 * the padded plaintext; on any error the caller keeps the state it had (the input is never
 * modified).
 */
export async function groupDecrypt(
  crypto: CryptoProvider,
  received: ReceivedSenderKey,
  envelope: Uint8Array,
  context: GroupContext,
  opts: { maxJump?: number } = {},
): Promise<{ received: ReceivedSenderKey; plaintext: Uint8Array }> {
  checkContext(context);
  const message = parseSenderKeyMessage(envelope);
  const check = signatureCheck(received, message, context);
  // The signature comes before any key derivation, so only the sender can make us walk the chain.
  const valid = await crypto.ed25519Verify(check.publicKey, check.message, check.signature);
  if (!valid) throw new VeilError('bad-signature', 'sender key signature does not verify');

  const { seed, state } = messageSeed(received, message.iteration, opts.maxJump);
  const plaintext = open(seed, message.header, context.ctxHash, message.ciphertext);
  return { received: state, plaintext };
}

/**
 * The Ed25519 verification groupDecrypt makes for this state and parsed message (public key,
 * signed bytes, signature), or undefined when it would fail before verifying (`wrong-context`,
 * `no-session`, bad context). Lets a caller holding many messages verify them ahead, e.g.
 * concurrently; groupDecrypt itself still asks its provider for this exact verification.
 */
export function senderKeySignatureCheck(
  received: ReceivedSenderKey,
  message: SenderKeyMessage,
  context: GroupContext,
): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } | undefined {
  try {
    return signatureCheck(received, message, context);
  } catch {
    return undefined;
  }
}

// ---- internals ----

/** Checks context, context tag and key id (in that order), then says what to verify. */
function signatureCheck(
  received: ReceivedSenderKey,
  message: SenderKeyMessage,
  context: GroupContext,
): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } {
  checkContext(context);
  if (!bytesEqual(message.ctxTag, context.ctxTag))
    throw new VeilError('wrong-context', 'message was written for another conversation');
  if (!bytesEqual(message.senderKeyId, received.senderKeyId))
    throw new VeilError('no-session', 'message is for another sender key');
  return {
    publicKey: received.signingPublicKey,
    message: signedMessage(message.signedPart, context),
    signature: message.signature,
  };
}

/**
 * What the Ed25519 signature covers: the envelope bytes before it, then the full context hash
 * and the sender's identity key (neither transmitted). See docs/protocol.md "Envelopes".
 */
function signedMessage(unsigned: Uint8Array, context: GroupContext): Uint8Array {
  if (context.accountKey)
    return concatBytes(unsigned, context.ctxHash, context.senderIdentityKey, context.accountKey);
  return concatBytes(unsigned, context.ctxHash, context.senderIdentityKey);
}

/** One chain step: the message key (`seed`) `HMAC(ck, 0x01)`, `ck' = HMAC(ck, 0x02)`. */
function stepChain(chainKey: Uint8Array): { seed: Uint8Array; next: Uint8Array } {
  const keyed = new HmacSha256(chainKey);
  const seed = keyed.mac(MESSAGE_KEY_LABEL);
  const next = keyed.mac(CHAIN_KEY_LABEL);
  keyed.destroy();
  return { seed, next };
}

/**
 * Finds the message-key seed for `iteration` and the state after using it, without touching
 * `received`. Walks forward if needed, keeping the keys skipped over (the newest
 * MAX_SKIPPED_KEYS of them).
 */
function messageSeed(
  received: ReceivedSenderKey,
  iteration: number,
  maxJump = MAX_FORWARD_JUMP,
): { seed: Uint8Array; state: ReceivedSenderKey } {
  if (iteration < received.iteration) {
    const index = findSkipped(received.skipped, iteration);
    if (index < 0) {
      if (iteration < received.windowStart)
        throw new VeilError('too-old', 'message key is no longer available');
      throw new VeilError('replay', 'message was already decrypted');
    }
    const skipped = received.skipped.slice();
    const [used] = skipped.splice(index, 1);
    return { seed: used!.seed, state: { ...received, skipped } };
  }

  const jump = iteration - received.iteration;
  if (jump > maxJump) throw new VeilError('too-far-ahead', 'message is too far ahead in the chain');

  // Keys that would be evicted right away are never derived: only the chain key is advanced.
  const keepFrom = iteration - MAX_SKIPPED_KEYS;
  const fresh: SkippedSenderKey[] = [];
  let chainKey = received.chainKey;
  for (let i = received.iteration; i < iteration; i++) {
    if (i >= keepFrom) {
      const step = stepChain(chainKey);
      fresh.push({ iteration: i, seed: step.seed });
      chainKey = step.next;
    } else {
      chainKey = hmacSha256(chainKey, CHAIN_KEY_LABEL);
    }
  }
  const { seed, next } = stepChain(chainKey);

  let skipped = fresh.length === 0 ? received.skipped : received.skipped.concat(fresh);
  // Iterations in [received.iteration, keepFrom) were never stored: they count as evicted (and
  // every older skipped key is evicted below, as `fresh` is then full).
  let windowStart =
    keepFrom > received.iteration ? Math.max(received.windowStart, keepFrom) : received.windowStart;
  if (skipped.length > MAX_SKIPPED_KEYS) {
    const evicted = skipped.length - MAX_SKIPPED_KEYS;
    windowStart = Math.max(windowStart, skipped[evicted - 1]!.iteration + 1);
    skipped = skipped.slice(evicted);
  }
  return {
    seed,
    state: { ...received, iteration: iteration + 1, chainKey: next, windowStart, skipped },
  };
}

/** Index of `iteration` in the ascending skipped list, or -1. */
function findSkipped(skipped: SkippedSenderKey[], iteration: number): number {
  let lo = 0;
  let hi = skipped.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = skipped[mid]!.iteration;
    if (at === iteration) return mid;
    if (at < iteration) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function seal(
  messageKey: Uint8Array,
  header: Uint8Array,
  ctxHash: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  try {
    return sealChaCha20Poly1305(messageKey, NONCE, concatBytes(header, ctxHash), plaintext);
  } finally {
    wipe(messageKey);
  }
}

// The message key may be shared with the stored state (a skipped key): not wiped here.
function open(
  messageKey: Uint8Array,
  header: Uint8Array,
  ctxHash: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  try {
    return openChaCha20Poly1305(messageKey, NONCE, concatBytes(header, ctxHash), sealed);
  } catch {
    throw new VeilError('bad-mac', 'sender-key message fails authentication');
  }
}

function checkContext(context: GroupContext): void {
  checkLength(context.ctxHash, CTX_HASH_LENGTH);
  checkLength(context.ctxTag, CTX_TAG_LENGTH);
  checkLength(context.senderIdentityKey, KEY_LENGTH);
  if (context.accountKey !== undefined) checkLength(context.accountKey, KEY_LENGTH);
}

function checkLength(bytes: Uint8Array, length: number): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length)
    throw new VeilError('invalid-argument', `expected ${length} bytes`);
  return bytes;
}

function checkIteration(iteration: number): void {
  if (!Number.isInteger(iteration) || iteration < 0 || iteration > MAX_ITERATION)
    throw new VeilError('invalid-argument', 'sender key iteration out of range');
}

/** Rejects keys that are not points, or are of small order (anyone could forge for those). */
function checkSigningPublicKey(publicKey: Uint8Array): void {
  let smallOrder: boolean;
  try {
    smallOrder = ed25519.Point.fromBytes(publicKey).isSmallOrder();
  } catch {
    throw new VeilError('invalid-key', 'sender signing key is not a curve point');
  }
  if (smallOrder) throw new VeilError('invalid-key', 'sender signing key is of small order');
}

/** Unsigned LEB128 of a u32 (the distribution record's iteration). */
function encodeVarint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Uint8Array.from(out);
}

/**
 * Reads a canonical (shortest-form) LEB128 u32 at `off`; returns [value, bytes read]. One
 * value, one encoding: nothing about a record can change without changing its bytes' meaning.
 */
function decodeVarint(bytes: Uint8Array, off: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (off + i >= bytes.length) throw new VeilError('truncated', 'varint ends early');
    const byte = bytes[off + i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (i > 0 && byte === 0) throw new VeilError('malformed', 'varint is not in shortest form');
      if (value > MAX_ITERATION) throw new VeilError('malformed', 'iteration out of range');
      return [value, i + 1];
    }
    scale *= 128;
  }
  throw new VeilError('malformed', 'varint too long');
}
