// Places Veil's reader frames in the host page (content script; sees ciphertext and tokens only).
// For each decrypted block the host's armored text is hidden (the element stays where it is, so
// the site's own rendering is not disturbed) and a wrapper `data-veil="message"` with the status
// is inserted after it. The wrapper holds an extension-origin iframe (`reader.html#<token>`)
// that is created only when it comes near the viewport, and gets its key from here
// (frame-keys.ts). A frame's height depends on its status and its text's padding bucket only
// (frame-height.ts): the frame never reports one, so the page cannot measure the text's layout.
import type { BlockStatus, PageBlockResult } from '../messaging/messages';
import { MIN_FRAME_HEIGHT_PX, readerHeight } from './frame-height';
import { handKey } from './frame-keys';
import { frameUrl } from './frame-url';
import { pageText } from './page-text';

/** How far outside the viewport a frame is already loaded. */
const LAZY_MARGIN = '800px 0px';
/** Within this many pixels of its end, a scrolled message list counts as "at the bottom". */
const BOTTOM_SLACK_PX = 8;

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
  private readonly pending = new WeakMap<Element, () => void>();
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
          if (r.bottom >= 0 && r.top <= height) this.mountNow(entry.target);
          else this.later.push(entry.target);
        }
        this.drain();
      },
      { rootMargin: LAZY_MARGIN },
    );
  }

  /**
   * Replaces the block's armored bodies by one reader wrapper after the first of them. `list`:
   * the host's message list they are in (where to look for the element that scrolls).
   */
  place(
    bodies: readonly HTMLElement[],
    result: PageBlockResult,
    list?: Element | null,
  ): HTMLElement | null {
    const shown = bodies.filter((b) => b.isConnected);
    const first = shown[0];
    if (!first) return null;
    const stick = this.stickToBottom(first, list);
    for (const body of shown) {
      body.style.setProperty('display', 'none', 'important');
      body.setAttribute('data-veil-hidden', '');
    }
    const wrapper = this.doc.createElement('div');
    wrapper.setAttribute('data-veil', 'message');
    wrapper.setAttribute('data-veil-status', result.status);
    // In a flex row (The Lounge puts the body in one) the wrapper takes the free width instead
    // of shrinking to the iframe's default 300 px; a block parent ignores flex.
    const height = readerHeight(result.status, result.lines);
    wrapper.style.cssText = `display:block;flex:1 1 0%;min-width:0;height:${height}px;max-width:100%;`;
    first.after(wrapper);
    stick();
    this.wrappers.set(result.token, wrapper);
    this.blocks.set(result.token, { key: result.key, lines: result.lines });
    this.pending.set(wrapper, () => this.mount(wrapper, result.token));
    this.lazy.observe(wrapper);
    return wrapper;
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
    this.mount(wrapper, token);
  }

  /** Removes every wrapper and shows the host's text again. */
  clear(): void {
    this.lazy.disconnect();
    this.later.length = 0;
    this.frames.clear();
    this.wrappers.clear();
    this.blocks.clear();
    for (const el of this.doc.querySelectorAll<HTMLElement>('[data-veil="message"]')) el.remove();
    for (const el of this.doc.querySelectorAll<HTMLElement>('[data-veil-hidden]')) {
      el.style.removeProperty('display');
      el.removeAttribute('data-veil-hidden');
    }
  }

  private mountNow(wrapper: Element): void {
    const mount = this.pending.get(wrapper);
    this.pending.delete(wrapper);
    if (mount && wrapper.isConnected) mount();
  }

  /** Mounts the waiting margin frames one per idle slot (a timer where there is no idle API). */
  private drain(): void {
    if (this.drainScheduled || this.later.length === 0) return;
    this.drainScheduled = true;
    const view = this.doc.defaultView;
    const next = () => {
      this.drainScheduled = false;
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

  private mount(wrapper: HTMLElement, token: string): void {
    const block = this.blocks.get(token);
    if (!block) return;
    const frame = this.doc.createElement('iframe');
    frame.src = frameUrl('reader', token);
    frame.title = this.title ??= pageText('page_reader_title');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.style.cssText = `display:block;width:100%;height:100%;min-height:${MIN_FRAME_HEIGHT_PX}px;border:0;background:transparent;color-scheme:normal;`;
    handKey(frame, token, block.key);
    this.frames.set(token, frame);
    wrapper.append(frame);
  }
}
