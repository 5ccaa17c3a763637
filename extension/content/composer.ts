// Veil's toggle and composer frame next to the host's compose box (content script). The user
// types into the extension-origin composer frame (`composer.html#<token>`); the background
// encrypts and sends back only armored chunks, which are submitted here through the adapter,
// one line at a time. The content script never sees what was typed.
import type { ComposerSize, FrameSight, PageConversation } from '../messaging/messages';
import type { SiteAdapter } from '../../site-adapters/types';
import { handKey } from './frame-keys';
import { frameSight } from './frame-sight';
import { frameUrl } from './frame-url';
import { pageText } from './page-text';

export interface ComposerHost {
  /** The open conversation (context string, kind and name the page says), or null. */
  conversation(): PageConversation | null;
  /** Authors the page showed in this conversation (hints for recipients). */
  authors(): string[];
  register(
    conversation: PageConversation,
    maxMessageLength: number,
    authors: string[],
  ): Promise<{ token: string; key: string }>;
}

/** The frame's two heights: about a chat box's (three short rows), and room for a long text. */
export const COMPOSER_HEIGHT_PX: Readonly<Record<ComposerSize, number>> = {
  compact: 108,
  tall: 240,
};

/**
 * `el`, or its outermost ancestor that is an item of a flex or grid row: the composer goes
 * above the host's row, since a full-width item beside the host's box would squeeze it (a
 * textarea and Send button in one flex row are common).
 */
export function outsideRows(el: HTMLElement): HTMLElement {
  const view = el.ownerDocument.defaultView;
  let at = el;
  for (let parent = at.parentElement; parent && view; parent = at.parentElement) {
    if (parent === el.ownerDocument.body) break;
    const style = view.getComputedStyle(parent);
    const flexRow = style.display.endsWith('flex') && !style.flexDirection.startsWith('column');
    if (!flexRow && !style.display.endsWith('grid')) break;
    at = parent;
  }
  return at;
}

export class ComposerControl {
  private toggle: HTMLButtonElement | null = null;
  private wrapper: HTMLElement | null = null;
  private frame: HTMLIFrameElement | null = null;
  private token: string | null = null;
  private context: string | null = null;
  private on = false;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly adapter: SiteAdapter,
    private readonly doc: Document,
    private readonly host: ComposerHost,
  ) {}

  /** Puts the toggle next to the compose box (again, after a re-render) and follows the conversation. */
  sync(): void {
    // Called after every change in the page: the anchor is looked up only when the toggle is
    // gone (finding the compose box may walk the whole page or measure layout).
    if (!this.toggle?.isConnected) {
      const anchor = this.adapter.toggleAnchor(this.doc);
      if (anchor) {
        this.toggle ??= this.makeToggle();
        anchor.after(this.toggle);
      }
    }
    if (this.on && (this.host.conversation()?.context ?? null) !== this.context) void this.open();
    else if (this.on && this.wrapper && !this.wrapper.isConnected) this.placeWrapper();
  }

  /** Submits chunks the background sent for our composer; false if the token is not ours. */
  submit(token: string, chunks: readonly string[]): Promise<boolean> {
    if (!this.on || token !== this.token) return Promise.resolve(false);
    const run = this.sending.then(async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, this.adapter.sendIntervalMs));
        await this.adapter.submit(this.doc, chunk);
      }
      return true;
    });
    this.sending = run.catch(() => undefined);
    return run;
  }

  /** Our composer frame asks (Esc) to give the keyboard to the host's own box. */
  focusHostBox(token: string): void {
    if (this.on && token === this.token) this.adapter.composeBox(this.doc)?.focus();
  }

  /** Our composer frame asks for its other height; only the two fixed ones exist. */
  resize(token: string, size: ComposerSize): void {
    if (!this.on || token !== this.token || !this.frame) return;
    const height = COMPOSER_HEIGHT_PX[size];
    if (height !== undefined) this.frame.style.height = `${height}px`;
  }

  /** What the page shows of our composer frame, if `token` is its token. */
  sight(token: string): FrameSight {
    if (!this.on || token !== this.token || !this.frame) return 'away';
    return frameSight(this.frame);
  }

  teardown(): void {
    this.close();
    this.toggle?.remove();
    this.toggle = null;
  }

  private makeToggle(): HTMLButtonElement {
    const button = this.doc.createElement('button');
    button.type = 'button';
    button.setAttribute('data-veil', 'toggle');
    button.setAttribute('aria-pressed', 'false');
    // The product's name, the same in every language: no i18n lookup (1–2 ms in a content
    // script) on a page that may never show anything else of Veil.
    button.textContent = 'Veil';
    button.style.cssText =
      'margin:0 4px;padding:2px 8px;border:1px solid #3b4fc4;border-radius:6px;' +
      'background:#fff;color:#3b4fc4;font:600 12px/1.6 system-ui,sans-serif;cursor:pointer;';
    button.addEventListener('click', (event) => {
      // Only a real click by the user turns Veil on; a script of the page cannot.
      if (!event.isTrusted) return;
      if (this.on) this.close();
      else void this.open();
    });
    return button;
  }

  private async open(): Promise<void> {
    const conversation = this.host.conversation();
    const context = conversation?.context ?? null;
    this.on = true;
    this.context = context;
    this.setPressed(true);
    if (!conversation) return;
    const { token, key } = await this.host.register(
      conversation,
      this.adapter.maxMessageLength,
      this.host.authors(),
    );
    if (!this.on || this.context !== context) return;
    this.token = token;
    this.wrapper?.remove();
    const wrapper = this.doc.createElement('div');
    wrapper.style.cssText = 'display:block;width:100%;';
    const frame = this.doc.createElement('iframe');
    frame.setAttribute('data-veil', 'composer');
    frame.src = frameUrl('composer', token);
    frame.title = pageText('page_composer_title');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.style.cssText = `display:block;width:100%;height:${COMPOSER_HEIGHT_PX.compact}px;border:0;color-scheme:normal;`;
    handKey(frame, { token, key });
    wrapper.append(frame);
    this.frame = frame;
    this.wrapper = wrapper;
    this.placeWrapper();
  }

  private placeWrapper(): void {
    const box = this.adapter.composeBox(this.doc);
    const at = box?.closest('form') ?? box ?? this.toggle;
    if (at && this.wrapper) outsideRows(at).before(this.wrapper);
  }

  private close(): void {
    this.on = false;
    this.token = null;
    this.context = null;
    this.wrapper?.remove();
    this.wrapper = null;
    this.frame = null;
    this.setPressed(false);
  }

  private setPressed(on: boolean): void {
    this.toggle?.setAttribute('aria-pressed', String(on));
    if (this.toggle) {
      this.toggle.style.background = on ? '#3b4fc4' : '#fff';
      this.toggle.style.color = on ? '#fff' : '#3b4fc4';
    }
  }
}
