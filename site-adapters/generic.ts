// The fallback adapter for any page with a textarea or contenteditable compose box, so Veil works
// on sites nobody wrote an adapter for. Heuristics, each overridable by the page with `data-veil-*`
// attributes (for self-hosted apps and tests). Pure DOM code in the content script.
//
// Opt-in attributes a page may set:
//   data-veil-compose        the compose box          data-veil-send     its send button
//   data-veil-messages       the message list         data-veil-message  each message in it
//   data-veil-body           a message's text         data-veil-author   its author (the attribute's
//                                                    value, or the element's text when empty)
//   data-veil-conversation   the conversation id (attribute value, on any element)
//   data-veil-self           the user's own name      data-veil-own      on the user's own messages
import { ARMOR_MARKER, findArmor } from '../extension/protocol/armor';
import { elementOf, submitText } from './define';
import type { SiteAdapter } from './types';

export const genericOptIn = {
  compose: '[data-veil-compose]',
  send: '[data-veil-send]',
  messages: '[data-veil-messages]',
  message: '[data-veil-message]',
  body: '[data-veil-body]',
  author: '[data-veil-author]',
  conversation: '[data-veil-conversation]',
  self: '[data-veil-self]',
  own: '[data-veil-own]',
} as const;

const EDITABLE = 'textarea, [contenteditable]:not([contenteditable="false"])';
/** Semantic message containers (ARIA): used as the list when the page has one. */
const SEMANTIC_LIST = '[role="log"], [role="feed"]';
/** Regions whose repeated children are navigation, not messages. */
const NOT_MESSAGES =
  'nav, header, footer, select, datalist, [role="navigation"], [role="menu"], [role="menubar"], [role="tablist"], [role="listbox"], [role="tree"], [aria-hidden="true"], [data-veil]';
/** Buttons that are never the send action: Veil's own, navigation, hidden ones. */
const NOT_SEND = '[data-veil], nav, [role="navigation"], [role="menu"], [aria-hidden="true"]';
const SEND_LABEL = /\b(send|submit|post|reply)\b/i;
export const AUTHOR_HINT =
  '[data-author], [class*="author" i], [class*="sender" i], [class*="username" i], [class*="nick" i]';
/** Inline formatting: a body is never narrowed down to one link or emphasis inside it. */
const INLINE = new Set('a b i em strong code mark s u small sub sup'.split(' '));
/** How long a page may take to empty its compose box once it sent what Veil put there. */
const CONFIRM_SENT_MS = 3_000;
/** A message's text counts up to this much when scoring a candidate list (see bestGroup). */
const TEXT_CAP = 120;

// ── Compose box and send action ───────────────────────────────────────────────────────────────

function isShown(el: HTMLElement): boolean {
  const rect = el.getBoundingClientRect();
  if (rect.width < 20 || rect.height < 10) return false; // hidden helper textareas, 1-px traps
  const style = el.ownerDocument.defaultView?.getComputedStyle(el);
  return !style || (style.visibility !== 'hidden' && style.display !== 'none');
}

function isComposeCandidate(el: HTMLElement): boolean {
  if (el.closest('[data-veil], [aria-hidden="true"]')) return false;
  if (el.localName === 'textarea') {
    const area = el as HTMLTextAreaElement;
    if (area.disabled || area.readOnly) return false;
  } else if (!el.isContentEditable || el.parentElement?.isContentEditable) {
    return false; // only the root of an editing host
  }
  return isShown(el);
}

/** The focused compose box if there is one, else the largest visible one. */
function composeBox(doc: Document): HTMLElement | null {
  const explicit = doc.querySelector<HTMLElement>(genericOptIn.compose);
  if (explicit) return explicit;
  const candidates = [...doc.querySelectorAll<HTMLElement>(EDITABLE)].filter(isComposeCandidate);
  const active = doc.activeElement;
  const focused = candidates.find((el) => active && (el === active || el.contains(active)));
  if (focused) return focused;
  let best: HTMLElement | null = null;
  let bestArea = -1;
  for (const el of candidates) {
    const { width, height } = el.getBoundingClientRect();
    if (width * height > bestArea) {
      best = el;
      bestArea = width * height;
    }
  }
  return best;
}

function label(el: Element): string {
  return [
    el.getAttribute('aria-label'),
    el.getAttribute('title'),
    el.localName === 'input' ? (el as HTMLInputElement).value : el.textContent,
  ]
    .filter(Boolean)
    .join(' ');
}

/**
 * The send button near `box`: a submit button of its form, else (no form) the nearest button
 * labelled send/submit/post/reply within a few ancestors.
 */
function sendButton(doc: Document, box: HTMLElement): HTMLElement | null {
  const explicit = doc.querySelector<HTMLElement>(genericOptIn.send);
  if (explicit) return explicit;
  const form = box.closest('form');
  if (form) {
    return form.querySelector<HTMLElement>(
      'button[type="submit"], button:not([type]), input[type="submit"]',
    );
  }
  let scope: HTMLElement | null = box.parentElement;
  for (let level = 0; scope && level < 5; level++, scope = scope.parentElement) {
    for (const el of scope.querySelectorAll<HTMLElement>(
      'button, input[type="submit"], input[type="button"], [role="button"]',
    )) {
      if (el.closest(NOT_SEND) || (el as HTMLButtonElement).disabled) continue;
      if (el.getAttribute('type') === 'submit' || SEND_LABEL.test(label(el))) return el;
    }
  }
  return null;
}

// ── Message list ─────────────────────────────────────────────────────────────────────────────

interface Group {
  parent: HTMLElement;
  tag: string;
  score: number;
}

function depth(el: Element): number {
  let d = 0;
  for (let e: Element | null = el; e; e = e.parentElement) d++;
  return d;
}

/** 1..2: how close `el` sits to the compose box (message lists live beside their composer). */
function proximity(el: Element, box: Element | null): number {
  if (!box) return 1;
  let common: Element | null = el;
  while (common && !common.contains(box)) common = common.parentElement;
  return 1 + (common ? depth(common) : 0) / depth(el);
}

/**
 * The best run of repeated siblings under `root`: for every element, its children grouped by tag
 * name; a group scores the sum of its members' text lengths, each capped at TEXT_CAP (so a few
 * layout boxes holding much text lose to many messages), times the parent's proximity to the
 * compose box (so a contact list in a sidebar loses to the conversation). Members holding the
 * compose box do not count.
 */
function bestGroup(root: HTMLElement, box: HTMLElement | null): Group | null {
  let best: Group | null = null;
  const parents = [root, ...root.querySelectorAll<HTMLElement>('*')];
  for (const parent of parents) {
    if (parent.childElementCount < 2 || parent.closest(NOT_MESSAGES)) continue;
    const scores = new Map<string, { score: number; members: number }>();
    for (const child of parent.children) {
      if (box && child.contains(box)) continue;
      const text = child.textContent?.trim().length ?? 0;
      if (text === 0) continue;
      const entry = scores.get(child.localName) ?? { score: 0, members: 0 };
      entry.score += Math.min(text, TEXT_CAP);
      entry.members++;
      scores.set(child.localName, entry);
    }
    for (const [tag, { score, members }] of scores) {
      if (members < 2) continue;
      const weighted = score * proximity(parent, box);
      if (!best || weighted > best.score) best = { parent, tag, score: weighted };
    }
  }
  return best;
}

function isScrollContainer(el: HTMLElement): boolean {
  const overflow = el.ownerDocument.defaultView?.getComputedStyle(el).overflowY;
  return overflow === 'auto' || overflow === 'scroll' || overflow === 'overlay';
}

// Lists found by the heuristic, so a page with thousands of messages is not rescanned on every
// mutation. A small find may be a sidebar seen before the conversation loaded, so it is checked
// again after a while; an entry is dropped when its element leaves the page.
const TRUSTED_MEMBERS = 20;
const RECHECK_MS = 1_000;
const listOf = new WeakMap<Document, { list: HTMLElement; group: Group; at: number }>();
const groupOf = new WeakMap<HTMLElement, Group>();

function stillValid(group: Group, list: HTMLElement): boolean {
  return group.parent.isConnected && list.contains(group.parent);
}

function members(group: Group): HTMLElement[] {
  return [...group.parent.children].filter((c) => c.localName === group.tag) as HTMLElement[];
}

// ── Lists found from their armor ──────────────────────────────────────────────────────────────
// The messages Veil must read hold armor: where some do, the list is found from them, so the
// first message of a chat (alone in its list, beside a longer sidebar) is found too.

/** Armored elements looked at per search (a list holds its newest ones near its end). */
const MAX_ANCHORS = 40;
/** Text longer than this is not searched whole: a chunk spans a few elements, not a page. */
const MAX_ANCHOR_TEXT = 16_000;
/** Containers a message list is (nearest around the armor). */
const LIST_LIKE = `${SEMANTIC_LIST}, [role="list"], ul, ol`;

/**
 * The innermost elements under `root` holding a complete armor chunk (the start of one in a
 * preview does not count), outside `skip` and Veil's own elements; at most MAX_ANCHORS.
 */
function armoredElements(root: Element, skip: Element | null, out: HTMLElement[] = []) {
  if (out.length >= MAX_ANCHORS || root === skip || root.matches('[data-veil]')) return out;
  const before = out.length;
  for (const child of root.children) {
    if ((child.textContent ?? '').includes(ARMOR_MARKER)) armoredElements(child, skip, out);
  }
  if (out.length > before) return out;
  const text = root.textContent ?? '';
  if (text.length <= MAX_ANCHOR_TEXT && findArmor(text).length > 0) out.push(root as HTMLElement);
  return out;
}

/** The nearest scrolling or list-like container around `el`, below the body. */
export function listAround(el: Element): HTMLElement | null {
  for (let e = el.parentElement; e && e !== e.ownerDocument.body; e = e.parentElement) {
    if (e.closest(NOT_MESSAGES)) return null;
    if (isScrollContainer(e as HTMLElement) || e.matches(LIST_LIKE)) return e as HTMLElement;
  }
  return null;
}

/** Tag and first class: siblings alike in both are items of one list. */
export function kindOf(el: Element): string {
  return `${el.localName}.${el.classList[0] ?? ''}`;
}

/**
 * The list and message group holding the page's armor. The container holding the most armored
 * elements is the list (ties: nearer the compose box); inside it, the level whose alike siblings
 * hold the most of them is the message level; with one armored message, the first element
 * below the list that is more than a wrapper is the message.
 */
function armoredGroup(doc: Document, box: HTMLElement | null) {
  if (!doc.body || !(doc.body.textContent ?? '').includes(ARMOR_MARKER)) return null;
  const byList = new Map<HTMLElement, HTMLElement[]>();
  for (const anchor of armoredElements(doc.body, box)) {
    const list = listAround(anchor);
    if (list && !(box && list.contains(box)))
      byList.set(list, [...(byList.get(list) ?? []), anchor]);
  }
  let list: HTMLElement | null = null;
  let anchors: HTMLElement[] = [];
  for (const [l, a] of byList) {
    const better =
      a.length > anchors.length ||
      (a.length === anchors.length && list && proximity(l, box) > proximity(list, box));
    if (better) [list, anchors] = [l, a];
  }
  if (!list) return null;
  // The path from the list down to its last armored element.
  const path: HTMLElement[] = [];
  for (let e: HTMLElement | null = anchors.at(-1)!; e && e !== list; e = e.parentElement)
    path.unshift(e);
  let message: HTMLElement | null = null;
  let most = 1;
  for (const step of path) {
    const kind = kindOf(step);
    const alike = [...step.parentElement!.children].filter(
      (c) => kindOf(c) === kind && anchors.some((a) => c.contains(a)),
    ).length;
    if (alike > most) [message, most] = [step, alike];
  }
  message ??= path.find((step) => step.childElementCount !== 1) ?? path.at(-1) ?? null;
  if (!message?.parentElement) return null;
  return { list, group: { parent: message.parentElement, tag: message.localName, score: most } };
}

/** Forgets the list found for `doc`: the next look searches again (armor appeared elsewhere). */
function forgetList(doc: Document): void {
  listOf.delete(doc);
}

function messageList(doc: Document): HTMLElement | null {
  const explicit = doc.querySelector<HTMLElement>(genericOptIn.messages);
  if (explicit) return explicit;
  const semantic = doc.querySelector<HTMLElement>(SEMANTIC_LIST);
  if (semantic) return semantic;
  const cached = listOf.get(doc);
  if (
    cached &&
    cached.list.isConnected &&
    stillValid(cached.group, cached.list) &&
    (members(cached.group).length >= TRUSTED_MEMBERS || Date.now() - cached.at < RECHECK_MS)
  ) {
    return cached.list;
  }
  if (!doc.body) return null;
  const box = composeBox(doc);
  const armored = armoredGroup(doc, box);
  if (armored) {
    listOf.set(doc, { ...armored, at: Date.now() });
    groupOf.set(armored.list, armored.group);
    return armored.list;
  }
  const group = bestGroup(doc.body, box);
  if (!group) return null;
  let list: HTMLElement = group.parent;
  for (let el: HTMLElement | null = group.parent; el && el !== doc.body; el = el.parentElement) {
    if (isScrollContainer(el)) {
      list = el;
      break;
    }
  }
  listOf.set(doc, { list, group, at: Date.now() });
  groupOf.set(list, group);
  return list;
}

/**
 * The list's messages: its `data-veil-message` elements, else the repeated siblings the heuristic
 * found in it, else (a list the page named, holding one message so far) its children.
 */
function messages(list: HTMLElement): HTMLElement[] {
  const explicit = list.querySelectorAll<HTMLElement>(genericOptIn.message);
  if (explicit.length > 0) return [...explicit];
  let group = groupOf.get(list);
  if (!group || !stillValid(group, list)) {
    group = bestGroup(list, composeBox(list.ownerDocument)) ?? undefined;
    if (!group) return [...list.children] as HTMLElement[];
    groupOf.set(list, group);
  }
  return members(group);
}

/**
 * The message holding `node`: its `data-veil-message` ancestor, else the member of the group that
 * `messages` found for the list it sits in; null when it is in none (or no group is known yet).
 */
function messageOf(list: HTMLElement, node: Node): HTMLElement | null {
  const el = elementOf(node);
  if (!el || el === list || !list.contains(el)) return null;
  const explicit = el.closest<HTMLElement>(genericOptIn.message);
  if (explicit) return explicit !== list && list.contains(explicit) ? explicit : null;
  const group = groupOf.get(list);
  if (!group || !stillValid(group, list)) return null;
  for (let e: Element | null = el; e && e !== list; e = e.parentElement) {
    if (e.parentElement === group.parent)
      return e.localName === group.tag ? (e as HTMLElement) : null;
  }
  return null;
}

// ── One message ──────────────────────────────────────────────────────────────────────────────

function textLength(node: Node): number {
  return node.textContent?.trim().length ?? 0;
}

/**
 * The element holding a message's text: descend from the message while one child holds most of
 * the text (past wrappers, timestamp and author), stop where the text spreads over several
 * children or sits in the element's own text nodes (a body with links in it).
 */
function messageBody(message: HTMLElement): HTMLElement | null {
  const explicit = message.matches(genericOptIn.body)
    ? message
    : message.querySelector<HTMLElement>(genericOptIn.body);
  if (explicit) return explicit;
  let el = message;
  for (;;) {
    const total = textLength(el);
    let top: HTMLElement | null = null;
    let topLength = 0;
    for (const child of el.childNodes) {
      if (child.nodeType !== Node.ELEMENT_NODE && child.nodeType !== Node.TEXT_NODE) continue;
      const length = textLength(child);
      if (length > topLength) {
        topLength = length;
        top = child.nodeType === Node.ELEMENT_NODE ? (child as HTMLElement) : null;
      }
    }
    if (!top || topLength * 2 <= total || INLINE.has(top.localName)) return el;
    el = top;
  }
}

function messageAuthor(message: HTMLElement): string | null {
  const explicit = message.matches(genericOptIn.author)
    ? message
    : message.querySelector<HTMLElement>(genericOptIn.author);
  if (explicit) {
    const value = explicit.getAttribute('data-veil-author')?.trim();
    return value || explicit.textContent?.trim() || null;
  }
  const body = messageBody(message);
  for (const el of message.querySelectorAll<HTMLElement>(AUTHOR_HINT)) {
    if (body && body !== message && body.contains(el)) continue;
    const name = el.getAttribute('data-author')?.trim() || el.textContent?.trim();
    if (name) return name;
  }
  return null;
}

export const generic: SiteAdapter = {
  id: 'generic',
  name: 'Any page with a compose box',
  markup: 'heuristic',
  // A common cap of web chats (Discord's is 2,000); pages with tighter limits need an adapter.
  maxMessageLength: 2_000,
  sendIntervalMs: 250,
  matches: (_location, doc) =>
    doc.querySelector(genericOptIn.messages) !== null || composeBox(doc) !== null,
  composeBox,
  toggleAnchor: composeBox,
  messageList,
  forgetList,
  messages,
  messageOf,
  messageBody,
  messageAuthor,
  conversationId(location, doc) {
    const explicit = doc.querySelector(genericOptIn.conversation);
    const value = explicit?.getAttribute('data-veil-conversation')?.trim();
    return value || location.origin + location.pathname + location.hash;
  },
  conversationInfo(_location, doc) {
    // Pages that opt in may say what the conversation is; otherwise only a name is known.
    const explicit = doc.querySelector(genericOptIn.conversation);
    const kind = explicit?.getAttribute('data-veil-conversation-kind');
    const name =
      explicit?.getAttribute('data-veil-conversation-name')?.trim() || (doc.title ?? '').trim();
    return {
      ...(kind === 'direct' || kind === 'group' ? { kind } : {}),
      ...(name ? { name: name.slice(0, 64) } : {}),
    };
  },
  async submit(doc, text) {
    const box = composeBox(doc);
    if (!box) throw new Error('no compose box on this page');
    // Sent only once the page took it: it empties its box (or draws a new one) when it sends.
    await submitText(box, text, {
      button: () => sendButton(doc, box),
      confirmClearedMs: CONFIRM_SENT_MS,
    });
  },
  selfName: (doc) => doc.querySelector(genericOptIn.self)?.textContent?.trim() || null,
  messageIsOwn: (message) => (message.matches(genericOptIn.own) ? true : null),
};
