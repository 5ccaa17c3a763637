// Frames hear of the lock from the background only, and the background tells them on lock and
// unlock.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { ToFrameMessage } from '../messaging/messages';
import { makeProfile, ready } from '../background/testing';
import { lockChange } from './lock-watch';

describe('lock changes told to frames', () => {
  it('count only from the background (no tab), of this extension, well formed', () => {
    const background = { id: 'veil', url: 'chrome-extension://veil/background.js' };
    expect(lockChange({ type: 'veil:lock', locked: true }, background, 'veil')).toBe(true);
    expect(lockChange({ type: 'veil:lock', locked: false }, background, 'veil')).toBe(false);
    // A content script (it has a tab), another extension, or a malformed message.
    const contentScript = { id: 'veil', tab: { id: 3 }, url: 'https://chat.example/' };
    expect(lockChange({ type: 'veil:lock', locked: true }, contentScript, 'veil')).toBeNull();
    expect(lockChange({ type: 'veil:lock', locked: true }, { id: 'other' }, 'veil')).toBeNull();
    expect(lockChange({ type: 'veil:lock', locked: 'yes' }, background, 'veil')).toBeNull();
    expect(lockChange(null, background, 'veil')).toBeNull();
  });

  it('are sent by the background on lock and on unlock', async () => {
    const told: ToFrameMessage[] = [];
    const p = await ready(makeProfile({ tellFrames: async (m) => void told.push(m) }));
    await p.call({
      type: 'createIdentity',
      handle: 'lockwatch',
      directoryUrl: 'http://127.0.0.1:1',
    });
    await p.call({ type: 'setLockPassphrase', passphrase: 'lock passphrase here' });
    expect(told).toEqual([]);
    await p.call({ type: 'lock' });
    expect(told).toEqual([{ type: 'veil:lock', locked: true }]);
    await p.call({ type: 'unlock', passphrase: 'lock passphrase here' });
    expect(told).toEqual([
      { type: 'veil:lock', locked: true },
      { type: 'veil:lock', locked: false },
    ]);
  });
});
