// Verifying one contact: the 60-digit safety number (12 groups of 5) and its QR code, a field to
// paste the code from the other screen and compare, and marking the contact verified. A contact
// whose key changed gets the blocking warning (key-change.tsx) instead, with the new number.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { ContactView, VerifyView } from '../../messaging/messages';
import { SafetyNumber } from '../digits';
import { Button, ScreenTitle, TextField } from '../fields';
import { t } from '../i18n';
import { Notice } from '../notice';
import { QrCode } from '../qr-code';
import { navigate } from '../router';
import { StatusBadge } from '../status-badge';
import { useAction } from '../use-action';
import { KeyChangeWarning } from './key-change';

export function Verify({ handle }: { handle: string }) {
  const [contact, setContact] = useState<ContactView | null | undefined>(undefined);
  const [view, setView] = useState<VerifyView | null>(null);
  const loader = useAction();
  const { run } = loader;

  const load = useCallback(async () => {
    const list = await run(() => sendMessage({ type: 'listContacts' }));
    if (!list) return;
    const found = list.contacts.find((c) => c.handle === handle) ?? null;
    const reply = found ? await run(() => sendMessage({ type: 'verifyView', handle })) : undefined;
    // Both at once: the warning appears complete, with the new safety number, or not at all.
    setView(reply ?? null);
    setContact(reply?.contact ?? found);
  }, [handle, run]);
  useEffect(() => void load(), [load]);

  return (
    <div class="screen">
      <p class="breadcrumb">
        <a href="#contacts">{t('back_to_contacts')}</a>
      </p>
      {contact === null && (
        <>
          <ScreenTitle>{t('verify_missing_title', handle)}</ScreenTitle>
          <p>{t('verify_missing', handle)}</p>
        </>
      )}
      {contact?.status === 'key-changed' && (
        <KeyChangeWarning
          contact={contact}
          pendingSafetyNumber={view?.pendingSafetyNumber}
          onAcknowledged={() => void load()}
        />
      )}
      {view && contact && contact.status !== 'key-changed' && (
        <VerifyPanel
          view={view}
          onChanged={(updated) => {
            setContact(updated);
            setView({ ...view, contact: updated });
          }}
        />
      )}
      {contact === undefined && loader.busy && <p class="muted">{t('loading')}</p>}
      <Notice notice={loader.notice} />
    </div>
  );
}

function VerifyPanel({
  view,
  onChanged,
}: {
  view: VerifyView;
  onChanged(contact: ContactView): void;
}) {
  const { contact } = view;
  const [scanned, setScanned] = useState('');
  const compare = useAction();
  const mark = useAction();

  const runCompare = async (event: Event) => {
    event.preventDefault();
    const code = scanned.trim();
    if (!code) return compare.setNotice({ kind: 'error', text: t('compare_empty') });
    const reply = await compare.run(
      () => sendMessage({ type: 'compareScannable', handle: contact.handle, scanned: code }),
      {
        errors: {
          malformed: 'compare_not_a_code',
          'unknown-version': 'compare_other_version',
          'invalid-argument': 'compare_not_a_code',
        },
      },
    );
    if (reply)
      compare.setNotice(
        reply.match
          ? { kind: 'success', text: t('compare_match', contact.handle) }
          : { kind: 'error', text: t('compare_mismatch', contact.handle) },
      );
  };

  const setVerified = async (verified: boolean) => {
    const updated = await mark.run(
      () => sendMessage({ type: 'markVerified', handle: contact.handle, verified }),
      { success: t(verified ? 'verified_done' : 'unverified_done', contact.handle) },
    );
    if (updated) onChanged(updated);
  };

  const verified = contact.status === 'verified';
  return (
    <>
      <div class="title-row">
        <ScreenTitle>{t('verify_title', contact.handle)}</ScreenTitle>
        <StatusBadge status={contact.status} />
      </div>
      <p class="lead">{t('verify_intro', contact.handle)}</p>
      <div class="verify-grid">
        <section class="panel" aria-labelledby="safety-number-title">
          <h2 id="safety-number-title">{t('safety_number_title')}</h2>
          <SafetyNumber digits={view.safetyNumber} />
          <p class="hint">{t('safety_number_hint', contact.handle)}</p>
        </section>
        <section class="panel qr-panel" aria-labelledby="qr-title">
          <h2 id="qr-title">{t('qr_title')}</h2>
          <QrCode text={view.scannable} label={t('qr_label', contact.handle)} size={176} />
          <p class="hint">{t('qr_hint', contact.handle)}</p>
        </section>
      </div>
      <section class="panel" aria-labelledby="compare-title">
        <h2 id="compare-title">{t('compare_title')}</h2>
        <div class="field">
          <label for="own-code">{t('own_code_label', contact.handle)}</label>
          <input
            id="own-code"
            class="code"
            readOnly
            value={view.scannable}
            data-veil="scannable"
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
        <form onSubmit={runCompare} noValidate>
          <TextField
            id="scanned-code"
            label={t('compare_label', contact.handle)}
            hint={t('compare_hint')}
            value={scanned}
            onInput={setScanned}
            hook="scanned-input"
            multiline
          />
          <div class="actions">
            <Button type="submit" hook="compare" busy={compare.busy}>
              {t('compare_button')}
            </Button>
          </div>
        </form>
        <Notice notice={compare.notice} />
      </section>
      <section class="panel" aria-labelledby="mark-title">
        <h2 id="mark-title">{t('mark_title')}</h2>
        <p>
          {verified ? t('mark_is_verified', contact.handle) : t('mark_explain', contact.handle)}
        </p>
        <div class="actions">
          {verified ? (
            <Button hook="unmark-verified" busy={mark.busy} onClick={() => setVerified(false)}>
              {t('unmark_button')}
            </Button>
          ) : (
            <Button
              variant="primary"
              hook="mark-verified"
              busy={mark.busy}
              onClick={() => setVerified(true)}
            >
              {t('mark_button', contact.handle)}
            </Button>
          )}
        </div>
        <Notice notice={mark.notice} />
      </section>
      <RemoveContact handle={contact.handle} />
    </>
  );
}

function RemoveContact({ handle }: { handle: string }) {
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const remove = async () => {
    const done = await action.run(() => sendMessage({ type: 'removeContact', handle }));
    if (done) navigate({ name: 'contacts' });
  };
  return (
    <section class="panel quiet-panel" aria-labelledby="remove-title">
      <h2 id="remove-title">{t('remove_title')}</h2>
      {confirming ? (
        <>
          <p>{t('remove_confirm', handle)}</p>
          <div class="actions">
            <Button
              variant="danger"
              hook="confirm-remove-contact"
              busy={action.busy}
              onClick={remove}
            >
              {t('remove_button', handle)}
            </Button>
            <Button variant="quiet" onClick={() => setConfirming(false)}>
              {t('cancel')}
            </Button>
          </div>
        </>
      ) : (
        <div class="actions">
          <Button variant="quiet" hook="remove-contact" onClick={() => setConfirming(true)}>
            {t('remove_start', handle)}
          </Button>
        </div>
      )}
      <Notice notice={action.notice} />
    </section>
  );
}
