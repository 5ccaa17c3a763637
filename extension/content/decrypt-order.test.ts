// The order blocks are decrypted in: nearest the viewport first, never further ahead of older
// blocks than the protocol's skipped-key limits allow, and page order while a block is retried.
import { describe, expect, it } from 'vitest';
import {
  eligiblePrefix,
  MAX_AHEAD,
  MAX_AHEAD_RUNS,
  pickBatch,
  type OrderItem,
} from './decrypt-order';

const items = (ranks: number[], author = 'alice'): OrderItem[] =>
  ranks.map((rank) => ({ rank, author }));

describe('eligiblePrefix', () => {
  it('lets every block of one author jump up to MAX_AHEAD older ones', () => {
    expect(eligiblePrefix(Array<string>(10).fill('alice'))).toBe(10);
    expect(eligiblePrefix(Array<string>(MAX_AHEAD + 1).fill('alice'))).toBe(MAX_AHEAD + 1);
    // Item MAX_AHEAD + 1 would jump over MAX_AHEAD + 1 older blocks.
    expect(eligiblePrefix(Array<string>(MAX_AHEAD + 5).fill('alice'))).toBe(MAX_AHEAD + 1);
  });

  it('counts author runs (each may be a new ratchet chain), an unknown author as its own run', () => {
    const turns = Array.from({ length: 60 }, (_, i) => (i % 2 ? 'bob' : 'alice'));
    // Item i jumps over i runs of one message each.
    expect(eligiblePrefix(turns)).toBe(MAX_AHEAD_RUNS + 1);
    expect(eligiblePrefix(Array<string>(60).fill(''))).toBe(MAX_AHEAD_RUNS + 1);
    const long = [...Array<string>(30).fill('alice'), ...Array<string>(30).fill('bob')];
    expect(eligiblePrefix(long)).toBe(60);
    expect(eligiblePrefix(['a', 'b', 'c'], { maxAhead: 10, maxRuns: 1 })).toBe(2);
  });
});

describe('pickBatch', () => {
  it('takes the nearest blocks, sent in page order', () => {
    // A chat opened at its newest message: the last ones are on screen.
    const ranks = [900, 800, 700, 600, 500, 400, 300, 200, 100, 0, 0, 0];
    expect(pickBatch(items(ranks), 4)).toEqual([8, 9, 10, 11]);
    // Page at the top: plain page order.
    expect(pickBatch(items([0, 0, 10, 20, 30, 40]), 3)).toEqual([0, 1, 2]);
  });

  it('keeps page order among equally near blocks and without ranks', () => {
    expect(pickBatch(items([5, 0, 5, 0, 5]), 3)).toEqual([0, 1, 3]);
    expect(pickBatch(items([0, 0, 0, 0]), 2)).toEqual([0, 1]);
  });

  it('never picks a block beyond the eligible prefix, however near', () => {
    const turns = Array.from({ length: 200 }, (_, i) => ({
      rank: 199 - i,
      author: i % 2 ? 'bob' : 'alice',
    }));
    const picked = pickBatch(turns, 10);
    expect(Math.max(...picked)).toBeLessThanOrEqual(MAX_AHEAD_RUNS);
    expect(picked).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it('is the plain page-order prefix when no more than a batch is eligible', () => {
    const unknown = Array.from({ length: 100 }, (_, i) => ({ rank: 100 - i, author: '' }));
    expect(pickBatch(unknown, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('goes in page order while a block waits to be retried', () => {
    const list = items([300, 200, 100, 0]);
    list[3]!.inOrder = true;
    expect(pickBatch(list, 2)).toEqual([0, 1]);
  });

  it('returns nothing for nothing', () => {
    expect(pickBatch([], 20)).toEqual([]);
  });
});
