// libsignal-client (Signal's Rust library through its Node native binding): the peer Veil is
// measured against. Two parties with in-memory stores, PQXDH session setup from a prekey
// bundle (Kyber prekey included, as current libsignal requires), then the figures of
// bench/common.ts. Run alone: `npx tsx bench/libsignal-bench.ts` (prints JSON).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as SignalClient from '@signalapp/libsignal-client';
import {
  CiphertextMessageType,
  Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SenderKeyDistributionMessage,
  SenderKeyRecord,
  SenderKeyStore,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  type Uuid,
} from '@signalapp/libsignal-client';
import {
  SETUPS,
  check,
  median,
  messageBytes,
  sizeStats,
  withDefaults,
  type BenchOptions,
  type LibraryResult,
} from './common';
import { isMain, optionsFromEnv, printResult } from './node-env';

// ---- in-memory stores (records kept serialized, as a persistent store would keep them) ----

class MemIdentityStore extends IdentityKeyStore {
  private readonly known = new Map<string, PublicKey>();
  constructor(
    private readonly pair: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }
  async getIdentityKey(): Promise<PrivateKey> {
    return this.pair.privateKey;
  }
  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }
  async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const prev = this.known.get(name.toString());
    this.known.set(name.toString(), key);
    return prev && !prev.equals(key)
      ? IdentityChange.ReplacedExisting
      : IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(
    name: ProtocolAddress,
    key: PublicKey,
    _direction: Direction,
  ): Promise<boolean> {
    const prev = this.known.get(name.toString());
    return !prev || prev.equals(key);
  }
  async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.known.get(name.toString()) ?? null;
  }
}

class MemSessionStore extends SessionStore {
  private readonly sessions = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.sessions.set(name.toString(), record.serialize());
  }
  async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const b = this.sessions.get(name.toString());
    return b ? SessionRecord.deserialize(b) : null;
  }
  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((a) => {
      const b = this.sessions.get(a.toString());
      if (!b) throw new Error(`no session for ${a.toString()}`);
      return SessionRecord.deserialize(b);
    });
  }
}

class MemPreKeyStore extends PreKeyStore {
  private readonly keys = new Map<number, Uint8Array<ArrayBuffer>>();
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.keys.set(id, record.serialize());
  }
  async getPreKey(id: number): Promise<PreKeyRecord> {
    const b = this.keys.get(id);
    if (!b) throw new Error(`no prekey ${id}`);
    return PreKeyRecord.deserialize(b);
  }
  async removePreKey(id: number): Promise<void> {
    this.keys.delete(id);
  }
}

class MemSignedPreKeyStore extends SignedPreKeyStore {
  private readonly keys = new Map<number, Uint8Array<ArrayBuffer>>();
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.keys.set(id, record.serialize());
  }
  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const b = this.keys.get(id);
    if (!b) throw new Error(`no signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(b);
  }
}

class MemKyberPreKeyStore extends KyberPreKeyStore {
  private readonly keys = new Map<number, Uint8Array<ArrayBuffer>>();
  readonly used = new Set<string>();
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.keys.set(id, record.serialize());
  }
  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const b = this.keys.get(id);
    if (!b) throw new Error(`no kyber prekey ${id}`);
    return KyberPreKeyRecord.deserialize(b);
  }
  async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    // A last-resort Kyber key stays; a one-time one would be deleted. Replays of the same base
    // key are rejected, as libsignal's own test store does.
    const tag = `${id}:${signedPreKeyId}:${Buffer.from(baseKey.serialize()).toString('hex')}`;
    if (this.used.has(tag)) throw new Error('kyber prekey reused with the same base key');
    this.used.add(tag);
  }
}

class MemSenderKeyStore extends SenderKeyStore {
  private readonly keys = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSenderKey(sender: ProtocolAddress, id: Uuid, record: SenderKeyRecord): Promise<void> {
    this.keys.set(`${sender.toString()}|${id}`, record.serialize());
  }
  async getSenderKey(sender: ProtocolAddress, id: Uuid): Promise<SenderKeyRecord | null> {
    const b = this.keys.get(`${sender.toString()}|${id}`);
    return b ? SenderKeyRecord.deserialize(b) : null;
  }
}

interface Party {
  address: ProtocolAddress;
  identity: IdentityKeyPair;
  identityStore: MemIdentityStore;
  sessions: MemSessionStore;
  preKeys: MemPreKeyStore;
  signedPreKeys: MemSignedPreKeyStore;
  kyberPreKeys: MemKyberPreKeyStore;
  senderKeys: MemSenderKeyStore;
}

let partyCounter = 0;
function makeParty(name: string): Party {
  const identity = IdentityKeyPair.generate();
  const registrationId = 1 + (++partyCounter % 16000);
  return {
    address: ProtocolAddress.new(`${name}-${partyCounter}`, 1),
    identity,
    identityStore: new MemIdentityStore(identity, registrationId),
    sessions: new MemSessionStore(),
    preKeys: new MemPreKeyStore(),
    signedPreKeys: new MemSignedPreKeyStore(),
    kyberPreKeys: new MemKyberPreKeyStore(),
    senderKeys: new MemSenderKeyStore(),
  };
}

/** Bob's published bundle: signed prekey, one-time prekey and signed Kyber prekey (PQXDH). */
async function makeBundle(p: Party): Promise<PreKeyBundle> {
  const preKeyId = 1;
  const signedPreKeyId = 1;
  const kyberPreKeyId = 1;
  const preKey = PrivateKey.generate();
  const signedPreKey = PrivateKey.generate();
  const spkSignature = p.identity.privateKey.sign(signedPreKey.getPublicKey().serialize());
  const kyber = KEMKeyPair.generate();
  const kyberSignature = p.identity.privateKey.sign(kyber.getPublicKey().serialize());
  await p.preKeys.savePreKey(preKeyId, PreKeyRecord.new(preKeyId, preKey.getPublicKey(), preKey));
  await p.signedPreKeys.saveSignedPreKey(
    signedPreKeyId,
    SignedPreKeyRecord.new(
      signedPreKeyId,
      Date.now(),
      signedPreKey.getPublicKey(),
      signedPreKey,
      spkSignature,
    ),
  );
  await p.kyberPreKeys.saveKyberPreKey(
    kyberPreKeyId,
    KyberPreKeyRecord.new(kyberPreKeyId, Date.now(), kyber, kyberSignature),
  );
  return PreKeyBundle.new(
    await p.identityStore.getLocalRegistrationId(),
    p.address.deviceId(),
    preKeyId,
    preKey.getPublicKey(),
    signedPreKeyId,
    signedPreKey.getPublicKey(),
    spkSignature,
    p.identity.publicKey,
    kyberPreKeyId,
    kyber.getPublicKey(),
    kyberSignature,
  );
}

/** Alice and Bob with a session started by Alice from Bob's bundle (no message sent yet). */
async function makePair(): Promise<[Party, Party]> {
  const alice = makeParty('alice');
  const bob = makeParty('bob');
  await SignalClient.processPreKeyBundle(
    await makeBundle(bob),
    bob.address,
    alice.address,
    alice.sessions,
    alice.identityStore,
  );
  return [alice, bob];
}

interface Wire {
  type: number;
  bytes: Uint8Array<ArrayBuffer>;
}

async function encrypt(from: Party, to: Party, plaintext: Uint8Array<ArrayBuffer>): Promise<Wire> {
  const m = await SignalClient.signalEncrypt(
    plaintext,
    to.address,
    from.address,
    from.sessions,
    from.identityStore,
  );
  return { type: m.type(), bytes: m.serialize() };
}

/** The decrypt call: from the bytes as transmitted (plus the envelope's type) to plaintext. */
async function decrypt(at: Party, from: Party, w: Wire): Promise<Uint8Array<ArrayBuffer>> {
  if (w.type === CiphertextMessageType.PreKey) {
    return SignalClient.signalDecryptPreKey(
      PreKeySignalMessage.deserialize(w.bytes),
      from.address,
      at.address,
      at.sessions,
      at.identityStore,
      at.preKeys,
      at.signedPreKeys,
      at.kyberPreKeys,
    );
  }
  check(w.type === CiphertextMessageType.Whisper, `unexpected message type ${w.type}`);
  return SignalClient.signalDecrypt(
    SignalMessage.deserialize(w.bytes),
    from.address,
    at.address,
    at.sessions,
    at.identityStore,
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

interface PingPongRun {
  wallMs: number;
  decryptMs: number;
  sizes: number[];
  types: number[];
}

async function pingPong(messages: number, now: () => number): Promise<PingPongRun> {
  const [alice, bob] = await makePair();
  const plaintexts = Array.from({ length: messages }, (_, i) => messageBytes(i));
  const sizes: number[] = [];
  const types: number[] = [];
  let decryptMs = 0;
  const t0 = now();
  for (let i = 0; i < messages; i++) {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice];
    const w = await encrypt(from, to, plaintexts[i]!);
    const d0 = now();
    const out = await decrypt(to, from, w);
    decryptMs += now() - d0;
    sizes.push(w.bytes.length);
    types.push(w.type);
    check(sameBytes(out, plaintexts[i]!), `libsignal plaintext mismatch at ${i}`);
  }
  return { wallMs: now() - t0, decryptMs, sizes, types };
}

async function group(messages: number, now: () => number): Promise<number> {
  const alice = makeParty('alice');
  const bob = makeParty('bob');
  const distributionId: Uuid = randomUUID();
  // The distribution message travels (in Signal, over the pairwise session) as bytes.
  const skdm = await SenderKeyDistributionMessage.create(
    alice.address,
    distributionId,
    alice.senderKeys,
  );
  await SignalClient.processSenderKeyDistributionMessage(
    alice.address,
    SenderKeyDistributionMessage.deserialize(skdm.serialize()),
    bob.senderKeys,
  );
  let ms = 0;
  for (let i = 0; i < messages; i++) {
    const pt = messageBytes(i);
    const ct = (
      await SignalClient.groupEncrypt(alice.address, distributionId, alice.senderKeys, pt)
    ).serialize();
    const d0 = now();
    const out = await SignalClient.groupDecrypt(alice.address, bob.senderKeys, ct);
    ms += now() - d0;
    check(sameBytes(out, pt), `libsignal group plaintext mismatch at ${i}`);
  }
  return ms;
}

export function libsignalVersion(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('@signalapp/libsignal-client/package.json');
  return (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
}

/**
 * PQXDH setups: Alice processes Bob's bundle (made ahead, Kyber key generation not counted),
 * encrypts a 200-byte text, Bob decrypts the PreKey message. Median per setup.
 */
async function setups(n: number, now: () => number) {
  const text = new TextEncoder().encode('x'.repeat(200)) as Uint8Array<ArrayBuffer>;
  const ready: [Party, Party, PreKeyBundle][] = [];
  for (let i = 0; i < n; i++) {
    const alice = makeParty('alice');
    const bob = makeParty('bob');
    ready.push([alice, bob, await makeBundle(bob)]);
  }
  const times: number[] = [];
  for (const [alice, bob, bundle] of ready) {
    const t0 = now();
    await SignalClient.processPreKeyBundle(
      bundle,
      bob.address,
      alice.address,
      alice.sessions,
      alice.identityStore,
    );
    const w = await encrypt(alice, bob, text);
    const got = await decrypt(bob, alice, w);
    times.push(now() - t0);
    check(got.length === 200, 'libsignal setup round trip');
  }
  return { sessions: n, msPerSetup: median(times), postQuantum: true };
}

export async function runLibsignal(options: BenchOptions): Promise<LibraryResult> {
  const o = withDefaults(options);
  const result: LibraryResult = {
    id: 'libsignal-node',
    label: 'libsignal-client (Node)',
    runtime: `Node ${process.version}`,
    versions: { '@signalapp/libsignal-client': libsignalVersion(), node: process.version },
    runs: o.runs,
    notes: [],
  };
  // Warm-up on throw-away parties.
  await pingPong(o.warmupMessages, o.now);
  await group(o.warmupMessages, o.now);

  const pp: number[] = [];
  let sizes: PingPongRun | undefined;
  for (let r = 0; r < o.runs; r++) {
    const run = await pingPong(o.pingPongMessages, o.now);
    pp.push(run.wallMs);
    sizes ??= run;
  }
  const ppMs = median(pp);
  result.pingPong = {
    messages: o.pingPongMessages,
    ms: ppMs,
    msgsPerSec: (o.pingPongMessages / ppMs) * 1000,
  };

  const hist: number[] = [];
  for (let r = 0; r < o.runs; r++) hist.push((await pingPong(o.historyMessages, o.now)).decryptMs);
  result.decryptHistory = { messages: o.historyMessages, ms: median(hist) };

  const grp: number[] = [];
  for (let r = 0; r < o.runs; r++) grp.push(await group(o.groupMessages, o.now));
  const gMs = median(grp);
  result.groupDecrypt = {
    members: 2,
    messages: o.groupMessages,
    decrypts: o.groupMessages,
    ms: gMs,
    msgsPerSec: (o.groupMessages / gMs) * 1000,
  };

  result.setup = await setups(SETUPS, o.now);

  const s = sizes!;
  check(s.types[0] === CiphertextMessageType.PreKey, 'first libsignal message is a PreKey message');
  const later = s.sizes.slice(2);
  result.size = { unit: 'bytes', first: s.sizes[0]!, ...sizeStats(later) };
  result.notes.push(
    'PQXDH session (X25519 + ML-KEM-1024 Kyber prekey), so the first message carries a KEM ciphertext; ' +
      'later messages carry the SPQR post-quantum ratchet field, hence their size range.',
    'Stores keep records serialized (as libsignal’s own test stores and a persistent store do).',
  );
  return result;
}

if (isMain(import.meta.url)) {
  try {
    printResult(await runLibsignal(optionsFromEnv()));
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
  }
}
