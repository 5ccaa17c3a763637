// A batch that names the frames on screen waits until they have read their messages, never
// longer than its bound, and only for frames of its own tab.
import { describe, expect, it } from 'vitest';
import { ReadWatch } from './read-watch';

const settledWithin = async (p: Promise<void>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('ReadWatch', () => {
  it('waits until every named frame of the tab has read', async () => {
    const w = new ReadWatch();
    const waiting = w.wait(1, ['a', 'b'], 5_000);
    w.done(1, 'a');
    w.done(2, 'b'); // another tab's frame with the same token says nothing
    expect(await settledWithin(waiting, 30)).toBe(false);
    w.done(1, 'b');
    expect(await settledWithin(waiting, 30)).toBe(true);
    // Already read: no wait at all.
    expect(await settledWithin(w.wait(1, ['a']), 5)).toBe(true);
  });

  it('never waits past its bound, and stops waiting when the tab reloads or all is deleted', async () => {
    const w = new ReadWatch();
    const start = Date.now();
    await w.wait(1, ['never'], 40);
    expect(Date.now() - start).toBeGreaterThanOrEqual(35);
    const reload = w.wait(3, ['x'], 5_000);
    w.forgetTab(3);
    expect(await settledWithin(reload, 30)).toBe(true);
    w.done(4, 'y');
    const wiped = w.wait(4, ['z'], 5_000);
    expect(w.size()).toBe(2);
    w.clear();
    expect(await settledWithin(wiped, 30)).toBe(true);
    expect(w.size()).toBe(0);
  });

  it('remembers a bounded number of tokens per tab and of tabs', () => {
    const w = new ReadWatch();
    for (let i = 0; i < 1000; i++) w.done(1, `t${i}`);
    for (let tab = 2; tab < 200; tab++) w.done(tab, 't');
    expect(w.size()).toBeLessThanOrEqual(256 + 64);
  });
});
