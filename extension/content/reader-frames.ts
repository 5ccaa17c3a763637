// Places Veil's reader frames in the host page (content script; sees ciphertext and tokens only).
// When a block is sent to be decrypted, the host's armored text is hidden (the element stays
// where it is, so the site's own rendering is not disturbed) and a wrapper
// `data-veil="message-pending"` is inserted after it; with the block's status it becomes
// `data-veil="message"`. The wrapper holds an extension-origin iframe (`reader.html`, no token in
// its address) created as soon as it is near the viewport, so the frame loads while its message
// is decrypted; its token and key follow from here once issued (frame-keys.ts). A frame's height
// depends on its status and its text's padding bucket only (frame-height.ts): the frame never
// reports one, so the page cannot measure the text's layout.
import type { BlockStatus, FrameSight, PageBlockResult } from '../messaging/messages';
import { frameSight } from './frame-sight';
import { MIN_FRAME_HEIGHT_PX, readerHeight } from './frame-height';
import { handKey, type FramePair } from './frame-keys';
import { frameUrl } from './frame-url';
import { pageText } from './page-text';

/** How far outside the viewport a frame is already loaded. */
const LAZY_MARGIN = '800px 0px';
/** Within this many pixels of its end, a scrolled message list counts as "at the bottom". */
const BOTTOM_SLACK_PX = 8;
/** The most the next batch waits for the frames on screen to load (DecryptQueue.beforeNext). */
export const SETTLE_MAX_MS = 1200;
/** A reader on screen that has not loaded by then is loaded again, once. */
const RELOAD_AFTER_MS = 8000;

/** A block sent to be decrypted, its wrapper already in the page. */
export interface PendingReader {
  readonly wrapper: HTMLElement;
  readonly bodies: readonly HTMLElement[];
  issue(pair: FramePair): void;
  drop(): void;
}

function isScroller(el: HTMLElement): boolean {
  const { overflowY } = getComputedStyle(el);
  return overflowY === 'auto' || overflowY === 'scroll';
}

export class ReaderFrames {
  private readonly frames = new Map<string, HTMLIFrameElement>();
  private readonly wrappers = new Map<string, HTMLElement>();
  /** Per token: its key, and the lines its frame is sized for. */
  private readonly blocks = new Map<string, { key: string; lines: number }>();
  private readonly lazy: IntersectionObserver;
  /** Wrappers not yet given their frame: what mounts it (on screen: watched while it loads). */
  private readonly pending = new WeakMap<Element, (onScreen: boolean) => void>();
  /**
   * The host's scrolling element for the message list (the list or an ancestor; none when the
   * document scrolls), looked up once per list: the lookup reads computed styles, which after
   * a placement means a style recalculation each.
   */
  private scrollerOf: { list: Element; scroller: HTMLElement | null } | null = null;
  /** Wrappers near (not in) the viewport, mounted one per idle slot, nearest first. */
  private readonly later: Element[] = [];
  private drainScheduled = false;
  /** Title of every reader frame (i18n lookups cost a few ms each in a content script). */
  private title: string | undefined;
  /** Frames mounted on screen that have not loaded yet (the next batch waits for them). */
  private readonly loading = new Set<HTMLIFrameElement>();
  /** Tokens of frames mounted on screen, not yet named to the background (takeOnScreen). */
  private onScreen: string[] = [];
  private settledWaiters: (() => void)[] = [];

  constructor(private readonly doc: Document) {
    this.lazy = new IntersectionObserver(
      (entries) => {
        // Creating an iframe costs ~10 ms of main thread: the frames in the viewport now, the
        // ones in the margin afterwards, so they neither delay the visible ones nor the page.
        const view = this.doc.defaultView;
        const height = view?.innerHeight ?? Infinity;
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          this.lazy.unobserve(entry.target);
          const r = entry.boundingClientRect;
          if (r.bottom >= 0 && r.top <= height) this.mountNow(entry.target, true);
          else this.later.push(entry.target);
        }
        this.drain();
      },
      { rootMargin: LAZY_MARGIN },
    );
  }

  /**
   * Hides the block's armored bodies behind one pending reader wrapper after the first of them,
   * before the block is decrypted. `list`: the host's message list they are in (where to look
   * for the element that scrolls).
   */
  prepare(bodies: readonly HTMLElement[], list?: Element | null): PendingReader | null {
    const shown = bodies.filter((b) => b.isConnected);
    const first = shown[0];
    if (!first) return null;
    const stick = this.stickToBottom(first, list);
    for (const body of shown) {
      body.style.setProperty('display', 'none', 'important');
      body.setAttribute('data-veil-hidden', '');
    }
    const wrapper = this.doc.createElement('div');
    wrapper.setAttribute('data-veil', 'message-pending');
    // In a flex row (The Lounge puts the body in one) the wrapper takes the free width instead
    // of shrinking to the iframe's default 300 px; a block parent ignores flex.
    wrapper.style.cssText = `display:block;flex:1 1 0%;min-width:0;height:${MIN_FRAME_HEIGHT_PX}px;max-width:100%;`;
    first.after(wrapper);
    stick();
    let issue!: (pair: FramePair) => void;
    let reject!: (e: Error) => void;
    const pair = new Promise<FramePair>((resolve, fail) => {
      issue = resolve;
      reject = fail;
    });
    pair.catch(() => undefined);
    this.pending.set(wrapper, (onScreen) => {
      const frame = this.mount(wrapper, pair);
      void pair
        .then(({ token }) => {
          this.frames.set(token, frame);
          if (onScreen) this.onScreen.push(token);
        })
        .catch(() => undefined);
      if (onScreen) this.watchLoad(frame);
    });
    this.lazy.observe(wrapper);
    return {
      wrapper,
      bodies: shown,
      issue,
      drop: () => {
        reject(new Error('not read'));
        this.lazy.unobserve(wrapper);
        this.pending.delete(wrapper);
        for (const frame of wrapper.querySelectorAll('iframe')) this.loaded(frame);
        wrapper.remove();
        for (const body of shown) {
          body.style.removeProperty('display');
          body.removeAttribute('data-veil-hidden');
        }
      },
    };
  }

  /**
   * Gives the wrappers on screen their frames now, not at the observer's next report (a busy
   * page can make that wait): every frame's load starts as early as it can. Reads all positions
   * first, so the page lays out once.
   */
  mountVisible(pendings: readonly PendingReader[]): void {
    const height = this.doc.defaultView?.innerHeight ?? 0;
    const onScreen = pendings.filter(({ wrapper }) => {
      if (!wrapper.isConnected) return false;
      const r = wrapper.getBoundingClientRect();
      return r.bottom >= 0 && r.top <= height && r.width > 0;
    });
    for (const { wrapper } of onScreen) {
      this.lazy.unobserve(wrapper);
      this.mountNow(wrapper, true);
    }
  }

  /** The block's status came: the pending wrapper says it, and its frame gets its pair. */
  place(pending: PendingReader, result: PageBlockResult): HTMLElement | null {
    const { wrapper } = pending;
    if (!wrapper.isConnected) {
      pending.drop();
      return null;
    }
    const stick = this.stickToBottom(wrapper);
    wrapper.setAttribute('data-veil-status', result.status);
    wrapper.setAttribute('data-veil', 'message');
    wrapper.style.height = `${readerHeight(result.status, result.lines)}px`;
    stick();
    this.wrappers.set(result.token, wrapper);
    this.blocks.set(result.token, { key: result.key, lines: result.lines });
    pending.issue({ token: result.token, key: result.key });
    return wrapper;
  }

  /**
   * Resolves when the frames on screen have loaded (or after `maxMs`): the next batch's work
   * would otherwise take the cores they load on.
   */
  settled(maxMs = SETTLE_MAX_MS): Promise<void> {
    if (this.loadingOnScreen() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.settledWaiters = this.settledWaiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.settledWaiters.push(done);
    });
  }

  /** Frames on screen still loading. */
  loadingOnScreen(): number {
    for (const frame of this.loading) if (!frame.isConnected) this.loaded(frame);
    return this.loading.size;
  }

  /**
   * Tokens of the frames put on screen since the last call, whose messages came: the next
   * batch asks the background to let them read first (pageDecrypt `after`).
   */
  takeOnScreen(): string[] {
    return this.onScreen.splice(0, 64);
  }

  private loaded(frame: HTMLIFrameElement): void {
    if (!this.loading.delete(frame) || this.loading.size > 0) return;
    for (const wake of this.settledWaiters.splice(0)) wake();
  }

  /**
   * A block's status changed after it was placed: the wrapper says so, and a reader already
   * loaded is loaded again (it reads its view when it loads; the page cannot reach into it).
   */
  restatus(token: string, status: BlockStatus): void {
    const wrapper = this.wrappers.get(token);
    if (!wrapper?.isConnected) return;
    wrapper.setAttribute('data-veil-status', status);
    const stick = this.stickToBottom(wrapper);
    const height = `${readerHeight(status, this.blocks.get(token)?.lines ?? 1)}px`;
    wrapper.style.height = height;
    stick();
    const frame = this.frames.get(token);
    if (!frame) return;
    frame.remove();
    this.loaded(frame);
    const block = this.blocks.get(token);
    if (block) this.frames.set(token, this.mount(wrapper, { token, key: block.key }));
  }

  /** What the page shows of the reader frame with `token`; undefined if it is not a reader's. */
  sight(token: string): FrameSight | undefined {
    const frame = this.frames.get(token);
    if (!frame) return undefined;
    return frame.isConnected ? frameSight(frame) : 'away';
  }

  /** Removes every wrapper and shows the host's text again. */
  clear(): void {
    this.lazy.disconnect();
    this.later.length = 0;
    this.frames.clear();
    this.wrappers.clear();
    this.blocks.clear();
    this.loading.clear();
    this.onScreen = [];
    for (const wake of this.settledWaiters.splice(0)) wake();
    for (const el of this.doc.querySelectorAll<HTMLElement>(
      '[data-veil="message"], [data-veil="message-pending"]',
    ))
      el.remove();
    for (const el of this.doc.querySelectorAll<HTMLElement>('[data-veil-hidden]')) {
      el.style.removeProperty('display');
      el.removeAttribute('data-veil-hidden');
    }
  }

  private mountNow(wrapper: Element, onScreen = false): void {
    const mount = this.pending.get(wrapper);
    this.pending.delete(wrapper);
    if (mount && wrapper.isConnected) mount(onScreen);
  }

  /** Holds the next batch (settled) until `frame`, on screen, has loaded. */
  private watchLoad(frame: HTMLIFrameElement): void {
    this.loading.add(frame);
    let didLoad = false;
    frame.addEventListener(
      'load',
      () => {
        didLoad = true;
        this.loaded(frame);
      },
      { once: true },
    );
    // A load the page keeps from reaching this listener must not hold Veil up for good.
    setTimeout(() => this.loaded(frame), SETTLE_MAX_MS);
    // A frame whose document never came (seen on a busy machine): asked for once more.
    setTimeout(() => {
      if (!didLoad && frame.isConnected) frame.src = frameUrl('reader');
    }, RELOAD_AFTER_MS);
  }

  /** Mounts the waiting margin frames one per idle slot (a timer where there is no idle API). */
  private drain(): void {
    if (this.drainScheduled || this.later.length === 0) return;
    this.drainScheduled = true;
    const view = this.doc.defaultView;
    const next = () => {
      this.drainScheduled = false;
      // Frames on screen first: these would take the cores they load on.
      if (this.loading.size > 0) {
        void this.settled().then(() => this.drain());
        return;
      }
      // Nearest to the viewport first (the reader may have scrolled since they were queued).
      const height = view?.innerHeight ?? 0;
      let best = 0;
      let bestDistance = Infinity;
      this.later.forEach((el, i) => {
        const r = el.getBoundingClientRect();
        const d = r.bottom < 0 ? -r.bottom : r.top > height ? r.top - height : 0;
        if (d < bestDistance) [best, bestDistance] = [i, d];
      });
      const [wrapper] = this.later.splice(best, 1);
      if (wrapper) this.mountNow(wrapper);
      this.drain();
    };
    if (view?.requestIdleCallback) view.requestIdleCallback(next, { timeout: 200 });
    else setTimeout(next, 0);
  }

  /**
   * Before Veil changes heights near `el`: if the host's message list is scrolled to its end
   * (where chats keep it while new lines arrive), the returned function puts it back there
   * afterwards. Otherwise the newest message would sit below the fold, its frame never mounted.
   */
  private stickToBottom(el: Element, list?: Element | null): () => void {
    const known = this.scrollerOf;
    if (!known?.list.isConnected || !known.list.contains(el)) {
      // Messages themselves do not scroll: start at the list when it is known.
      const from = list?.contains(el) ? list : el.parentElement;
      this.scrollerOf = from ? { list: from, scroller: this.findScroller(from) } : null;
    }
    const scroller = this.scrollerOf?.scroller;
    if (!scroller?.isConnected) return () => undefined;
    const atBottom =
      scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= BOTTOM_SLACK_PX;
    return atBottom ? () => void (scroller.scrollTop = scroller.scrollHeight) : () => undefined;
  }

  private findScroller(from: Element): HTMLElement | null {
    for (let p: Element | null = from; p && p !== this.doc.body; p = p.parentElement)
      if (isScroller(p as HTMLElement)) return p as HTMLElement;
    return null;
  }

  private mount(wrapper: HTMLElement, pair: FramePair | Promise<FramePair>): HTMLIFrameElement {
    const frame = this.doc.createElement('iframe');
    frame.src = frameUrl('reader');
    frame.title = this.title ??= pageText('page_reader_title');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.style.cssText = `display:block;width:100%;height:100%;min-height:${MIN_FRAME_HEIGHT_PX}px;border:0;background:transparent;color-scheme:normal;`;
    handKey(frame, pair);
    wrapper.append(frame);
    return frame;
  }
}
