// Our own identity on the options page: the fingerprint half with its QR code, publishing to
// the directory, and the personal security phrase shown in every Veil frame.
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { IdentityView } from '../messaging/messages';
import { FingerprintHalf } from './digits';
import { Button, TextField } from './fields';
import { identityQrPayload } from './format';
import { t } from './i18n';
import { Notice } from './notice';
import { QrCode } from './qr-code';
import { useAction } from './use-action';

export function IdentityCard({ identity }: { identity: IdentityView }) {
  return (
    <div class="identity-card" data-veil="identity" data-veil-handle={identity.handle}>
      <div>
        <p class="eyebrow">{t('identity_handle_label')}</p>
        <p class="handle">{identity.handle}</p>
        <p class="eyebrow">{t('identity_fingerprint_label')}</p>
        <FingerprintHalf digits={identity.fingerprint} />
        <p class="hint">{t('identity_fingerprint_hint')}</p>
      </div>
      <QrCode
        text={identityQrPayload(identity.handle, identity.identityKey)}
        label={t('identity_qr_label', identity.handle)}
        size={168}
      />
    </div>
  );
}

export function PublishPanel(props: {
  identity: IdentityView;
  directoryUrl: string;
  onPublished(identity: IdentityView): void;
}) {
  const action = useAction();
  const publish = async () => {
    const identity = await action.run(() => sendMessage({ type: 'publish' }), {
      success: t('publish_done', props.directoryUrl),
    });
    if (identity) props.onPublished(identity);
  };
  const { published, logIndex } = props.identity;
  return (
    <section class="panel" aria-labelledby="publish-title">
      <h2 id="publish-title">{t('publish_title')}</h2>
      <p>
        {published
          ? t('publish_state_published', [props.directoryUrl, String(logIndex ?? '–')])
          : t('publish_state_unpublished', props.directoryUrl)}
      </p>
      <div class="actions">
        <Button
          variant={published ? 'secondary' : 'primary'}
          hook="publish"
          busy={action.busy}
          onClick={publish}
        >
          {published ? t('publish_again') : t('publish_button')}
        </Button>
      </div>
      <Notice notice={action.notice} />
    </section>
  );
}

const PHRASE_MAX = 64;

export function SecurityPhraseForm(props: { hasPhrase: boolean; onSaved(): void }) {
  const [phrase, setPhrase] = useState('');
  const [error, setError] = useState<string | null>(null);
  const action = useAction();
  useEffect(() => {
    if (!props.hasPhrase) return;
    sendMessage({ type: 'getSecurityPhrase' }).then(
      (reply) => setPhrase((current) => current || (reply.phrase ?? '')),
      () => undefined,
    );
  }, [props.hasPhrase]);
  const save = async (event: Event) => {
    event.preventDefault();
    const trimmed = phrase.trim();
    if (!trimmed) return setError(t('phrase_empty'));
    setError(null);
    const saved = await action.run(
      () => sendMessage({ type: 'setSecurityPhrase', phrase: trimmed }),
      { success: t('phrase_saved') },
    );
    if (saved) props.onSaved();
  };
  return (
    <section class="panel" aria-labelledby="phrase-title">
      <h2 id="phrase-title">{t('phrase_title')}</h2>
      <p>{t('phrase_explain')}</p>
      <form onSubmit={save} noValidate>
        <TextField
          id="security-phrase"
          label={t('phrase_label')}
          hint={t('phrase_hint')}
          value={phrase}
          onInput={setPhrase}
          error={error}
          maxLength={PHRASE_MAX}
          hook="security-phrase"
        />
        <div class="actions">
          <Button type="submit" hook="save-security-phrase" busy={action.busy}>
            {t('phrase_save')}
          </Button>
        </div>
      </form>
      <Notice notice={action.notice} />
    </section>
  );
}
