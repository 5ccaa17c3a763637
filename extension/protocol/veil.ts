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
import type { ProtocolStore, StoreOp } from './store';
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
  ): Promise<{ contact: Contact; ops: StoreOp[]; changed: boolean }> {
    validateHandle(handle);
    const existing = await this.store.get<Contact>('contacts', handle);
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
      const ctxHash = contextHash(conversation.context);
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
        envelope = await this.encryptGroup(id, conversation.context, recipients, plaintext, ops);
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
    recipients: string[],
    plaintext: string,
    ops: StoreOp[],
  ): Promise<Uint8Array> {
    const ctxHash = contextHash(context);
    const ownKey = `own:${bytesToHex(ctxHash)}`;
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
      { ctxHash, ctxTag: contextTag(ctxHash), senderIdentityKey: id.publicKey },
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
        const id = await this.identity();
        const ctxHash = contextHash(context);
        const envelope = decodeEnvelope(bytes);
        const ops: StoreOp[] = [];
        let result: DecryptResult;
        switch (envelope.type) {
          case 1:
          case 2: {
            const r = await this.decryptPairwise(id, envelope, ctxHash, ops);
            const text = r.records.find((x) => x.type === 'text');
            if (!text || text.type !== 'text') throw new VeilError('malformed', 'no text record');
            result = { ...r.result, plaintext: text.text, kind: 'direct' };
            break;
          }
          case 3:
            result = await this.decryptGroupMessage(envelope, ctxHash, ops);
            break;
          case 4: {
            for (const p of envelope.pairwise) {
              if (!(await this.addressedToUs(id, p))) continue;
              try {
                await this.decryptPairwise(id, p, ctxHash, ops);
              } catch (e) {
                // Already processed (the page re-rendered): the sender key is stored by now.
                if (!isVeilError(e, 'replay')) throw e;
              }
            }
            result = await this.decryptGroupMessage(envelope.senderKeyMessage, ctxHash, ops);
            break;
          }
        }
        await this.store.commit(ops);
        return result;
      } catch (e) {
        return failed(e);
      }
    });
  }

  private async addressedToUs(
    id: IdentityRecord,
    p: PrekeyMessage | RatchetMessage,
  ): Promise<boolean> {
    if (p.type === 1) return bytesEqual(p.recipientTag, recipientTag(id.publicKey));
    return !!(await this.store.get('sessions', bytesToHex(p.sessionTag)));
  }

  /**
   * 1:1 decryption. Pushes the store changes onto `ops` (the caller commits them together) and
   * applies distributions it carries to the pending group state.
   */
  private async decryptPairwise(
    id: IdentityRecord,
    envelope: PrekeyMessage | RatchetMessage,
    ctxHash: Uint8Array,
    ops: StoreOp[],
  ): Promise<{ result: DecryptResult; records: PlaintextRecord[] }> {
    const inner = envelope.type === 1 ? envelope.message : envelope;
    const tag = bytesToHex(inner.sessionTag);
    const known =
      this.pendingPut<SessionRecord>(ops, 'sessions', tag) ??
      (await this.store.get<SessionRecord>('sessions', tag));
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
          const spk = await this.store.get<SignedPrekey>('signedPrekeys', String(signedPrekeyId));
          const otp = oneTimePrekeyId
            ? await this.store.get<OneTimePrekey>('oneTimePrekeys', String(oneTimePrekeyId))
            : undefined;
          return { signedPrekey: spk?.keyPair, oneTimePrekey: otp?.keyPair };
        },
        envelope,
        ctxHash,
      );
      record = out.record;
      plaintext = out.plaintext;
      if (out.usedOneTimePrekeyId)
        ops.push({ op: 'delete', table: 'oneTimePrekeys', key: String(out.usedOneTimePrekeyId) });
    }
    const records = decodePlaintext(plaintext);
    if (!record.remoteHandle) {
      const h = records.find((r) => r.type === 'sender-handle');
      if (!h || h.type !== 'sender-handle')
        throw new VeilError('malformed', 'first message does not name its sender');
      record = { ...record, remoteHandle: validateHandle(h.handle) };
    }
    const sender = record.remoteHandle!;
    const pinned = await this.pin(sender, record.remoteIdentityKey);
    let contact = pinned.contact;
    // A session the peer started becomes the one we answer on, unless the key is in question.
    if (!known && !contact.pendingKey) contact = { ...contact, session: tag };
    ops.push(sessionPut(record));
    ops.push({ op: 'put', table: 'contacts', key: sender, value: contact });
    for (const r of records) {
      if (r.type !== 'sender-key-distribution') continue;
      const incoming = parseDistribution(r.distribution);
      const key = `in:${bytesToHex(incoming.senderKeyId)}`;
      const list =
        this.pendingPut<ReceivedGroupRecord[]>(ops, 'senderKeys', key) ??
        (await this.store.get<ReceivedGroupRecord[]>('senderKeys', key)) ??
        [];
      const mine = list.find(
        (g) => g.sender === sender && bytesEqual(g.senderIdentityKey, record.remoteIdentityKey),
      );
      const others = list.filter((g) => g !== mine);
      const accepted: ReceivedGroupRecord = {
        sender,
        senderIdentityKey: record.remoteIdentityKey,
        key: acceptDistribution(mine?.key, incoming),
      };
      ops.push({ op: 'put', table: 'senderKeys', key, value: [...others, accepted] });
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
    message: SenderKeyMessage,
    ctxHash: Uint8Array,
    ops: StoreOp[],
  ): Promise<DecryptResult> {
    const idHex = bytesToHex(message.senderKeyId);
    const key = `in:${idHex}`;
    const list =
      this.pendingPut<ReceivedGroupRecord[]>(ops, 'senderKeys', key) ??
      (await this.store.get<ReceivedGroupRecord[]>('senderKeys', key));
    if (!list?.length) {
      const own = await this.store.get<OwnGroupRecord>('senderKeys', `own:${bytesToHex(ctxHash)}`);
      if (own && bytesEqual(own.key.senderKeyId, message.senderKeyId))
        throw new VeilError('own-message', 'message was written by this device');
      throw new VeilError('no-session', 'no sender key for this message');
    }
    let lastError: unknown;
    // Several senders may claim one id (a member re-sending another's distribution); the
    // signature, bound to the sender's identity key, tells which one it really is.
    for (const candidate of list) {
      try {
        const { received, plaintext } = await groupDecrypt(
          this.crypto,
          candidate.key,
          message.bytes,
          {
            ctxHash,
            ctxTag: contextTag(ctxHash),
            senderIdentityKey: candidate.senderIdentityKey,
          },
        );
        const records = decodePlaintext(plaintext);
        const text = records.find((r) => r.type === 'text');
        if (!text || text.type !== 'text') throw new VeilError('malformed', 'no text record');
        const next = list.map((g) => (g === candidate ? { ...g, key: received } : g));
        ops.push({ op: 'put', table: 'senderKeys', key, value: next });
        const contact = await this.store.get<Contact>('contacts', candidate.sender);
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

  /** The value an earlier op in this batch writes, so one envelope sees its own updates. */
  private pendingPut<T>(ops: StoreOp[], table: StoreOp['table'], key: string): T | undefined {
    for (let i = ops.length - 1; i >= 0; i--) {
      const o = ops[i]!;
      if (o.table === table && o.key === key) return o.op === 'put' ? (o.value as T) : undefined;
    }
    return undefined;
  }

  // ---- helpers ----

  private async identity(): Promise<IdentityRecord> {
    const id = await this.store.get<IdentityRecord>('identity', 'self');
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

function failed(e: unknown): DecryptResult {
  // Unexpected exceptions are reported without their message: it could carry anything.
  return { status: 'failed', error: isVeilError(e) ? e.code : 'malformed' };
}

export type { KeyPair };
