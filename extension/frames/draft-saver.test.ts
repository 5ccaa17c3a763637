// The composer's draft saver: one save per pause in typing, the pending text saved at once when
// the frame goes or the text is sent, nothing after a send, and never a rejection.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DRAFT_DELAY_MS, DraftSaver } from './draft-saver';

describe('DraftSaver', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('saves the latest text once typing pauses', async () => {
    const save = vi.fn(async () => undefined);
    const drafts = new DraftSaver(save);
    for (const text of ['h', 'he', 'hel']) {
      drafts.changed(text);
      await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS - 1);
    }
    expect(save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(save.mock.calls).toEqual([['hel']]);
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS * 2);
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('flushes a pending change at once, and only once', async () => {
    const save = vi.fn(async () => undefined);
    const drafts = new DraftSaver(save);
    await drafts.flush();
    expect(save).not.toHaveBeenCalled();
    drafts.changed('going away');
    await drafts.flush();
    expect(save.mock.calls).toEqual([['going away']]);
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS);
    await drafts.flush();
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('drops a pending change once the text was sent', async () => {
    const save = vi.fn(async () => undefined);
    const drafts = new DraftSaver(save);
    drafts.changed('sent already');
    drafts.cancel();
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS);
    await drafts.flush();
    expect(save).not.toHaveBeenCalled();
  });

  it('never rejects when the background refuses (locked)', async () => {
    const drafts = new DraftSaver(() => Promise.reject(new Error('locked')));
    drafts.changed('x');
    await expect(drafts.flush()).resolves.toBeUndefined();
  });
});
