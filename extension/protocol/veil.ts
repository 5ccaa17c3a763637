// The protocol's high-level API: identity, prekeys, contacts (pinned keys), 1:1 sessions and
// sender-key groups, from plaintext to armored chunks and back. Pure: all state goes through the
// caller's ProtocolStore, time comes from the caller's clock.
import { bytesToHex } from '@noble/hashes/utils.js';
import { armor, dearmor } from './armor';
import { bytesEqual } from './bytes';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider, KeyPair } from './crypto/provider';
import {
  contextHash,
  contextTag,
  decodeEnvelope,
  encodeGroupBundle,
  type PrekeyMessage,
  type RatchetMessage,
  type SenderKeyMessage,
} from './envelope';
import { VeilError, isVeilError, type VeilErrorCode } from './errors';
import {
  createOneTimePrekeys,
  createSignedPrekey,
  generateIdentity,
  identityDhPublic,
  oneTimePrekeyPublic,
  signedPrekeyPublic,
  validateHandle,
  type IdentityKeyPair,
  type OneTimePrekey,
  type OneTimePrekeyPublic,
  type PrekeyBundle,
  type SignedPrekey,
  type SignedPrekeyPublic,
} from './identity';
import { decodePlaintext, encodePlaintext, type PlaintextRecord } from './plaintext';
import { safetyNumber } from './safety-number';
import {
  createSenderKey,
  distributionRecord,
  acceptDistribution,
  groupDecrypt,
  groupEncrypt,
  parseDistribution,
  senderKeySignatureCheck,
  type OwnSenderKey,
  type ReceivedSenderKey,
} from './sender-key';
import {
  createInitiatorSession,
  sessionDecrypt,
  sessionEncrypt,
  sessionFromPrekeyMessage,
  type SessionRecord,
} from './session';
import type { ProtocolStore, StoreOp, StoreTable } from './store';
import { recipientTag } from './x3dh';

export type MessageStatus = 'verified' | 'unverified' | 'key-changed' | 'failed';

export interface DecryptResult {
  status: MessageStatus;
  /** The sender's handle, as bound to their identity key by the session. */
  sender?: string;
  senderIdentityKey?: Uint8Array;
  plaintext?: string;
  /** 'direct' for 1:1 (Double Ratchet), 'group' for sender-key messages. */
  kind?: 'direct' | 'group';
  /** Why it failed (status 'failed'): replay, bad-mac, wrong-context, own-message … */
  error?: VeilErrorCode;
}

export interface Contact {
  handle: string;
  /** The pinned Ed25519 identity key (trust on first use, then only changed by acknowledgement). */
  identityKey: Uint8Array;
  verified: boolean;
  firstSeen: number;
  /** A different key seen for this handle, not yet acknowledged: sending is blocked. */
  pendingKey?: Uint8Array;
  /** Hex session tag of the session we send on. */
  session?: string;
}

export interface PublicIdentity {
  handle: string;
  identityKey: Uint8Array;
}

export interface PublishedIdentity extends PublicIdentity {
  signedPrekey: SignedPrekeyPublic;
  oneTimePrekeys: OneTimePrekeyPublic[];
}

export interface Conversation {
  /** Where the message is meant to be read, the same string on every side (docs/protocol.md). */
  context: string;
  /** Handles of the people who should read it (never ourselves). One → 1:1, more → group. */
  recipients: string[];
}

interface IdentityRecord extends IdentityKeyPair {
  handle: string;
  createdAt: number;
  signedPrekeyId: number;
  nextOneTimePrekeyId: number;
}

interface OwnGroupRecord {
  context: string;
  key: OwnSenderKey;
  /** Handles that hold this sender key. */
  members: string[];
}

interface ReceivedGroupRecord {
  sender: string;
  senderIdentityKey: Uint8Array;
  key: ReceivedSenderKey;
}

/** Signed prekeys older than this are replaced on the next publish (Signal rotates weekly-ish). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000;
/** Retired signed prekeys are kept this long for messages still in flight. */
const SIGNED_PREKEY_GRACE_MS = 30 * 24 * 3600 * 1000;
const MAX_TEXT_BYTES = 60 * 1024;

export interface VeilOptions {
  store: ProtocolStore;
  crypto?: CryptoProvider;
  clock?: () => number;
}

export class Veil {
  private readonly store: ProtocolStore;
  private readonly crypto: CryptoProvider;
  private readonly clock: () => number;
  // Every operation runs after the previous one: two decrypts racing on one session could
  // otherwise both succeed from the same state and reopen a replay window.
  private queue: Promise<unknown> = Promise.resolve();
  private readonly contexts = new Map<string, ContextInfo>();

  private constructor(opts: VeilOptions) {
    this.store = opts.store;
    this.crypto = opts.crypto ?? nobleProvider;
    this.clock = opts.clock ?? (() => 0);
  }

  static async create(opts: VeilOptions): Promise<Veil> {
    return new Veil(opts);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  // ---- identity and prekeys ----

  /** Creates this device's identity and its first signed prekey. Refuses to overwrite one. */
  createIdentity(handle: string): Promise<PublicIdentity> {
    return this.serial(async () => {
      validateHandle(handle);
      if (await this.store.get('identity', 'self'))
        throw new VeilError('invalid-argument', 'an identity already exists; delete it first');
      const keys = await generateIdentity(this.crypto);
      const now = this.clock();
      const spk = await createSignedPrekey(this.crypto, keys, 1, now);
      const record: IdentityRecord = {
        ...keys,
        handle,
        createdAt: now,
        signedPrekeyId: spk.id,
        nextOneTimePrekeyId: 1,
      };
      await this.store.commit([
        { op: 'put', table: 'identity', key: 'self', value: record },
        { op: 'put', table: 'signedPrekeys', key: String(spk.id), value: spk },
      ]);
      return { handle, identityKey: keys.publicKey.slice() };
    });
  }

  async getIdentity(): Promise<PublicIdentity | undefined> {
    const id = await this.store.get<IdentityRecord>('identity', 'self');
    return id && { handle: id.handle, identityKey: id.publicKey };
  }

  /**
   * What to publish to the directory: the identity, the current signed prekey (rotated when
   * older than SIGNED_PREKEY_ROTATION_MS) and `oneTimePrekeys` fresh one-time prekeys.
   */
  publicBundle(opts: { oneTimePrekeys?: number } = {}): Promise<PublishedIdentity> {
    return this.serial(async () => {
      const id = await this.identity();
      const now = this.clock();
      const ops: StoreOp[] = [];
      let spk = await this.store.get<SignedPrekey>('signedPrekeys', String(id.signedPrekeyId));
      if (!spk || now - spk.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
        spk = await createSignedPrekey(this.crypto, id, id.signedPrekeyId + 1, now);
        ops.push({ op: 'put', table: 'signedPrekeys', key: String(spk.id), value: spk });
        ops.push(...(await this.retireSignedPrekeys(spk.id, now)));
        id.signedPrekeyId = spk.id;
      }
      const count = opts.oneTimePrekeys ?? 20;
      const otps: OneTimePrekey[] =
        count > 0 ? await createOneTimePrekeys(this.crypto, id.nextOneTimePrekeyId, count) : [];
      for (const otp of otps)
        ops.push({ op: 'put', table: 'oneTimePrekeys', key: String(otp.id), value: otp });
      id.nextOneTimePrekeyId += otps.length;
      ops.push({ op: 'put', table: 'identity', key: 'self', value: id });
      await this.store.commit(ops);
      return {
        handle: id.handle,
        identityKey: id.publicKey,
        signedPrekey: signedPrekeyPublic(spk),
        oneTimePrekeys: otps.map(oneTimePrekeyPublic),
      };
    });
  }

  private async retireSignedPrekeys(currentId: number, now: number): Promise<StoreOp[]> {
    const ops: StoreOp[] = [];
    for (const key of await this.store.keys('signedPrekeys')) {
      const old = await this.store.get<SignedPrekey>('signedPrekeys', key);
      if (old && old.id !== currentId && now - old.createdAt > SIGNED_PREKEY_GRACE_MS)
        ops.push({ op: 'delete', table: 'signedPrekeys', key });
    }
    return ops;
  }

  /** Signs arbitrary bytes with the identity key (directory requests). Keys stay here. */
  async sign(message: Uint8Array): Promise<Uint8Array> {
    const id = await this.identity();
    return this.crypto.ed25519Sign(id.privateKey, message);
  }

  // ---- contacts and trust ----

  async getContact(handle: string): Promise<Contact | undefined> {
    return this.store.get<Contact>('contacts', handle);
  }

  async listContacts(): Promise<Contact[]> {
    const out: Contact[] = [];
    for (const key of await this.store.keys('contacts')) {
      const c = await this.store.get<Contact>('contacts', key);
      if (c) out.push(c);
    }
    return out.sort((a, b) => a.handle.localeCompare(b.handle));
  }

  /**
   * Pins a contact's key on first use. A different key for a known handle is recorded as
   * pending (status key-changed, sending blocked) until acknowledgeKeyChange.
   */
  addContact(handle: string, identityKey: Uint8Array): Promise<Contact> {
    return this.serial(async () => {
      const { contact, ops } = await this.pin(handle, identityKey);
      await this.store.commit(ops);
      return contact;
    });
  }

  markVerified(handle: string, verified = true): Promise<Contact> {
    return this.serial(async () => {
      const c = await this.contact(handle);
      if (c.pendingKey)
        throw new VeilError('untrusted-identity', 'acknowledge the key change before verifying');
      const next = { ...c, verified };
      await this.store.commit([{ op: 'put', table: 'contacts', key: handle, value: next }]);
      return next;
    });
  }

  /** Accepts a contact's new key: it becomes the pinned key, unverified, and sending resumes. */
  acknowledgeKeyChange(handle: string): Promise<Contact> {
    return this.serial(async () => {
      const c = await this.contact(handle);
      if (!c.pendingKey) return c;
      const next: Contact = { ...c, identityKey: c.pendingKey, verified: false };
      delete next.pendingKey;
      delete next.session;
      await this.store.commit([{ op: 'put', table: 'contacts', key: handle, value: next }]);
      return next;
    });
  }

  /** The 60-digit safety number with a contact (their pinned key, or the pending one). */
  async safetyNumber(handle: string, opts: { pending?: boolean } = {}): Promise<string> {
    const id = await this.identity();
    const c = await this.contact(handle);
    const key = opts.pending && c.pendingKey ? c.pendingKey : c.identityKey;
    return safetyNumber(
      { id: id.handle, identityKey: identityDhPublic(id.publicKey) },
      { id: c.handle, identityKey: identityDhPublic(key) },
    );
  }

  private async pin(
    handle: string,
    identityKey: Uint8Array,
    reader: Pick<ProtocolStore, 'get'> = this.store,
  ): Promise<{ contact: Contact; ops: StoreOp[]; changed: boolean; existing?: Contact }> {
    validateHandle(handle);
    const existing = await reader.get<Contact>('contacts', handle);
    let contact: Contact;
    let changed = false;
    if (!existing) {
      contact = {
        handle,
        identityKey: identityKey.slice(),
        verified: false,
        firstSeen: this.clock(),
      };
    } else if (bytesEqual(existing.identityKey, identityKey)) {
      contact = existing;
    } else {
      changed = true;
      contact = { ...existing, pendingKey: identityKey.slice() };
      delete contact.session;
    }
    return {
      contact,
      changed,
      existing,
      ops: [{ op: 'put', table: 'contacts', key: handle, value: contact }],
    };
  }

  private statusFor(contact: Contact | undefined, identityKey: Uint8Array): MessageStatus {
    if (!contact) return 'unverified';
    if (!bytesEqual(contact.identityKey, identityKey)) return 'key-changed';
    return contact.verified ? 'verified' : 'unverified';
  }

  // ---- sessions ----

  /**
   * Starts a 1:1 session from a prekey bundle fetched from the directory. Pins the key on first
   * use; a key that differs from the pinned one throws 'untrusted-identity' (and is recorded as
   * pending so the user can compare and acknowledge it).
   */
  startSession(bundle: PrekeyBundle): Promise<void> {
    return this.serial(async () => {
      const id = await this.identity();
      const { contact, ops, changed } = await this.pin(bundle.handle, bundle.identityKey);
      if (changed || contact.pendingKey) {
        await this.store.commit(ops);
        throw new VeilError('untrusted-identity', 'the contact identity key changed');
      }
      const record = await createInitiatorSession(this.crypto, {
        ourIdentity: id,
        theirBundle: bundle,
      });
      const tag = bytesToHex(record.sessionTag);
      await this.store.commit([
        { op: 'put', table: 'sessions', key: tag, value: record },
        { op: 'put', table: 'contacts', key: bundle.handle, value: { ...contact, session: tag } },
      ]);
    });
  }

  async hasSession(handle: string): Promise<boolean> {
    const c = await this.store.get<Contact>('contacts', handle);
    return !!c?.session && !c.pendingKey;
  }

  // ---- encrypt ----

  /** Encrypts text for a conversation and armors it in chunks of at most `maxChunkLength`. */
  async encrypt(
    conversation: Conversation,
    plaintext: string,
    opts: { maxChunkLength?: number } = {},
  ): Promise<string[]> {
    const envelope = await this.encryptEnvelope(conversation, plaintext);
    return armor(envelope, {
      maxChunkLength: opts.maxChunkLength,
      randomBytes: (n) => this.crypto.randomBytes(n),
    });
  }

  encryptEnvelope(conversation: Conversation, plaintext: string): Promise<Uint8Array> {
    return this.serial(async () => {
      const id = await this.identity();
      const recipients = [...new Set(conversation.recipients)].filter((h) => h !== id.handle);
      if (recipients.length === 0)
        throw new VeilError('invalid-argument', 'a message needs at least one recipient');
      if (plaintext.length > MAX_TEXT_BYTES) throw new VeilError('oversized', 'message too long');
      const ctx = this.ctx(conversation.context);
      const ctxHash = ctx.hash;
      const ops: StoreOp[] = [];
      let envelope: Uint8Array;
      if (recipients.length === 1) {
        const [handle] = recipients as [string];
        const { record } = await this.sendingSession(handle);
        const records: PlaintextRecord[] = [{ type: 'text', text: plaintext }];
        if (record.pendingPrekey) records.push({ type: 'sender-handle', handle: id.handle });
        const out = await sessionEncrypt(this.crypto, record, encodePlaintext(records), ctxHash);
        ops.push(sessionPut(out.record));
        envelope = out.envelope;
      } else {
        envelope = await this.encryptGroup(
          id,
          conversation.context,
          ctx,
          recipients,
          plaintext,
          ops,
        );
      }
      await this.store.commit(ops);
      return envelope;
    });
  }

  private async sendingSession(
    handle: string,
  ): Promise<{ contact: Contact; record: SessionRecord }> {
    const contact = await this.store.get<Contact>('contacts', handle);
    if (contact?.pendingKey)
      throw new VeilError('untrusted-identity', 'the contact identity key changed');
    const record = contact?.session
      ? await this.store.get<SessionRecord>('sessions', contact.session)
      : undefined;
    if (!contact || !record) throw new VeilError('no-session', 'no session with this contact yet');
    return { contact, record };
  }

  private async encryptGroup(
    id: IdentityRecord,
    context: string,
    ctx: ContextInfo,
    recipients: string[],
    plaintext: string,
    ops: StoreOp[],
  ): Promise<Uint8Array> {
    const ctxHash = ctx.hash;
    const ownKey = `own:${ctx.hex}`;
    let group = await this.store.get<OwnGroupRecord>('senderKeys', ownKey);
    // Someone was removed: a new sender key that only the remaining members receive, so the
    // removed member cannot read what follows.
    if (!group || group.members.some((m) => !recipients.includes(m)))
      group = { context, key: await createSenderKey(this.crypto), members: [] };
    const newcomers = recipients.filter((r) => !group!.members.includes(r));
    const distribution = distributionRecord(group.key);
    const pairwise: Uint8Array[] = [];
    for (const handle of newcomers) {
      const { record } = await this.sendingSession(handle);
      const records: PlaintextRecord[] = [
        { type: 'sender-key-distribution', distribution },
        { type: 'sender-handle', handle: id.handle },
      ];
      const out = await sessionEncrypt(this.crypto, record, encodePlaintext(records), ctxHash);
      ops.push(sessionPut(out.record));
      pairwise.push(out.envelope);
    }
    const { own, envelope } = await groupEncrypt(
      this.crypto,
      group.key,
      encodePlaintext([{ type: 'text', text: plaintext }]),
      { ctxHash, ctxTag: ctx.tag, senderIdentityKey: id.publicKey },
    );
    const next: OwnGroupRecord = { context, key: own, members: [...group.members, ...newcomers] };
    ops.push({ op: 'put', table: 'senderKeys', key: ownKey, value: next });
    return pairwise.length ? encodeGroupBundle(pairwise, envelope) : envelope;
  }

  // ---- decrypt ----

  /** Decrypts one whole armored message found in `context`. Never throws for bad input. */
  async decrypt(context: string, armored: string): Promise<DecryptResult> {
    let envelope: Uint8Array;
    try {
      envelope = dearmor(armored);
    } catch (e) {
      return failed(e);
    }
    return this.decryptEnvelope(context, envelope);
  }

  decryptEnvelope(context: string, bytes: Uint8Array): Promise<DecryptResult> {
    return this.serial(async () => {
      try {
        const tx = new StoreTx(this.store);
        const result = await this.decryptIn(tx, context, bytes, this.crypto);
        await this.store.commit(tx.ops());
        return result;
      } catch (e) {
        return failed(e);
      }
    });
  }

  /**
   * Decrypts many whole armored messages found in `context`, in order — what a page shows when it
   * loads. The results are those of calling `decrypt` on each in turn: state moves on message by
   * message, a message that fails leaves nothing behind, a repeat of one is a replay. Faster:
   * records are read once per batch, the batch is written in one commit, and the sender-key
   * signatures (which do not depend on chain state) are checked ahead, concurrently; the
   * in-order pass still checks each signature before it walks a chain (a memo of the exact
   * public key, signed bytes and signature verified ahead, else a verification of its own).
   * Should that final commit fail, every message that had decrypted is reported failed (nothing
   * was stored, as for a failed `decrypt`). Never throws for bad input.
   */
  async decryptMany(context: string, armored: readonly string[]): Promise<DecryptResult[]> {
    const parsed: (Uint8Array | DecryptResult)[] = Array.from(armored, (text) => {
      try {
        return dearmor(text);
      } catch (e) {
        return failed(e);
      }
    });
    return this.decryptParsed(context, parsed);
  }

  /**
   * `decryptMany` for messages already dearmored (a caller that needed the envelope bytes first,
   * e.g. to look them up in a cache, need not dearmor them twice). Never throws for bad input.
   */
  decryptEnvelopes(context: string, envelopes: readonly Uint8Array[]): Promise<DecryptResult[]> {
    return this.decryptParsed(
      context,
      Array.from(envelopes, (e) => (e instanceof Uint8Array ? e : failed(undefined))),
    );
  }

  private decryptParsed(
    context: string,
    parsed: (Uint8Array | DecryptResult)[],
  ): Promise<DecryptResult[]> {
    return this.serial(async () => {
      const batch = new StoreTx(this.store, undefined, true);
      let verified: VerifyMemo = new Map();
      try {
        verified = await this.verifyAhead(batch, this.ctx(context), parsed);
      } catch {
        // A bad context: each message reports it below, in decrypt's order of checks.
      }
      const crypto = verified.size ? withVerifyMemo(this.crypto, verified) : this.crypto;
      const results: DecryptResult[] = [];
      for (const item of parsed) {
        if (!(item instanceof Uint8Array)) {
          results.push(item);
          continue;
        }
        const tx = new StoreTx(this.store, batch);
        try {
          results.push(await this.decryptIn(tx, context, item, crypto));
          tx.mergeIntoParent();
        } catch (e) {
          results.push(failed(e));
        }
      }
      try {
        await this.store.commit(batch.ops());
      } catch (e) {
        const why = failed(e);
        return results.map((r) => (r.status === 'failed' ? r : why));
      }
      return results;
    });
  }

  /**
   * Verifies ahead, concurrently, the sender-key signatures the in-order pass will check: for
   * each group message whose context tag matches, its candidate states (as held at the start of
   * the batch) in the order the pass tries them, up to the first that verifies. Returns the
   * memo by signature; a state that changes within the batch just misses it.
   */
  private async verifyAhead(
    batch: StoreTx,
    ctx: ContextInfo,
    parsed: (Uint8Array | DecryptResult)[],
  ): Promise<VerifyMemo> {
    const memo: VerifyMemo = new Map();
    const jobs: (() => Promise<void>)[] = [];
    const queued = new Map<string, Uint8Array[]>(); // signature hex → message bytes queued
    for (const item of parsed) {
      if (!(item instanceof Uint8Array)) continue;
      let message: SenderKeyMessage;
      try {
        const envelope = decodeEnvelope(item);
        if (envelope.type === 3) message = envelope;
        else if (envelope.type === 4) message = envelope.senderKeyMessage;
        else continue;
      } catch {
        continue;
      }
      if (!bytesEqual(message.ctxTag, ctx.tag)) continue;
      // A repeat of a message (a re-rendered page) is verified once.
      const sigHex = bytesToHex(message.signature);
      const same = queued.get(sigHex) ?? [];
      if (same.some((b) => bytesEqual(b, message.bytes))) continue;
      queued.set(sigHex, [...same, message.bytes]);
      jobs.push(async () => {
        const list = await batch.get<ReceivedGroupRecord[]>(
          'senderKeys',
          `in:${bytesToHex(message.senderKeyId)}`,
        );
        for (const candidate of list ?? []) {
          const check = senderKeySignatureCheck(candidate.key, message, {
            ctxHash: ctx.hash,
            ctxTag: ctx.tag,
            senderIdentityKey: candidate.senderIdentityKey,
          });
          if (!check) continue;
          const valid = await this.crypto.ed25519Verify(
            check.publicKey,
            check.message,
            check.signature,
          );
          rememberVerify(memo, check, valid);
          if (valid) break;
        }
      });
    }
    // A few in flight: enough to keep a threaded WebCrypto busy, bounded for huge pages.
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        try {
          await jobs[next++]!();
        } catch {
          // The in-order pass meets the same error and reports it.
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(VERIFY_AHEAD, jobs.length) }, worker));
    return memo;
  }

  /** One message, all its reads and writes through `tx` (the caller commits). */
  private async decryptIn(
    tx: StoreTx,
    context: string,
    bytes: Uint8Array,
    crypto: CryptoProvider,
  ): Promise<DecryptResult> {
    const id = await this.identity(tx);
    const ctx = this.ctx(context);
    const envelope = decodeEnvelope(bytes);
    switch (envelope.type) {
      case 1:
      case 2: {
        const r = await this.decryptPairwise(tx, id, envelope, ctx.hash);
        const text = r.records.find((x) => x.type === 'text');
        if (!text || text.type !== 'text') throw new VeilError('malformed', 'no text record');
        return { ...r.result, plaintext: text.text, kind: 'direct' };
      }
      case 3:
        return this.decryptGroupMessage(tx, envelope, ctx, crypto);
      case 4: {
        for (const p of envelope.pairwise) {
          if (!(await this.addressedToUs(tx, id, p))) continue;
          try {
            await this.decryptPairwise(tx, id, p, ctx.hash);
          } catch (e) {
            // Already processed (the page re-rendered): the sender key is stored by now.
            if (!isVeilError(e, 'replay')) throw e;
          }
        }
        return this.decryptGroupMessage(tx, envelope.senderKeyMessage, ctx, crypto);
      }
    }
  }

  private async addressedToUs(
    tx: StoreTx,
    id: IdentityRecord,
    p: PrekeyMessage | RatchetMessage,
  ): Promise<boolean> {
    if (p.type === 1) return bytesEqual(p.recipientTag, recipientTag(id.publicKey));
    return !!(await tx.get('sessions', bytesToHex(p.sessionTag)));
  }

  /**
   * 1:1 decryption, reading and writing through `tx`; applies the distributions it carries to
   * the group state.
   */
  private async decryptPairwise(
    tx: StoreTx,
    id: IdentityRecord,
    envelope: PrekeyMessage | RatchetMessage,
    ctxHash: Uint8Array,
  ): Promise<{ result: DecryptResult; records: PlaintextRecord[] }> {
    const inner = envelope.type === 1 ? envelope.message : envelope;
    const tag = bytesToHex(inner.sessionTag);
    const known = await tx.get<SessionRecord>('sessions', tag);
    let record: SessionRecord;
    let plaintext: Uint8Array;
    if (known) {
      ({ record, plaintext } = await sessionDecrypt(this.crypto, known, envelope, ctxHash));
    } else {
      if (envelope.type !== 1) throw new VeilError('no-session', 'no session for this message');
      const out = await sessionFromPrekeyMessage(
        this.crypto,
        id,
        async ({ signedPrekeyId, oneTimePrekeyId }) => {
          const spk = await tx.get<SignedPrekey>('signedPrekeys', String(signedPrekeyId));
          const otp = oneTimePrekeyId
            ? await tx.get<OneTimePrekey>('oneTimePrekeys', String(oneTimePrekeyId))
            : undefined;
          return { signedPrekey: spk?.keyPair, oneTimePrekey: otp?.keyPair };
        },
        envelope,
        ctxHash,
      );
      record = out.record;
      plaintext = out.plaintext;
      if (out.usedOneTimePrekeyId) tx.delete('oneTimePrekeys', String(out.usedOneTimePrekeyId));
    }
    const records = decodePlaintext(plaintext);
    if (!record.remoteHandle) {
      const h = records.find((r) => r.type === 'sender-handle');
      if (!h || h.type !== 'sender-handle')
        throw new VeilError('malformed', 'first message does not name its sender');
      record = { ...record, remoteHandle: validateHandle(h.handle) };
    }
    const sender = record.remoteHandle!;
    const pinned = await this.pin(sender, record.remoteIdentityKey, tx);
    let contact = pinned.contact;
    // A session the peer started becomes the one we answer on, unless the key is in question.
    if (!known && !contact.pendingKey) contact = { ...contact, session: tag };
    tx.put('sessions', tag, record);
    if (pinned.changed || contact !== pinned.existing) tx.put('contacts', sender, contact);
    for (const r of records) {
      if (r.type !== 'sender-key-distribution') continue;
      const incoming = parseDistribution(r.distribution);
      const key = `in:${bytesToHex(incoming.senderKeyId)}`;
      const list = (await tx.get<ReceivedGroupRecord[]>('senderKeys', key)) ?? [];
      const mine = list.find(
        (g) => g.sender === sender && bytesEqual(g.senderIdentityKey, record.remoteIdentityKey),
      );
      const others = list.filter((g) => g !== mine);
      const accepted: ReceivedGroupRecord = {
        sender,
        senderIdentityKey: record.remoteIdentityKey,
        key: acceptDistribution(mine?.key, incoming),
      };
      tx.put('senderKeys', key, [...others, accepted]);
    }
    return {
      result: {
        status: this.statusFor(contact, record.remoteIdentityKey),
        sender,
        senderIdentityKey: record.remoteIdentityKey,
      },
      records,
    };
  }

  private async decryptGroupMessage(
    tx: StoreTx,
    message: SenderKeyMessage,
    ctx: ContextInfo,
    crypto: CryptoProvider,
  ): Promise<DecryptResult> {
    const key = `in:${bytesToHex(message.senderKeyId)}`;
    const list = await tx.get<ReceivedGroupRecord[]>('senderKeys', key);
    if (!list?.length) {
      const own = await tx.get<OwnGroupRecord>('senderKeys', `own:${ctx.hex}`);
      if (own && bytesEqual(own.key.senderKeyId, message.senderKeyId))
        throw new VeilError('own-message', 'message was written by this device');
      throw new VeilError('no-session', 'no sender key for this message');
    }
    let lastError: unknown;
    // Several senders may claim one id (a member re-sending another's distribution); the
    // signature, bound to the sender's identity key, tells which one it really is.
    for (const candidate of list) {
      try {
        const { received, plaintext } = await groupDecrypt(crypto, candidate.key, message.bytes, {
          ctxHash: ctx.hash,
          ctxTag: ctx.tag,
          senderIdentityKey: candidate.senderIdentityKey,
        });
        const records = decodePlaintext(plaintext);
        const text = records.find((r) => r.type === 'text');
        if (!text || text.type !== 'text') throw new VeilError('malformed', 'no text record');
        const next = list.map((g) => (g === candidate ? { ...g, key: received } : g));
        tx.put('senderKeys', key, next);
        const contact = await tx.get<Contact>('contacts', candidate.sender);
        return {
          status: this.statusFor(contact, candidate.senderIdentityKey),
          sender: candidate.sender,
          senderIdentityKey: candidate.senderIdentityKey,
          plaintext: text.text,
          kind: 'group',
        };
      } catch (e) {
        lastError = e;
        if (!isVeilError(e, 'bad-signature')) break;
      }
    }
    throw lastError;
  }

  /** Hash, tag and hex of a context, memoised (a page decrypts many messages in one context). */
  private ctx(context: string): ContextInfo {
    let info = this.contexts.get(context);
    if (info) {
      // Refresh recency: Map iterates in insertion order, so the first entry is the oldest.
      this.contexts.delete(context);
      this.contexts.set(context, info);
      return info;
    }
    const hash = contextHash(context);
    info = { hash, tag: contextTag(hash), hex: bytesToHex(hash) };
    if (context.length <= MAX_CACHED_CONTEXT_LENGTH) {
      this.contexts.set(context, info);
      if (this.contexts.size > CONTEXT_CACHE_SIZE)
        this.contexts.delete(this.contexts.keys().next().value as string);
    }
    return info;
  }

  // ---- helpers ----

  private async identity(reader: Pick<ProtocolStore, 'get'> = this.store): Promise<IdentityRecord> {
    // Read every time, never cached here: the extension locks, restores and deletes through the
    // store directly, and a cached identity would outlive that (sign() while locked).
    const id = await reader.get<IdentityRecord>('identity', 'self');
    if (!id) throw new VeilError('no-identity', 'create an identity first');
    return id;
  }

  private async contact(handle: string): Promise<Contact> {
    const c = await this.store.get<Contact>('contacts', handle);
    if (!c) throw new VeilError('invalid-argument', 'unknown contact');
    return c;
  }
}

function sessionPut(record: SessionRecord): StoreOp {
  return { op: 'put', table: 'sessions', key: bytesToHex(record.sessionTag), value: record };
}

/** Contexts whose hash Veil keeps at once, and the longest context string it keeps. */
const CONTEXT_CACHE_SIZE = 64;
const MAX_CACHED_CONTEXT_LENGTH = 1024;
/** Signature checks decryptMany runs ahead at once. */
const VERIFY_AHEAD = 8;

interface ContextInfo {
  hash: Uint8Array;
  tag: Uint8Array;
  hex: string;
}

/**
 * A unit of work over the store. Reads see the unit's own writes, then its parent's, then the
 * store; writes stay here until the caller commits `ops()` or merges them into the parent.
 * decrypt runs each message in one; decryptMany runs one per message inside one for the batch,
 * so a message that fails leaves nothing behind and the batch is written in one commit.
 * Values read or written are never modified in place (the protocol functions return new state),
 * so later messages of a batch can share them; `cacheReads` keeps what a batch read from the
 * store (each store read is a copy of its own).
 */
class StoreTx {
  private readonly writes = new Map<string, { table: StoreTable; key: string; value?: unknown }>();
  private readonly reads?: Map<string, unknown>;

  constructor(
    private readonly store: ProtocolStore,
    private readonly parent?: StoreTx,
    cacheReads = false,
  ) {
    if (cacheReads) this.reads = new Map();
  }

  async get<T>(table: StoreTable, key: string): Promise<T | undefined> {
    const id = `${table}/${key}`;
    const chain = this.chain();
    for (const t of chain) {
      const w = t.writes.get(id);
      if (w) return w.value as T | undefined;
    }
    const cache = chain.find((t) => t.reads)?.reads;
    if (!cache) return this.store.get<T>(table, key);
    if (cache.has(id)) return cache.get(id) as T | undefined;
    const value = await this.store.get<T>(table, key);
    cache.set(id, value);
    return value;
  }

  /** This unit, then its parent and theirs. */
  private chain(): StoreTx[] {
    return this.parent ? [this, ...this.parent.chain()] : [this];
  }

  put(table: StoreTable, key: string, value: unknown): void {
    this.writes.set(`${table}/${key}`, { table, key, value });
  }

  delete(table: StoreTable, key: string): void {
    this.writes.set(`${table}/${key}`, { table, key });
  }

  mergeIntoParent(): void {
    for (const [id, w] of this.writes) this.parent!.writes.set(id, w);
  }

  ops(): StoreOp[] {
    return Array.from(this.writes.values(), (w): StoreOp =>
      'value' in w
        ? { op: 'put', table: w.table, key: w.key, value: w.value }
        : { op: 'delete', table: w.table, key: w.key },
    );
  }
}

/** Sender-key signatures verified ahead, by signature bytes (hex). */
type VerifyMemo = Map<string, { publicKey: Uint8Array; message: Uint8Array; valid: boolean }[]>;

function rememberVerify(
  memo: VerifyMemo,
  check: { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array },
  valid: boolean,
): void {
  const id = bytesToHex(check.signature);
  const entries = memo.get(id) ?? [];
  entries.push({ publicKey: check.publicKey, message: check.message, valid });
  memo.set(id, entries);
}

/**
 * The provider with ed25519Verify answered from the memo when it holds exactly this public key,
 * message and signature, and verified as usual otherwise.
 */
function withVerifyMemo(crypto: CryptoProvider, memo: VerifyMemo): CryptoProvider {
  // Everything else is inherited from the provider, including methods it may gain later.
  const memoised = Object.create(crypto) as {
    -readonly [K in keyof CryptoProvider]: CryptoProvider[K];
  };
  memoised.ed25519Verify = async (publicKey, message, signature) => {
    for (const e of memo.get(bytesToHex(signature)) ?? [])
      if (bytesEqual(e.publicKey, publicKey) && bytesEqual(e.message, message)) return e.valid;
    return crypto.ed25519Verify(publicKey, message, signature);
  };
  return memoised;
}

function failed(e: unknown): DecryptResult {
  // Unexpected exceptions are reported without their message: it could carry anything.
  return { status: 'failed', error: isVeilError(e) ? e.code : 'malformed' };
}

export type { KeyPair };
