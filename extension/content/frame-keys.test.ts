// The content script hands a frame's key only after a load the browser reports, only to the
// extension's origin, and has the old document forgotten before a reloaded frame gets it.
import { describe, expect, it, vi } from 'vitest';
import { fakeBrowser } from 'wxt/testing';
import { handKey, WAIT_PING_MS } from './frame-keys';

// Chrome serves the frame from a per-session id; its document has the extension's own origin.
const OWN_ORIGIN = `chrome-extension://${fakeBrowser.runtime.id}`;

function fakeFrame() {
  const listeners: ((e: { isTrusted: boolean }) => void)[] = [];
  const postMessage = vi.fn();
  const frame = {
    src: 'chrome-extension://dynamicid/reader.html',
    contentWindow: { postMessage },
    addEventListener: (_type: string, l: (e: { isTrusted: boolean }) => void) => listeners.push(l),
  };
  const load = async (isTrusted = true) => {
    for (const l of listeners) l({ isTrusted });
    await new Promise((r) => setTimeout(r, 0));
  };
  return { frame: frame as unknown as HTMLIFrameElement, postMessage, load };
}

describe('handKey', () => {
  it('posts the key after each real load, to the extension origin only', async () => {
    const { frame, postMessage, load } = fakeFrame();
    const reloaded = vi.fn(async () => undefined);
    handKey(frame, { token: 'tok', key: 'key' }, reloaded);
    await load(false); // dispatched by the page
    expect(postMessage).not.toHaveBeenCalled();
    await load();
    expect(postMessage).toHaveBeenCalledWith(
      { type: 'veil:frame-key', token: 'tok', key: 'key' },
      OWN_ORIGIN,
    );
    expect(reloaded).not.toHaveBeenCalled();
    // The page moved the frame: a new document. The old bond goes first, then the key.
    const order: string[] = [];
    reloaded.mockImplementation(async () => void order.push('reloaded'));
    postMessage.mockImplementation(() => order.push('posted'));
    await load();
    expect(order).toEqual(['reloaded', 'posted']);
  });

  it('hands a reader its pair once issued, whether the frame loaded before or after', async () => {
    const early = fakeFrame();
    let issue!: (pair: { token: string; key: string }) => void;
    handKey(early.frame, new Promise((r) => (issue = r)), async () => undefined);
    await early.load();
    expect(early.postMessage).not.toHaveBeenCalled();
    issue({ token: 'tok', key: 'key' });
    await new Promise((r) => setTimeout(r, 0));
    expect(early.postMessage).toHaveBeenCalledWith(
      { type: 'veil:frame-key', token: 'tok', key: 'key' },
      OWN_ORIGIN,
    );
    // Never issued (its batch failed): nothing is posted, nothing thrown.
    const never = fakeFrame();
    handKey(never.frame, Promise.reject(new Error('not read')), async () => undefined);
    await never.load();
    expect(never.postMessage).not.toHaveBeenCalled();
  });

  it('says "still coming" while the pair is not issued yet, and stops once it is', async () => {
    vi.useFakeTimers();
    try {
      const { frame, postMessage, load } = fakeFrame();
      let issue!: (pair: { token: string; key: string }) => void;
      handKey(frame, new Promise((r) => (issue = r)), async () => undefined);
      (frame as unknown as { isConnected: boolean }).isConnected = true;
      const loaded = load();
      await vi.advanceTimersByTimeAsync(1);
      await loaded;
      await vi.advanceTimersByTimeAsync(WAIT_PING_MS * 3);
      const waits = postMessage.mock.calls.filter(([m]) => m.type === 'veil:frame-wait');
      expect(waits).toHaveLength(3);
      expect(waits[0]![1]).toBe(OWN_ORIGIN);
      issue({ token: 'tok', key: 'key' });
      await vi.advanceTimersByTimeAsync(WAIT_PING_MS * 3);
      expect(postMessage.mock.calls.filter(([m]) => m.type === 'veil:frame-wait')).toHaveLength(3);
      expect(postMessage).toHaveBeenCalledWith(
        { type: 'veil:frame-key', token: 'tok', key: 'key' },
        OWN_ORIGIN,
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the extension origin, whatever address the page sets later', async () => {
    const { frame, postMessage, load } = fakeFrame();
    handKey(frame, { token: 'tok', key: 'key' }, async () => undefined);
    (frame as { src: string }).src = 'https://evil.example/steal';
    await load();
    expect(postMessage.mock.calls[0]![1]).toBe(OWN_ORIGIN);
  });
});
