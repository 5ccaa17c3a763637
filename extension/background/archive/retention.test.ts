import { describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION, expiredRows, isRetention, retentionDue } from './retention';
import type { Catalog } from './records';

const DAY = 86_400_000;
const NOW = 1_000 * DAY;
const ref = (id: string) => ({ id, site: 's', name: id, kind: 'group' as const, peers: [] });
const entry = (id: string, oldest: number, messages = 1) => ({
  ref: ref(id),
  messages,
  newest: NOW,
  oldest,
  bytes: 0,
});

describe('archive retention', () => {
  it('defaults to a year', () => {
    expect(DEFAULT_RETENTION).toEqual({ keep: 'days', days: 365 });
  });

  it('deletes what is past the global rule or its conversation override', () => {
    const catalog: Catalog = {
      next: 10,
      retention: { keep: 'days', days: 30 },
      conversations: {
        a: entry('a', NOW - 100 * DAY),
        b: { ...entry('b', NOW - 100 * DAY), retention: { keep: 'forever' } },
        c: { ...entry('c', NOW), retention: { keep: 'days', days: 1 } },
      },
    };
    const rows = [
      { seq: 1, sender: 'x', conversation: 'a', at: NOW - 40 * DAY },
      { seq: 2, sender: 'x', conversation: 'a', at: NOW - 10 * DAY },
      { seq: 3, sender: 'x', conversation: 'b', at: NOW - 100 * DAY },
      { seq: 4, sender: 'x', conversation: 'c', at: NOW - 2 * DAY },
      { seq: 5, sender: 'x', conversation: 'c', at: NOW - 1000 },
    ];
    expect(expiredRows(rows, catalog, NOW).sort()).toEqual([1, 4]);
    expect(retentionDue(catalog, NOW)).toBe(true);
    expect(retentionDue({ next: 1, conversations: { b: catalog.conversations.b! } }, NOW)).toBe(
      false,
    );
  });

  it('keeps at most the cap, dropping the oldest first', () => {
    const catalog: Catalog = {
      next: 10,
      retention: { keep: 'forever' },
      conversations: { a: entry('a', 0, 5) },
    };
    const rows = [5, 3, 4, 1, 2].map((seq) => ({ seq, sender: 'x', conversation: 'a', at: seq }));
    expect(expiredRows(rows, catalog, NOW, 3).sort()).toEqual([1, 2]);
    expect(retentionDue(catalog, NOW, 3)).toBe(true);
  });

  it('accepts forever or 1…36500 whole days only', () => {
    expect(isRetention({ keep: 'forever' })).toBe(true);
    expect(isRetention({ keep: 'days', days: 7 })).toBe(true);
    for (const bad of [
      null,
      {},
      { keep: 'days', days: 0 },
      { keep: 'days', days: 1.5 },
      { keep: 'days', days: 1e9 },
      { keep: 'never' },
    ])
      expect(isRetention(bad)).toBe(false);
  });
});
