// How a reader or composer frame proves it is the one Veil placed (extension page inside a host
// page). Its token is in its URL, which the page can read; the content script hands the frame
// it made a key (content/frame-keys.ts) by postMessage. The page can post to this frame too, so
// a key is only a candidate until the background takes it; a frame that gets no key the
// background takes was embedded by the page itself, and shows nothing but a warning.
import { isMessageError } from '../messaging/client';
import type { FrameAuth } from '../messaging/messages';

const TOKEN = /^[A-Za-z0-9_-]{22}$/;
/** The content script's message (content/frame-keys.ts FRAME_KEY_MESSAGE). */
const FRAME_KEY_MESSAGE = 'veil:frame-key';
/** Candidates tried at most: the page may post junk ones first. */
const MAX_CANDIDATES = 8;
/** How long a frame waits for its key before it says it was not placed by Veil. */
export const KEY_WAIT_MS = 10_000;

/** The frame's token, or null when the URL does not carry a well-formed one. */
export function frameToken(hash: string = location.hash): string | null {
  const token = hash.replace(/^#/, '');
  return TOKEN.test(token) ? token : null;
}

/** Thrown when no key the background takes came: the page embedded this frame. */
export class NotPlacedByVeil extends Error {
  override readonly name = 'NotPlacedByVeil';
}

interface KeySource {
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

export class FrameLink {
  private readonly candidates: string[] = [];
  private waiters: (() => void)[] = [];
  private accepted: string | null = null;
  private tried = 0;
  private readonly deadline: number;

  constructor(
    readonly token: string | null,
    {
      source = window as KeySource,
      parent = window.parent as unknown,
      now = Date.now,
      waitMs = KEY_WAIT_MS,
    }: { source?: KeySource; parent?: unknown; now?: () => number; waitMs?: number } = {},
  ) {
    this.now = now;
    this.deadline = now() + waitMs;
    if (!token) return;
    source.addEventListener('message', (e) => {
      // Only from the page this frame is in (where the content script runs); a top-level
      // frame has no such page.
      if (e.source !== parent || parent === source) return;
      const data = e.data as { type?: unknown; token?: unknown; key?: unknown } | null;
      if (data?.type !== FRAME_KEY_MESSAGE || data.token !== token) return;
      if (typeof data.key !== 'string' || !TOKEN.test(data.key)) return;
      if (this.candidates.length + this.tried >= MAX_CANDIDATES) return;
      if (this.candidates.includes(data.key) || data.key === this.accepted) return;
      this.candidates.push(data.key);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  private readonly now: () => number;

  /**
   * Runs `call` with this frame's token and key. Until a key is taken, tries each candidate in
   * turn ('forbidden' means not this one); throws NotPlacedByVeil when none came in time.
   */
  async call<T>(call: (auth: FrameAuth) => Promise<T>): Promise<T> {
    const token = this.token;
    if (!token) throw new NotPlacedByVeil('no token');
    if (this.accepted) return call({ token, key: this.accepted });
    for (;;) {
      const key = await this.nextCandidate();
      if (this.accepted) return call({ token, key: this.accepted });
      if (key === null) throw new NotPlacedByVeil('no key');
      this.tried++;
      try {
        const result = await call({ token, key });
        this.accepted = key;
        return result;
      } catch (e) {
        if (!isMessageError(e, 'forbidden')) {
          // Any other answer (expired, locked) means the key was taken.
          this.accepted = key;
          throw e;
        }
      }
    }
  }

  private nextCandidate(): Promise<string | null> {
    const ready = this.candidates.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    const left = this.deadline - this.now();
    if (left <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(this.candidates.shift() ?? null);
      }, left);
      const wake = () => {
        clearTimeout(timer);
        resolve(this.candidates.shift() ?? null);
      };
      this.waiters.push(wake);
    });
  }
}
