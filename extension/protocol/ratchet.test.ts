// Double Ratchet behaviour over real sessions: ordering, limits, tampering, immutability of
// state on failure, forward secrecy and post-compromise security, envelope sizes.
import fc from 'fast-check';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider } from './crypto/provider';
import { toBase64Url } from './encoding';
import {
  decodeEnvelope,
  encodeRatchetMessage,
  parseRatchetMessage,
  type PrekeyMessage,
} from './envelope';
import { VeilError, type VeilErrorCode } from './errors';
import {
  createOneTimePrekeys,
  createSignedPrekey,
  generateIdentity,
  oneTimePrekeyPublic,
  signedPrekeyPublic,
  type IdentityKeyPair,
  type OneTimePrekey,
  type SignedPrekey,
} from './identity';
import { decodePlaintext, encodePlaintext } from './plaintext';
import {
  RATCHET_MAX_FIRST_JUMP,
  RATCHET_MAX_FORWARD_JUMP,
  RATCHET_MAX_SKIPPED_KEYS,
  initInitiator,
  initResponder,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
} from './ratchet';
import {
  createInitiatorSession,
  sessionDecrypt,
  sessionEncrypt,
  sessionFromPrekeyMessage,
  type SessionRecord,
} from './session';
import { x3dhInitiate, x3dhRespond } from './x3dh';

const crypto = nobleProvider;

// Every HMAC the ratchet computes (chain steps, header MACs), counted: the work a block causes.
const hmacCalls = vi.hoisted(() => ({ n: 0 }));
vi.mock('./kdf', async (importOriginal) => {
  const real = await importOriginal<typeof import('./kdf')>();
  class CountingHmac extends real.HmacSha256 {
    override mac(data: Uint8Array, out?: Uint8Array, offset?: number): Uint8Array {
      hmacCalls.n++;
      return super.mac(data, out, offset);
    }
  }
  return {
    ...real,
    HmacSha256: CountingHmac,
    hmacSha256: (key: Uint8Array, data: Uint8Array) => {
      hmacCalls.n++;
      return real.hmacSha256(key, data);
    },
  };
});

function countHmacs(): { stop(): number } {
  const start = hmacCalls.n;
  return { stop: () => hmacCalls.n - start };
}

let aliceId: IdentityKeyPair;
let bobId: IdentityKeyPair;
let spk: SignedPrekey;
let opk: OneTimePrekey;

beforeAll(async () => {
  aliceId = await generateIdentity(crypto);
  bobId = await generateIdentity(crypto);
  spk = await createSignedPrekey(crypto, bobId, 1, 0);
  [opk] = (await createOneTimePrekeys(crypto, 1, 1)) as [OneTimePrekey];
});

// ---- helpers ----

const encode = (text: string) => encodePlaintext([{ type: 'text', text }]);

function textOf(padded: Uint8Array): string {
  const [record] = decodePlaintext(padded);
  if (record?.type !== 'text') throw new Error('no text record');
  return record.text;
}

async function send(record: SessionRecord, text: string) {
  return sessionEncrypt(crypto, record, encode(text));
}

/** What the background does with incoming bytes for an existing session. */
async function receive(record: SessionRecord, bytes: Uint8Array) {
  const envelope = decodeEnvelope(bytes);
  if (envelope.type !== 1 && envelope.type !== 2)
    throw new VeilError('no-session', 'not a 1:1 envelope');
  const out = await sessionDecrypt(crypto, record, envelope);
  return { record: out.record, text: textOf(out.plaintext) };
}

/** Alice starts a session with Bob; Bob reads her first message and answers once. */
async function establish(): Promise<{ alice: SessionRecord; bob: SessionRecord }> {
  let alice = await createInitiatorSession(crypto, {
    ourIdentity: aliceId,
    theirBundle: {
      handle: 'bob',
      identityKey: bobId.publicKey,
      signedPrekey: signedPrekeyPublic(spk),
      oneTimePrekey: oneTimePrekeyPublic(opk),
    },
  });
  const first = await send(alice, 'hello bob');
  alice = first.record;
  const prekeyMessage = decodeEnvelope(first.envelope);
  if (prekeyMessage.type !== 1) throw new Error('expected a pre-key message');
  const fromPrekey = await sessionFromPrekeyMessage(
    crypto,
    bobId,
    () => ({ signedPrekey: spk.keyPair, oneTimePrekey: opk.keyPair }),
    prekeyMessage,
  );
  const reply = await send(fromPrekey.record, 'hello alice');
  const got = await receive(alice, reply.envelope);
  expect(got.text).toBe('hello alice');
  return { alice: got.record, bob: reply.record };
}

/** A byte-exact snapshot of plain state, for "unchanged" checks. */
function snapshot(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? bytesToHex(v) : v));
}

async function codeOf(p: Promise<unknown>): Promise<VeilErrorCode | 'none'> {
  try {
    await p;
    return 'none';
  } catch (e) {
    if (e instanceof VeilError) return e.code;
    throw e;
  }
}

/** Every byte array inside a value (keys, chain keys, message keys, …). */
function byteArrays(value: unknown, out: Uint8Array[] = []): Uint8Array[] {
  if (value instanceof Uint8Array) out.push(value);
  else if (Array.isArray(value)) for (const v of value) byteArrays(v, out);
  else if (value && typeof value === 'object')
    for (const v of Object.values(value)) byteArrays(v, out);
  return out;
}

/** Moves a sending chain `steps` counters on without sending, by the documented KDF_CK. */
function fastForward(state: RatchetState, steps: number): RatchetState {
  let ck = state.sendChainKey!;
  for (let i = 0; i < steps; i++) ck = hmac(sha256, ck, Uint8Array.of(0x02));
  return { ...state, sendChainKey: ck, sendCounter: state.sendCounter + steps };
}

function countingProvider(): CryptoProvider & { calls: number } {
  const p = {
    ...crypto,
    calls: 0,
    async x25519Generate() {
      p.calls++;
      return crypto.x25519Generate();
    },
    async x25519(privateKey: Uint8Array, publicKey: Uint8Array) {
      p.calls++;
      return crypto.x25519(privateKey, publicKey);
    },
  };
  return p;
}

// ---- tests ----

describe('conversations', () => {
  it('ping-pongs 100 messages, a ratchet step each', async () => {
    let { alice, bob } = await establish();
    const seenKeys = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const aliceSends = i % 2 === 0;
      const [from, to] = aliceSends ? [alice, bob] : [bob, alice];
      const text = `message ${i} ${'·'.repeat(i)}`;
      const sent = await send(from, text);
      const m = decodeEnvelope(sent.envelope);
      expect(m.type).toBe(2);
      if (m.type === 2) seenKeys.add(bytesToHex(m.ratchetKey));
      const got = await receive(to, sent.envelope);
      expect(got.text).toBe(text);
      if (aliceSends) [alice, bob] = [sent.record, got.record];
      else [bob, alice] = [sent.record, got.record];
    }
    expect(seenKeys.size).toBe(100);
  });

  it('never seals two messages under one key (the nonce is constant): same text, other bytes', async () => {
    let { alice, bob } = await establish();
    const bodies: string[] = [];
    // Twice in one chain, then after a ratchet step each way.
    for (const from of ['alice', 'alice', 'bob', 'alice'] as const) {
      const sent = await send(from === 'alice' ? alice : bob, 'the same words');
      if (from === 'alice') alice = sent.record;
      else bob = sent.record;
      const got = await receive(from === 'alice' ? bob : alice, sent.envelope);
      if (from === 'alice') bob = got.record;
      else alice = got.record;
      // ciphertext‖tag: the envelope's end, as long as the padded plaintext plus the tag.
      bodies.push(bytesToHex(sent.envelope.slice(-(encode('the same words').length + 16))));
    }
    expect(new Set(bodies).size).toBe(bodies.length);
  });

  it('handles long one-way runs in both directions', async () => {
    let { alice, bob } = await establish();
    for (const [run, aliceSends] of [
      [300, true],
      [250, false],
      [5, true],
      [400, false],
    ] as const) {
      const sent: Uint8Array[] = [];
      for (let i = 0; i < run; i++) {
        const out = await send(aliceSends ? alice : bob, `run ${i}`);
        if (aliceSends) alice = out.record;
        else bob = out.record;
        sent.push(out.envelope);
      }
      for (let i = 0; i < run; i++) {
        const got = await receive(aliceSends ? bob : alice, sent[i]!);
        expect(got.text).toBe(`run ${i}`);
        if (aliceSends) bob = got.record;
        else alice = got.record;
      }
    }
    expect(alice.state.skippedCount + bob.state.skippedCount).toBe(0);
  });

  it('decrypts every message exactly once whatever the delivery order', async () => {
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
    const start = {
      a: initInitiator(x),
      b: initResponder({ ...y, ourSignedPrekey: spk.keyPair }),
    };
    type Flight = { id: number; bytes: Uint8Array };
    // What the runs exercised: new chains, late messages of older chains, gaps within a chain.
    const seen = { steps: 0, olderChain: 0, skippedInChain: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 60, maxLength: 140 }), async (script) => {
        const states = { ...start };
        const inFlight: Record<'a' | 'b', Flight[]> = { a: [], b: [] }; // keyed by recipient
        const delivered: Record<'a' | 'b', Flight[]> = { a: [], b: [] };
        let sent = 0;
        const deliver = async (to: 'a' | 'b', pick: number) => {
          const queue = inFlight[to];
          const [f] = queue.splice(pick % queue.length, 1);
          const m = parseRatchetMessage(f!.bytes);
          const input = states[to];
          const chainAt = input.receiving.findIndex((c) =>
            c.ratchetKey.every((v, i) => v === m.ratchetKey[i]),
          );
          if (chainAt < 0) seen.steps++;
          else if (chainAt < input.receiving.length - 1) seen.olderChain++;
          else if (m.counter < input.receiving[chainAt]!.next) seen.skippedInChain++;
          const before = snapshot(input);
          const out = await ratchetDecrypt(crypto, input, m);
          expect(snapshot(input)).toBe(before); // the input state is never modified
          expect(textOf(out.plaintext)).toBe(`m${f!.id}`);
          states[to] = out.state;
          delivered[to].push(f!);
        };
        const sendFrom = async (from: 'a' | 'b') => {
          const id = sent++;
          const out = await ratchetEncrypt(crypto, states[from], encode(`m${id}`));
          states[from] = out.state;
          inFlight[from === 'a' ? 'b' : 'a'].push({ id, bytes: out.envelope });
        };
        for (const n of script) {
          const action = n % 4;
          const pick = n >> 2;
          if (action === 0 && sent < 30) await sendFrom('a');
          else if (action === 1 && sent < 30 && states.b.theirRatchetKey) await sendFrom('b');
          else if (action === 2 && inFlight.b.length) await deliver('b', pick);
          else if (action === 3 && inFlight.a.length) await deliver('a', pick);
        }
        // Deliver the rest newest first: the most out-of-order tail there is.
        while (inFlight.b.length) await deliver('b', inFlight.b.length - 1);
        while (inFlight.a.length) await deliver('a', inFlight.a.length - 1);
        expect(delivered.a.length + delivered.b.length).toBe(sent);
        // Nothing decrypts twice.
        for (const to of ['a', 'b'] as const)
          for (const f of delivered[to])
            expect(
              await codeOf(ratchetDecrypt(crypto, states[to], parseRatchetMessage(f.bytes))),
            ).toBe('replay');
      }),
      { numRuns: 25 },
    );
    expect(seen.steps).toBeGreaterThan(100);
    expect(seen.olderChain).toBeGreaterThan(10);
    expect(seen.skippedInChain).toBeGreaterThan(10);
  });
});

describe('limits', () => {
  it('rejects a message decrypted before as a replay, in order or skipped', async () => {
    let { alice, bob } = await establish();
    const m = [];
    for (let i = 0; i < 3; i++) {
      const out = await send(alice, `r${i}`);
      alice = out.record;
      m.push(out.envelope);
    }
    bob = (await receive(bob, m[0]!)).record;
    bob = (await receive(bob, m[2]!)).record; // m[1] now a stored skipped key
    expect(await codeOf(receive(bob, m[0]!))).toBe('replay');
    expect(await codeOf(receive(bob, m[2]!))).toBe('replay');
    bob = (await receive(bob, m[1]!)).record;
    expect(await codeOf(receive(bob, m[1]!))).toBe('replay');
  });

  it(`allows a jump of ${RATCHET_MAX_FORWARD_JUMP} and refuses one more`, async () => {
    const { alice, bob } = await establish();
    const sent = await send(alice, 'start of chain');
    const bob1 = (await receive(bob, sent.envelope)).record; // Bob's next counter is 1
    const at = (skip: number) => ({ ...sent.record, state: fastForward(sent.record.state, skip) });
    const far = await send(at(RATCHET_MAX_FORWARD_JUMP), 'far');
    const tooFar = await send(at(RATCHET_MAX_FORWARD_JUMP + 1), 'too far');
    expect(await codeOf(receive(bob1, tooFar.envelope))).toBe('too-far-ahead');
    const got = await receive(bob1, far.envelope);
    expect(got.text).toBe('far');
    expect(got.record.state.skippedCount).toBe(RATCHET_MAX_SKIPPED_KEYS);
  });

  it('refuses a previous-chain length that would skip too many keys', async () => {
    let { alice, bob } = await establish();
    const a0 = await send(alice, 'a0');
    bob = (await receive(bob, a0.envelope)).record;
    const b0 = await send(bob, 'b0');
    // Alice claims her chain ran 25,002 long before she read b0 and started a new one.
    alice = { ...a0.record, state: fastForward(a0.record.state, RATCHET_MAX_FORWARD_JUMP + 1) };
    alice = (await receive(alice, b0.envelope)).record;
    const a1 = await send(alice, 'a1');
    expect(await codeOf(receive(b0.record, a1.envelope))).toBe('too-far-ahead');
  });

  it('keeps at most 2,000 skipped keys, evicting the oldest (too-old)', async () => {
    let { alice, bob } = await establish();
    const chain1: Uint8Array[] = [];
    for (let i = 0; i < 1500; i++) {
      const out = await send(alice, `c1-${i}`);
      alice = out.record;
      chain1.push(out.envelope);
    }
    bob = (await receive(bob, chain1[1499]!)).record; // skips 1,499
    expect(bob.state.skippedCount).toBe(1499);
    const reply = await send(bob, 'turn');
    bob = reply.record;
    alice = (await receive(alice, reply.envelope)).record;
    const chain2: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) {
      const out = await send(alice, `c2-${i}`);
      alice = out.record;
      chain2.push(out.envelope);
    }
    bob = (await receive(bob, chain2[999]!)).record; // 999 more: 498 of chain 1 must go
    expect(bob.state.skippedCount).toBe(RATCHET_MAX_SKIPPED_KEYS);
    expect(await codeOf(receive(bob, chain1[0]!))).toBe('too-old');
    expect(await codeOf(receive(bob, chain1[497]!))).toBe('too-old');
    expect((await receive(bob, chain1[498]!)).text).toBe('c1-498');
    expect((await receive(bob, chain1[1498]!)).text).toBe('c1-1498');
    expect((await receive(bob, chain2[0]!)).text).toBe('c2-0');
    // Decrypted in order before any eviction: still a replay, not too-old.
    expect(await codeOf(receive(bob, chain1[1499]!))).toBe('replay');
  });

  it('says too-old for keys never kept in a jump past 2,000', async () => {
    let { alice, bob } = await establish();
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 2100; i++) {
      const out = await send(alice, `j${i}`);
      alice = out.record;
      sent.push(out.envelope);
    }
    bob = (await receive(bob, sent[2099]!)).record;
    expect(await codeOf(receive(bob, sent[0]!))).toBe('too-old');
    expect(await codeOf(receive(bob, sent[98]!))).toBe('too-old');
    const kept = await receive(bob, sent[99]!);
    expect(kept.text).toBe('j99');
    expect(await codeOf(receive(kept.record, sent[99]!))).toBe('replay');
  });
});

describe('finished chains', () => {
  it('are kept compactly, capped, and still tell replays apart without a DH', async () => {
    let { alice, bob } = await establish();
    const fromAlice: Uint8Array[] = [];
    const fromBob: Uint8Array[] = [];
    for (let i = 0; i < 120; i++) {
      const aliceSends = i % 2 === 0;
      const out = await send(aliceSends ? alice : bob, `turn ${i}`);
      (aliceSends ? fromAlice : fromBob).push(out.envelope);
      const got = await receive(aliceSends ? bob : alice, out.envelope);
      if (aliceSends) [alice, bob] = [out.record, got.record];
      else [bob, alice] = [out.record, got.record];
    }
    const state = bob.state;
    expect(state.receiving).toHaveLength(1); // only the current chain holds anything
    expect(state.retiredRatchetKeys.length).toBe(40 * 32);
    expect(state.retiredChains).toHaveLength(3 * 40);
    expect(state.ourPastRatchetKeys.length).toBe(40 * 32);
    // Few typed arrays whatever the history: structured clone pays per array.
    expect(byteArrays(state).length).toBeLessThanOrEqual(14);

    const counting = countingProvider();
    const read = (record: SessionRecord, env: Uint8Array) =>
      codeOf(sessionDecrypt(counting, record, decodeEnvelope(env) as never));
    expect(await read(bob, fromAlice[50]!)).toBe('replay'); // a retired chain
    expect(await read(bob, fromBob[50]!)).toBe('own-message');
    expect(counting.calls).toBe(0);
    // Beyond the 40 remembered, an old message looks like a new chain and fails its MAC.
    expect(await read(bob, fromAlice[5]!)).toBe('bad-mac');
  });

  it('refuse a message past the announced end of a chain, closed or retired', async () => {
    let { alice, bob } = await establish();
    const a0 = await send(alice, 'a0');
    const a1 = await send(a0.record, 'a1');
    const oldChain = a1.record;
    bob = (await receive(bob, a0.envelope)).record;
    const b0 = await send(bob, 'b0');
    bob = b0.record;
    alice = (await receive(oldChain, b0.envelope)).record;
    const a2 = await send(alice, 'a2'); // new chain, pn = 2
    bob = (await receive(bob, a2.envelope)).record;
    // A message at counter 5 of the old chain, which the peer said ended at 2.
    const beyond = await send({ ...oldChain, state: fastForward(oldChain.state, 3) }, 'forged');
    expect(await codeOf(receive(bob, beyond.envelope))).toBe('bad-mac');
    const late = await receive(bob, a1.envelope); // the last key of the old chain: it retires
    expect(late.text).toBe('a1');
    expect(late.record.state.retiredChains.slice(-3)).toEqual([2, 0, 0]);
    expect(await codeOf(receive(late.record, beyond.envelope))).toBe('bad-mac');
    expect(await codeOf(receive(late.record, a0.envelope))).toBe('replay');
  });
});

describe('tampering', () => {
  /** Alice's message that opens a new chain, after some history (skipped keys, old chains). */
  async function scene() {
    let { alice, bob } = await establish();
    const early = [];
    for (let i = 0; i < 3; i++) {
      const out = await send(alice, `early ${i}`);
      alice = out.record;
      early.push(out.envelope);
    }
    bob = (await receive(bob, early[2]!)).record;
    const reply = await send(bob, 'reply');
    bob = reply.record;
    alice = (await receive(alice, reply.envelope)).record;
    const text = 'T'.repeat(200);
    const target = await send(alice, text);
    return { alice: target.record, bob, text, envelope: target.envelope };
  }

  /** Flips each bit of `envelope` in `bits` in turn; every flip must fail with a VeilError. */
  async function flipAll(bob: SessionRecord, envelope: Uint8Array, bits: number) {
    const errors: VeilError[] = [];
    for (let bit = 0; bit < bits; bit++) {
      const flipped = envelope.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      try {
        await receive(bob, flipped);
        throw new Error(`bit ${bit} flipped was accepted`);
      } catch (e) {
        if (!(e instanceof VeilError)) throw e;
        errors.push(e);
      }
    }
    return errors;
  }

  it('rejects every single bit flip and leaves the state unchanged', async () => {
    const { alice, bob: bob0, envelope: opener } = await scene();
    // The target continues a chain Bob knows; flips of its ratchet key take the new-chain path.
    const bob = (await receive(bob0, opener)).record;
    const text = 'F'.repeat(200);
    const { envelope } = await send(alice, text);
    expect(envelope.length).toBe(291);
    const before = snapshot(bob);
    const errors = await flipAll(bob, envelope, envelope.length * 8);
    expect(snapshot(bob)).toBe(before);
    expect((await receive(bob, envelope)).text).toBe(text);
    const codes = new Set(errors.map((e) => e.code));
    for (const code of ['bad-mac', 'no-session', 'unknown-version'] as const)
      expect(codes).toContain(code);
    checkNoSecrets(errors, [bob, alice], text);
  });

  it('rejects every header bit flip of a message that opens a new chain', async () => {
    const { bob, text, envelope } = await scene();
    const before = snapshot(bob);
    const errors = await flipAll(bob, envelope, 51 * 8);
    expect(snapshot(bob)).toBe(before);
    expect((await receive(bob, envelope)).text).toBe(text);
    checkNoSecrets(errors, [bob], text);
  });

  it('gives a typed error for every truncation and leaves the state unchanged', async () => {
    const { bob, text, envelope } = await scene();
    const before = snapshot(bob);
    for (let n = 0; n < envelope.length; n++) {
      const code = await codeOf(receive(bob, envelope.subarray(0, n)));
      expect(['truncated', 'bad-mac']).toContain(code);
    }
    expect(snapshot(bob)).toBe(before);
    expect((await receive(bob, envelope)).text).toBe(text);
  });

  it('refuses a forged header after one HMAC: no chain is walked, no DH is made', async () => {
    // The hostile page copies a real block's session tag and ratchet key and claims a counter
    // 25,000 ahead (within the skip limit): without the header MAC the reader would derive
    // ~25,000 chain keys before the AEAD failed.
    const { alice, bob: bob0, envelope: opener } = await scene();
    const bob = (await receive(bob0, opener)).record;
    const real = parseRatchetMessage((await send(alice, 'real')).envelope);
    const forged = encodeRatchetMessage({
      sessionTag: real.sessionTag,
      ratchetKey: real.ratchetKey,
      counter: real.counter + RATCHET_MAX_FORWARD_JUMP,
      previousCounter: real.previousCounter,
      headerMac: real.headerMac,
      ciphertext: real.ciphertext,
    });
    const hmacs = countHmacs();
    const counting = countingProvider();
    expect(await codeOf(sessionDecrypt(counting, bob, parseRatchetMessage(forged)))).toBe(
      'bad-mac',
    );
    expect(counting.calls).toBe(0);
    expect(hmacs.stop()).toBeLessThanOrEqual(2);
    // The same forgery on a new ratchet key costs one DH and one root KDF, then fails.
    const newKey = encodeRatchetMessage({
      sessionTag: real.sessionTag,
      ratchetKey: (await crypto.x25519Generate()).publicKey,
      counter: RATCHET_MAX_FORWARD_JUMP,
      previousCounter: RATCHET_MAX_FORWARD_JUMP,
      headerMac: real.headerMac,
      ciphertext: real.ciphertext,
    });
    const hmacs2 = countHmacs();
    expect(await codeOf(sessionDecrypt(counting, bob, parseRatchetMessage(newKey)))).toBe(
      'bad-mac',
    );
    expect(counting.calls).toBe(1);
    expect(hmacs2.stop()).toBeLessThanOrEqual(8);
  });

  it("lets a session's first message skip at most RATCHET_MAX_FIRST_JUMP keys", async () => {
    let alice = await createInitiatorSession(crypto, {
      ourIdentity: aliceId,
      theirBundle: {
        handle: 'bob',
        identityKey: bobId.publicKey,
        signedPrekey: signedPrekeyPublic(spk),
      },
    });
    const sent: Uint8Array[] = [];
    for (let i = 0; i <= RATCHET_MAX_FIRST_JUMP + 1; i++) {
      const out = await send(alice, `unanswered ${i}`);
      alice = out.record;
      sent.push(out.envelope);
    }
    const open = (bytes: Uint8Array) =>
      sessionFromPrekeyMessage(
        crypto,
        bobId,
        () => ({ signedPrekey: spk.keyPair }),
        decodeEnvelope(bytes) as PrekeyMessage,
      );
    expect(await codeOf(open(sent[RATCHET_MAX_FIRST_JUMP + 1]!))).toBe('too-far-ahead');
    const ok = await open(sent[RATCHET_MAX_FIRST_JUMP]!);
    expect(textOf(ok.plaintext)).toBe(`unanswered ${RATCHET_MAX_FIRST_JUMP}`);
  });

  it('leaves the state unchanged on every kind of failure', async () => {
    const { alice, bob, envelope } = await scene();
    const got = await receive(bob, envelope);
    const before = snapshot(got.record);
    const attempts = [
      receive(got.record, envelope), // replay
      receive(alice, (await send(alice, 'own')).envelope), // our own message back
    ];
    for (const a of attempts) expect(await codeOf(a)).not.toBe('none');
    expect(snapshot(got.record)).toBe(before);
  });

  it('does not modify the state or record it is given on success either', async () => {
    const { alice, bob, envelope } = await scene();
    const [a, b] = [snapshot(alice), snapshot(bob)];
    const read = await receive(bob, envelope); // opens a new chain
    const again = await send(alice, 'again');
    expect([snapshot(alice), snapshot(bob)]).toEqual([a, b]);
    // In-chain, skipped-key and evicting decrypts.
    let sender = again.record;
    const later = [];
    for (let i = 0; i < 2003; i++) {
      const out = await send(sender, `l${i}`);
      sender = out.record;
      later.push(out.envelope);
    }
    let reader = read.record;
    for (const env of [again.envelope, later[2]!, later[0]!, later[2002]!]) {
      const before = snapshot(reader);
      const next = (await receive(reader, env)).record;
      expect(snapshot(reader)).toBe(before);
      reader = next;
    }
    expect(reader.state.skippedCount).toBe(2000);
  });
});

describe('forward secrecy and post-compromise security', () => {
  it('a later state cannot open earlier messages: their keys are gone', async () => {
    let { alice, bob } = await establish();
    const m1 = await send(alice, 'secret one');
    alice = m1.record;
    const before = bob;
    bob = (await receive(bob, m1.envelope)).record;
    // Ratchet on twice so the chain m1 came in on is closed.
    for (let i = 0; i < 2; i++) {
      const r = await send(bob, 'r');
      bob = r.record;
      alice = (await receive(alice, r.envelope)).record;
      const s = await send(alice, 's');
      alice = s.record;
      bob = (await receive(bob, s.envelope)).record;
    }
    expect(await codeOf(receive(bob, m1.envelope))).toBe('replay');
    // No chain key or root key the earlier state held survives anywhere in the later one.
    const later = snapshot(bob.state);
    const m1Chain = before.state.receiving.at(-1)!;
    for (const secret of [before.state.rootKey, m1Chain.chainKey!])
      expect(later.includes(bytesToHex(secret))).toBe(false);
    expect(later.includes(bytesToHex(bob.state.rootKey))).toBe(true); // the check can see keys
    expect(bob.state.receiving.slice(0, -1).every((c) => c.chainKey === null)).toBe(true);
  });

  it('a leaked state stops working once both sides have ratcheted', async () => {
    let { alice, bob } = await establish();
    const leaked = bob; // an attacker copies Bob's whole session record
    // Until the next round trip the leak reads Alice's messages (so this test can tell).
    const before = await send(alice, 'readable by the attacker');
    alice = before.record;
    expect((await receive(leaked, before.envelope)).text).toBe('readable by the attacker');
    bob = (await receive(bob, before.envelope)).record;

    const b1 = await send(bob, 'fresh ratchet key from bob');
    bob = b1.record;
    alice = (await receive(alice, b1.envelope)).record;
    let attacker = leaked;
    for (const env of [before.envelope, b1.envelope]) {
      try {
        attacker = (await receive(attacker, env)).record; // follows all traffic it can
      } catch {
        // keeps its state
      }
    }
    for (let i = 0; i < 5; i++) {
      const a = await send(alice, `after healing ${i}`);
      alice = a.record;
      bob = (await receive(bob, a.envelope)).record;
      expect(await codeOf(receive(attacker, a.envelope))).toBe('bad-mac');
      expect(await codeOf(receive(leaked, a.envelope))).toBe('bad-mac');
    }
  });
});

describe('costs and sizes', () => {
  it('uses one key generation and one DH per turn to send, one DH to receive, none within a chain', async () => {
    const { alice, bob } = await establish();
    const counting = countingProvider();
    const a1 = await sessionEncrypt(counting, alice, encode('1'));
    expect(counting.calls).toBe(2);
    const a2 = await sessionEncrypt(counting, a1.record, encode('2'));
    expect(counting.calls).toBe(2);
    const b1 = await sessionDecrypt(counting, bob, decodeEnvelope(a1.envelope) as never);
    expect(counting.calls).toBe(3);
    await sessionDecrypt(counting, b1.record, decodeEnvelope(a2.envelope) as never);
    expect(counting.calls).toBe(3);
  });

  it('a 200-byte message is 291 bytes (type 2) and 365 bytes first (type 1)', async () => {
    let alice = await createInitiatorSession(crypto, {
      ourIdentity: aliceId,
      theirBundle: {
        identityKey: bobId.publicKey,
        signedPrekey: signedPrekeyPublic(spk),
        oneTimePrekey: oneTimePrekeyPublic(opk),
      },
    });
    const first = await send(alice, 'x'.repeat(200));
    expect(first.envelope[0]).toBe(0x11);
    expect(first.envelope.length).toBe(365); // 74-byte pre-key header + 291
    const { alice: a2 } = await establish();
    alice = a2;
    const later = await send(alice, 'x'.repeat(200));
    expect(later.envelope[0]).toBe(0x12);
    expect(later.envelope.length).toBe(291); // 51-byte header + 224 padded + 16 tag
  });
});

function checkNoSecrets(errors: Error[], holders: unknown[], plaintext: string): void {
  // Packed key lists are checked key by key.
  const secrets = holders
    .flatMap((h) => byteArrays(h))
    .flatMap((b) =>
      b.length > 32 && b.length % 32 === 0
        ? Array.from({ length: b.length / 32 }, (_, i) => b.subarray(32 * i, 32 * i + 32))
        : [b],
    )
    .filter((b) => b.length >= 8);
  secrets.push(aliceId.privateKey, bobId.privateKey, spk.keyPair.privateKey);
  const forms = secrets.flatMap((s) => [
    bytesToHex(s.subarray(0, 8)),
    bytesToHex(s.subarray(0, 8)).toUpperCase(),
    toBase64Url(s.subarray(0, 9)),
    toBase64Url(s.subarray(0, 9)).replace(/-/g, '+').replace(/_/g, '/'),
  ]);
  forms.push(plaintext.slice(0, 16));
  const leaks = errors.filter((e) => forms.some((f) => e.message.includes(f)));
  expect(leaks.map((e) => e.message)).toEqual([]);
  expect(errors.length).toBeGreaterThan(0);
}
