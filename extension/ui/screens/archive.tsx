// The archive screen of the options page: search with filters, the retention rules (global and
// per conversation), export and deletion. Long work in progress shows on every screen (Shell).
import { useEffect, useState } from 'preact/hooks';
import type { ArchiveOverview, Retention } from '../../messaging/archive-messages';
import { ArchiveConversationRow } from '../archive/archive-conversation-row';
import { ArchiveDeleteAll } from '../archive/archive-delete-all';
import { archiveMessage } from '../archive/archive-client';
import { ArchiveSearch } from '../archive/archive-search';
import { RetentionControl } from '../archive/retention-control';
import { ScreenTitle } from '../fields';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';

let sizes: Intl.NumberFormat | undefined;
/** "840 KB", "12.3 MB": sizes at rest, as people read them. */
const size = (bytes: number) => {
  sizes ??= new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  return bytes < 1_000_000
    ? `${sizes.format(Math.ceil(bytes / 1000))} KB`
    : `${sizes.format(bytes / 1_000_000)} MB`;
};

export function Archive(props: { lockEnabled: boolean }) {
  const [overview, setOverview] = useState<ArchiveOverview | null>(null);
  // Bumped when the archive changed here, so the search asks again.
  const [version, setVersion] = useState(0);
  const action = useAction();
  const load = useAction();
  const { run } = load;
  useEffect(() => {
    void run(() => archiveMessage({ type: 'archiveOverview' })).then((o) => o && setOverview(o));
  }, [run]);
  const changed = (next: ArchiveOverview) => {
    setOverview(next);
    setVersion((v) => v + 1);
  };
  const setGlobal = async (retention: Retention | null) => {
    if (!retention) return;
    const reply = await action.run(() => archiveMessage({ type: 'setRetention', retention }), {
      success: t('retention_saved'),
    });
    if (reply) changed(reply);
  };
  return (
    <div class="screen">
      <ScreenTitle>{t('archive_title')}</ScreenTitle>
      <p class="lead">{t('archive_lead')}</p>
      {!props.lockEnabled && <p class="caution">{t('archive_no_lock')}</p>}
      <ArchiveSearch version={version} onChanged={changed} />
      <Notice notice={load.notice} />
      {overview && (
        <section class="panel" aria-labelledby="archive-keep-title">
          <h2 id="archive-keep-title">{t('archive_keep_title')}</h2>
          <p class="muted" data-veil="archive-size">
            {t('archive_size', [
              String(overview.messages),
              size(overview.archiveBytes),
              size(overview.indexBytes),
            ])}
          </p>
          <RetentionControl
            id="retention-global"
            hook="archive-retention"
            label={t('retention_global_label')}
            value={overview.retention}
            busy={action.busy}
            onApply={(r) => void setGlobal(r)}
          />
          <Notice notice={action.notice} />
          {overview.conversations.length > 0 && (
            <ul class="archive-conversations" aria-label={t('archive_conversations')}>
              {overview.conversations.map((c) => (
                <ArchiveConversationRow
                  key={c.id}
                  conversation={c}
                  action={action}
                  onOverview={changed}
                />
              ))}
            </ul>
          )}
          <ArchiveDeleteAll messages={overview.messages} action={action} onOverview={changed} />
        </section>
      )}
    </div>
  );
}
