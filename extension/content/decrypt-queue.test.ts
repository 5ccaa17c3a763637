// Batching in the content script: page order, a small first batch, one batch in flight at a
// time, per-context batches, progress counts, and a failed batch that does not stop the rest.
import { describe, expect, it } from 'vitest';
import type { PageBlockResult } from '../messaging/messages';
import { DecryptQueue, type QueuedBlock } from './decrypt-queue';

const blocks = (n: number, from = 0): QueuedBlock[] =>
  Array.from({ length: n }, (_, i) => ({ armored: `b${from + i}` }));

function recorder(fail?: (batch: number) => boolean) {
  const batches: { context: string; armored: string[] }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const send = async (context: string, list: { armored: string; repeat?: boolean }[]) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    batches.push({ context, armored: list.map((b) => b.armored) });
    await new Promise((r) => setTimeout(r, 1));
    inFlight--;
    if (fail?.(batches.length - 1)) throw Object.assign(new Error('locked'), { code: 'locked' });
    return list.map((b): PageBlockResult => ({
      token: `t-${b.armored}`,
      status: b.repeat ? 'failed' : 'unverified',
    }));
  };
  return { send, batches, maxInFlight: () => maxInFlight };
}

describe('DecryptQueue', () => {
  it('sends blocks in page order, a small first batch then full ones, one at a time', async () => {
    const r = recorder();
    const results: string[] = [];
    const progress: [number, number][] = [];
    const q = new DecryptQueue({
      send: r.send,
      onResult: (b, res) => results.push(`${b.armored}:${res.token}`),
      onProgress: (d, t) => progress.push([d, t]),
      firstBatchSize: 5,
      batchSize: 50,
    });
    q.add('ctx', blocks(120));
    await q.idle();
    expect(r.batches.map((b) => b.armored.length)).toEqual([5, 50, 50, 15]);
    expect(r.batches.flatMap((b) => b.armored)).toEqual(blocks(120).map((b) => b.armored));
    expect(r.maxInFlight()).toBe(1);
    expect(results[0]).toBe('b0:t-b0');
    expect(results).toHaveLength(120);
    expect(progress).toEqual([
      [5, 120],
      [55, 120],
      [105, 120],
      [120, 120],
    ]);
  });

  it('never mixes two conversations in one batch', async () => {
    const r = recorder();
    const q = new DecryptQueue({ send: r.send, onResult: () => undefined, firstBatchSize: 10 });
    q.add('a', blocks(3));
    q.add('b', blocks(3, 3));
    q.add('a', blocks(2, 6));
    await q.idle();
    expect(r.batches.map((b) => [b.context, b.armored.length])).toEqual([
      ['a', 3],
      ['b', 3],
      ['a', 2],
    ]);
  });

  it('passes repeats on, reports a failed batch and carries on', async () => {
    const r = recorder((n) => n === 0);
    const errors: unknown[] = [];
    const seen: string[] = [];
    const q = new DecryptQueue({
      send: r.send,
      onResult: (b, res) => seen.push(`${b.armored}:${res.status}`),
      onError: (e) => errors.push(e),
      firstBatchSize: 2,
    });
    q.add('c', blocks(2));
    await q.idle();
    q.add('c', [{ armored: 'again', repeat: true }]);
    await q.idle();
    expect(errors).toHaveLength(1);
    expect(seen).toEqual(['again:failed']);
  });

  it('stops delivering after stop()', async () => {
    const r = recorder();
    const seen: string[] = [];
    const q = new DecryptQueue({ send: r.send, onResult: (b) => seen.push(b.armored) });
    q.add('c', blocks(30));
    q.stop();
    await q.idle();
    expect(seen).toEqual([]);
  });
});
