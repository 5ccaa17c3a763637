// Waiting for a page's adapter: a single-page app draws its compose box after sign-in, so the
// content script watches the page until an adapter matches, with checks spaced out however busy
// the page is. The real page is tests/e2e/spa-app.test.ts; here MutationObserver is a stand-in.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SiteAdapter } from '../../site-adapters/types';

vi.mock('wxt/browser', () => ({ browser: { runtime: { id: 'test' } } }));
const { adapterWhenReady } = await import('./main');

class FakeObserver {
  static last: FakeObserver | null = null;
  observing = false;
  constructor(readonly callback: () => void) {
    FakeObserver.last = this;
  }
  observe() {
    this.observing = true;
  }
  disconnect() {
    this.observing = false;
  }
  /** The page changed something. */
  fire() {
    if (this.observing) this.callback();
  }
}

const adapter = { id: 'generic' } as SiteAdapter;
const doc = {} as Document;

describe('adapterWhenReady', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal('MutationObserver', FakeObserver);
    FakeObserver.last = null;
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('answers at once when the page already has a compose box, watching nothing', async () => {
    expect(await adapterWhenReady(() => adapter, doc, new AbortController().signal)).toBe(adapter);
    expect(FakeObserver.last).toBeNull();
  });

  it('finds the adapter once the page draws it, checking at most every 250 ms', async () => {
    let ready = false;
    const find = vi.fn(() => (ready ? adapter : null));
    const found = adapterWhenReady(find, doc, new AbortController().signal);
    const observer = FakeObserver.last!;
    expect(observer.observing).toBe(true);
    // A busy page: 1,000 changes in 1 s cost 4 checks, not 1,000.
    for (let i = 0; i < 1000; i++) {
      observer.fire();
      await vi.advanceTimersByTimeAsync(1);
    }
    expect(find.mock.calls.length).toBeLessThanOrEqual(1 + 5);
    ready = true;
    observer.fire();
    await vi.advanceTimersByTimeAsync(250);
    expect(await found).toBe(adapter);
    expect(observer.observing).toBe(false);
  });

  it('gives up, watching nothing more, when told to stop', async () => {
    const stop = new AbortController();
    const found = adapterWhenReady(() => null, doc, stop.signal);
    stop.abort();
    expect(await found).toBeNull();
    expect(FakeObserver.last!.observing).toBe(false);
  });
});
