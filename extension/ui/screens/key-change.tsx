// The blocking warning for a contact whose identity key changed: says what it means, shows the old
// and new fingerprint halves, and keeps sending blocked until the person acknowledges it.
import { sendMessage } from '../../messaging/client';
import type { ContactView } from '../../messaging/messages';
import { FingerprintHalf, SafetyNumber } from '../digits';
import { Button, ScreenTitle } from '../fields';
import { t } from '../i18n';
import { Notice } from '../notice';
import { navigate } from '../router';
import { useAction } from '../use-action';

export function KeyChangeWarning(props: {
  contact: ContactView;
  /** The safety number with the new key, when the background could compute it. */
  pendingSafetyNumber?: string;
  onAcknowledged(): void;
}) {
  const { contact } = props;
  const action = useAction();
  const acknowledge = async () => {
    const updated = await action.run(() =>
      sendMessage({ type: 'acknowledgeKeyChange', handle: contact.handle }),
    );
    if (updated) props.onAcknowledged();
  };
  return (
    <section
      class="warning-panel"
      data-veil="key-change-warning"
      aria-describedby="key-change-what"
    >
      <ScreenTitle>{t('key_change_title', contact.handle)}</ScreenTitle>
      <p id="key-change-what">{t('key_change_what', contact.handle)}</p>
      <p class="blocked">
        <strong>{t('key_change_blocked', contact.handle)}</strong>
      </p>
      <dl class="key-compare">
        <div>
          <dt>{t('key_change_old')}</dt>
          <dd>
            <FingerprintHalf digits={contact.fingerprint} />
          </dd>
        </div>
        {contact.pendingFingerprint && (
          <div>
            <dt>{t('key_change_new')}</dt>
            <dd>
              <FingerprintHalf digits={contact.pendingFingerprint} />
            </dd>
          </div>
        )}
      </dl>
      {props.pendingSafetyNumber && (
        <div class="new-safety-number">
          <h2>{t('key_change_new_number')}</h2>
          <SafetyNumber digits={props.pendingSafetyNumber} />
        </div>
      )}
      <p>{t('key_change_next', contact.handle)}</p>
      <div class="actions">
        <Button
          variant="primary"
          hook="acknowledge-key-change"
          busy={action.busy}
          onClick={acknowledge}
        >
          {t('key_change_acknowledge')}
        </Button>
        <Button variant="quiet" onClick={() => navigate({ name: 'contacts' })}>
          {t('key_change_later')}
        </Button>
      </div>
      <Notice notice={action.notice} />
    </section>
  );
}
