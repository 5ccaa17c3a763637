// A hostile contact or page that runs its own client: crafted records on a real session (a
// stranger's sender key under another's handle, a jammed or planted member list, a chain jump
// from a peer no pin vouches for, a removed member who keeps writing). Each was a working attack
// in review; each test checks it no longer works.
import { describe, expect, it } from 'vitest';
import { armor, dearmor } from './armor';
import { nobleProvider } from './crypto/noble';
import { contextHash, encodeGroupBundle } from './envelope';
import type { PrekeyBundle } from './identity';
import { encodePlaintext, peerTag, type PlaintextRecord } from './plaintext';
import { createSenderKey, distributionRecord, groupEncrypt } from './sender-key';
import { sessionEncrypt, type SessionRecord } from './session';
import { MemoryStore } from './store';
import { Veil, type Conversation, type PublishedIdentity } from './veil';

const CTX = 'thelounge:127.0.0.1:6667/#veil';
let now = 1_700_000_000_000;
const clock = () => now;

interface Party {
  veil: Veil;
  store: MemoryStore;
  handle: string;
  key: Uint8Array;
}
async function party(handle: string): Promise<Party> {
  const store = new MemoryStore();
  const veil = await Veil.create({ store, crypto: nobleProvider, clock });
  const { identityKey } = await veil.createIdentity(handle);
  return { veil, store, handle, key: identityKey };
}
function bundleOf(p: PublishedIdentity): PrekeyBundle {
  return { handle: p.handle, identityKey: p.identityKey, signedPrekey: p.signedPrekey };
}
async function connect(a: Party, b: Party): Promise<void> {
  await a.veil.startSession(bundleOf(await b.veil.publicBundle({ oneTimePrekeys: 0 })));
}
const pin = (a: Party, b: Party) => a.veil.addContact(b.handle, b.key);
const one = (to: string): Conversation => ({ context: CTX, recipients: [to] });
const text = (c: string[]) => c.join('\n');
const rnd = (n: number) => nobleProvider.randomBytes(n);

/**
 * `from` seals arbitrary records on its session with `to` (a hostile client); group records go
 * with the recipient record naming `to`, as a real client's do.
 */
async function craft(from: Party, to: string, records: PlaintextRecord[]): Promise<string> {
  const c = (await from.store.get<{ session: string }>('contacts', to))!;
  const rec = (await from.store.get<SessionRecord>('sessions', c.session))!;
  const grouped = records.some((r) => r.type === 'group' || r.type === 'membership');
  if (grouped && !records.some((r) => r.type === 'recipient'))
    records = [...records, { type: 'recipient', tag: peerTag(to) }];
  const out = await sessionEncrypt(nobleProvider, rec, encodePlaintext(records));
  await from.store.commit([{ op: 'put', table: 'sessions', key: c.session, value: out.record }]);
  return armor(out.envelope, { randomBytes: rnd }).join('\n');
}

async function members<const H extends readonly string[]>(
  ...handles: H
): Promise<{ [K in keyof H]: Party }> {
  const ps = await Promise.all(handles.map((h) => party(h)));
  for (const x of ps)
    for (const y of ps) {
      if (x === y) continue;
      await pin(x, y);
      if (x.handle < y.handle) {
        await connect(x, y);
        await y.veil.decrypt(CTX, text(await x.veil.encrypt(one(y.handle), 'hi')));
      }
    }
  return ps as { [K in keyof H]: Party };
}
const group = (...r: string[]): Conversation => ({ context: CTX, recipients: r, kind: 'group' });
const send = async (from: Party, to: string[], body: string) =>
  text(await from.veil.encrypt(group(...to), body));

describe('a hostile contact with its own client', () => {
  it("a stranger's sender key filed under carol's handle does not push out carol's", async () => {
    const [, bob, carol] = await members('alice', 'bob', 'carol');
    expect((await bob.veil.decrypt(CTX, await send(carol, ['alice', 'bob'], 'c1'))).plaintext).toBe(
      'c1',
    );
    for (let i = 0; i < 6; i++) {
      const mallory = await party(`mallory${i}`);
      await mallory.veil.addContact('bob', bob.key);
      await connect(mallory, bob);
      now += 1000;
      const dist = distributionRecord(await createSenderKey(nobleProvider));
      const m = await craft(mallory, 'bob', [
        { type: 'text', text: 'x' },
        { type: 'group', groupId: contextHash(CTX) },
        { type: 'sender-key-distribution', distribution: dist },
        { type: 'sender-handle', handle: 'carol' },
      ]);
      expect((await bob.veil.decrypt(CTX, m)).status).toBe('unknown-sender');
    }
    const r = await bob.veil.decrypt(CTX, await send(carol, ['alice', 'bob'], 'c2'));
    expect(r).toMatchObject({ plaintext: 'c2', sender: 'carol', status: 'unverified' });
  });

  it('a member list that jumps its epoch is ignored: a removal still goes through', async () => {
    const [alice, bob, carol, dave] = await members('alice', 'bob', 'carol', 'dave');
    const all = [alice, bob, carol, dave];
    for (const p of all) {
      const m = await send(
        p,
        all.filter((q) => q !== p).map((q) => q.handle),
        `hi ${p.handle}`,
      );
      for (const q of all) if (q !== p) await q.veil.decrypt(CTX, m);
    }
    const state = (await alice.veil.groupMembers(CTX))!;
    for (const p of [alice, bob, carol]) {
      const m = await craft(dave, p.handle, [
        { type: 'text', text: 'ok' },
        {
          type: 'membership',
          groupId: contextHash(CTX),
          epoch: 0xffff_ffff,
          members: state.members,
        },
      ]);
      await p.veil.decrypt(CTX, m);
      expect((await p.veil.groupMembers(CTX))!.epoch).toBe(state.epoch);
    }
    const out = await send(alice, ['bob', 'carol'], 'dave out');
    expect((await dave.veil.decrypt(CTX, out)).status).toBe('failed');
    expect((await bob.veil.decrypt(CTX, out)).plaintext).toBe('dave out');
  });

  it('a first member list planted without writing in the group is refused', async () => {
    const [alice, bob] = await members('alice', 'bob', 'carol');
    const eve = await party('eve');
    await pin(bob, eve);
    await pin(eve, bob);
    await connect(eve, bob);
    await bob.veil.decrypt(CTX, text(await eve.veil.encrypt(one('bob'), 'hi')));
    const fake = [
      { handle: 'bob', identityKey: bob.key },
      { handle: 'eve', identityKey: eve.key },
      { handle: 'mallory', identityKey: rnd(32) },
    ];
    await bob.veil.decrypt(
      CTX,
      await craft(eve, 'bob', [
        { type: 'text', text: 'x' },
        { type: 'membership', groupId: contextHash(CTX), epoch: 1, members: fake },
      ]),
    );
    expect(await bob.veil.groupMembers(CTX)).toBeUndefined();
    const m = await send(alice, ['bob', 'carol'], 'real group');
    expect((await bob.veil.decrypt(CTX, m)).plaintext).toBe('real group');
    expect((await bob.veil.groupMembers(CTX))!.members.map((x) => x.handle)).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
  });

  it('a peer no pin vouches for (the page itself may be one) cannot make a block walk far', async () => {
    const bob = await party('bob');
    const page = await party('page');
    await page.veil.addContact('bob', bob.key);
    await connect(page, bob);
    expect(
      (await bob.veil.decrypt(CTX, text(await page.veil.encrypt(one('bob'), 'hi')))).status,
    ).toBe('unknown-sender');
    // 25,000 messages on, with a correct header MAC: a peer's own chain.
    const c = (await page.store.get<{ session: string }>('contacts', 'bob'))!;
    const rec = (await page.store.get<SessionRecord>('sessions', c.session))!;
    const far = { ...rec, state: { ...rec.state, sendCounter: 25_000 } };
    const out = await sessionEncrypt(
      nobleProvider,
      far,
      encodePlaintext([{ type: 'text', text: 'y' }]),
    );
    const block = armor(out.envelope, { randomBytes: rnd }).join('');
    expect(await bob.veil.decrypt(CTX, block)).toEqual({
      status: 'failed',
      error: 'too-far-ahead',
    });
    // A pinned peer keeps libsignal's limit.
    await pin(bob, page);
    expect((await bob.veil.decrypt(CTX, block)).error).toBe('bad-mac'); // the forged tail
  });

  it('a bundle with two envelopes for us is refused after one key agreement, not 256', async () => {
    const bob = await party('bob');
    const envelopes: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await party(`s${i}`);
      await connect(s, bob);
      envelopes.push(dearmor(text(await s.veil.encrypt(one('bob'), `pk ${i}`))));
    }
    const own = await createSenderKey(nobleProvider);
    const ctxHash = contextHash(CTX);
    const { envelope: tail } = await groupEncrypt(
      nobleProvider,
      own,
      encodePlaintext([{ type: 'text', text: 't' }]),
      { ctxHash, ctxTag: ctxHash.subarray(0, 4), senderIdentityKey: rnd(32) },
    );
    const bundle = encodeGroupBundle(envelopes, tail);
    expect(await bob.veil.decryptEnvelope(CTX, bundle)).toEqual({
      status: 'failed',
      error: 'malformed',
    });
    expect(await bob.store.keys('sessions')).toEqual([]);
  });

  it('a removed member who keeps writing shows as out of place, at the remover and the rest', async () => {
    const [alice, bob, carol, dave] = await members('alice', 'bob', 'carol', 'dave');
    const all = [alice, bob, carol, dave];
    for (const p of all) {
      const m = await send(
        p,
        all.filter((q) => q !== p).map((q) => q.handle),
        `hi ${p.handle}`,
      );
      for (const q of all) if (q !== p) await q.veil.decrypt(CTX, m);
    }
    const removal = await send(alice, ['bob', 'carol'], 'dave is out');
    for (const q of [bob, carol]) await q.veil.decrypt(CTX, removal);
    // Dave's old key: alice dropped it when she took him out.
    const m1 = await send(dave, ['alice', 'bob', 'carol'], 'still here (old key)');
    expect((await alice.veil.decrypt(CTX, m1)).status).toBe('failed');
    // A new key of his still reaches those he has sessions with, marked as out of place.
    now += 8 * 24 * 3600 * 1000;
    const m2 = await send(dave, ['alice', 'bob', 'carol'], 'still here (new key)');
    expect(await bob.veil.decrypt(CTX, m2)).toMatchObject({ status: 'moved', moved: true });
  });
});
