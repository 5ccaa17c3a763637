// Which reader frames have been given their message (background only). A page's next batch may
// name the frames on screen it put in for the last one (pageDecrypt `after`): it is decrypted
// once those have read, or after a bound, so the visible messages' text is not queued behind
// work for messages nobody sees yet (both want the same cores).
import { MAX_AFTER } from '../messaging/messages';

/** Tokens remembered per tab as read, and tabs remembered; the oldest are forgotten first. */
const MAX_READ_PER_TAB = 256;
const MAX_TABS = 64;
/** The longest a batch waits for them. */
export const AFTER_WAIT_MS = 1500;

interface Waiter {
  tabId: number;
  left: Set<string>;
  wake(): void;
}

export class ReadWatch {
  private readonly read = new Map<number, Set<string>>();
  private readonly waiters = new Set<Waiter>();

  /** A frame of `tabId` with `token` got its answer (its message, or an error). */
  done(tabId: number, token: string): void {
    let tab = this.read.get(tabId);
    if (!tab) {
      this.read.set(tabId, (tab = new Set()));
      // Closed tabs are not reported here: the least recently seen go.
      if (this.read.size > MAX_TABS) this.read.delete(this.read.keys().next().value!);
    } else {
      this.read.delete(tabId);
      this.read.set(tabId, tab);
    }
    tab.delete(token);
    tab.add(token);
    if (tab.size > MAX_READ_PER_TAB) tab.delete(tab.values().next().value!);
    for (const w of this.waiters) {
      if (w.tabId !== tabId || !w.left.delete(token)) continue;
      if (w.left.size === 0) w.wake();
    }
  }

  /** Resolves once every one of `tokens` was read in `tabId`, or after `maxMs`. */
  wait(tabId: number, tokens: readonly string[], maxMs = AFTER_WAIT_MS): Promise<void> {
    const tab = this.read.get(tabId);
    const left = new Set(tokens.slice(0, MAX_AFTER).filter((t) => !tab?.has(t)));
    if (left.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        tabId,
        left,
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, maxMs);
      this.waiters.add(waiter);
    });
  }

  /** A page (re)loaded or the tab closed: its frames are gone. */
  forgetTab(tabId: number): void {
    this.read.delete(tabId);
    for (const w of this.waiters) if (w.tabId === tabId) w.wake();
  }

  size(): number {
    let n = this.waiters.size;
    for (const tab of this.read.values()) n += tab.size;
    return n;
  }

  clear(): void {
    this.read.clear();
    for (const w of [...this.waiters]) w.wake();
  }

  /** For the memory-cache registry. */
  get holds(): object {
    return this.read;
  }
}
