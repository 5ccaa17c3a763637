// "Teach Veil this site": where the generic adapter guesses wrong, the user points at the box they
// type in and at one message, and Veil keeps what they showed as a site profile. Drawn by the
// content script in a closed shadow root (the page cannot read or restyle it); only the user's
// own clicks count (isTrusted), and the page's handlers do not see them while picking. Started
// only by the background, when the user asks in the popup.
import { AUTHOR_HINT, generic, kindOf, listAround } from '../../site-adapters/generic';
import { DEFAULT_PROFILE_LENGTH, type SiteProfile } from '../../site-adapters/profile';
import { pageText } from './page-text';
import { innerSelector, membersSelector, selectorFor } from './selector-for';

const EDITABLE =
  'textarea, input[type="text"], input:not([type]), [contenteditable]:not([contenteditable="false"])';
const INPUT_EVENTS = ['pointerdown', 'pointerup', 'mousedown', 'mouseup', 'click', 'dblclick'];

/** The editing root around what the user clicked: the box itself, not a paragraph in it. */
export function composeRoot(el: Element): HTMLElement | null {
  let box = el.closest<HTMLElement>(EDITABLE);
  while (box?.parentElement?.closest(EDITABLE))
    box = box.parentElement.closest<HTMLElement>(EDITABLE);
  return box;
}

function alike(el: Element): number {
  const kind = kindOf(el);
  return [...(el.parentElement?.children ?? [])].filter((c) => kindOf(c) === kind).length;
}

/** Text an element adds around one message's own: an author, a time (not another message). */
const AROUND_TEXT = 80;

const textLength = (el: Element) => (el.textContent ?? '').trim().length;

/**
 * The message the user clicked in, and its list: the level above the click whose siblings are
 * most alike (messages repeat). With one message on screen: the highest element above the click
 * that adds a little text to it (an author, a time) but not nothing (the list wrapping it alone)
 * and not much (the page around it).
 */
export function pickedMessage(el: Element): { list: Element; message: Element } | null {
  const body = el.ownerDocument.body;
  let message: Element | null = null;
  let most = 1;
  for (let e: Element | null = el; e && e !== body; e = e.parentElement) {
    const n = alike(e);
    if (n >= most && n > 1) [message, most] = [e, n];
  }
  if (!message) {
    message = el;
    for (let parent = el.parentElement; parent && parent !== body; parent = parent.parentElement) {
      const added = textLength(parent) - textLength(message);
      if (added <= 0 || added > AROUND_TEXT) break;
      message = parent;
    }
  }
  if (!message.parentElement) return null;
  return { list: listAround(message) ?? message.parentElement, message };
}

/** The selectors of a profile for the box and the message the user pointed at. */
export function profileFrom(
  host: string,
  box: HTMLElement,
  picked: { list: Element; message: Element },
): SiteProfile {
  const { list, message } = picked;
  const selectors: SiteProfile['selectors'] = {
    composeBox: selectorFor(box),
    messageList: selectorFor(list),
    message: membersSelector(list, message),
  };
  const body = generic.messageBody(message as HTMLElement);
  if (body && body !== message) selectors.messageBody = innerSelector(message, body);
  const author = message.querySelector(AUTHOR_HINT);
  if (author && !(body && body.contains(author)))
    selectors.messageAuthor = innerSelector(message, author);
  return { veilSiteProfile: 1, host, selectors, maxMessageLength: DEFAULT_PROFILE_LENGTH };
}

type Step = 'box' | 'message';

/** Shows the picker until the user picked both or cancelled; resolves the profile or null. */
export function pickSite(doc: Document, host: string): Promise<SiteProfile | null> {
  return new Promise((resolve) => {
    const win = doc.defaultView!;
    // Only its Cancel button takes the pointer: the rest of the bar lets clicks through to the
    // page, which may have what the user wants to point at right under it.
    const holder = doc.createElement('div');
    holder.setAttribute('data-veil', 'picker');
    holder.style.cssText = 'position:fixed;inset:0;z-index:2147483647;pointer-events:none;';
    const shadow = holder.attachShadow({ mode: 'closed' });
    shadow.innerHTML = `<style>
      .bar{position:fixed;top:12px;left:50%;transform:translateX(-50%);pointer-events:none;
        background:#1d2a7a;color:#fff;font:600 14px/1.4 system-ui,sans-serif;padding:10px 14px;
        border-radius:10px;box-shadow:0 4px 16px #0006;display:flex;gap:12px;align-items:center;max-width:90vw}
      button{pointer-events:auto;font:inherit;border:1px solid #fff;background:transparent;color:#fff;border-radius:6px;padding:2px 10px;cursor:pointer}
      .mark{position:fixed;border:2px solid #3b4fc4;background:#3b4fc433;pointer-events:none;display:none}
    </style><div class="bar" role="dialog"><span class="text"></span><button type="button">${pageText('page_pick_cancel')}</button></div><div class="mark"></div>`;
    const text = shadow.querySelector<HTMLElement>('.text')!;
    const mark = shadow.querySelector<HTMLElement>('.mark')!;
    const cancel = shadow.querySelector<HTMLButtonElement>('button')!;
    let step: Step = 'box';
    let box: HTMLElement | null = null;
    const say = (key: Parameters<typeof pageText>[0]) => {
      text.textContent = pageText(key);
      // Which step it is at, for tests and the curious: never anything the user picked.
      holder.setAttribute('data-veil-step', key.replace('page_pick_', ''));
    };
    say('page_pick_box');

    const underPointer = (e: Event) => {
      const target = e.composedPath()[0];
      return target instanceof win.Element && !holder.contains(target) && target !== holder
        ? target
        : null;
    };
    const highlight = (e: PointerEvent) => {
      const el = underPointer(e);
      if (!el) return;
      const r = el.getBoundingClientRect();
      Object.assign(mark.style, {
        display: 'block',
        left: `${r.left}px`,
        top: `${r.top}px`,
        width: `${r.width}px`,
        height: `${r.height}px`,
      });
    };
    const finish = (result: SiteProfile | null) => {
      for (const type of INPUT_EVENTS) win.removeEventListener(type, swallow, true);
      win.removeEventListener('pointermove', highlight, true);
      win.removeEventListener('keydown', onKey, true);
      holder.remove();
      resolve(result);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.isTrusted && e.key === 'Escape') finish(null);
    };
    const swallow = (e: Event) => {
      const el = underPointer(e);
      if (!el) return; // our own bar: its button works normally
      e.preventDefault();
      e.stopImmediatePropagation();
      if (e.type !== 'click' || !e.isTrusted) return;
      if (step === 'box') {
        box = composeRoot(el);
        if (!box) return void say('page_pick_box_again');
        step = 'message';
        say('page_pick_message');
        return;
      }
      const picked = pickedMessage(el);
      if (!picked || picked.list.contains(box)) return void say('page_pick_message_again');
      finish(profileFrom(host, box!, picked));
    };
    cancel.addEventListener('click', (e) => {
      if (e.isTrusted) finish(null);
    });
    for (const type of INPUT_EVENTS) win.addEventListener(type, swallow, true);
    win.addEventListener('pointermove', highlight, true);
    win.addEventListener('keydown', onKey, true);
    doc.documentElement.append(holder);
  });
}
