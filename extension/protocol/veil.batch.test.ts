// decryptMany: the same results and the same stored state as decrypt called on each message in
// turn (replays, failures and distributions inside a batch included), signatures verified once,
// and nothing stored when the batch's commit fails. decryptEnvelopes: the same, from envelopes.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dearmor } from './armor';
import { nobleProvider } from './crypto/noble';
import type { CryptoProvider } from './crypto/provider';
import { hkdfSha256 } from './kdf';
import type { PrekeyBundle } from './identity';
import { MemoryStore, STORE_TABLES, type StoreOp, type StoreTable } from './store';
import { Veil, type PublishedIdentity } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/#veil';
const OTHER_CTX = 'thelounge:127.0.0.1:6667/#other';
const clock = () => 1_700_000_000_000;

interface Party {
  veil: Veil;
  store: MemoryStore;
  handle: string;
  key: Uint8Array;
}

async function party(handle: string, crypto: CryptoProvider = nobleProvider): Promise<Party> {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto, clock });
  const { identityKey } = await veil.createIdentity(handle);
  return { veil, store, handle, key: identityKey };
}

/** Each pins the others' keys, as the user does after the directory confirmed them. */
async function pinAll(...ps: Party[]): Promise<void> {
  for (const a of ps) for (const b of ps) if (a !== b) await a.veil.addContact(b.handle, b.key);
}

function bundleOf(p: PublishedIdentity): PrekeyBundle {
  return {
    handle: p.handle,
    identityKey: p.identityKey,
    signedPrekey: p.signedPrekey,
    ...(p.oneTimePrekeys[0] ? { oneTimePrekey: p.oneTimePrekeys[0] } : {}),
  };
}

async function dump(store: MemoryStore): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const table of STORE_TABLES) {
    out[table] = {};
    for (const key of await store.keys(table)) out[table][key] = await store.get(table, key);
  }
  return out;
}

/** A second Veil over a copy of `p`'s store: the same state, independent from here on. */
async function twin(p: Party, crypto: CryptoProvider = nobleProvider): Promise<Party> {
  const store = new MemoryStore();
  const ops: StoreOp[] = [];
  for (const [table, rows] of Object.entries(await dump(p.store)))
    for (const [key, value] of Object.entries(rows))
      ops.push({ op: 'put', table: table as StoreTable, key, value });
  await store.commit(ops);
  return { veil: await Veil.create({ store, crypto, clock }), store, handle: p.handle, key: p.key };
}

function dearmored(text: string): Uint8Array | undefined {
  try {
    return dearmor(text);
  } catch {
    return undefined;
  }
}

/**
 * Decrypts `texts` one by one on one twin, as a batch on another, and (those that dearmor) as a
 * batch of envelopes on a third; all must agree. A text that does not dearmor leaves nothing
 * behind, so leaving it out of the envelopes' batch changes no state.
 */
async function expectEquivalent(receiver: Party, texts: string[], context = CTX) {
  const oneByOne = await twin(receiver);
  const batched = await twin(receiver);
  const enveloped = await twin(receiver);
  const expected = [];
  for (const t of texts) expected.push(await oneByOne.veil.decrypt(context, t));
  const got = await batched.veil.decryptMany(context, texts);
  expect(got).toEqual(expected);
  expect(await dump(batched.store)).toEqual(await dump(oneByOne.store));
  const envelopes = texts.map(dearmored);
  const fromEnvelopes = await enveloped.veil.decryptEnvelopes(
    context,
    envelopes.filter((e) => e !== undefined),
  );
  expect(fromEnvelopes).toEqual(expected.filter((_, i) => envelopes[i] !== undefined));
  expect(await dump(enveloped.store)).toEqual(await dump(oneByOne.store));
  return got;
}

function tamper(text: string, at: number): string {
  const c = text[at] === 'a' ? 'b' : 'a';
  return text.slice(0, at) + c + text.slice(at + 1);
}

/** Alice, Bob and Carol; Bob has received nothing yet. Messages Bob may be shown, by name. */
async function scene() {
  const alice = await party('alice');
  const bob = await party('bob');
  const carol = await party('carol');
  await pinAll(alice, bob, carol);
  await alice.veil.startSession(bundleOf(await bob.veil.publicBundle({ oneTimePrekeys: 2 })));
  await carol.veil.startSession(bundleOf(await bob.veil.publicBundle({ oneTimePrekeys: 2 })));
  await alice.veil.startSession(bundleOf(await carol.veil.publicBundle({ oneTimePrekeys: 2 })));
  const to = (...r: string[]) => ({ context: CTX, recipients: r });
  const enc = async (from: Party, conv: { context: string; recipients: string[] }, t: string) =>
    (await from.veil.encrypt(conv, t)).join('\n');
  const m: Record<string, string> = {};
  // 1:1 from Alice: three pre-key messages (she has not heard back yet).
  m.a1 = await enc(alice, to('bob'), 'a1');
  m.a2 = await enc(alice, to('bob'), 'a2');
  m.a3 = await enc(alice, to('bob'), 'a3');
  // Alice and Carol talk (Bob sees none of it), then Alice writes to Bob and Carol.
  await carol.veil.decrypt(CTX, await enc(alice, to('carol'), 'hi carol'));
  await alice.veil.decrypt(CTX, await enc(carol, to('alice'), 'hi alice'));
  m.g1 = await enc(alice, to('bob', 'carol'), 'g1'); // bundle: distribution + first message
  m.g2 = await enc(alice, to('bob', 'carol'), 'g2');
  m.g3 = await enc(alice, to('bob', 'carol'), 'g3');
  m.g4 = await enc(alice, to('bob', 'carol'), 'g4');
  m.elsewhere = await enc(alice, { context: OTHER_CTX, recipients: ['bob', 'carol'] }, 'other');
  // Carol to Bob (another session, another sender).
  m.c1 = await enc(carol, to('bob'), 'c1');
  m.c2 = await enc(carol, to('bob'), 'c2');
  // Broken ones.
  m.badMac = tamper(m.a3!, m.a3!.length - 5);
  m.badSig = tamper(m.g3!, m.g3!.length - 3);
  m.garbage = 'VeiLA00 not armor';
  m.prose = 'just some text';
  return { alice, bob, carol, m };
}

describe('Veil.decryptMany', () => {
  it('equals decrypt one by one: 1:1 and group, reordered, replayed, broken, wrong context', async () => {
    const { bob, m } = await scene();
    const batch = [
      m.g2!, // no sender key yet: no-session
      m.a2!, // no session yet: Alice's second pre-key message starts it (its own X3DH)
      m.a1!,
      m.a1!, // replay
      m.badMac!,
      m.g1!, // bundle: distribution, then g1
      m.g2!, // now decrypts
      m.g4!,
      m.badSig!,
      m.g3!, // out of order, from the skipped keys
      m.g3!, // replay
      m.elsewhere!, // another group's message: read, and moved
      m.c2!,
      m.c1!,
      m.garbage!,
      m.prose!,
      m.a3!,
      m.g1!, // the bundle again: pairwise part is a replay, group part too
    ];
    const got = await expectEquivalent(bob, batch);
    expect(got[batch.indexOf(m.elsewhere!)]).toMatchObject({ status: 'moved', moved: true });
    expect(got.map((r) => r.plaintext ?? r.error)).toEqual([
      'no-session',
      'a2',
      'a1',
      'replay',
      'bad-mac',
      'g1',
      'g2',
      'g4',
      'bad-signature',
      'g3',
      'replay',
      'other',
      'c2',
      'c1',
      'truncated',
      'malformed',
      'a3',
      'replay',
    ]);
  });

  it('equals decrypt one by one for random orders with repeats', async () => {
    const { bob, m } = await scene();
    const pool = Object.values(m);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 14 }),
        async (texts) => {
          await expectEquivalent(bob, texts);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("uses the provider's native HKDF for the root-key step, as decrypt does", async () => {
    let calls = 0;
    const counting: CryptoProvider = {
      ...nobleProvider,
      async hkdfSha256(ikm, salt, info, length) {
        calls++;
        return hkdfSha256(ikm, salt, info, length);
      },
    };
    const alice = await party('alice');
    const bob = await party('bob', counting);
    await alice.veil.startSession(bundleOf(await bob.veil.publicBundle({ oneTimePrekeys: 1 })));
    const texts = [];
    for (const t of ['one', 'two'])
      texts.push((await alice.veil.encrypt({ context: CTX, recipients: ['bob'] }, t)).join('\n'));
    const got = await bob.veil.decryptMany(CTX, texts);
    expect(got.map((r) => r.plaintext)).toEqual(['one', 'two']);
    // Bob's receiving chain from Alice's first ratchet key: one root-key step.
    expect(calls).toBeGreaterThan(0);
  });

  it('an empty batch and a bad context', async () => {
    const { bob, m } = await scene();
    expect(await bob.veil.decryptMany(CTX, [])).toEqual([]);
    const bad = await bob.veil.decryptMany(42 as unknown as string, [m.a1!]);
    expect(bad).toEqual([{ status: 'failed', error: 'invalid-argument' }]);
    expect(await bob.veil.decrypt(42 as unknown as string, m.a1!)).toEqual(bad[0]);
    expect(await bob.veil.decryptEnvelopes(42 as unknown as string, [dearmor(m.a1!)])).toEqual(bad);
  });

  it('decryptEnvelopes reports what is not bytes as malformed and decrypts the rest', async () => {
    const { bob, m } = await scene();
    const got = await bob.veil.decryptEnvelopes(CTX, [
      'not bytes' as unknown as Uint8Array,
      dearmor(m.a1!),
    ]);
    expect(got.map((r) => r.plaintext ?? r.error)).toEqual(['malformed', 'a1']);
  });

  it('verifies each sender-key signature once, ahead, and still refuses a forged one', async () => {
    const { bob, m } = await scene();
    let verifies = 0;
    const counting: CryptoProvider = {
      ...nobleProvider,
      name: 'counting',
      ed25519Verify: (k, msg, sig) => {
        verifies++;
        return nobleProvider.ed25519Verify(k, msg, sig);
      },
    };
    const receiver = await twin(bob, counting);
    const first = await receiver.veil.decryptMany(CTX, [m.g1!]);
    expect(first[0]!.plaintext).toBe('g1');
    verifies = 0;
    const got = await receiver.veil.decryptMany(CTX, [m.g2!, m.badSig!, m.g4!, m.g3!, m.g3!]);
    expect(got.map((r) => r.plaintext ?? r.error)).toEqual([
      'g2',
      'bad-signature',
      'g4',
      'g3',
      'replay',
    ]);
    // Five messages, five distinct signatures (the forged one and the repeat included): each
    // verified once, ahead; the in-order pass found them all in the memo.
    expect(verifies).toBe(4);
  });

  it('stores nothing and fails what had decrypted when the commit fails', async () => {
    const { bob, m } = await scene();
    const receiver = await twin(bob);
    const before = await dump(receiver.store);
    const commit = receiver.store.commit.bind(receiver.store);
    receiver.store.commit = async () => {
      throw new Error('disk full');
    };
    const got = await receiver.veil.decryptMany(CTX, [m.a1!, m.garbage!, m.g1!]);
    expect(got).toEqual([
      { status: 'failed', error: 'malformed' }, // the commit's error (its text is not shown)
      { status: 'failed', error: 'truncated' }, // failed on its own: kept
      { status: 'failed', error: 'malformed' },
    ]);
    expect(await dump(receiver.store)).toEqual(before);
    receiver.store.commit = commit;
    // Nothing was kept, so the same batch decrypts now.
    const again = await receiver.veil.decryptMany(CTX, [m.a1!, m.g1!]);
    expect(again.map((r) => r.plaintext)).toEqual(['a1', 'g1']);
  });

  it('runs in turn with other operations on the same Veil', async () => {
    const { bob, m } = await scene();
    const receiver = await twin(bob);
    const [many, single] = await Promise.all([
      receiver.veil.decryptMany(CTX, [m.a1!, m.a2!]),
      receiver.veil.decrypt(CTX, m.a1!),
    ]);
    expect(many.map((r) => r.plaintext)).toEqual(['a1', 'a2']);
    expect(single).toEqual({ status: 'failed', error: 'replay' });
  });
});
