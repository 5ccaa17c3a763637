// The reader frame (extension page `reader.html#<token>`, shown inside a host page): asks the
// background for its one message and shows it as text (Preact text nodes, i.e. textContent;
// never HTML, so links are inert text), with the sender and the status drawn here where the host
// cannot forge them, and the security phrase on hover or focus.
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { ReaderView } from '../messaging/messages';
import { errorCode } from '../ui/errors';
import { t, type MessageKey } from '../ui/i18n';
import { reportHeight } from './report-height';
import { useSecurityPhrase } from './security-phrase';

const STATUS: Record<ReaderView['status'], MessageKey> = {
  verified: 'status_verified',
  unverified: 'status_unverified',
  'key-changed': 'status_key_changed',
  failed: 'reader_failed',
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
  { kind: 'loading' } | { kind: 'shown'; view: ReaderView } | { kind: 'error'; code: string };

export function ReaderApp({ token }: { token: string | null }) {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const phrase = useSecurityPhrase();

  useEffect(() => {
    if (!token) {
      setState({ kind: 'error', code: 'expired' });
      return;
    }
    sendMessage({ type: 'readMessage', token })
      .then((view) => setState({ kind: 'shown', view }))
      .catch((e: unknown) => setState({ kind: 'error', code: errorCode(e) ?? 'internal' }));
    return reportHeight(token);
  }, [token]);

  if (state.kind === 'loading') return <div class="reader" aria-busy="true" />;
  const view: ReaderView =
    state.kind === 'shown' ? state.view : { status: 'failed', error: state.code };
  const failed = view.status === 'failed';
  const reason = failed ? t(FAILURE[view.error ?? ''] ?? 'reader_failed_generic') : '';
  return (
    <article class={`reader reader-${view.status}`} tabIndex={0} data-veil-status={view.status}>
      <header class="reader-head">
        <span class={`badge badge-${failed ? 'key-changed' : view.status}`} data-veil="status">
          {view.status === 'verified' ? '✓ ' : view.status === 'unverified' ? '' : '! '}
          {t(STATUS[view.status])}
        </span>
        {view.sender && (
          <span class="reader-sender" data-veil="sender">
            {view.own ? t('reader_you', view.sender) : view.sender}
          </span>
        )}
        {phrase && (
          <span class="reader-phrase" data-veil="security-phrase" title={t('reader_phrase_hint')}>
            {phrase}
          </span>
        )}
      </header>
      {failed ? (
        <p class="reader-reason" data-veil="failure">
          {reason}
        </p>
      ) : (
        <p class="reader-text" data-veil="plaintext">
          {view.plaintext ?? ''}
        </p>
      )}
    </article>
  );
}
