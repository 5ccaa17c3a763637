// Backup and restore: a passphrase-encrypted file of the identity, contacts and verification
// state, downloaded through a Blob link; restore reads a chosen file and changes nothing unless
// the passphrase opens it.
import { useRef, useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { IdentityView, StatusReply } from '../../messaging/messages';
import { Button, ScreenTitle, TextField } from '../fields';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';
import { download } from '../download';

const MIN_PASSPHRASE = 8;
/** Far above any real backup; stops a wrong pick (a video) from being read into memory. */
const MAX_BACKUP_BYTES = 16 * 1024 * 1024;

export function Backup(props: { identity?: IdentityView; onRestored(status: StatusReply): void }) {
  return (
    <div class="screen narrow">
      <ScreenTitle>{t(props.identity ? 'backup_title' : 'restore_title')}</ScreenTitle>
      {props.identity ? (
        <ExportBackup />
      ) : (
        <p class="breadcrumb">
          <a href="#contacts">{t('back_to_setup')}</a>
        </p>
      )}
      <RestoreBackup replacing={props.identity} onRestored={props.onRestored} />
    </div>
  );
}

function ExportBackup() {
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [includeArchive, setIncludeArchive] = useState(false);
  const [errors, setErrors] = useState<{ passphrase?: string; confirm?: string }>({});
  const action = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const next: typeof errors = {};
    if (passphrase.length < MIN_PASSPHRASE)
      next.passphrase = t('passphrase_too_short', String(MIN_PASSPHRASE));
    else if (confirm !== passphrase) next.confirm = t('passphrase_mismatch');
    setErrors(next);
    if (next.passphrase || next.confirm) return;
    const reply = await action.run(() =>
      sendMessage({
        type: 'exportBackup',
        passphrase,
        ...(includeArchive ? { includeArchive } : {}),
      }),
    );
    if (!reply) return;
    download(reply.file, reply.fileName);
    action.setNotice({ kind: 'success', text: t('backup_done', reply.fileName) });
    setPassphrase('');
    setConfirm('');
  };
  return (
    <section class="panel" aria-labelledby="export-title">
      <h2 id="export-title">{t('backup_export_title')}</h2>
      <p>{t('backup_export_explain')}</p>
      <form onSubmit={submit} noValidate>
        <TextField
          id="backup-passphrase"
          type="password"
          autoComplete="new-password"
          label={t('backup_passphrase_label')}
          hint={t('backup_passphrase_hint', String(MIN_PASSPHRASE))}
          value={passphrase}
          onInput={setPassphrase}
          error={errors.passphrase}
          hook="backup-passphrase"
        />
        <TextField
          id="backup-passphrase-confirm"
          type="password"
          autoComplete="new-password"
          label={t('passphrase_confirm_label')}
          value={confirm}
          onInput={setConfirm}
          error={errors.confirm}
          hook="backup-passphrase-confirm"
        />
        <div class="field checkbox-field">
          <input
            id="backup-include-archive"
            type="checkbox"
            data-veil="backup-include-archive"
            checked={includeArchive}
            aria-describedby="backup-include-archive-hint"
            onChange={(e) => setIncludeArchive(e.currentTarget.checked)}
          />
          <label for="backup-include-archive">{t('backup_include_archive')}</label>
          <p class="hint" id="backup-include-archive-hint">
            {t('backup_include_archive_hint')}
          </p>
        </div>
        <div class="actions">
          <Button type="submit" variant="primary" hook="backup-download" busy={action.busy}>
            {action.busy ? t('backup_busy') : t('backup_button')}
          </Button>
        </div>
      </form>
      <Notice notice={action.notice} />
    </section>
  );
}

function RestoreBackup(props: { replacing?: IdentityView; onRestored(status: StatusReply): void }) {
  const fileRef = useRef<HTMLInputElement>(null);
  const [passphrase, setPassphrase] = useState('');
  const action = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const file = fileRef.current?.files?.[0];
    if (!file) return action.setNotice({ kind: 'error', text: t('restore_no_file') });
    if (file.size > MAX_BACKUP_BYTES)
      return action.setNotice({ kind: 'error', text: t('restore_damaged') });
    if (!passphrase) return action.setNotice({ kind: 'error', text: t('restore_no_passphrase') });
    const damaged = 'restore_damaged' as const;
    const status = await action.run(
      async () =>
        sendMessage({ type: 'importBackup', file: (await file.text()).trim(), passphrase }),
      {
        errors: {
          'wrong-passphrase': 'restore_wrong_passphrase',
          malformed: damaged,
          truncated: damaged,
          'bad-mac': damaged,
          'unknown-version': 'restore_unknown_version',
          'identity-exists': 'restore_identity_exists',
          'invalid-argument': damaged,
        },
      },
    );
    if (status) {
      setPassphrase('');
      props.onRestored(status);
    }
  };
  return (
    <section class="panel" aria-labelledby="restore-title">
      <h2 id="restore-title">{t('restore_section_title')}</h2>
      <p>{t('restore_explain')}</p>
      {props.replacing && <p class="caution">{t('restore_replaces', props.replacing.handle)}</p>}
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for="restore-file">{t('restore_file_label')}</label>
          <input id="restore-file" ref={fileRef} type="file" data-veil="restore-file" />
        </div>
        <TextField
          id="restore-passphrase"
          type="password"
          autoComplete="current-password"
          label={t('restore_passphrase_label')}
          value={passphrase}
          onInput={setPassphrase}
          hook="restore-passphrase"
        />
        <div class="actions">
          <Button type="submit" variant="primary" hook="restore" busy={action.busy}>
            {action.busy ? t('restore_busy') : t('restore_button')}
          </Button>
        </div>
      </form>
      <Notice notice={action.notice} />
    </section>
  );
}
