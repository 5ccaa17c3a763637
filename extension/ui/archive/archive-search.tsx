// Searching the archive (popup and options page): words, filters, results newest first with
// the matched words marked; open a message on its site or delete it. Asks the background on
// each change (after a short pause while typing); nothing of the archive is kept here.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ArchiveHit, ArchiveOverview, ArchiveQuery } from '../../messaging/archive-messages';
import { errorText } from '../errors';
import { t } from '../i18n';
import { Notice } from '../notice';
import { useAction } from '../use-action';
import { archiveMessage } from './archive-client';
import { ArchiveFilters, NO_FILTERS, type ArchiveFilterState } from './archive-filters';
import { ArchiveResult } from './archive-result';
import { dayBound } from './archive-time';
import './archive.css';

/** Typing pause before asking: one query per word typed, not per key. */
const TYPING_PAUSE_MS = 200;

export function queryOf(words: string, f: ArchiveFilterState, limit: number): ArchiveQuery {
  const query: ArchiveQuery = { words: words.trim(), limit };
  if (f.contact) query.contact = f.contact;
  if (f.conversation) query.conversation = f.conversation;
  const from = dayBound(f.from, false);
  const to = dayBound(f.to, true);
  if (from !== undefined) query.from = from;
  if (to !== undefined) query.to = to;
  return query;
}

export function ArchiveSearch(props: {
  /** The popup: fewer results, ids kept apart from the options page's. */
  compact?: boolean;
  /** Bumped by the parent when the archive changed elsewhere (a deletion, a restore). */
  version?: number;
  /** The archive changed here (a message deleted). */
  onChanged?(overview: ArchiveOverview): void;
}) {
  const id = props.compact ? 'popup-archive' : 'archive';
  const limit = props.compact ? 20 : 50;
  const [words, setWords] = useState('');
  const [filters, setFilters] = useState<ArchiveFilterState>(NO_FILTERS);
  const [overview, setOverview] = useState<ArchiveOverview | null>(null);
  const [result, setResult] = useState<{
    hits: ArchiveHit[];
    total: number;
    complete?: boolean;
  } | null>(null);
  const [ownVersion, setOwnVersion] = useState(0);
  const search = useAction();
  const act = useAction();
  // Answers can come back out of order: only the latest query's is shown.
  const latest = useRef(0);

  useEffect(() => {
    void archiveMessage({ type: 'archiveOverview' })
      .then(setOverview)
      .catch(() => setOverview(null));
  }, [props.version, ownVersion]);

  const { setNotice } = search;
  const ask = useCallback(
    async (query: ArchiveQuery) => {
      const n = ++latest.current;
      try {
        const reply = await archiveMessage({ type: 'archiveSearch', ...query });
        if (n === latest.current) {
          setResult(reply);
          setNotice(null);
        }
      } catch (error) {
        if (n !== latest.current) return;
        setResult(null);
        setNotice({ kind: 'error', text: errorText(error) });
      }
    },
    [setNotice],
  );

  useEffect(() => {
    const query = queryOf(words, filters, limit);
    const timer = setTimeout(() => void ask(query), words ? TYPING_PAUSE_MS : 0);
    return () => clearTimeout(timer);
  }, [words, filters, limit, ask, props.version, ownVersion]);

  const open = async (hit: ArchiveHit) => {
    const reply = await act.run(() => archiveMessage({ type: 'openArchived', id: hit.id }));
    if (reply && !reply.opened) act.setNotice({ kind: 'info', text: t('archive_open_failed') });
  };
  const remove = async (hit: ArchiveHit) => {
    const reply = await act.run(() => archiveMessage({ type: 'archiveDelete', message: hit.id }), {
      success: t('archive_message_deleted'),
    });
    if (!reply) return;
    setOwnVersion((v) => v + 1);
    props.onChanged?.(reply);
  };

  return (
    <section class="archive-search" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} class={props.compact ? 'visually-hidden' : undefined}>
        {t('archive_search_title')}
      </h2>
      <div class="field">
        <label for={`${id}-words`} class={props.compact ? 'visually-hidden' : undefined}>
          {t('archive_search_label')}
        </label>
        <input
          id={`${id}-words`}
          type="search"
          data-veil="archive-search"
          placeholder={t('archive_search_placeholder')}
          autoComplete="off"
          spellcheck={false}
          maxLength={500}
          value={words}
          onInput={(e) => setWords(e.currentTarget.value)}
        />
      </div>
      {!props.compact && (
        <ArchiveFilters
          idPrefix={id}
          value={filters}
          conversations={overview?.conversations ?? []}
          onChange={setFilters}
        />
      )}
      <Notice notice={search.notice ?? act.notice} />
      {result && (
        <>
          <p class="muted" aria-live="polite" data-veil="archive-count">
            {result.total === 0
              ? t('archive_no_results')
              : t('archive_result_count', [String(result.hits.length), String(result.total)])}
            {/* Newest first: older segments were not asked (or are still loading), so say so. */}
            {result.complete === false && ` ${t('archive_incomplete')}`}
          </p>
          <ol class="archive-results" data-veil="archive-results">
            {result.hits.map((hit) => (
              <ArchiveResult
                key={hit.id}
                hit={hit}
                busy={act.busy}
                onOpen={(h) => void open(h)}
                onDelete={(h) => void remove(h)}
              />
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
