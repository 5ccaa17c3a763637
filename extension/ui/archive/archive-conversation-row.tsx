// One archived conversation on the options page: how many messages, its own retention rule,
// export as a text or JSON file (in the clear: the user asked), and deleting it.
import type {
  ArchiveConversationView,
  ArchiveOverview,
  Retention,
} from '../../messaging/archive-messages';
import { download } from '../download';
import { t } from '../i18n';
import type { Action } from '../use-action';
import { archiveMessage } from './archive-client';
import { formatHitTime } from './archive-time';
import { RetentionControl } from './retention-control';

export function ArchiveConversationRow(props: {
  conversation: ArchiveConversationView;
  action: Action;
  onOverview(overview: ArchiveOverview): void;
}) {
  const c = props.conversation;
  const { action } = props;
  const where = `${c.site} · ${c.name}`;
  const setRetention = async (retention: Retention | null) => {
    const reply = await action.run(
      () => archiveMessage({ type: 'setRetention', conversation: c.id, retention }),
      { success: t('retention_saved') },
    );
    if (reply) props.onOverview(reply);
  };
  const exportAs = async (format: 'text' | 'json') => {
    const reply = await action.run(() =>
      archiveMessage({ type: 'archiveExport', conversation: c.id, format }),
    );
    if (!reply) return;
    download(reply.file, reply.fileName, reply.mime);
    action.setNotice({ kind: 'success', text: t('archive_exported', reply.fileName) });
  };
  const remove = async () => {
    const reply = await action.run(
      () => archiveMessage({ type: 'archiveDelete', conversation: c.id }),
      { success: t('archive_conversation_deleted', where) },
    );
    if (reply) props.onOverview(reply);
  };
  return (
    <li class="archive-conversation" data-veil="archive-conversation" data-veil-conversation={c.id}>
      <p>
        <strong>{where}</strong>
        <span class="muted">
          {' · '}
          {t('archive_conversation_count', String(c.messages))}
          {c.messages > 0 && ` · ${t('archive_newest', formatHitTime(c.newest))}`}
        </span>
      </p>
      <RetentionControl
        id={`retention-${c.id}`}
        hook="archive-retention-conversation"
        label={t('retention_conversation_label')}
        value={c.retention}
        canFollow
        busy={action.busy}
        onApply={(r) => void setRetention(r)}
      />
      <div class="actions">
        <button
          type="button"
          class="button secondary"
          data-veil="archive-export-text"
          onClick={action.busy ? undefined : () => void exportAs('text')}
        >
          {t('archive_export_text')}
        </button>
        <button
          type="button"
          class="button secondary"
          data-veil="archive-export-json"
          onClick={action.busy ? undefined : () => void exportAs('json')}
        >
          {t('archive_export_json')}
        </button>
        <button
          type="button"
          class="button danger"
          data-veil="archive-delete-conversation"
          aria-label={t('archive_delete_conversation_label', where)}
          onClick={action.busy ? undefined : () => void remove()}
        >
          {t('archive_delete_conversation')}
        </button>
      </div>
    </li>
  );
}
