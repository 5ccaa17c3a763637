// Batching in the content script: page order, a small first batch, one batch in flight at a
// time, per-context batches, progress counts, and a failed batch that does not stop the rest;
// the blocks nearest the viewport first, and one more try for a block that failed ahead of
// older ones.
import { describe, expect, it } from 'vitest';
import type { PageBlockResult } from '../messaging/messages';
import { BATCH_CHARS, DecryptQueue, type QueuedBlock } from './decrypt-queue';

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
      key: 'k',
      lines: 1,
      status: b.repeat ? 'failed' : 'unverified',
    }));
  };
  return { send, batches, maxInFlight: () => maxInFlight };
}

describe('DecryptQueue', () => {
  it('says which blocks leave before they go, which got no answer, and waits between batches', async () => {
    const r = recorder((batch) => batch === 1);
    const log: string[] = [];
    let release!: () => void;
    const q = new DecryptQueue({
      send: async (context, list) => {
        log.push(`send ${list.length}`);
        return r.send(context, list);
      },
      onResult: () => undefined,
      onSend: (bs) => log.push(`leave ${bs.map((b) => b.armored).join(',')}`),
      onUnread: (bs) => log.push(`unread ${bs.map((b) => b.armored).join(',')}`),
      beforeNext: () => {
        log.push('hold');
        return new Promise<void>((resolve) => (release = resolve));
      },
      firstBatchSize: 2,
      batchSize: 2,
    });
    q.add('ctx', blocks(5));
    await new Promise((r) => setTimeout(r, 20));
    // The second batch waits until what the first put on screen has loaded.
    expect(log).toEqual(['leave b0,b1', 'send 2', 'hold']);
    release();
    await new Promise((r) => setTimeout(r, 20));
    release();
    await new Promise((r) => setTimeout(r, 20));
    release();
    await q.idle();
    expect(log).toEqual([
      'leave b0,b1',
      'send 2',
      'hold',
      'leave b2,b3',
      'send 2',
      // Its batch failed as a whole: its wrappers go again.
      'unread b2,b3',
      'hold',
      'leave b4',
      'send 1',
    ]);
  });

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

  it('keeps a batch of long messages under BATCH_CHARS, every block still sent once', async () => {
    const r = recorder();
    const q = new DecryptQueue({ send: r.send, onResult: () => undefined, batchSize: 100 });
    const long = Array.from({ length: 40 }, (_, i) => ({
      armored: `L${i}`.padEnd(200_000, 'x'),
    }));
    q.add('ctx', long);
    await q.idle();
    for (const b of r.batches)
      expect(b.armored.reduce((n, a) => n + a.length, 0)).toBeLessThanOrEqual(BATCH_CHARS);
    expect(r.batches.flatMap((b) => b.armored)).toEqual(long.map((b) => b.armored));
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

  it('sends the blocks nearest the viewport first, each batch in page order', async () => {
    const r = recorder();
    // Blocks 0…49, the newest on screen (a chat opened at its end).
    const q = new DecryptQueue({
      send: r.send,
      onResult: () => undefined,
      ranking: () => (b) => 49 - Number(b.armored.slice(1)),
      firstBatchSize: 5,
      batchSize: 20,
    });
    q.add(
      'c',
      blocks(50).map((b) => ({ ...b, author: 'alice' })),
    );
    await q.idle();
    expect(r.batches.map((b) => b.armored)).toEqual([
      ['b45', 'b46', 'b47', 'b48', 'b49'],
      blocks(20, 25).map((b) => b.armored),
      blocks(20, 5).map((b) => b.armored),
      blocks(5).map((b) => b.armored),
    ]);
  });

  it('delivers a batch sent in page order nearest first', async () => {
    const r = recorder();
    const results: string[] = [];
    const q = new DecryptQueue({
      send: r.send,
      onResult: (b) => results.push(b.armored),
      ranking: () => (b) => Math.abs(Number(b.armored.slice(1)) - 3),
    });
    q.add(
      'c',
      blocks(6).map((b) => ({ ...b, author: 'alice' })),
    );
    await q.idle();
    expect(r.batches.map((b) => b.armored)).toEqual([['b0', 'b1', 'b2', 'b3', 'b4', 'b5']]);
    expect(results).toEqual(['b3', 'b2', 'b4', 'b1', 'b5', 'b0']);
  });

  it('keeps page order by position when older blocks are added after newer ones', async () => {
    const r = recorder();
    const q = new DecryptQueue({ send: r.send, onResult: () => undefined, firstBatchSize: 2 });
    const at = (armored: string, pos: number) => ({ armored, pos });
    q.add('c', [at('n1', 10), at('n2', 11)]);
    q.add('c', [at('o2', 2), at('n3', 12), at('o1', 1)]);
    await q.idle();
    expect(r.batches.map((b) => b.armored)).toEqual([
      ['n1', 'n2'],
      ['o1', 'o2', 'n3'],
    ]);
  });

  /**
   * Like the protocol for a group: a block fails unless the block before it (its sender key)
   * was read first; `failFirst` fails regardless, once.
   */
  function needsOlder(failAlways: string[] = []) {
    const read = new Set<string>();
    const sent: string[] = [];
    const send = async (_context: string, list: { armored: string }[]) => {
      await new Promise((r) => setTimeout(r, 1));
      return list.map(({ armored }): PageBlockResult => {
        sent.push(armored);
        const n = Number(armored.slice(1));
        const ok = (n === 0 || read.has(`b${n - 1}`)) && !failAlways.includes(armored);
        if (ok) read.add(armored);
        return { token: `t-${armored}`, key: 'k', lines: 1, status: ok ? 'unverified' : 'failed' };
      });
    };
    return { send, sent };
  }

  it('tries a block that failed ahead of older ones once more, after them', async () => {
    const f = needsOlder();
    const results: string[] = [];
    const progress: [number, number][] = [];
    const q = new DecryptQueue({
      send: f.send,
      onResult: (b, res) => results.push(`${b.armored}:${res.status}`),
      onProgress: (d, t) => progress.push([d, t]),
      ranking: () => (b) => (b.armored === 'b5' ? 0 : 100),
      firstBatchSize: 1,
      batchSize: 10,
    });
    q.add('c', blocks(6));
    await q.idle();
    // b5 first (on screen), failed, then everything in page order, b5 last; its result is
    // still delivered first (nearest first).
    expect(f.sent).toEqual(['b5', 'b0', 'b1', 'b2', 'b3', 'b4', 'b5']);
    expect(results).toEqual(['b5', 'b0', 'b1', 'b2', 'b3', 'b4'].map((b) => `${b}:unverified`));
    expect(progress).toEqual([
      [0, 6],
      [6, 6],
    ]);
  });

  it('reports a failure at once when nothing older was waiting, and retries only once', async () => {
    const f = needsOlder(['b0', 'b3']);
    const results: string[] = [];
    const q = new DecryptQueue({
      send: f.send,
      onResult: (b, res) => results.push(`${b.armored}:${res.status}`),
      ranking: () => (b) => (b.armored === 'b3' ? 0 : 100),
      firstBatchSize: 1,
    });
    q.add('c', blocks(4));
    await q.idle();
    expect(f.sent).toEqual(['b3', 'b0', 'b1', 'b2', 'b3']);
    expect(results.sort()).toEqual(['b0:failed', 'b1:failed', 'b2:failed', 'b3:failed']);
  });

  it('retries a failure while older blocks are still being found (expectOlder)', async () => {
    const f = needsOlder();
    const results: string[] = [];
    const q = new DecryptQueue({
      send: f.send,
      onResult: (b, res) => results.push(`${b.armored}:${res.status}`),
    });
    q.expectOlder('c');
    q.add('c', [{ armored: 'b2', pos: 2 }]);
    await q.idle();
    expect(results).toEqual([]);
    q.add('c', [
      { armored: 'b0', pos: 0 },
      { armored: 'b1', pos: 1 },
    ]);
    q.expectOlder(null);
    await q.idle();
    expect(f.sent).toEqual(['b2', 'b0', 'b1', 'b2']);
    expect(results).toEqual(['b0:unverified', 'b1:unverified', 'b2:unverified']);
  });

  it('does not retry a repeat (reported as a replay, unread)', async () => {
    const r = recorder();
    const results: string[] = [];
    const q = new DecryptQueue({
      send: r.send,
      onResult: (b, res) => results.push(`${b.armored}:${res.status}`),
      ranking: () => (b) => (b.repeat ? 0 : 1),
    });
    q.add('c', [...blocks(2), { armored: 'b0', repeat: true }]);
    await q.idle();
    expect(r.batches).toHaveLength(1);
    expect(results).toEqual(['b0:failed', 'b0:unverified', 'b1:unverified']);
  });
});
