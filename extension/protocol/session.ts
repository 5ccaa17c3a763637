// 1:1 sessions: X3DH setup plus the Double Ratchet, and which envelope type to send. Pure; the
// caller stores the returned SessionRecord (by sessionTag) only when a call succeeds.
import { bytesEqual, wipe } from './bytes';
import type { CryptoProvider, KeyPair } from './crypto/provider';
import { encodePrekeyHeader, type PrekeyMessage, type RatchetMessage } from './envelope';
import { VeilError } from './errors';
import type { IdentityKeyPair, PrekeyBundle } from './identity';
import {
  initInitiator,
  initResponder,
  RATCHET_MAX_FIRST_JUMP,
  ratchetDecrypt,
  ratchetEncrypt,
  type KeyWrapOptions,
  type RatchetState,
} from './ratchet';
import { recipientTag, x3dhInitiate, x3dhRespond, type X3dhBundle } from './x3dh';

/** What the initiator repeats in every message until the responder has answered. */
export interface PendingPrekey {
  signedPrekeyId: number;
  /** 0 when no one-time prekey was used. */
  oneTimePrekeyId: number;
  baseKey: Uint8Array;
  recipientTag: Uint8Array;
  /** Post-quantum setup: the KEM prekey used and the ciphertext, repeated like the rest. */
  kem?: { id: number; cipherText: Uint8Array };
}

export interface SessionRecord {
  version: 1;
  /** Same as state.sessionTag: the key to store and find the session by. */
  sessionTag: Uint8Array;
  /** Our Ed25519 identity public key. */
  localIdentityKey: Uint8Array;
  /** The peer's Ed25519 identity public key; check it against the pinned one. */
  remoteIdentityKey: Uint8Array;
  remoteHandle?: string;
  localIsInitiator: boolean;
  /** Initiator only, until the first message from the responder decrypts: send type 1. */
  pendingPrekey?: PendingPrekey;
  /** Responder only: the initiator's base key, to recognise its repeated pre-key messages. */
  remoteBaseKey?: Uint8Array;
  state: RatchetState;
}

/** The caller's own prekeys by id; undefined for ids it does not (or no longer) hold. */
export type PrekeyLookup = (ids: {
  signedPrekeyId: number;
  oneTimePrekeyId: number;
  /** 0 for a classical (type 1) message. */
  kemPrekeyId: number;
}) => Promise<OurPrekeys> | OurPrekeys;

export interface OurPrekeys {
  signedPrekey?: KeyPair;
  oneTimePrekey?: KeyPair;
  kemPrekey?: { secretKey: Uint8Array };
}

/**
 * Starts a session from the peer's prekey bundle (checks the signed prekey: `bad-signature`).
 * The caller pins or checks `theirBundle.identityKey` first.
 */
export async function createInitiatorSession(
  crypto: CryptoProvider,
  params: {
    ourIdentity: IdentityKeyPair;
    theirBundle: X3dhBundle & Partial<Pick<PrekeyBundle, 'handle'>>;
  },
): Promise<SessionRecord> {
  const { ourIdentity, theirBundle } = params;
  const x = await x3dhInitiate(crypto, { ourIdentity, theirBundle });
  try {
    const record: SessionRecord = {
      version: 1,
      sessionTag: x.sessionTag,
      localIdentityKey: ourIdentity.publicKey.slice(),
      remoteIdentityKey: theirBundle.identityKey.slice(),
      localIsInitiator: true,
      pendingPrekey: {
        signedPrekeyId: x.signedPrekeyId,
        oneTimePrekeyId: x.usedOneTimePrekeyId,
        baseKey: x.baseKey,
        recipientTag: x.recipientTag.slice(),
        ...(x.kem ? { kem: x.kem } : {}),
      },
      state: initInitiator(x),
    };
    if (theirBundle.handle !== undefined) record.remoteHandle = theirBundle.handle;
    return record;
  } finally {
    wipe(x.sk);
  }
}

/**
 * Encrypts a framed and padded plaintext (plaintext.ts encodePlaintext): a pre-key envelope
 * (type 1) while the peer has not answered yet, a ratchet envelope (type 2) after.
 */
export async function sessionEncrypt(
  crypto: CryptoProvider,
  record: SessionRecord,
  plaintext: Uint8Array,
  opts: { keyWrap?: KeyWrapOptions } = {},
): Promise<{ record: SessionRecord; envelope: Uint8Array }> {
  const pending = record.pendingPrekey;
  const prekeyHeader = pending
    ? encodePrekeyHeader({ ...pending, identityKey: record.localIdentityKey })
    : undefined;
  const { state, envelope } = await ratchetEncrypt(crypto, record.state, plaintext, {
    prekeyHeader,
    ...(opts.keyWrap ? { keyWrap: opts.keyWrap } : {}),
  });
  return { record: { ...record, state }, envelope };
}

/**
 * Decrypts a type-1 or type-2 envelope of this session (found by its session tag). A repeated
 * pre-key message of a session we already have comes here too. Errors as ratchetDecrypt; the
 * record passed in is never modified.
 */
export async function sessionDecrypt(
  crypto: CryptoProvider,
  record: SessionRecord,
  envelope: PrekeyMessage | RatchetMessage,
  opts: { maxJump?: number; keyWrap?: { contentHash: Uint8Array } } = {},
): Promise<{ record: SessionRecord; plaintext: Uint8Array }> {
  const message = envelope.type === 1 ? envelope.message : envelope;
  if (!bytesEqual(message.sessionTag, record.sessionTag))
    throw new VeilError('no-session', 'message belongs to another session');
  let prekeyHeader: Uint8Array | undefined;
  if (envelope.type === 1) {
    if (bytesEqual(envelope.identityKey, record.localIdentityKey))
      throw new VeilError('own-message', 'message was written by this device');
    if (
      record.localIsInitiator ||
      !record.remoteBaseKey ||
      !bytesEqual(envelope.baseKey, record.remoteBaseKey) ||
      !bytesEqual(envelope.identityKey, record.remoteIdentityKey)
    )
      throw new VeilError('no-session', 'pre-key message does not match this session');
    prekeyHeader = envelope.prekeyHeader;
  }
  const { state, plaintext } = await ratchetDecrypt(
    crypto,
    record.state,
    message,
    prekeyHeader,
    opts,
  );
  const next: SessionRecord = { ...record, state };
  // The responder has the session now: stop sending pre-key headers.
  delete next.pendingPrekey;
  return { record: next, plaintext };
}

/**
 * The responder's side of a new session: checks the recipient tag (`not-for-us`), looks up the
 * prekeys the message names (`no-session` if either is gone), runs X3DH and decrypts. The
 * caller checks `record.remoteIdentityKey` against its pins and stores the record, deleting
 * the one-time prekey `usedOneTimePrekeyId` (when not 0) in the same commit, and the KEM prekey
 * `usedKemPrekeyId` unless it is the last-resort one.
 */
export async function sessionFromPrekeyMessage(
  crypto: CryptoProvider,
  ourIdentity: IdentityKeyPair,
  lookupPrekeys: PrekeyLookup,
  envelope: PrekeyMessage,
  opts: { keyWrap?: { contentHash: Uint8Array } } = {},
): Promise<{
  record: SessionRecord;
  plaintext: Uint8Array;
  usedOneTimePrekeyId: number;
  usedKemPrekeyId: number;
}> {
  const message = envelope.message;
  if (!bytesEqual(envelope.recipientTag, recipientTag(ourIdentity.publicKey)))
    throw new VeilError('not-for-us', 'pre-key message is for another identity');
  if (bytesEqual(envelope.identityKey, ourIdentity.publicKey))
    throw new VeilError('own-message', 'message was written by this device');
  const { signedPrekeyId, oneTimePrekeyId } = envelope;
  const kemPrekeyId = envelope.kem?.id ?? 0;
  const { signedPrekey, oneTimePrekey, kemPrekey } = await lookupPrekeys({
    signedPrekeyId,
    oneTimePrekeyId,
    kemPrekeyId,
  });
  if (!signedPrekey) throw new VeilError('no-session', 'signed prekey is unknown or retired');
  if (oneTimePrekeyId !== 0 && !oneTimePrekey)
    throw new VeilError('no-session', 'one-time prekey is unknown or already used');
  if (envelope.kem && !kemPrekey)
    throw new VeilError('no-session', 'KEM prekey is unknown or already used');

  const shared = await x3dhRespond(crypto, {
    ourIdentity,
    ourSignedPrekey: signedPrekey,
    ourOneTimePrekey: oneTimePrekeyId !== 0 ? oneTimePrekey : undefined,
    ...(envelope.kem && kemPrekey
      ? { kem: { secretKey: kemPrekey.secretKey, cipherText: envelope.kem.cipherText } }
      : {}),
    theirIdentityKey: envelope.identityKey,
    theirBaseKey: envelope.baseKey,
  });
  try {
    // A different tag means different X3DH inputs than the sender used: not authentic.
    if (!bytesEqual(shared.sessionTag, message.sessionTag))
      throw new VeilError('bad-mac', 'pre-key message fails authentication');
    const initial = initResponder({ ...shared, ourSignedPrekey: signedPrekey });
    // Anyone can start a session: its first message may skip only a little (ratchet.ts).
    const { state, plaintext } = await ratchetDecrypt(
      crypto,
      initial,
      message,
      envelope.prekeyHeader,
      { maxJump: RATCHET_MAX_FIRST_JUMP, ...(opts.keyWrap ? { keyWrap: opts.keyWrap } : {}) },
    );
    return {
      record: {
        version: 1,
        sessionTag: state.sessionTag,
        localIdentityKey: ourIdentity.publicKey.slice(),
        remoteIdentityKey: envelope.identityKey.slice(),
        localIsInitiator: false,
        remoteBaseKey: envelope.baseKey.slice(),
        state,
      },
      plaintext,
      usedOneTimePrekeyId: oneTimePrekeyId,
      usedKemPrekeyId: kemPrekeyId,
    };
  } finally {
    wipe(shared.sk);
  }
}
