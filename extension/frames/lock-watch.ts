// The background tells Veil's frames when the lock closes or opens (runtime message to every
// extension page). A locked frame drops what it shows or holds; an opened one reads again.
// Only the background's word counts: a content script's runtime messages carry its tab.
import { browser } from 'wxt/browser';
import type { ToFrameMessage } from '../messaging/messages';

interface SenderLike {
  id?: string;
  tab?: unknown;
  url?: string;
}

/** Whether `message` from `sender` is the background saying the lock changed. */
export function lockChange(message: unknown, sender: SenderLike, ownId: string): boolean | null {
  if (sender.id !== ownId || sender.tab !== undefined) return null;
  const m = message as Partial<ToFrameMessage> | null;
  if (m?.type !== 'veil:lock' || typeof m.locked !== 'boolean') return null;
  return m.locked;
}

/** Calls `changed(locked)` on each lock change; returns the function that stops listening. */
export function watchLock(changed: (locked: boolean) => void): () => void {
  const listener = (message: unknown, sender: SenderLike): undefined => {
    const locked = lockChange(message, sender, browser.runtime.id);
    if (locked !== null) changed(locked);
    return undefined;
  };
  browser.runtime.onMessage.addListener(listener);
  return () => browser.runtime.onMessage.removeListener(listener);
}
