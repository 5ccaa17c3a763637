import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('FairQueue', () => {
  it('takes turns: a tab that queued 100 jobs holds another up by the running job and one more', async () => {
    const q = new FairQueue();
    const log: string[] = [];
    const job = (name: string) => async () => {
      await tick();
      log.push(name);
    };
    const flood = Array.from({ length: 100 }, (_, i) => q.run(1, job(`flood${i}`)));
    await tick();
    const done = log.length;
    const quiet = q.run(2, job('quiet'));
    await Promise.all([...flood, quiet]);
    // Queued while one flood job ran: that one, at most one more, then the quiet tab's.
    expect(log.indexOf('quiet') - done).toBeLessThanOrEqual(2);
    expect(log.filter((n) => n.startsWith('flood'))).toEqual(
      Array.from({ length: 100 }, (_, i) => `flood${i}`),
    );
  });

  it('runs one job at a time, in order within a tab, and passes results and errors back', async () => {
    const q = new FairQueue();
    let running = 0;
    let most = 0;
    const results = await Promise.allSettled(
      [1, 2, 1, 2, 1].map((tab, i) =>
        q.run(tab, async () => {
          running++;
          most = Math.max(most, running);
          await tick();
          running--;
          if (i === 3) throw new Error('job 3');
          return i;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'x'))).toEqual([
      0,
      1,
      2,
      'x',
      4,
    ]);
    expect(q.pending(1) + q.pending(2)).toBe(0);
  });
});
