import { describe, expect, it } from 'vitest';
import type { LogEntry } from '../protocol/transparency';
import type { Contact } from '../protocol/veil';
import { BackgroundError } from './errors';
import { SENDER_RECHECK_MS, SenderTrust, type SenderRecord } from './sender-trust';

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

  it("a contact's earlier key still reads what it sealed, without flagging anything", async () => {
    const s = setup({
      log: { alice: [entry(1, key(1)), entry(2, key(2), 'rotate')] },
      contacts: { alice: contact(key(2)) },
    });
    expect(await s.trust.judge('alice', key(1), 'unknown-sender')).toBe('unverified');
    expect(s.flagged).toEqual([]);
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
