// The Veil benchmark suite: one pure function, no Node or browser APIs, so the same code runs
// in Node (bench/veil-node.ts) and bundled into a headless Chromium page
// (bench/veil-chromium.ts). It drives Veil only through its high-level API
// (extension/protocol/veil.ts): create identities, start sessions from published bundles,
// encrypt to armored chunks, decrypt armored chunks (one call per message, or a page's worth
// with decryptMany for the group figure) — exactly what the extension calls.
//
// `api` defaults to the real Veil and MemoryStore; a stand-in can be passed to test the harness.
import type { CryptoProvider } from '../extension/protocol/crypto/provider';
import { MemoryStore, type ProtocolStore } from '../extension/protocol/store';
import { Veil } from '../extension/protocol/veil';
import {
  SETUPS,
  check,
  makeMessage,
  median,
  sizeStats,
  withDefaults,
  type BenchOptions,
  type DecryptHistoryResult,
  type GroupResult,
  type PingPongResult,
  type SetupResult,
  type SizeResult,
} from './common';

// ---- the slice of the Veil API the suite uses (structural, mirrors extension/protocol/veil.ts) ----

export interface VeilSignedPrekey {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}
export interface VeilPublishedIdentity {
  handle: string;
  identityKey: Uint8Array;
  signedPrekey: VeilSignedPrekey;
  oneTimePrekeys: { id: number; publicKey: Uint8Array }[];
  /** Absent in builds before post-quantum setup. */
  kemPrekeys?: { lastResort: VeilKemPrekey; oneTime: VeilKemPrekey[] };
}
export interface VeilPrekeyBundle {
  handle: string;
  identityKey: Uint8Array;
  signedPrekey: VeilSignedPrekey;
  oneTimePrekey?: { id: number; publicKey: Uint8Array };
  kemPrekey?: VeilKemPrekey;
}
export interface VeilKemPrekey {
  id: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
  lastResort: boolean;
}
export interface VeilDecrypted {
  sender?: string;
  plaintext?: string;
  status: 'verified' | 'unverified' | 'key-changed' | 'failed' | string;
  error?: string;
}
export interface VeilInstance {
  createIdentity(handle: string): Promise<{ handle: string; identityKey: Uint8Array }>;
  publicBundle(opts?: {
    oneTimePrekeys?: number;
    kemPrekeys?: number;
  }): Promise<VeilPublishedIdentity>;
  startSession(bundle: VeilPrekeyBundle, opts?: { deviceId?: number }): Promise<void>;
  /** Linked devices (builds that have them). */
  linkDevice?(deviceKey: Uint8Array): Promise<unknown>;
  joinAccount?(list: never, accountKey: Uint8Array): Promise<unknown>;
  setContactDevices?(handle: string, list: never): Promise<unknown>;
  /** Pins a key, as the user does once the directory showed it (receivers need the sender's). */
  addContact(handle: string, identityKey: Uint8Array): Promise<unknown>;
  getIdentity(): Promise<{ handle: string; identityKey: Uint8Array } | undefined>;
  encrypt(
    conv: { context: string; recipients: string[] },
    plaintext: string,
    opts?: { maxChunkLength?: number },
  ): Promise<string[]>;
  decrypt(context: string, armored: string): Promise<VeilDecrypted>;
  /** Many whole messages of one context in order (a page load); optional for stand-ins. */
  decryptMany?(context: string, armored: string[]): Promise<VeilDecrypted[]>;
}
export interface VeilApi {
  Veil: {
    create(opts: {
      store: ProtocolStore;
      crypto?: CryptoProvider;
      clock?: () => number;
    }): Promise<VeilInstance>;
  };
  MemoryStore: new () => ProtocolStore;
}

/** The real API; the structural types above must accept it (checked by tsc here). */
export const veilApi: VeilApi = { Veil, MemoryStore };

export interface VeilSuiteOptions extends BenchOptions {
  /** Default: the real Veil (extension/protocol/veil.ts) and MemoryStore. */
  api?: VeilApi;
  crypto: CryptoProvider;
  /** Passed to encrypt; default: Veil's own default. */
  maxChunkLength?: number;
}

export interface VeilSuiteResult {
  provider: string;
  pingPong: PingPongResult;
  decryptHistory: DecryptHistoryResult;
  /** Receivers decrypt the page's messages with decryptMany (decrypt calls without it). */
  groupDecrypt: GroupResult;
  /** Receivers decrypt each message with its own decrypt call, as it arrives. */
  groupDecryptEach: GroupResult;
  size: SizeResult;
  setup: SetupResult;
  runs: number;
  notes: string[];
}

// ---- parties ----

let runCounter = 0;

async function party(o: VeilSuiteOptions, handle: string): Promise<VeilInstance> {
  const api = o.api ?? veilApi;
  // A real clock, as the extension passes (the signed-prekey rotation reads it).
  const v = await api.Veil.create({
    store: new api.MemoryStore(),
    crypto: o.crypto,
    clock: Date.now,
  });
  await v.createIdentity(handle);
  return v;
}

/** What the directory hands out: with a one-time KEM prekey where the build makes them. */
async function bundleOf(v: VeilInstance): Promise<VeilPrekeyBundle> {
  const pub = await v.publicBundle({ oneTimePrekeys: 1, kemPrekeys: 1 });
  const kem = pub.kemPrekeys?.oneTime[0];
  return {
    handle: pub.handle,
    identityKey: pub.identityKey,
    signedPrekey: pub.signedPrekey,
    oneTimePrekey: pub.oneTimePrekeys[0],
    ...(kem ? { kemPrekey: kem } : {}),
  };
}

/**
 * Setups as libsignal-bench's: Alice starts from Bob's bundle (made ahead, key generation not
 * counted), encrypts a 200-byte text, Bob decrypts it. Median per setup.
 */
async function setups(o: VeilSuiteOptions, n: number) {
  const ready: [VeilInstance, VeilInstance, VeilPrekeyBundle, string][] = [];
  for (let i = 0; i < n; i++) {
    const id = ++runCounter;
    const alice = await party(o, `alice${id}`);
    const bob = await party(o, `bob${id}`);
    await pinAll(alice, bob);
    ready.push([alice, bob, await bundleOf(bob), `bob${id}`]);
  }
  const text = makeMessage(0);
  const times: number[] = [];
  let postQuantum = true;
  for (const [alice, bob, bundle, to] of ready) {
    postQuantum &&= bundle.kemPrekey !== undefined;
    const t0 = o.now();
    await alice.startSession(bundle);
    const chunks = await alice.encrypt({ context: 'bench:setup', recipients: [to] }, text);
    const got = await bob.decrypt('bench:setup', chunks.join('\n'));
    times.push(o.now() - t0);
    if (got.plaintext !== text) throw new Error(`Veil setup round trip: ${got.status}`);
  }
  return { sessions: n, msPerSetup: median(times), postQuantum };
}

/**
 * Later 200-byte messages from Alice to Bob on `devices` browsers (one account key; the others
 * linked): sessions answered by every device first, median of 5. Undefined for builds without
 * linked devices.
 */
async function deviceSizes(o: VeilSuiteOptions, devices: number): Promise<number | undefined> {
  const id = ++runCounter;
  const alice = await party(o, `alice${id}`);
  const bobs = [await party(o, `bob${id}`)];
  if (typeof bobs[0]!.linkDevice !== 'function') return undefined;
  for (let i = 1; i < devices; i++) bobs.push(await party(o, `bob${id}`));
  const bobKey = (await bobs[0]!.getIdentity())!.identityKey;
  let list: unknown;
  for (const b of bobs.slice(1))
    list = await bobs[0]!.linkDevice!((await b.getIdentity())!.identityKey);
  for (const b of bobs.slice(1)) await b.joinAccount!(list as never, bobKey);
  await pinAll(alice, bobs[0]!);
  for (const b of bobs.slice(1))
    await b.addContact(`alice${id}`, (await alice.getIdentity())!.identityKey);
  if (list) await alice.setContactDevices!(`bob${id}`, list as never);
  for (const [i, b] of bobs.entries())
    await alice.startSession(await bundleOf(b), i === 0 ? {} : { deviceId: i + 1 });
  const ctx = 'bench:devices';
  const text = makeMessage(0);
  // Every device answers, so Alice's wraps are plain key wraps (no pre-key headers).
  const first = (await alice.encrypt({ context: ctx, recipients: [`bob${id}`] }, text)).join('\n');
  for (const b of bobs) {
    if ((await b.decrypt(ctx, first)).plaintext !== text) throw new Error('fan-out round trip');
    const answer = await b.encrypt({ context: ctx, recipients: [`alice${id}`] }, text);
    await alice.decrypt(ctx, answer.join('\n'));
  }
  const sizes: number[] = [];
  for (let k = 0; k < 5; k++)
    sizes.push(chars(await alice.encrypt({ context: ctx, recipients: [`bob${id}`] }, text)));
  return median(sizes);
}

/**
 * A 200-byte group message from Alice to Bob and Carol, each on `devices` browsers: the first
 * (the sender key and member list to every device, sessions answered) and a later one. Undefined
 * for builds without linked devices.
 */
async function groupDeviceSizes(
  o: VeilSuiteOptions,
  devices: number,
): Promise<{ first: number; later: number } | undefined> {
  const id = ++runCounter;
  const alice = await party(o, `alice${id}`);
  if (typeof alice.linkDevice !== 'function') return undefined;
  const aliceKey = (await alice.getIdentity())!.identityKey;
  const members: VeilInstance[] = [];
  for (const handle of [`bob${id}`, `carol${id}`]) {
    const browsers = [await party(o, handle)];
    for (let i = 1; i < devices; i++) browsers.push(await party(o, handle));
    const key = (await browsers[0]!.getIdentity())!.identityKey;
    let list: unknown;
    for (const b of browsers.slice(1))
      list = await browsers[0]!.linkDevice!((await b.getIdentity())!.identityKey);
    for (const b of browsers.slice(1)) await b.joinAccount!(list as never, key);
    await alice.addContact(handle, key);
    if (list) await alice.setContactDevices!(handle, list as never);
    for (const [i, b] of browsers.entries()) {
      await b.addContact(`alice${id}`, aliceKey);
      await alice.startSession(await bundleOf(b), i === 0 ? {} : { deviceId: i + 1 });
    }
    members.push(...browsers);
  }
  const ctx = 'bench:group-devices';
  const text = makeMessage(0);
  // Every device answers a direct message, so the pairwise parts carry no pre-key headers.
  for (const handle of [`bob${id}`, `carol${id}`]) {
    const hello = (
      await alice.encrypt({ context: `dm:${handle}`, recipients: [handle] }, text)
    ).join('\n');
    for (const b of members) {
      if ((await b.getIdentity())!.handle !== handle) continue;
      await b.decrypt(`dm:${handle}`, hello);
      const answer = await b.encrypt({ context: `dm:${handle}`, recipients: [`alice${id}`] }, text);
      await alice.decrypt(`dm:${handle}`, answer.join('\n'));
    }
  }
  const recipients = [`bob${id}`, `carol${id}`];
  const first = await alice.encrypt({ context: ctx, recipients }, text);
  const later = await alice.encrypt({ context: ctx, recipients }, text);
  for (const b of members)
    for (const m of [first, later])
      if ((await b.decrypt(ctx, m.join('\n'))).plaintext !== text)
        throw new Error('group fan-out round trip');
  return { first: chars(first), later: chars(later) };
}

/** Each pins the others' keys (what the directory lookup and "add contact" do in the extension). */
async function pinAll(...parties: VeilInstance[]): Promise<void> {
  const ids = await Promise.all(parties.map((p) => p.getIdentity()));
  for (const [i, p] of parties.entries())
    for (const [j, id] of ids.entries())
      if (i !== j) await p.addContact(id!.handle, id!.identityKey);
}

function chars(chunks: string[]): number {
  return chunks.reduce((n, c) => n + c.length, 0);
}

/**
 * Decrypts one message (Veil's decrypt takes the whole armored text: all its chunks; with the
 * default unlimited chunk length that is one chunk) and checks the result. Returns the time
 * spent inside the decrypt call.
 */
async function receive(
  o: VeilSuiteOptions,
  at: VeilInstance,
  context: string,
  chunks: string[],
  expected: { sender: string; plaintext: string },
  what: string,
): Promise<number> {
  check(chunks.length > 0, `${what}: no chunks`);
  const text = chunks.join('\n');
  const t0 = o.now();
  const last = await at.decrypt(context, text);
  const ms = o.now() - t0;
  check(
    last.status === 'verified' || last.status === 'unverified',
    `${what}: status ${last.status}${last.error ? ` (${last.error})` : ''}`,
  );
  check(last.plaintext === expected.plaintext, `${what}: plaintext mismatch`);
  check(
    last.sender === undefined || last.sender === expected.sender,
    `${what}: sender ${last.sender}`,
  );
  return ms;
}

interface PingPongRun {
  wallMs: number;
  decryptMs: number;
  sizes: number[];
  chunkCounts: number[];
}

async function pingPong(o: VeilSuiteOptions, messages: number): Promise<PingPongRun> {
  const id = ++runCounter;
  const alice = await party(o, `alice${id}`);
  const bob = await party(o, `bob${id}`);
  await pinAll(alice, bob);
  await alice.startSession(await bundleOf(bob));
  const context = `bench:1to1/${id}`;
  const toBob = { context, recipients: [`bob${id}`] };
  const toAlice = { context, recipients: [`alice${id}`] };
  const encOpts = o.maxChunkLength ? { maxChunkLength: o.maxChunkLength } : undefined;
  const texts = Array.from({ length: messages }, (_, i) => makeMessage(i));
  const sizes: number[] = [];
  const chunkCounts: number[] = [];
  let decryptMs = 0;
  const t0 = o.now();
  for (let i = 0; i < messages; i++) {
    const aliceSends = i % 2 === 0;
    const [from, to, conv] = aliceSends ? [alice, bob, toBob] : [bob, alice, toAlice];
    const chunks = await from.encrypt(conv, texts[i]!, encOpts);
    decryptMs += await receive(
      o,
      to,
      context,
      chunks,
      { sender: aliceSends ? `alice${id}` : `bob${id}`, plaintext: texts[i]! },
      `Veil 1:1 message ${i}`,
    );
    sizes.push(chars(chunks));
    chunkCounts.push(chunks.length);
  }
  return { wallMs: o.now() - t0, decryptMs, sizes, chunkCounts };
}

interface GroupRun {
  decryptMs: number;
  decrypts: number;
  sizes: number[];
}

/** Checks a decrypted group message. */
function checkGroup(
  r: VeilDecrypted,
  expected: { sender: string; plaintext: string },
  what: string,
) {
  check(
    r.status === 'verified' || r.status === 'unverified',
    `${what}: status ${r.status}${r.error ? ` (${r.error})` : ''}`,
  );
  check(r.plaintext === expected.plaintext, `${what}: plaintext mismatch`);
  check(r.sender === undefined || r.sender === expected.sender, `${what}: sender ${r.sender}`);
}

/**
 * Alice sends to Bob and Carol; only the receivers' decrypt calls after message 0 are timed.
 * `batch`: Alice sends all messages first, then each receiver decrypts them with one
 * decryptMany call (what the extension does when a page with many messages loads). Otherwise
 * each receiver decrypts every message with its own decrypt call as it arrives.
 */
async function group(o: VeilSuiteOptions, messages: number, batch: boolean): Promise<GroupRun> {
  const id = ++runCounter;
  const [a, b, c] = [`alice${id}`, `bob${id}`, `carol${id}`];
  const alice = await party(o, a);
  const bob = await party(o, b);
  const carol = await party(o, c);
  await pinAll(alice, bob, carol);
  await alice.startSession(await bundleOf(bob));
  await alice.startSession(await bundleOf(carol));
  const context = `bench:group/${id}`;
  const conv = { context, recipients: [b, c] };
  const encOpts = o.maxChunkLength ? { maxChunkLength: o.maxChunkLength } : undefined;
  // Message 0 carries the sender-key distribution (over the pairwise sessions): not timed.
  const first = makeMessage(0);
  const firstChunks = await alice.encrypt(conv, first, encOpts);
  for (const r of [bob, carol])
    await receive(o, r, context, firstChunks, { sender: a, plaintext: first }, 'Veil group 0');
  let decryptMs = 0;
  let decrypts = 0;
  const sizes: number[] = [];
  if (batch) {
    const texts: string[] = [];
    const armored: string[] = [];
    for (let i = 1; i <= messages; i++) {
      const text = makeMessage(i);
      const chunks = await alice.encrypt(conv, text, encOpts);
      sizes.push(chars(chunks));
      texts.push(text);
      armored.push(chunks.join('\n'));
    }
    for (const r of [bob, carol]) {
      const t0 = o.now();
      const results = await r.decryptMany!(context, armored);
      decryptMs += o.now() - t0;
      check(results.length === armored.length, 'group batch: result count');
      results.forEach((x, i) =>
        checkGroup(x, { sender: a, plaintext: texts[i]! }, `group batch ${i + 1}`),
      );
      decrypts += armored.length;
    }
    return { decryptMs, decrypts, sizes };
  }
  for (let i = 1; i <= messages; i++) {
    const text = makeMessage(i);
    const chunks = await alice.encrypt(conv, text, encOpts);
    sizes.push(chars(chunks));
    for (const r of [bob, carol]) {
      decryptMs += await receive(
        o,
        r,
        context,
        chunks,
        { sender: a, plaintext: text },
        `group ${i}`,
      );
      decrypts++;
    }
  }
  return { decryptMs, decrypts, sizes };
}

function groupResult(runs: GroupRun[], messages: number): GroupResult {
  const ms = median(runs.map((g) => g.decryptMs));
  const decrypts = runs[0]!.decrypts;
  return { members: 3, messages, decrypts, ms, msgsPerSec: (decrypts / ms) * 1000 };
}

export async function runVeilSuite(options: VeilSuiteOptions): Promise<VeilSuiteResult> {
  const o = { ...options, ...withDefaults(options) };
  const batch = typeof (await party(o, `probe${++runCounter}`)).decryptMany === 'function';
  // Warm-up (JIT, key caches) on throw-away parties.
  await pingPong(o, o.warmupMessages);
  await group(o, Math.ceil(o.warmupMessages / 2), false);
  if (batch) await group(o, Math.ceil(o.warmupMessages / 2), true);

  const pp: PingPongRun[] = [];
  for (let r = 0; r < o.runs; r++) pp.push(await pingPong(o, o.pingPongMessages));
  const ppMs = median(pp.map((r) => r.wallMs));

  const hist: number[] = [];
  for (let r = 0; r < o.runs; r++) hist.push((await pingPong(o, o.historyMessages)).decryptMs);

  const grpEach: GroupRun[] = [];
  const grp: GroupRun[] = [];
  for (let r = 0; r < o.runs; r++) {
    grpEach.push(await group(o, o.groupMessages, false));
    if (batch) grp.push(await group(o, o.groupMessages, true));
  }

  const setup = await setups(o, SETUPS);
  const devices: number[] = [];
  for (const n of [1, 2, 3]) {
    const size = await deviceSizes(o, n);
    if (size !== undefined) devices.push(size);
  }

  const groupDevices: { devices: number; first: number; later: number }[] = [];
  for (const n of [1, 2]) {
    const size = await groupDeviceSizes(o, n);
    if (size) groupDevices.push({ devices: n, ...size });
  }

  const s = pp[0]!;
  return {
    setup,
    provider: o.crypto.name,
    runs: o.runs,
    pingPong: {
      messages: o.pingPongMessages,
      ms: ppMs,
      msgsPerSec: (o.pingPongMessages / ppMs) * 1000,
    },
    decryptHistory: { messages: o.historyMessages, ms: median(hist) },
    groupDecrypt: groupResult(batch ? grp : grpEach, o.groupMessages),
    groupDecryptEach: groupResult(grpEach, o.groupMessages),
    size: {
      unit: 'chars',
      first: s.sizes[0]!,
      ...sizeStats(s.sizes.slice(2)),
      group: median(grpEach[0]!.sizes),
      ...(devices.length ? { devices } : {}),
      ...(groupDevices.length ? { groupDevices } : {}),
      chunksFirst: s.chunkCounts[0]!,
      chunksLater: median(s.chunkCounts.slice(2)),
    },
    notes: batch
      ? []
      : ['this Veil API has no decryptMany: the group figure is one decrypt call per message'],
  };
}
