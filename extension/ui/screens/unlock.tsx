// Shown while Veil is locked: nothing decrypts until the passphrase unwraps the keys again.
import { useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { StatusReply } from '../../messaging/messages';
import { Button, ScreenTitle, TextField } from '../fields';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';

export function Unlock(props: { onUnlocked(status: StatusReply): void }) {
  const [passphrase, setPassphrase] = useState('');
  const action = useAction();
  const unlock = async (event: Event) => {
    event.preventDefault();
    if (!passphrase) return action.setNotice({ kind: 'error', text: t('unlock_empty') });
    const status = await action.run(() => sendMessage({ type: 'unlock', passphrase }), {
      errors: { 'wrong-passphrase': 'lock_wrong_passphrase' },
    });
    if (status) props.onUnlocked(status);
  };
  return (
    <div class="screen narrow">
      <ScreenTitle>{t('unlock_title')}</ScreenTitle>
      <p class="lead">{t('unlock_explain')}</p>
      <form class="panel" onSubmit={unlock} noValidate>
        <TextField
          id="unlock-passphrase"
          type="password"
          autoComplete="current-password"
          label={t('unlock_label')}
          value={passphrase}
          onInput={setPassphrase}
          hook="unlock-passphrase"
        />
        <div class="actions">
          <Button type="submit" variant="primary" hook="unlock" busy={action.busy}>
            {t('unlock_button')}
          </Button>
        </div>
        <Notice notice={action.notice} />
      </form>
    </div>
  );
}
