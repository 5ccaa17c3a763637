// Deleting the whole archive and its index, after a confirmation that says what goes.
import { useRef, useState } from 'preact/hooks';
import type { ArchiveOverview } from '../../messaging/archive-messages';
import { Button } from '../fields';
import { t } from '../i18n';
import type { Action } from '../use-action';
import { archiveMessage } from './archive-client';

export function ArchiveDeleteAll(props: {
  messages: number;
  action: Action;
  onOverview(overview: ArchiveOverview): void;
}) {
  const [confirming, setConfirming] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const ask = () => {
    setConfirming(true);
    // After render: the question is read first.
    setTimeout(() => ref.current?.focus(), 0);
  };
  const remove = async () => {
    const reply = await props.action.run(() =>
      archiveMessage({ type: 'archiveDelete', all: true }),
    );
    setConfirming(false);
    if (!reply) return;
    props.action.setNotice({
      kind: 'success',
      text: t('archive_all_deleted', String(reply.deleted)),
    });
    props.onOverview(reply);
  };
  if (!confirming)
    return (
      <Button variant="danger" hook="archive-delete-all" onClick={ask}>
        {t('archive_delete_all')}
      </Button>
    );
  return (
    <div
      class="confirm"
      ref={ref}
      tabIndex={-1}
      role="group"
      aria-labelledby="archive-delete-all-q"
    >
      <p id="archive-delete-all-q">
        <strong>{t('archive_delete_all_question', String(props.messages))}</strong>
      </p>
      <div class="actions">
        <Button
          variant="danger"
          hook="archive-delete-all-confirm"
          busy={props.action.busy}
          onClick={() => void remove()}
        >
          {t('archive_delete_all_confirm')}
        </Button>
        <Button hook="archive-delete-all-cancel" onClick={() => setConfirming(false)}>
          {t('cancel')}
        </Button>
      </div>
    </div>
  );
}
