// Turns a site's declarative description (selectors beside the site, a conversation-id rule, a
// length limit) into a SiteAdapter, plus the DOM helpers every adapter submits text with. Pure DOM
// code: runs in the content script on the host page, sees ciphertext only.
import type { ConversationInfo, SiteAdapter } from './types';

/** CSS selectors for one site; each is matched where its comment says. */
export interface AdapterSelectors {
  /** In the document: the host's compose box (textarea, input or contenteditable). */
  composeBox: string;
  /** In the document: the button the site sends with (else the form is submitted, else Enter). */
  sendButton?: string;
  /** In the document: where Veil's toggle goes (default: the compose box). */
  toggleAnchor?: string;
  /** In the document: the container of the open conversation's messages. */
  messageList: string;
  /** In the message list: every message element, in display order. */
  message: string;
  /** In a message: the element holding the message text (default: the message itself). */
  messageBody?: string;
  /** In a message: the element naming the author (default: the message itself). */
  messageAuthor?: string;
  /** Attribute of the `messageAuthor` element holding the author; else its trimmed text. */
  authorAttribute?: string;
  /** Matches a message element the host marks as the user's own. */
  ownMessage?: string;
  /** In the document: the element whose text is the user's own name. */
  selfName?: string;
}

export interface AdapterDefinition {
  id: string;
  name: string;
  /** SiteAdapter.markup. */
  markup: 'saved' | 'source' | 'unchecked' | 'taught';
  /** Host names the site is served from (`example.com` or `*.example.com`), if fixed. */
  hosts?: string[];
  /** A selector that exists on every page of the site (for self-hosted apps on any host). */
  marker?: string;
  maxMessageLength: number;
  sendIntervalMs: number;
  selectors: AdapterSelectors;
  conversationId(location: URL, doc: Document): string | null;
  /** Kind and shown name of the open conversation (SiteAdapter.conversationInfo). */
  conversationInfo?(location: URL, doc: Document): ConversationInfo | null;
  /** What to put in the composer so the site sends `text` verbatim (e.g. escape a command). */
  escapeText?(text: string): string;
  /**
   * The site empties its compose box once it accepted a message: submit waits for that (up to
   * this many ms) and fails if it does not happen, so a dropped line is an error, not silence.
   */
  confirmClearedMs?: number;
}

/** Builds a SiteAdapter from a declarative definition. */
export function defineAdapter(def: AdapterDefinition): SiteAdapter {
  const sel = def.selectors;
  const composeBox = (doc: Document) => doc.querySelector<HTMLElement>(sel.composeBox);
  return {
    id: def.id,
    name: def.name,
    markup: def.markup,
    maxMessageLength: def.maxMessageLength,
    sendIntervalMs: def.sendIntervalMs,
    matches(location, doc) {
      if (def.hosts?.some((host) => hostMatches(location.hostname, host))) return true;
      return def.marker !== undefined && doc.querySelector(def.marker) !== null;
    },
    composeBox,
    toggleAnchor: (doc) =>
      (sel.toggleAnchor ? doc.querySelector<HTMLElement>(sel.toggleAnchor) : null) ??
      composeBox(doc),
    messageList: (doc) => doc.querySelector<HTMLElement>(sel.messageList),
    messages: (list) => [...list.querySelectorAll<HTMLElement>(sel.message)],
    messageOf(list, node) {
      const message = elementOf(node)?.closest<HTMLElement>(sel.message) ?? null;
      // A match around the list (a loose selector) is not one of its messages.
      return message && message !== list && list.contains(message) ? message : null;
    },
    messageBody: (message) =>
      sel.messageBody ? message.querySelector<HTMLElement>(sel.messageBody) : message,
    messageAuthor(message) {
      const el = sel.messageAuthor ? message.querySelector(sel.messageAuthor) : message;
      if (!el) return null;
      const author = sel.authorAttribute
        ? el.getAttribute(sel.authorAttribute)
        : (el.textContent ?? '');
      return author?.trim() || null;
    },
    conversationId: (location, doc) => def.conversationId(location, doc),
    conversationInfo: (location, doc) => def.conversationInfo?.(location, doc) ?? null,
    async submit(doc, text) {
      const box = composeBox(doc);
      if (!box) throw new Error(`${def.name}: no compose box on this page`);
      const button = sel.sendButton ? doc.querySelector<HTMLElement>(sel.sendButton) : null;
      await submitText(box, def.escapeText ? def.escapeText(text) : text, {
        button,
        confirmClearedMs: def.confirmClearedMs,
      });
    },
    selfName(doc) {
      if (!sel.selfName) return null;
      return doc.querySelector(sel.selfName)?.textContent?.trim() || null;
    },
    messageIsOwn(message) {
      if (!sel.ownMessage) return null;
      return message.matches(sel.ownMessage);
    },
  };
}

const ELEMENT_NODE = 1; // Node.ELEMENT_NODE, spelled out for code that runs outside a page
const TEXT_NODE = 3;

/** The node itself when it is an element, else its parent element (a text node's). */
export function elementOf(node: Node): Element | null {
  return node.nodeType === ELEMENT_NODE ? (node as Element) : node.parentElement;
}

function hostMatches(hostname: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) {
    const base = pattern.slice(2);
    return hostname === base || hostname.endsWith('.' + base);
  }
  return hostname === pattern;
}

// ── Putting text into a host composer and sending it ───────────────────────────────────────────

export type ComposeBox = HTMLTextAreaElement | HTMLInputElement | HTMLElement;

function isTextControl(el: Element): el is HTMLTextAreaElement | HTMLInputElement {
  return el.localName === 'textarea' || el.localName === 'input';
}

/**
 * The compose box's current text. In a contenteditable, islands the user cannot edit
 * (`contenteditable="false"`: Slate draws its placeholder so) are not text.
 */
export function composeText(box: ComposeBox): string {
  if (isTextControl(box)) return box.value;
  if (!box.querySelector('[contenteditable="false"]')) return box.textContent ?? '';
  let text = '';
  const walk = (node: Node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === TEXT_NODE) text += child.nodeValue ?? '';
      else if ((child as Element).getAttribute?.('contenteditable') !== 'false') walk(child);
    }
  };
  walk(box);
  return text;
}

/** Characters editors put in empty lines and around inline nodes; never part of the text. */
const INVISIBLE = /[\u200b\ufeff]/g;

/** Whether the box shows `text` (as an editor renders it: invisible fillers, edge whitespace). */
function shows(box: ComposeBox, text: string): boolean {
  return composeText(box).replace(INVISIBLE, '').trim() === text.trim();
}

/**
 * Selects the text of a contenteditable, so what goes in next replaces it: from its first to its
 * last editable text node (an editor maps such a range onto its model; one that also spans an
 * island like Slate's placeholder it may not), else its whole contents.
 */
function selectAll(box: HTMLElement): void {
  box.focus();
  const doc = box.ownerDocument;
  const selection = doc.getSelection();
  if (!selection) return;
  const texts: Text[] = [];
  const walk = (node: Node) => {
    for (const child of node.childNodes) {
      if (child.nodeType === TEXT_NODE) texts.push(child as Text);
      else if ((child as Element).getAttribute?.('contenteditable') !== 'false') walk(child);
    }
  };
  walk(box);
  const range = doc.createRange();
  const first = texts[0];
  const last = texts.at(-1);
  if (first && last) {
    range.setStart(first, 0);
    range.setEnd(last, last.length);
  } else {
    range.selectNodeContents(box);
  }
  selection.removeAllRanges();
  selection.addRange(range);
}

/**
 * Hands the editor a paste of `text` as plain text, or a cut of its selection. Rich editors
 * (Slate, Lexical, Draft, Quill, ProseMirror, CKEditor) apply these to their own model and cancel
 * the event; a plain contenteditable does nothing with them (a page's event has no default
 * action). True when the editor took it.
 */
function clipboardEvent(box: HTMLElement, type: 'paste' | 'cut', text: string): boolean {
  // Made with the page's own constructors: in a Firefox content script, data set from the
  // script's realm reads as empty to the page (so the page's realm, not ours, must set it).
  const page = pageRealm(box.ownerDocument);
  const data = new page.DataTransfer();
  if (type === 'paste') data.setData('text/plain', text);
  const init = new page.Object() as ClipboardEventInit & { data?: string; dataType?: string };
  init.clipboardData = data;
  if (type === 'paste') {
    // Gecko's ClipboardEvent ignores `clipboardData` and takes these instead.
    init.dataType = 'text/plain';
    init.data = text;
  }
  init.bubbles = true;
  init.cancelable = true;
  return !box.dispatchEvent(new page.ClipboardEvent(type, init));
}

type Realm = Pick<typeof globalThis, 'DataTransfer' | 'ClipboardEvent' | 'Object'>;

/**
 * The page's own globals: in a Firefox content script, `wrappedJSObject` of its window (calls
 * through it run in the page's realm); elsewhere (Chromium's isolated world) the window itself,
 * whose DOM objects the page reads as its own.
 */
function pageRealm(doc: Document): Realm {
  const win = doc.defaultView as (Window & { wrappedJSObject?: Realm }) | null;
  return win?.wrappedJSObject ?? (win as unknown as Realm | null) ?? globalThis;
}

/**
 * Replaces the compose box's text so that the site's own model holds it, not only the DOM: a
 * textarea's value through the prototype's setter (React tracks values set on the element itself)
 * and an `input` event; a contenteditable by a paste the editor takes into its model, else by
 * `insertText` (typing, which plain contenteditables and editors that watch the DOM follow),
 * else by replacing its text. Resolves once the box shows the text (editors render later).
 */
export async function setComposeText(box: ComposeBox, text: string): Promise<void> {
  if (isTextControl(box)) {
    const proto =
      box.localName === 'textarea' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    const setter = Object.getOwnPropertyDescriptor(proto, 'value')?.set;
    if (setter) setter.call(box, text);
    else box.value = text;
    box.dispatchEvent(inputEvent(text));
    return;
  }
  const doc = box.ownerDocument;
  if (text === '') {
    await selectAndSettle(box);
    // A cut is what an editor's model follows for an empty box; else delete as if typed.
    if (clipboardEvent(box, 'cut', '') && (await waitFor(() => shows(box, ''), RENDER_WAIT_MS)))
      return;
    selectAll(box);
    if (!doc.execCommand('delete') || !shows(box, '')) box.textContent = '';
    return;
  }
  // A busy page may run the editor's selection handler late: a paste that went to the old
  // selection is replaced by the next attempt (each selects everything again).
  for (let attempt = 0; attempt < PASTE_ATTEMPTS; attempt++) {
    await selectAndSettle(box);
    if (!clipboardEvent(box, 'paste', text)) break; // no editor took it: type it instead
    if (await waitFor(() => shows(box, text), RENDER_WAIT_MS)) return;
  }
  selectAll(box);
  // execCommand is deprecated but remains the one way to insert text as if typed.
  if (doc.execCommand('insertText', false, text) && shows(box, text)) return;
  box.textContent = text;
  box.dispatchEvent(inputEvent(text));
}

/**
 * Selects the box's text and waits until editors have read the new selection: they do when the
 * browser reports it changed (Slate: on `selectionchange`, throttled), after this task, and a
 * paste before then has nowhere to go in their model.
 */
async function selectAndSettle(box: HTMLElement): Promise<void> {
  const selected = nextEvent(box.ownerDocument, 'selectionchange', SELECTION_WAIT_MS);
  const started = Date.now();
  selectAll(box);
  await selected;
  await new Promise((r) =>
    setTimeout(r, Math.max(0, SELECTION_SETTLE_MS - (Date.now() - started))),
  );
}

const PASTE_ATTEMPTS = 3;

/** How long an editor that took a paste may take to render it. */
const RENDER_WAIT_MS = 500;
/** How long the browser may take to report a new selection (none comes if it did not change). */
const SELECTION_WAIT_MS = 100;
/** Editors may read a new selection this long after it is made (Slate throttles to 100 ms). */
const SELECTION_SETTLE_MS = 150;

/** Resolves on the next `type` event at `target`, or after `timeoutMs`. */
function nextEvent(target: EventTarget, type: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      target.removeEventListener(type, done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    target.addEventListener(type, done);
  });
}

function inputEvent(text: string): InputEvent {
  return new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text });
}

/** Dispatches Enter (keydown, keypress, keyup) on `el`, as chat apps listen for it. */
export function pressEnter(el: HTMLElement): void {
  for (const type of ['keydown', 'keypress', 'keyup']) {
    el.dispatchEvent(
      new KeyboardEvent(type, {
        key: 'Enter',
        code: 'Enter',
        keyCode: 13,
        which: 13,
        charCode: type === 'keypress' ? 13 : 0,
        bubbles: true,
        cancelable: true,
      } as KeyboardEventInit),
    );
  }
}

export interface SubmitOptions {
  /**
   * The site's send button, if it has one; a function is called once the text is in, for sites
   * that enable or render their button only then.
   */
  button?: HTMLElement | null | (() => HTMLElement | null);
  /** See AdapterDefinition.confirmClearedMs. */
  confirmClearedMs?: number;
}

/**
 * Puts `text` in `box` and sends it: clicks the send button, else submits the box's form (with
 * `requestSubmit`, so the site's submit handlers run), else presses Enter in the box. With
 * `confirmClearedMs`, waits for the site to accept it and then puts back a draft the user had in
 * the box.
 */
export async function submitText(
  box: ComposeBox,
  text: string,
  { button, confirmClearedMs }: SubmitOptions = {},
): Promise<void> {
  const draft = composeText(box);
  await setComposeText(box, text);
  // Let the site's framework re-render (enable its send button, update its model) first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const send = typeof button === 'function' ? button() : button;
  const form = isTextControl(box) ? box.form : box.closest('form');
  if (send) send.click();
  else if (form) form.requestSubmit();
  else pressEnter(box);
  if (confirmClearedMs === undefined) return;
  // A box the page replaced (re-rendered after sending) counts as emptied.
  const cleared = await waitFor(
    () => !box.isConnected || composeText(box).replace(INVISIBLE, '').trim() === '',
    confirmClearedMs,
  );
  // Whatever the user had typed into the host's box stays there, unsent; armor the site did not
  // take does not (the user would send it by hand, out of order).
  if (!cleared || draft.trim() !== '') await setComposeText(box, draft);
  if (!cleared) throw new Error('the site did not accept the message (compose box not cleared)');
}

/** Polls `condition` every animation-frame-ish tick until it holds or `timeoutMs` passes. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
