// One archived message found: sender, conversation (site · name), time, the text with its
// matched words marked, and what can be done with it (open it on its site, delete it).
import type { ArchiveHit } from '../../messaging/archive-messages';
import { t } from '../i18n';
import { formatHitTime } from './archive-time';
import { HighlightedText } from './highlighted-text';

export function ArchiveResult(props: {
  hit: ArchiveHit;
  busy: boolean;
  onOpen(hit: ArchiveHit): void;
  onDelete(hit: ArchiveHit): void;
}) {
  const { hit } = props;
  const where = `${hit.conversation.site} · ${hit.conversation.name}`;
  return (
    <li
      class="archive-result"
      data-veil="archive-result"
      data-veil-id={hit.id}
      data-veil-sender={hit.sender}
      data-veil-conversation={hit.conversation.id}
      data-veil-at={String(hit.at)}
    >
      <p class="archive-result-meta">
        <strong class="handle">{hit.own ? t('archive_you') : hit.sender}</strong>
        <span class="muted">
          {' · '}
          {where}
          {' · '}
          <time dateTime={new Date(hit.at).toISOString()}>{formatHitTime(hit.at)}</time>
        </span>
        {hit.status === 'unverified' && (
          <span class="badge badge-unverified">{t('status_unverified')}</span>
        )}
      </p>
      <p class="archive-result-text" data-veil="archive-result-text">
        <HighlightedText text={hit.text} ranges={hit.highlights} />
      </p>
      <div class="archive-result-actions">
        {hit.openable && (
          <button
            type="button"
            class="button quiet"
            data-veil="archive-open"
            aria-disabled={props.busy ? true : undefined}
            onClick={props.busy ? undefined : () => props.onOpen(hit)}
          >
            {t('archive_open')}
          </button>
        )}
        <button
          type="button"
          class="button quiet"
          data-veil="archive-delete-message"
          aria-label={t('archive_delete_message_label', hit.sender)}
          aria-disabled={props.busy ? true : undefined}
          onClick={props.busy ? undefined : () => props.onDelete(hit)}
        >
          {t('archive_delete_message')}
        </button>
      </div>
    </li>
  );
}
