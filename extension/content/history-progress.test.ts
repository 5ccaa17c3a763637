// A long history's progress as the background hears it: only past HISTORY_FROM blocks, throttled,
// always closed by a last report; and the queue's cancel, which drops the backlog and says so.
import { describe, expect, it } from 'vitest';
import type { PageBlockResult } from '../messaging/messages';
import { DecryptQueue, type QueuedBlock } from './decrypt-queue';
import { HISTORY_FROM, HistoryProgress, REPORT_EVERY_MS } from './history-progress';

const blocks = (n: number): QueuedBlock[] =>
  Array.from({ length: n }, (_, i) => ({ armored: `b${i}` }));

const result = (armored: string): PageBlockResult => ({
  token: `t-${armored}`,
  key: 'k',
  lines: 1,
  status: 'verified',
});

/** A queue whose batches wait for `release()`, its progress fed to a HistoryProgress. */
function setup(n: number) {
  const reports: [number, number][] = [];
  let clock = 0;
  const history = new HistoryProgress(
    (d, t) => reports.push([d, t]),
    () => clock,
  );
  const sent: string[] = [];
  const read: string[] = [];
  const gates: (() => void)[] = [];
  const queue = new DecryptQueue<QueuedBlock>({
    send: async (_context, list) => {
      sent.push(...list.map((b) => b.armored));
      await new Promise<void>((resolve) => gates.push(resolve));
      return list.map((b) => result(b.armored));
    },
    onResult: (block) => read.push(block.armored),
    onProgress: (done, total) => history.update(done, total),
    firstBatchSize: 10,
    batchSize: 10,
  });
  queue.add('ctx', blocks(n));
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const release = async (ms = REPORT_EVERY_MS) => {
    clock += ms;
    gates.shift()?.();
    await tick();
    await tick();
  };
  return { queue, reports, sent, read, release, tick };
}

describe('HistoryProgress', () => {
  it('says nothing of a short backlog', async () => {
    const s = setup(HISTORY_FROM);
    for (let i = 0; i < 6; i++) await s.release();
    await s.queue.idle();
    expect(s.read).toHaveLength(HISTORY_FROM);
    expect(s.reports).toEqual([]);
  });

  it('reports a long backlog as counts, throttled, and closes it when done', async () => {
    const s = setup(120);
    for (let i = 0; i < 3; i++) await s.release();
    // Two batches within one interval: the second is not reported.
    await s.release(1);
    for (let i = 0; i < 20; i++) await s.release();
    await s.queue.idle();
    expect(s.read).toHaveLength(120);
    expect(s.reports[0]).toEqual([10, 120]);
    expect(s.reports).not.toContainEqual([40, 120]);
    expect(s.reports.at(-1)).toEqual([120, 120]);
    for (const [done, total] of s.reports) {
      expect(total).toBe(120);
      expect(done).toBeLessThanOrEqual(total);
    }
  });

  it('reports only numbers', () => {
    const seen: unknown[] = [];
    const h = new HistoryProgress(
      (...args) => seen.push(...args),
      () => 0,
    );
    h.update(1, 500);
    h.update(500, 500);
    expect(seen.every((v) => typeof v === 'number')).toBe(true);
  });
});

describe('DecryptQueue.cancel', () => {
  it('drops the waiting backlog, lets the batch in flight finish, and closes the task', async () => {
    const s = setup(200);
    await s.release(); // first batch read
    await s.tick();
    expect(s.sent).toHaveLength(20); // the second batch is in flight
    const dropped = s.queue.cancel();
    expect(dropped).toBe(180);
    await s.release();
    await s.queue.idle();
    // Nothing more was sent after the cancel; the in-flight batch was still shown.
    expect(s.sent).toHaveLength(20);
    expect(s.read).toHaveLength(20);
    expect(s.reports.at(-1)).toEqual([20, 20]);
  });

  it('with nothing in flight, reports the end at once; later blocks are still read', async () => {
    const reports: [number, number][] = [];
    const read: string[] = [];
    let hold!: () => void;
    const queue = new DecryptQueue<QueuedBlock>({
      send: async (_c, list) => list.map((b) => result(b.armored)),
      onResult: (b) => read.push(b.armored),
      onProgress: (d, t) => reports.push([d, t]),
      // Holds the queue between batches, so it is idle but has a backlog.
      beforeNext: () => new Promise<void>((r) => (hold = r)),
      firstBatchSize: 5,
      batchSize: 5,
    });
    queue.add('ctx', blocks(100));
    await new Promise((r) => setTimeout(r, 5));
    expect(read).toHaveLength(5);
    expect(queue.cancel()).toBe(95);
    expect(reports.at(-1)).toEqual([5, 5]);
    hold();
    await queue.idle();
    expect(read).toHaveLength(5);
    queue.add('ctx', [{ armored: 'new' }]);
    await new Promise((r) => setTimeout(r, 5));
    hold?.();
    await queue.idle();
    expect(read).toContain('new');
  });
});
