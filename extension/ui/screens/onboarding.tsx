// First run: choose a handle and a key directory and create the identity; then (welcome) publish
// it, see its fingerprint half and QR code, and set the security phrase.
import { useRef, useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { IdentityView, StatusReply } from '../../messaging/messages';
import { Button, ScreenTitle, TextField } from '../fields';
import { isUsableDirectoryUrl, isValidHandle } from '../format';
import { JoinAccount } from '../devices';
import { IdentityCard, PublishPanel, SecurityPhraseForm } from '../identity';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';

export function CreateIdentity(props: { status: StatusReply; onCreated(): void }) {
  const [handle, setHandle] = useState('');
  const [directoryUrl, setDirectoryUrl] = useState(props.status.settings.directoryUrl);
  const [checked, setChecked] = useState(false);
  const handleRef = useRef<HTMLInputElement>(null);
  const urlRef = useRef<HTMLInputElement>(null);
  const action = useAction();

  const handleError =
    (checked || handle) && !isValidHandle(handle)
      ? t(handle ? 'handle_invalid' : 'handle_empty')
      : null;
  const urlError =
    checked && !isUsableDirectoryUrl(directoryUrl) ? t('directory_url_invalid') : null;

  const create = async (event: Event) => {
    event.preventDefault();
    setChecked(true);
    if (!isValidHandle(handle)) return handleRef.current?.focus();
    if (!isUsableDirectoryUrl(directoryUrl)) return urlRef.current?.focus();
    const created = await action.run(
      () => sendMessage({ type: 'createIdentity', handle, directoryUrl }),
      { errors: { 'handle-taken': 'error_handle_taken' } },
    );
    if (created) props.onCreated();
  };

  return (
    <div class="screen narrow">
      <ScreenTitle>{t('onboarding_title')}</ScreenTitle>
      <p class="lead">{t('onboarding_intro')}</p>
      <form class="panel" onSubmit={create} noValidate>
        <TextField
          id="handle"
          label={t('handle_label')}
          hint={t('handle_hint')}
          value={handle}
          onInput={setHandle}
          error={handleError}
          maxLength={64}
          hook="handle"
          inputRef={handleRef}
        />
        <TextField
          id="directory-url"
          type="url"
          label={t('directory_url_label')}
          hint={t('directory_url_hint')}
          value={directoryUrl}
          onInput={setDirectoryUrl}
          error={urlError}
          hook="directory-url"
          inputRef={urlRef}
        />
        <div class="actions">
          <Button type="submit" variant="primary" hook="create-identity" busy={action.busy}>
            {action.busy ? t('create_busy') : t('create_button')}
          </Button>
        </div>
        <Notice notice={action.notice} />
      </form>
      <JoinAccount onJoined={props.onCreated} />
      <p class="aside">
        {t('onboarding_restore_prompt')} <a href="#backup">{t('onboarding_restore_link')}</a>
      </p>
    </div>
  );
}

export function Welcome(props: { identity: IdentityView; status: StatusReply; onChanged(): void }) {
  return (
    <div class="screen">
      <ScreenTitle>{t('welcome_title')}</ScreenTitle>
      <p class="lead">{t('welcome_intro')}</p>
      <section class="panel" aria-label={t('identity_section_label')}>
        <IdentityCard identity={props.identity} />
      </section>
      <PublishPanel
        identity={props.identity}
        directoryUrl={props.status.settings.directoryUrl}
        onPublished={props.onChanged}
      />
      <SecurityPhraseForm hasPhrase={props.status.hasSecurityPhrase} onSaved={props.onChanged} />
      <div class="actions">
        <a class="button primary" href="#contacts" data-veil="onboarding-done">
          {t('welcome_done')}
        </a>
      </div>
    </div>
  );
}
