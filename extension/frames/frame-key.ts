// How a reader or composer frame proves it is the one Veil placed (extension page inside a host
// page). The content script hands the frame it made its token and key (content/frame-keys.ts)
// by postMessage: a reader's address carries no token at all (it is made before its message is
// decrypted, and the page reads addresses); a composer's carries its token, which then must
// match. The page can post to this frame too, so a pair is only a candidate until the background
// takes it; a frame that gets none the background takes was embedded by the page itself, and
// shows nothing but a warning (and still opens if Veil's own pair comes later).
import { isMessageError } from '../messaging/client';
import { FRAME_KEY_MESSAGE, FRAME_WAIT_MESSAGE, type FrameAuth } from '../messaging/messages';

const TOKEN = /^[A-Za-z0-9_-]{22}$/;
/** Candidates tried at most: the page may post junk ones first. */
const MAX_CANDIDATES = 8;
/** How long a frame waits for its key before it says it was not placed by Veil. */
export const KEY_WAIT_MS = 10_000;
/**
 * A reader is made while its message is still decrypted: its content script says "still
 * coming" (content/frame-keys.ts) and each such word extends the wait by KEY_WAIT_MS, up to
 * this long in all. The page can say it too, which only delays the warning in its own copy.
 */
export const KEY_WAIT_MAX_MS = 120_000;

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

interface Pair {
  token: string;
  key: string;
}

export class FrameLink {
  private readonly candidates: Pair[] = [];
  private waiters: (() => void)[] = [];
  private accepted: Pair | null = null;
  private tried = 0;
  private deadline: number;
  private readonly latest: number;
  private readonly waitMs: number;
  /** Called when a candidate arrives after a call gave up (Veil's frame, slow to be decrypted). */
  onLateCandidate: (() => void) | undefined;
  private gaveUp = false;
  /** The answer to an unknown token, kept in case nothing better comes. */
  private unknown: unknown;

  /** `token`: the one in the frame's address (the pair must carry it), or null (any). */
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
    this.waitMs = waitMs;
    this.deadline = now() + waitMs;
    this.latest = now() + Math.max(waitMs, KEY_WAIT_MAX_MS);
    source.addEventListener('message', (e) => {
      // Only from the page this frame is in (where the content script runs); a top-level
      // frame has no such page.
      if (e.source !== parent || parent === source) return;
      const data = e.data as { type?: unknown; token?: unknown; key?: unknown } | null;
      if (data?.type === FRAME_WAIT_MESSAGE && !this.accepted && !this.gaveUp) {
        this.deadline = Math.min(this.latest, Math.max(this.deadline, this.now() + this.waitMs));
        return;
      }
      if (data?.type !== FRAME_KEY_MESSAGE) return;
      if (typeof data.token !== 'string' || !TOKEN.test(data.token)) return;
      if (token !== null && data.token !== token) return;
      if (typeof data.key !== 'string' || !TOKEN.test(data.key)) return;
      if (this.candidates.length + this.tried >= MAX_CANDIDATES) return;
      const pair = { token: data.token, key: data.key };
      const same = (p: Pair | null) => p?.token === pair.token && p.key === pair.key;
      if (this.candidates.some(same) || same(this.accepted)) return;
      this.candidates.push(pair);
      for (const wake of this.waiters.splice(0)) wake();
      if (this.gaveUp) {
        this.gaveUp = false;
        this.onLateCandidate?.();
      }
    });
  }

  private readonly now: () => number;

  /**
   * Runs `call` with this frame's token and key. Until a key is taken, tries each candidate in
   * turn ('forbidden' means not this one); throws NotPlacedByVeil when none came in time.
   */
  async call<T>(call: (auth: FrameAuth) => Promise<T>): Promise<T> {
    if (this.accepted) return call({ ...this.accepted });
    for (;;) {
      const pair = await this.nextCandidate();
      if (this.accepted) return call({ ...this.accepted });
      if (pair === null) {
        this.gaveUp = true;
        // Only unknown tokens came (a page's made-up pair, or Veil's own that expired): that.
        if (this.unknown) throw this.unknown;
        throw new NotPlacedByVeil('no key');
      }
      this.tried++;
      try {
        const result = await call({ ...pair });
        this.accepted = pair;
        // Other calls waiting for a candidate go ahead with this one.
        for (const wake of this.waiters.splice(0)) wake();
        return result;
      } catch (e) {
        // A token the background does not know is no proof either: a page can make one up
        // and post it first. Keep trying the others.
        if (isMessageError(e, 'not-found')) {
          this.unknown = e;
          continue;
        }
        if (!isMessageError(e, 'forbidden')) {
          // Any other answer (locked) means the pair was taken.
          this.accepted = pair;
          throw e;
        }
      }
    }
  }

  private nextCandidate(): Promise<Pair | null> {
    const ready = this.candidates.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    const left = this.deadline - this.now();
    if (left <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout>;
      // The deadline may move while this waits ("still coming"): look again when it is reached.
      const arm = (ms: number) =>
        (timer = setTimeout(() => {
          const more = this.deadline - this.now();
          if (more > 0 && this.candidates.length === 0) return arm(more);
          this.waiters = this.waiters.filter((w) => w !== wake);
          resolve(this.candidates.shift() ?? null);
        }, ms));
      const wake = () => {
        const next = this.candidates.shift();
        // Another call took the only candidate: keep waiting, unless a pair was accepted.
        if (next === undefined && !this.accepted) {
          this.waiters.push(wake);
          return;
        }
        clearTimeout(timer);
        resolve(next ?? null);
      };
      arm(left);
      this.waiters.push(wake);
    });
  }
}
