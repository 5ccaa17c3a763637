// The reader frame (extension page `reader.html#<token>`, shown inside a host page): asks the
// background for its one message and shows it as text (Preact text nodes, i.e. textContent;
// never HTML, so links are inert text), with the sender, the status, and where and when the
// message says it was written, all drawn here where the host cannot forge them, and the security
// phrase on hover or focus. A warning status (unknown sender, wrong place, shown again) keeps
// the text back until the user asks for it. Nothing is shown before the background took the key
// the content script handed this frame (frame-key.ts); a frame the page embedded itself only
// says so. Its height is set by the content script: text that does not fit scrolls. The text is
// held back while the page covers or fades the frame (sight.ts), so the page cannot lay its own
// words over Veil's under Veil's header.
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { BlockStatus, ReaderView } from '../messaging/messages';
import { errorCode } from '../ui/errors';
import { t, type MessageKey } from '../ui/i18n';
import { FrameLink, NotPlacedByVeil } from './frame-key';
import { watchLock } from './lock-watch';
import { NotPlaced } from './not-placed';
import { watchSight, type Sight } from './sight';

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

type State =
  | { kind: 'loading' }
  | { kind: 'shown'; view: ReaderView }
  | { kind: 'error'; code: string }
  | { kind: 'not-placed' };

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
function WrittenWhere({ sealed }: { sealed: NonNullable<ReaderView['sealed']> }) {
  const when =
    sealed.sentAt === undefined
      ? undefined
      : new Date(sealed.sentAt).toLocaleString(undefined, {
          dateStyle: 'medium',
          timeStyle: 'short',
        });
  return (
    <p class="reader-where">
      {sealed.name && (
        <span data-veil="sealed-conversation">{t('reader_written_in', sealed.name)}</span>
      )}
      {sealed.site && <span data-veil="sealed-site">{t('reader_written_on', sealed.site)}</span>}
      {when && (
        <time data-veil="sealed-time" dateTime={new Date(sealed.sentAt!).toISOString()}>
          {when}
        </time>
      )}
    </p>
  );
}

export function ReaderApp({ token }: { token: string | null }) {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [added, setAdded] = useState(false);
  const [sight, setSight] = useState<Sight>('pending');
  const link = useMemo(() => new FrameLink(token), [token]);

  const read = useCallback(
    (reveal: boolean) => {
      link
        .call((auth) =>
          sendMessage(
            reveal ? { type: 'readMessage', ...auth, reveal } : { type: 'readMessage', ...auth },
          ),
        )
        .then((view) => setState({ kind: 'shown', view }))
        .catch((e: unknown) =>
          setState(
            e instanceof NotPlacedByVeil
              ? { kind: 'not-placed' }
              : { kind: 'error', code: errorCode(e) ?? 'internal' },
          ),
        );
    },
    [link],
  );

  useEffect(() => read(false), [read]);
  // Locking drops the text from the screen; unlocking reads it again.
  useEffect(
    () =>
      watchLock((locked) => (locked ? setState({ kind: 'error', code: 'locked' }) : read(false))),
    [read],
  );
  useEffect(() => watchSight(document.documentElement, setSight), []);

  if (state.kind === 'loading') return <div class="reader" aria-busy="true" />;
  if (state.kind === 'not-placed') return <NotPlaced />;
  const view: ReaderView =
    state.kind === 'shown' ? state.view : { status: 'failed', error: state.code };
  const failed = view.status === 'failed';
  const unknown = view.status === 'unknown-sender';
  const reason = failed ? t(FAILURE[view.error ?? ''] ?? 'reader_failed_generic') : '';
  const warning = WARNING[view.status];
  const phrase = view.phrase;
  const addContact = async () => {
    if (!view.sender) return;
    await link.call((auth) => sendMessage({ type: 'addSender', ...auth }));
    setAdded(true);
    read(false);
  };
  return (
    <article class={`reader reader-${view.status}`} tabIndex={0} data-veil-status={view.status}>
      <header class="reader-head">
        <span class={`badge badge-${badgeClass(view.status)}`} data-veil="status">
          {badgeMark(view.status)}
          {t(STATUS[view.status])}
        </span>
        {view.sender && (
          <span class="reader-sender" data-veil="sender">
            {view.own
              ? t('reader_you', view.sender)
              : unknown
                ? t('reader_claims', view.sender)
                : view.sender}
          </span>
        )}
        {phrase && (
          <span class="reader-phrase" data-veil="security-phrase" title={t('reader_phrase_hint')}>
            {phrase}
          </span>
        )}
      </header>
      {view.sealed && <WrittenWhere sealed={view.sealed} />}
      {unknown && (
        <p class="reader-reason" data-veil="unknown-sender">
          {t('reader_unknown_explain', view.fingerprint ?? '')}
        </p>
      )}
      {warning && (
        <p class="reader-reason" data-veil="warning">
          {t(warning)}
        </p>
      )}
      {failed ? (
        <p class="reader-reason" data-veil={view.error === 'locked' ? 'locked' : 'failure'}>
          {reason}
        </p>
      ) : view.hidden ? (
        <button type="button" class="reader-reveal" data-veil="reveal" onClick={() => read(true)}>
          {t('reader_reveal')}
        </button>
      ) : sight === 'pending' ? (
        <p class="reader-text" aria-busy="true" />
      ) : sight === 'obscured' ? (
        <p class="reader-reason" data-veil="obscured">
          {t('reader_obscured')}
        </p>
      ) : (
        <p class="reader-text" data-veil="plaintext">
          {view.plaintext ?? ''}
        </p>
      )}
      {view.status === 'unverified' && view.contact === false && !added && (
        <button type="button" class="reader-add" data-veil="add-sender" onClick={addContact}>
          {t('reader_add_contact', view.sender ?? '')}
        </button>
      )}
      {added && <p class="reader-where">{t('reader_added_contact')}</p>}
    </article>
  );
}
