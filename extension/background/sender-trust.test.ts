import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../protocol/transparency';
import type { Contact } from '../protocol/veil';
import { BackgroundError } from './errors';
import {
  LOOKUPS_PER_MINUTE,
  SENDER_RECHECK_MS,
  SenderTrust,
  type SenderRecord,
} from './sender-trust';

const key = (n: number) => new Uint8Array(32).fill(n);
const entry = (
  sequence: number,
  k: Uint8Array,
  action: LogEntry['action'] = 'publish',
): LogEntry => ({
  handle: 'alice',
  identityKey: k,
  action,
  sequence,
  timestamp: sequence,
});

function setup(opts: {
  log?: Record<string, LogEntry[]>;
  contacts?: Record<string, Contact>;
  unreachable?: boolean;
}) {
  let now = 1_000;
  let asked = 0;
  const kept = new Map<string, SenderRecord>();
  const flagged: [string, Uint8Array][] = [];
  const trust = new SenderTrust({
    async history(handle) {
      asked++;
      if (opts.unreachable)
        throw new BackgroundError('directory-unreachable', 'the directory cannot be reached');
      const entries = opts.log?.[handle];
      if (!entries) throw new BackgroundError('not-found', 'no such identity');
      return { entries };
    },
    directoryUrl: async () => 'https://d.example',
    getContact: async (h) => opts.contacts?.[h],
    flagKeyChange: async (h, k) => void flagged.push([h, k]),
    read: async (k) => kept.get(k),
    write: async (k, r) => void kept.set(k, r),
    now: () => now,
  });
  return {
    trust,
    flagged,
    kept,
    asked: () => asked,
    advance: (ms: number) => (now += ms),
  };
}

const contact = (identityKey: Uint8Array, verified = false): Contact => ({
  handle: 'alice',
  identityKey,
  verified,
  firstSeen: 0,
});

describe('SenderTrust', () => {
  it('leaves pinned senders alone and asks nothing', async () => {
    const s = setup({});
    expect(await s.trust.judge('alice', key(1), 'verified')).toBe('verified');
    expect(await s.trust.judge('alice', key(1), 'key-changed')).toBe('key-changed');
    expect(s.asked()).toBe(0);
  });

  it('an impostor (a key the log never showed for the handle) stays unknown', async () => {
    const s = setup({
      log: { alice: [entry(1, key(1))] },
      contacts: { alice: contact(key(1), true) },
    });
    expect(await s.trust.judge('alice', key(66), 'unknown-sender')).toBe('unknown-sender');
    expect(s.flagged).toEqual([]);
    const n = setup({});
    expect(await n.trust.judge('nobody', key(66), 'unknown-sender')).toBe('unknown-sender');
  });

  it('a device list logged after the key is no key: the sender stays confirmed, its digest is no sender', async () => {
    const s = setup({ log: { alice: [entry(1, key(1)), entry(2, key(9), 'devices')] } });
    expect(await s.trust.judge('alice', key(1), 'unknown-sender')).toBe('unverified');
    expect(await s.trust.judge('alice', key(9), 'unknown-sender')).toBe('unknown-sender');
  });

  it('a sender the log confirms, not yet a contact, is unverified (and asked once)', async () => {
    const s = setup({ log: { alice: [entry(1, key(1))] } });
    expect(await s.trust.judge('alice', key(1), 'unknown-sender')).toBe('unverified');
    expect(await s.trust.judge('alice', key(1), 'unknown-sender')).toBe('unverified');
    expect(s.asked()).toBe(1);
    s.advance(SENDER_RECHECK_MS.known);
    await s.trust.judge('alice', key(1), 'unknown-sender');
    expect(s.asked()).toBe(2);
  });

  it('a logged rotation away from the pinned key is a key change the user must accept', async () => {
    const s = setup({
      log: { alice: [entry(1, key(1)), entry(2, key(2), 'rotate')] },
      contacts: { alice: contact(key(1), true) },
    });
    expect(await s.trust.judge('alice', key(2), 'unknown-sender')).toBe('key-changed');
    expect(s.flagged).toEqual([['alice', key(2)]]);
  });

  it("a contact's earlier key still reads what this device got before the rotation, no more", async () => {
    // The rotation was logged at t = 2 s (entry timestamps are Unix seconds).
    const s = setup({
      log: { alice: [entry(1, key(1)), entry(2, key(2), 'rotate')] },
      contacts: { alice: contact(key(2)) },
    });
    expect(await s.trust.judge('alice', key(1), 'unknown-sender', { receivedAt: 1_500 })).toBe(
      'unverified',
    );
    expect(s.flagged).toEqual([]);
    // Whoever holds the old key now writes as an unknown sender.
    expect(await s.trust.judge('alice', key(1), 'unknown-sender', { receivedAt: 2_500 })).toBe(
      'unknown-sender',
    );
  });

  it('a key from before the handle was deleted (another holder) is unknown', async () => {
    // Mallory held "alice", deleted it; the real alice claimed it later.
    const s = setup({
      log: {
        alice: [entry(1, key(66)), entry(2, key(66), 'delete'), entry(3, key(1))],
      },
    });
    expect(await s.trust.judge('alice', key(66), 'unknown-sender', { receivedAt: 0 })).toBe(
      'unknown-sender',
    );
    expect(await s.trust.judge('alice', key(1), 'unknown-sender')).toBe('unverified');
    // A deleted handle vouches for nobody.
    const d = setup({ log: { alice: [entry(1, key(1)), entry(2, key(1), 'delete')] } });
    expect(await d.trust.judge('alice', key(1), 'unknown-sender', { receivedAt: 0 })).toBe(
      'unknown-sender',
    );
  });

  it('flags a key change only after asking again: a kept answer may be stale', async () => {
    const log: Record<string, LogEntry[]> = { alice: [entry(1, key(1))] };
    const contacts: Record<string, Contact> = {};
    const s = setup({ log, contacts });
    // A first message read while key 1 was current (kept as "current").
    expect(await s.trust.judge('alice', key(1), 'unknown-sender', { receivedAt: 500 })).toBe(
      'unverified',
    );
    // Alice rotates to key 2; bob pins key 2. The page shows the old message again.
    log.alice!.push(entry(2, key(2), 'rotate'));
    contacts.alice = contact(key(2), true);
    expect(await s.trust.judge('alice', key(1), 'unknown-sender', { receivedAt: 500 })).toBe(
      'unverified',
    );
    expect(s.flagged).toEqual([]);
  });

  it('asks the directory about at most LOOKUPS_PER_MINUTE new senders per caller a minute', async () => {
    const log: Record<string, LogEntry[]> = {};
    for (let i = 0; i < LOOKUPS_PER_MINUTE + 5; i++)
      log[`h${i}`] = [{ ...entry(1, key(i)), handle: `h${i}` }];
    const s = setup({ log });
    const judged = [];
    for (let i = 0; i < LOOKUPS_PER_MINUTE + 5; i++)
      judged.push(await s.trust.judge(`h${i}`, key(i), 'unknown-sender', { caller: 'tab:1' }));
    expect(s.asked()).toBe(LOOKUPS_PER_MINUTE);
    expect(judged.filter((j) => j === 'unverified')).toHaveLength(LOOKUPS_PER_MINUTE);
    // Another tab has its own budget; a minute later the first has one again.
    expect(await s.trust.judge('h24', key(24), 'unknown-sender', { caller: 'tab:2' })).toBe(
      'unverified',
    );
    s.advance(60_000);
    expect(await s.trust.judge('h23', key(23), 'unknown-sender', { caller: 'tab:1' })).toBe(
      'unverified',
    );
  });

  it('an unreachable directory leaves the sender unknown and keeps no answer', async () => {
    const s = setup({ unreachable: true });
    expect(await s.trust.judge('alice', key(1), 'unknown-sender')).toBe('unknown-sender');
    expect(s.kept.size).toBe(0);
  });

  it('asks again about a never-seen key sooner than about a known one', async () => {
    const s = setup({ log: { alice: [entry(1, key(1))] } });
    await s.trust.judge('alice', key(9), 'unknown-sender');
    s.advance(SENDER_RECHECK_MS.never);
    await s.trust.judge('alice', key(9), 'unknown-sender');
    expect(s.asked()).toBe(2);
  });

  it('one lookup for many messages of one sender at once', async () => {
    const s = setup({ log: { alice: [entry(1, key(1))] } });
    const all = await Promise.all(
      Array.from({ length: 20 }, () => s.trust.judge('alice', key(1), 'unknown-sender')),
    );
    expect(new Set(all)).toEqual(new Set(['unverified']));
    expect(s.asked()).toBe(1);
  });
});
