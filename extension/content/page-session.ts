// Veil on one page (content script; sees ciphertext, DOM positions and tokens only): watches the
// adapter's message list, finds armored blocks (also ones that arrive later, re-render or come
// with a channel switch), sends them to the background in batches and places reader frames;
// places the toggle and composer. Everything it adds is removed again by stop().
import type { PageBlockResult } from '../messaging/messages';
import type { SiteAdapter } from '../../site-adapters/types';
import { BlockFinder, type ScannedMessage } from './blocks';
import { ComposerControl } from './composer';
import { DecryptQueue, type SendBatch } from './decrypt-queue';
import { pageText } from './page-text';
import { ProgressLine } from './progress';
import { ReaderFrames } from './reader-frames';

export interface PageApi {
  decrypt: SendBatch;
  registerComposer(context: string, maxMessageLength: number, authors: string[]): Promise<string>;
}

interface Block {
  armored: string;
  bodies: HTMLElement[];
  repeat?: boolean;
}

/** Mutations are handled together after this pause (a chat adds many nodes per message). */
const SCAN_DELAY_MS = 40;
const MAX_AUTHORS = 200;

export class PageSession {
  private readonly finder = new BlockFinder<HTMLElement>();
  private readonly frames: ReaderFrames;
  private readonly progress: ProgressLine;
  private readonly composer: ComposerControl;
  private readonly queue: DecryptQueue<Block>;
  private readonly observer: MutationObserver;
  /** Body text last scanned per element: unchanged bodies are not scanned again. */
  private scanned = new WeakMap<HTMLElement, string>();
  /** Armored text → the first body it was placed for (to spot the same block shown twice). */
  private placed = new Map<string, HTMLElement>();
  private authors = new Set<string>();
  private context: string | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly adapter: SiteAdapter,
    private readonly doc: Document,
    private readonly location: () => URL,
    api: PageApi,
  ) {
    this.frames = new ReaderFrames(doc);
    this.progress = new ProgressLine(doc);
    this.composer = new ComposerControl(adapter, doc, {
      context: () => this.context,
      authors: () => [...this.authors],
      register: (context, max, authors) => api.registerComposer(context, max, authors),
    });
    this.queue = new DecryptQueue<Block>({
      send: api.decrypt,
      onResult: (block, result) => this.show(block, result),
      onProgress: (done, total) => this.progress.update(done, total),
      onError: (error) => {
        if ((error as { code?: unknown }).code === 'locked')
          this.progress.show(pageText('page_locked'));
      },
    });
    this.observer = new MutationObserver((records) => {
      // Our own wrappers and frames coming and going are no reason to rescan the page.
      if (records.every((r) => isOurs(r.target) || onlyOurNodes(r))) return;
      this.schedule();
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

  /** A frame height the background forwarded. */
  resize(token: string, height: number): void {
    this.frames.resize(token, height);
  }

  submit(token: string, chunks: readonly string[]): Promise<boolean> {
    return this.composer.submit(token, chunks);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
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
    const conversation = this.adapter.conversationId(this.location(), this.doc);
    const context = conversation === null ? null : `${this.adapter.id}:${conversation}`;
    if (context !== this.context) {
      // Another conversation: its parts and authors are not this one's.
      this.context = context;
      this.finder.reset();
      this.authors.clear();
      this.placed.clear();
      this.scanned = new WeakMap();
    }
    this.composer.sync();
    const list = context === null ? null : this.adapter.messageList(this.doc);
    if (!list || context === null) return;
    const fresh: ScannedMessage<HTMLElement>[] = [];
    for (const message of this.adapter.messages(list)) {
      const body = this.adapter.messageBody(message);
      if (!body || body.hasAttribute('data-veil-hidden')) continue;
      const text = body.textContent ?? '';
      if (this.scanned.get(body) === text) continue;
      this.scanned.set(body, text);
      const author = this.adapter.messageAuthor(message) ?? '';
      if (author && this.authors.size < MAX_AUTHORS) this.authors.add(author);
      fresh.push({ body, text, author });
    }
    if (fresh.length === 0) return;
    const blocks: Block[] = this.finder.scan(fresh).map((found) => {
      const earlier = this.placed.get(found.armored);
      const repeat = earlier !== undefined && earlier.isConnected && earlier !== found.bodies[0];
      if (!repeat) this.placed.set(found.armored, found.bodies[0]!);
      return repeat ? { ...found, repeat } : found;
    });
    this.queue.add(context, blocks);
  }

  private show(block: Block, result: PageBlockResult): void {
    if (this.stopped) return;
    this.frames.place(block.bodies, result);
  }
}

/** A childList change that only added or removed Veil's own elements. */
function onlyOurNodes(r: MutationRecord): boolean {
  if (r.type !== 'childList') return false;
  const nodes = [...r.addedNodes, ...r.removedNodes];
  return (
    nodes.length > 0 && nodes.every((n) => n instanceof Element && n.hasAttribute('data-veil'))
  );
}

function isOurs(node: Node): boolean {
  const el = node instanceof Element ? node : node.parentElement;
  return el?.closest('[data-veil]') != null;
}
