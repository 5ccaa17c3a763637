// Veil on one page (content script; sees ciphertext, DOM positions and tokens only): watches the
// adapter's message list, finds armored blocks (also ones that arrive later, re-render or come
// with a channel switch), sends them to the background in batches and places reader frames;
// places the toggle and composer. Everything it adds is removed again by stop().
import { isMessageError } from '../messaging/client';
import type {
  BlockStatus,
  ComposerSize,
  FrameSight,
  PageBlockResult,
  PageConversation,
} from '../messaging/messages';
import { ARMOR_MARKER } from '../protocol/armor';
import { blockDigest } from '../protocol/block-digest';
import type { SiteAdapter } from '../../site-adapters/types';
import { BlockFinder, type FoundBlock, type ScannedMessage } from './blocks';
import { ComposerControl } from './composer';
import { eligiblePrefix } from './decrypt-order';
import { DecryptQueue, type SendBatch } from './decrypt-queue';
import { HistoryProgress } from './history-progress';
import { pageText } from './page-text';
import { ProgressLine } from './progress';
import { ReaderFrames, type PendingReader } from './reader-frames';
import { viewportDistance } from './viewport';

export interface PageApi {
  /** `after`: tokens of frames on screen that should read their messages first. */
  decrypt(
    conversation: PageConversation,
    blocks: Parameters<SendBatch>[1],
    after: string[],
  ): ReturnType<SendBatch>;
  registerComposer(
    conversation: PageConversation,
    maxMessageLength: number,
    authors: string[],
  ): Promise<{ token: string; key: string }>;
  /** A long history's progress, counts only (history-progress.ts). */
  history?(done: number, total: number): void;
}

interface Block extends FoundBlock<HTMLElement> {
  /** Position in the page: blocks keep the page's order in the queue. */
  pos: number;
  /** The list it was read from (positions compare only within one). */
  view: number;
  repeat?: boolean;
  /** Its wrapper, in the page from when it is sent until its status comes. */
  pending?: PendingReader;
}

/** A random id for a list as read now: a reload or a re-rendered list is another one. */
function newViewId(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high! & 0x1fffff) * 2 ** 32 + low!;
}

/** Mutations are handled together after this pause (a chat adds many nodes per message). */
const SCAN_DELAY_MS = 40;
const MAX_AUTHORS = 200;
/** Messages read at a time after the first batch left, … */
const SCAN_CHUNK = 50;
/**
 * … for up to this long per task: its answer gets in between, and a page that jumps meanwhile
 * finds most of the list already read (the queue picks what is nearest among what was read).
 */
const SCAN_BUDGET_MS = 8;
/** Messages read (newest first) for the composer's recipient hints when it opens. */
const AUTHOR_LOOKBACK = 500;
/** How long an archived message asked for (revealBlock) may take to appear on a page just opened. */
export const REVEAL_WAIT_MS = 15_000;
/** How long a revealed message stays marked. */
const REVEAL_MARK_MS = 3_000;

export class PageSession {
  private readonly finder = new BlockFinder<HTMLElement>();
  private readonly frames: ReaderFrames;
  private readonly progress: ProgressLine;
  private readonly composer: ComposerControl;
  private readonly queue: DecryptQueue<Block>;
  private readonly observer: MutationObserver;
  /** Armored body text last scanned per element: unchanged bodies are not scanned again. */
  private scanned = new WeakMap<HTMLElement, string>();
  /** Page position of each armored body (its message's), so blocks keep the page's order. */
  private readonly posOf = new WeakMap<HTMLElement, number>();
  /** Armored text → the first body it was placed for (to spot the same block shown twice). */
  private placed = new Map<string, HTMLElement>();
  /** Authors of armored messages (more are read from the page when the composer opens). */
  private authors = new Set<string>();
  private context: string | null = null;
  /** Kind and name of the open conversation, as the adapter says (sent with every batch). */
  private conversation: PageConversation | null = null;
  private viewId = newViewId();
  /** The message list scanned in full; changes inside it are then looked at one by one. */
  private list: HTMLElement | null = null;
  /** Nodes the page added or whose text changed since the last scan. */
  private touched: Node[] = [];
  /**
   * Whether the list held armor when last looked at (or since): while it did not, a change is
   * read only where the added or changed text itself could make armor appear (mayAddArmor).
   */
  private listArmored = false;
  /**
   * Positions: messages found on a scan of the whole list, and those the page appends later,
   * count up from here; those it puts above the first one known (history loaded by scrolling
   * up) count down from it, so a position always says where on the page a block is.
   */
  private nextPos = FIRST_POS;
  private lowPos = FIRST_POS;
  /** The topmost message known in the current list (prepended ones go above it). */
  private top: HTMLElement | null = null;
  /** Bumped when the conversation or list changes: a scan of the old one stops. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private readonly history: HistoryProgress | null;
  /** Each shown block's wrapper, by the block's first body (revealBlock scrolls to it). */
  private wrapperOf = new WeakMap<HTMLElement, HTMLElement>();
  /** A block asked for (revealBlock) before the page showed it. */
  private wanted: { digest: string; found(el: HTMLElement | null): void } | null = null;

  constructor(
    private readonly adapter: SiteAdapter,
    private readonly doc: Document,
    private readonly location: () => URL,
    api: PageApi,
  ) {
    this.frames = new ReaderFrames(doc);
    this.progress = new ProgressLine(doc);
    this.history = api.history ? new HistoryProgress((d, t) => api.history!(d, t)) : null;
    this.composer = new ComposerControl(adapter, doc, {
      conversation: () => this.conversation,
      authors: () => this.composerAuthors(),
      register: (conversation, max, authors) => api.registerComposer(conversation, max, authors),
    });
    this.queue = new DecryptQueue<Block>({
      // The batch's context is its conversation's: kind and name as the page said then.
      send: (context, blocks) =>
        api.decrypt(
          this.conversation?.context === context ? this.conversation : { context },
          blocks,
          this.frames.takeOnScreen(),
        ),
      onResult: (block, result) => this.show(block, result),
      // Wrappers (and, on screen, frames) as the blocks leave: frames load while they decrypt.
      onSend: (blocks) => {
        if (this.stopped) return;
        const prepared: PendingReader[] = [];
        for (const block of blocks) {
          if (block.pending) continue;
          const pending = this.frames.prepare(block.bodies, this.list);
          if (!pending) continue;
          block.pending = pending;
          prepared.push(pending);
        }
        // After the batch is on its way (the send follows this call): making a frame costs the
        // page's main thread, and the background need not wait for that.
        if (prepared.length > 0) setTimeout(() => this.frames.mountVisible(prepared), 0);
      },
      onUnread: (blocks) => {
        for (const block of blocks) {
          block.pending?.drop();
          delete block.pending;
        }
      },
      beforeNext: () => this.frames.settled(),
      onProgress: (done, total) => {
        this.progress.update(done, total);
        this.history?.update(done, total);
      },
      onError: (error) => {
        if (isMessageError(error, 'locked')) this.progress.show(pageText('page_locked'));
      },
      ranking: () => {
        const distance = this.list ? viewportDistance(this.list) : () => 0;
        return (block) => distance(block.bodies[0]!);
      },
    });
    this.observer = new MutationObserver((records) => {
      let relevant = false;
      // A burst of records mostly shares one target (the list): look up its ancestors once.
      let lastTarget: Node | null = null;
      let lastOurs = false;
      for (const r of records) {
        if (r.target !== lastTarget) {
          lastTarget = r.target;
          lastOurs = isOurs(r.target);
        }
        // Our own wrappers and frames coming and going are no reason to look again.
        if (lastOurs || onlyOurNodes(r)) continue;
        relevant = true;
        if (r.type === 'characterData') this.touched.push(r.target);
        else for (const node of r.addedNodes) if (!isOwnElement(node)) this.touched.push(node);
      }
      if (relevant) this.schedule();
    });
  }

  start(): void {
    this.observer.observe(this.doc.body, { childList: true, subtree: true, characterData: true });
    this.scan();
  }

  /** The page navigated within itself (`wxt:locationchange`): look again. */
  refresh(): void {
    this.schedule();
  }

  /** A block's status the background changed after it was placed (it became a repeat). */
  restatus(token: string, status: BlockStatus): void {
    this.frames.restatus(token, status);
  }

  submit(token: string, chunks: readonly string[]): Promise<boolean> {
    return this.composer.submit(token, chunks);
  }

  /** The composer frame with this token asks to hand the keyboard to the host's box (Esc). */
  focusHostBox(token: string): void {
    this.composer.focusHostBox(token);
  }

  /** The composer frame with this token asks for its other height (its text needs room, or was sent). */
  resizeComposer(token: string, size: ComposerSize): void {
    this.composer.resize(token, size);
  }

  /** What the page shows of the composer with this token ('away' if it is not ours). */
  sight(token: string): FrameSight {
    return this.frames.sight(token) ?? this.composer.sight(token);
  }

  /** The user cancelled this page's long history: what waits is dropped; returns how many. */
  cancelHistory(): number {
    return this.queue.cancel();
  }

  /**
   * Scrolls to the reader frame of the block with this digest (block-digest.ts) and marks it
   * briefly. On a page just opened the block may not be shown yet: waits up to REVEAL_WAIT_MS.
   * Resolves whether it was found.
   */
  reveal(digest: string): Promise<boolean> {
    const now = this.shownWith(digest);
    if (now) {
      this.mark(now);
      return Promise.resolve(true);
    }
    this.wanted?.found(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => wanted.found(null), REVEAL_WAIT_MS);
      const wanted = {
        digest,
        found: (el: HTMLElement | null) => {
          clearTimeout(timer);
          if (this.wanted === wanted) this.wanted = null;
          if (el) this.mark(el);
          resolve(el !== null);
        },
      };
      this.wanted = wanted;
    });
  }

  private shownWith(digest: string): HTMLElement | null {
    for (const [armored, body] of this.placed) {
      const wrapper = this.wrapperOf.get(body);
      if (wrapper?.isConnected && blockDigest(armored) === digest) return wrapper;
    }
    return null;
  }

  private mark(el: HTMLElement): void {
    el.scrollIntoView({ block: 'center' });
    el.setAttribute('data-veil-revealed', '');
    el.style.setProperty('outline', '3px solid #f5b700');
    el.style.setProperty('outline-offset', '2px');
    setTimeout(() => {
      el.removeAttribute('data-veil-revealed');
      el.style.removeProperty('outline');
      el.style.removeProperty('outline-offset');
    }, REVEAL_MARK_MS);
  }

  stop(): void {
    this.wanted?.found(null);
    this.stopped = true;
    clearTimeout(this.timer);
    this.touched = [];
    this.observer.disconnect();
    this.queue.stop();
    this.frames.clear();
    this.progress.remove();
    this.composer.teardown();
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.scan();
    }, SCAN_DELAY_MS);
  }

  private scan(): void {
    if (this.stopped) return;
    const touched = this.touched;
    this.touched = [];
    const here = this.location();
    const conversation = this.adapter.conversationId(here, this.doc);
    const context = conversation === null ? null : `${this.adapter.id}:${conversation}`;
    if (context !== this.context) {
      // Another conversation: its parts and authors are not this one's.
      this.context = context;
      this.conversation = context === null ? null : this.describe(context, here);
      this.finder.reset();
      this.authors.clear();
      this.placed.clear();
      this.scanned = new WeakMap();
      this.forgetList();
    }
    if (this.list && touched.some((node) => this.armorOutsideList(node))) {
      // An adapter that guessed the list (a sidebar, before the chat had messages) looks again.
      this.adapter.forgetList?.(this.doc);
    }
    const list = context === null ? null : this.adapter.messageList(this.doc);
    if (list !== this.list) {
      // Another list (or none): what is left of a scan of the old one is dropped.
      this.forgetList();
      this.list = list;
      if (list && context !== null) this.scanAll(context, list);
    } else if (list && context !== null && touched.length > 0) {
      this.scanTouched(context, list, touched);
    }
    // After the scan: a toggle put in first would make the page lay out again before the scan
    // can measure where messages are.
    this.composer.sync();
  }

  private armorOutsideList(node: Node): boolean {
    return (
      node.isConnected &&
      !this.list!.contains(node) &&
      (node.textContent ?? '').includes(ARMOR_MARKER)
    );
  }

  /** The page's word on the conversation: its context, and kind and name if the adapter knows. */
  private describe(context: string, here: URL): PageConversation {
    const info = this.adapter.conversationInfo?.(here, this.doc);
    const out: PageConversation = { context };
    if (info?.kind) out.kind = info.kind;
    if (info?.name) out.name = info.name.slice(0, 64);
    return out;
  }

  private forgetList(): void {
    this.viewId = newViewId();
    this.top = null;
    this.list = null;
    this.listArmored = false;
    this.generation++;
    this.queue.expectOlder(null);
  }

  /**
   * Every message of a list seen for the first time. The ones near the viewport are read and
   * queued at once; the rest follow in small tasks, nearest first, so the first batch's answer
   * is shown while they are read. Unless the near ones would then be decrypted too far ahead of
   * older ones (decrypt-order.ts): then all are read at once and go in page order.
   */
  private scanAll(context: string, list: HTMLElement): void {
    // Most pages hold no armor at all: one native search of the list's text tells.
    if (!(list.textContent ?? '').includes(ARMOR_MARKER)) return;
    this.listArmored = true;
    const all = this.adapter.messages(list);
    const base = this.nextPos;
    this.nextPos += all.length;
    this.top = all[0] ?? null;
    const measure = viewportDistance(list);
    const screen = this.doc.defaultView?.innerHeight ?? 0;
    const distance = all.map((m) => measure(m));
    const near: number[] = [];
    const rest: number[] = [];
    distance.forEach((d, i) => (d <= screen ? near : rest).push(i));
    const first = near[0] ?? 0;
    const older = all
      .slice(0, first)
      .filter(hasArmor)
      .map((m) => this.adapter.messageAuthor(m) ?? '');
    if (near.length === 0 || older.length >= eligiblePrefix([...older, ''])) {
      this.queueFound(context, this.readEach(all.map((m, i) => [m, base + i])));
      return;
    }
    this.queueFound(context, this.readEach(near.map((i) => [all[i]!, base + i])));
    rest.sort((a, b) => distance[a]! - distance[b]!);
    this.scanLater(
      context,
      list,
      rest.map((i) => [all[i]!, base + i]),
    );
  }

  /**
   * Reads and queues `rest` a chunk per task; until the last, the queue expects older blocks.
   * Tasks through a MessageChannel: timers would be clamped, and throttled in a background tab.
   */
  private scanLater(context: string, list: HTMLElement, rest: [HTMLElement, number][]): void {
    if (rest.length === 0) return;
    const generation = this.generation;
    this.queue.expectOlder(context);
    // The page may jump while this runs (a restored scroll position, a chat scrolling to its
    // newest message), and the queue can only pick the nearest blocks among those already
    // read: after a scroll, the rest is ordered again by what is on screen then. A flag set by
    // the scroll event, so no layout is read unless the page scrolled.
    let scrolled = false;
    const onScroll = () => (scrolled = true);
    const capture = { capture: true, passive: true } as const;
    this.doc.addEventListener('scroll', onScroll, capture);
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      const current = !this.stopped && generation === this.generation;
      // The frames on screen load first: reading the rest of the list can wait for them.
      if (current && this.frames.loadingOnScreen() > 0) {
        void this.frames.settled().then(() => channel.port2.postMessage(null));
        return;
      }
      if (current) {
        if (scrolled) {
          scrolled = false;
          const measure = viewportDistance(list);
          const distance = new Map(rest.map(([m]) => [m, measure(m)]));
          rest.sort((a, b) => distance.get(a[0])! - distance.get(b[0])!);
        }
        const start = performance.now();
        do this.queueFound(context, this.readEach(rest.splice(0, SCAN_CHUNK)));
        while (rest.length > 0 && performance.now() - start < SCAN_BUDGET_MS);
      }
      if (current && rest.length > 0) {
        channel.port2.postMessage(null);
        return;
      }
      channel.port1.close();
      this.doc.removeEventListener('scroll', onScroll, capture);
      if (current) this.queue.expectOlder(null);
    };
    channel.port2.postMessage(null);
  }

  /** Only the messages holding nodes the page added or changed. */
  private scanTouched(context: string, list: HTMLElement, touched: readonly Node[]): void {
    // A list without armor so far (the usual plain chat): only text that could hold or complete
    // the marker is worth finding its message for.
    if (!this.listArmored) touched = touched.filter(mayAddArmor);
    if (touched.length === 0) return;
    const messages = new Set<HTMLElement>();
    const elsewhere: Node[] = [];
    for (const node of touched) {
      const message = this.adapter.messageOf(list, node);
      if (message) messages.add(message);
      else if (hasArmor(node) && list.contains(node)) elsewhere.push(node);
    }
    // Armor the adapter could not place (a container of messages was added, or a message it
    // does not know yet): the messages around or inside those nodes.
    if (elsewhere.length > 0) {
      for (const message of this.adapter.messages(list)) {
        if (elsewhere.some((n) => message.contains(n) || n.contains(message)))
          messages.add(message);
      }
    }
    this.queueFound(context, this.readEach(this.placeNew([...messages])));
  }

  /**
   * Positions for messages the page just added: below what is known, counting up; above the
   * topmost known message (older history the page loaded), counting down. In page order.
   */
  private placeNew(messages: HTMLElement[]): [HTMLElement, number][] {
    const FOLLOWING = 4; // Node.DOCUMENT_POSITION_FOLLOWING
    messages.sort((a, b) => (a.compareDocumentPosition(b) & FOLLOWING ? -1 : 1));
    // No known message above (a plain list so far, or the top one went): the new ones go below.
    if (!this.top?.isConnected) this.top = null;
    const top = this.top;
    const above = top ? messages.filter((m) => m.compareDocumentPosition(top) & FOLLOWING) : [];
    const below = messages.filter((m) => !above.includes(m));
    const out: [HTMLElement, number][] = [];
    this.lowPos -= above.length;
    above.forEach((m, i) => out.push([m, this.lowPos + i]));
    for (const m of below) out.push([m, this.nextPos++]);
    this.top = above[0] ?? this.top ?? below[0] ?? null;
    return out;
  }

  /** The messages (with their page positions) that hold armor not scanned before. */
  private readEach(messages: readonly [HTMLElement, number][]): ScannedMessage<HTMLElement>[] {
    const out: ScannedMessage<HTMLElement>[] = [];
    for (const [message, pos] of messages) {
      // A cheap text search first: most messages are plain.
      if (!message.isConnected || !hasArmor(message)) continue;
      this.listArmored = true;
      const body = this.adapter.messageBody(message);
      if (!body || body.hasAttribute('data-veil-hidden')) continue;
      const text = body.textContent ?? '';
      if (!text.includes(ARMOR_MARKER) || this.scanned.get(body) === text) continue;
      this.scanned.set(body, text);
      this.posOf.set(body, pos);
      const author = this.adapter.messageAuthor(message) ?? '';
      if (author && this.authors.size < MAX_AUTHORS) this.authors.add(author);
      out.push({ body, text, author });
    }
    return out;
  }

  private queueFound(context: string, messages: readonly ScannedMessage<HTMLElement>[]): void {
    if (messages.length === 0) return;
    const blocks: Block[] = this.finder.scan(messages).map((found) => {
      const earlier = this.placed.get(found.armored);
      const repeat = earlier !== undefined && earlier.isConnected && earlier !== found.bodies[0];
      if (!repeat) this.placed.set(found.armored, found.bodies[0]!);
      const pos = this.posOf.get(found.bodies[0]!) ?? this.nextPos;
      const view = this.viewId;
      return repeat ? { ...found, pos, view, repeat } : { ...found, pos, view };
    });
    this.queue.add(context, blocks);
  }

  /** Authors for the composer's recipient hints: armored messages' and the newest messages'. */
  private composerAuthors(): string[] {
    const authors = new Set(this.authors);
    const messages = this.list?.isConnected ? this.adapter.messages(this.list) : [];
    const stop = Math.max(0, messages.length - AUTHOR_LOOKBACK);
    for (let i = messages.length - 1; i >= stop && authors.size < MAX_AUTHORS; i--) {
      const author = this.adapter.messageAuthor(messages[i]!);
      if (author) authors.add(author);
    }
    return [...authors];
  }

  private show(block: Block, result: PageBlockResult): void {
    const pending = block.pending;
    delete block.pending;
    if (this.stopped || !pending) return;
    const wrapper = this.frames.place(pending, result);
    if (!wrapper) return;
    this.wrapperOf.set(block.bodies[0]!, wrapper);
    if (this.wanted && blockDigest(block.armored) === this.wanted.digest)
      this.wanted.found(wrapper);
  }
}

const ELEMENT_NODE = 1; // Node.ELEMENT_NODE
/** Positions start here, with room below for history loaded above (placeNew). */
const FIRST_POS = 1_000_000_000;

function isOwnElement(node: Node): boolean {
  return node.nodeType === ELEMENT_NODE && (node as Element).hasAttribute('data-veil');
}

/** A childList change that only added or removed Veil's own elements. */
function onlyOurNodes(r: MutationRecord): boolean {
  if (r.type !== 'childList') return false;
  const { addedNodes: added, removedNodes: removed } = r;
  if (added.length + removed.length === 0) return false;
  for (let i = 0; i < added.length; i++) if (!isOwnElement(added[i]!)) return false;
  for (let i = 0; i < removed.length; i++) if (!isOwnElement(removed[i]!)) return false;
  return true;
}

function isOurs(node: Node): boolean {
  const el = node.nodeType === ELEMENT_NODE ? (node as Element) : node.parentElement;
  return el?.closest('[data-veil]') != null;
}

function hasArmor(node: Node): boolean {
  return (node.textContent ?? '').includes(ARMOR_MARKER);
}

/** The marker's proper prefixes and suffixes ('V', 'Ve', 'Vei'; 'eiL', 'iL', 'L'). */
const MARKER_HEADS = Array.from({ length: ARMOR_MARKER.length - 1 }, (_, i) =>
  ARMOR_MARKER.slice(0, i + 1),
);
const MARKER_TAILS = MARKER_HEADS.map((head) => ARMOR_MARKER.slice(head.length));

/**
 * Whether new or changed text can make the marker appear in a page that had none: it holds the
 * marker, or completes one across its edges with the text beside it (ends with its start, starts
 * with its end, or is a piece of its middle).
 */
export function mayAddArmor(node: Node): boolean {
  const text = node.textContent ?? '';
  if (text.length === 0) return false;
  if (text.includes(ARMOR_MARKER) || ARMOR_MARKER.includes(text)) return true;
  return (
    MARKER_HEADS.some((head) => text.endsWith(head)) ||
    MARKER_TAILS.some((tail) => text.startsWith(tail))
  );
}
