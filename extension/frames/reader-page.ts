// The reader frame (extension page `reader.html`, shown inside a host page; its token and key
// come from the content script, never in its address): asks the background for its one message and shows it as text (text nodes only, never HTML, so links
// are inert text), with the sender, the status, and where and when the message says it was
// written, all drawn here where the host cannot forge them, and the security phrase on hover or
// focus. A warning status (unknown sender, wrong place, shown again) keeps the text back until
// the user asks for it. Nothing is shown before the background took the key the content script
// handed this frame (frame-key.ts); a frame the page embedded itself only says so. The text is
// held back while the page covers or fades the frame (sight.ts), and dropped when Veil locks.
//
// Plain DOM and the browser's own i18n, no UI library and no bundled strings: a page shows one
// of these per visible message, each its own document, so what each loads is what the user
// waits for.
import { browser } from 'wxt/browser';
import { sendMessage } from '../messaging/client';
import type { BlockStatus, ReaderView } from '../messaging/messages';
import type { MessageKey } from '../ui/i18n';
import { FrameLink, NotPlacedByVeil } from './frame-key';
import { watchLock } from './lock-watch';
import { pollHostSight, sightSupported, watchSight, type Sight } from './sight';

const STATUS: Record<BlockStatus, MessageKey> = {
  verified: 'status_verified',
  unverified: 'status_unverified',
  'key-changed': 'status_key_changed',
  'unknown-sender': 'status_unknown_sender',
  moved: 'status_moved',
  repeat: 'status_repeat',
  failed: 'reader_failed',
};

const WARNING: Partial<Record<BlockStatus, MessageKey>> = {
  moved: 'reader_moved_explain',
  repeat: 'reader_repeat_explain',
};

const FAILURE: Record<string, MessageKey> = {
  replay: 'reader_failed_replay',
  'wrong-context': 'reader_failed_moved',
  'own-message': 'reader_failed_own',
  truncated: 'reader_failed_truncated',
  expired: 'reader_failed_expired',
  locked: 'error_locked',
};

export type ReaderState =
  | { kind: 'loading' }
  | { kind: 'shown'; view: ReaderView }
  | { kind: 'error'; code: string }
  | { kind: 'not-placed' };

/** The localized text for `key` (the browser's i18n; the key itself if it has none). */
type Translate = (key: MessageKey, substitutions?: string[]) => string;

const browserText: Translate = (key, substitutions = []) => {
  try {
    const i18n = browser.i18n as unknown as { getMessage(k: string, s?: string[]): string };
    return i18n.getMessage(key, substitutions) || key;
  } catch {
    return key;
  }
};

type Child = Node | string | null | undefined | false;

function el(
  doc: Document,
  tag: string,
  attrs: Record<string, string | undefined>,
  ...children: Child[]
): HTMLElement {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(attrs))
    if (value !== undefined) node.setAttribute(name, value);
  // Strings become text nodes: never parsed as HTML.
  for (const child of children)
    if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

function badgeMark(status: BlockStatus): string {
  if (status === 'verified') return '✓ ';
  if (status === 'unverified') return '';
  return '! ';
}

function badgeClass(status: BlockStatus): string {
  if (status === 'verified' || status === 'unverified') return status;
  return 'key-changed';
}

/** `#veil · 127.0.0.1:9000 · 6 Dec 2026, 10:42` from what the message sealed. */
function writtenWhere(
  doc: Document,
  t: Translate,
  sealed: NonNullable<ReaderView['sealed']>,
): HTMLElement {
  const when =
    sealed.sentAt === undefined
      ? undefined
      : new Date(sealed.sentAt).toLocaleString(undefined, {
          dateStyle: 'medium',
          timeStyle: 'short',
        });
  return el(
    doc,
    'p',
    { class: 'reader-where' },
    sealed.name &&
      el(
        doc,
        'span',
        { 'data-veil': 'sealed-conversation' },
        t('reader_written_in', [sealed.name]),
      ),
    sealed.site &&
      el(doc, 'span', { 'data-veil': 'sealed-site' }, t('reader_written_on', [sealed.site])),
    when &&
      el(
        doc,
        'time',
        { 'data-veil': 'sealed-time', datetime: new Date(sealed.sentAt!).toISOString() },
        when,
      ),
  );
}

export interface ReaderActions {
  reveal(): void;
  addSender(): void;
}

/** What the frame shows for `state`, as one element (replaces the previous one). */
export function renderReader(
  doc: Document,
  state: ReaderState,
  sight: Sight,
  added: boolean,
  actions: ReaderActions,
  t: Translate = browserText,
): HTMLElement {
  if (state.kind === 'loading') return el(doc, 'div', { class: 'reader', 'aria-busy': 'true' });
  if (state.kind === 'not-placed')
    return el(
      doc,
      'p',
      { class: 'reader reader-failed reader-reason', 'data-veil': 'not-placed', role: 'alert' },
      t('frame_not_placed'),
    );
  const view: ReaderView =
    state.kind === 'shown' ? state.view : { status: 'failed', error: state.code };
  const failed = view.status === 'failed';
  const unknown = view.status === 'unknown-sender';
  const warning = WARNING[view.status];
  const sender = view.sender
    ? el(
        doc,
        'span',
        { class: 'reader-sender', 'data-veil': 'sender' },
        view.own
          ? t('reader_you', [view.sender])
          : unknown
            ? t('reader_claims', [view.sender])
            : view.sender,
      )
    : null;
  const phrase = view.phrase
    ? el(
        doc,
        'span',
        { class: 'reader-phrase', 'data-veil': 'security-phrase', title: t('reader_phrase_hint') },
        view.phrase,
      )
    : null;
  let body: HTMLElement;
  if (failed)
    body = el(
      doc,
      'p',
      { class: 'reader-reason', 'data-veil': view.error === 'locked' ? 'locked' : 'failure' },
      t(FAILURE[view.error ?? ''] ?? 'reader_failed_generic'),
    );
  else if (view.hidden) {
    body = el(
      doc,
      'button',
      { type: 'button', class: 'reader-reveal', 'data-veil': 'reveal' },
      t('reader_reveal'),
    );
    body.addEventListener('click', () => actions.reveal());
  } else if (sight === 'pending')
    body = el(doc, 'p', { class: 'reader-text', 'aria-busy': 'true' });
  else if (sight === 'obscured')
    body = el(doc, 'p', { class: 'reader-reason', 'data-veil': 'obscured' }, t('reader_obscured'));
  else
    body = el(doc, 'p', { class: 'reader-text', 'data-veil': 'plaintext' }, view.plaintext ?? '');
  let add: HTMLElement | null = null;
  if (view.status === 'unverified' && view.contact === false && !added) {
    add = el(
      doc,
      'button',
      { type: 'button', class: 'reader-add', 'data-veil': 'add-sender' },
      t('reader_add_contact', [view.sender ?? '']),
    );
    add.addEventListener('click', () => actions.addSender());
  }
  return el(
    doc,
    'article',
    { class: `reader reader-${view.status}`, tabindex: '0', 'data-veil-status': view.status },
    el(
      doc,
      'header',
      { class: 'reader-head' },
      el(
        doc,
        'span',
        { class: `badge badge-${badgeClass(view.status)}`, 'data-veil': 'status' },
        badgeMark(view.status) + t(STATUS[view.status]),
      ),
      sender,
      phrase,
    ),
    view.sealed && writtenWhere(doc, t, view.sealed),
    unknown &&
      el(
        doc,
        'p',
        { class: 'reader-reason', 'data-veil': 'unknown-sender' },
        t('reader_unknown_explain', [view.fingerprint ?? '']),
      ),
    warning && el(doc, 'p', { class: 'reader-reason', 'data-veil': 'warning' }, t(warning)),
    body,
    add,
    added && el(doc, 'p', { class: 'reader-where' }, t('reader_added_contact')),
  );
}

/**
 * Marks this frame's timeline (bench/inpage-bench.ts reads it: when the text was drawn, not
 * only when a status showed). The frame's timeline is its own: the page cannot read it.
 */
function markOnce(name: string): void {
  if (typeof performance === 'undefined' || performance.getEntriesByName(name).length > 0) return;
  performance.mark(name);
}

/** Runs the reader in `root`: asks for the message, follows sight and the lock. */
export function startReader(root: HTMLElement, link: FrameLink = new FrameLink(null)): void {
  const doc = root.ownerDocument;
  markOnce('veil:start');
  let state: ReaderState = { kind: 'loading' };
  let sight: Sight = 'pending';
  let added = false;
  let polling = false;
  // Redrawn only when what it shows changes: a button replaced between a press and its release
  // would swallow the click (sight reports come often, and matter only while text shows).
  let drawn = '';
  const draw = () => {
    const shown = state.kind === 'shown' && !state.view.hidden && state.view.status !== 'failed';
    const seen = !shown ? '' : sight === 'pending' || sight === 'obscured' ? sight : 'seen';
    const key = JSON.stringify([state, seen, added]);
    if (key === drawn) return;
    drawn = key;
    root.replaceChildren(renderReader(doc, state, sight, added, actions));
    if (seen === 'seen') markOnce('veil:text');
  };
  const set = (next: ReaderState) => {
    state = next;
    draw();
  };
  const read = (reveal: boolean) => {
    link
      .call((auth) =>
        sendMessage(
          reveal ? { type: 'readMessage', ...auth, reveal } : { type: 'readMessage', ...auth },
        ),
      )
      .then((view) => {
        markOnce('veil:view');
        set({ kind: 'shown', view });
        // No v2 here (Firefox): the content script's check, asked while the frame is in view.
        if (!polling && !sightSupported()) {
          polling = true;
          pollHostSight(
            doc.documentElement,
            () =>
              link
                .call((auth) => sendMessage({ type: 'readerSight', ...auth }))
                .then(({ sight: seen }) => seen),
            seeSight,
          );
        }
      })
      .catch((e: unknown) =>
        set(
          e instanceof NotPlacedByVeil
            ? { kind: 'not-placed' }
            : { kind: 'error', code: (e as { code?: string } | null)?.code ?? 'internal' },
        ),
      );
  };
  const actions: ReaderActions = {
    reveal: () => read(true),
    addSender: () => {
      if (state.kind !== 'shown' || !state.view.sender) return;
      void link
        .call((auth) => sendMessage({ type: 'addSender', ...auth }))
        .then(() => {
          added = true;
          read(false);
        })
        .catch(() => undefined);
    },
  };
  draw();
  read(false);
  // Veil's own pair may come after the wait ran out (a slow first decrypt): read then.
  link.onLateCandidate = () => read(false);
  const seeSight = (next: Sight) => {
    sight = next;
    markOnce(`veil:sight-${next}`);
    draw();
  };
  // Without v2 (Firefox) the text waits for the content script's first answer (below).
  if (sightSupported()) watchSight(doc.documentElement, seeSight);
  // Locking drops the text from the screen; unlocking reads it again.
  watchLock((locked) => (locked ? set({ kind: 'error', code: 'locked' }) : read(false)));
}
