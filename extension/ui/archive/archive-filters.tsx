// The search's filters: a contact, a conversation, a date range. Choices come from the
// archive's overview (what it holds), so nothing is typed that could match nothing.
import type { ArchiveConversationView } from '../../messaging/archive-messages';
import { t } from '../i18n';

export interface ArchiveFilterState {
  contact: string;
  conversation: string;
  /** `<input type="date">` values ('' = open). */
  from: string;
  to: string;
}

export const NO_FILTERS: ArchiveFilterState = { contact: '', conversation: '', from: '', to: '' };

/** The handles the archive holds conversations with, sorted. */
export function contactsOf(conversations: readonly ArchiveConversationView[]): string[] {
  return [...new Set(conversations.flatMap((c) => c.peers))].sort();
}

export function ArchiveFilters(props: {
  idPrefix: string;
  value: ArchiveFilterState;
  conversations: readonly ArchiveConversationView[];
  onChange(next: ArchiveFilterState): void;
}) {
  const { value, idPrefix: id } = props;
  const set = (patch: Partial<ArchiveFilterState>) => props.onChange({ ...value, ...patch });
  return (
    <fieldset class="archive-filters">
      <legend class="visually-hidden">{t('archive_filters')}</legend>
      <div class="field">
        <label for={`${id}-contact`}>{t('archive_filter_contact')}</label>
        <select
          id={`${id}-contact`}
          data-veil="archive-filter-contact"
          value={value.contact}
          onChange={(e) => set({ contact: e.currentTarget.value })}
        >
          <option value="">{t('archive_filter_any')}</option>
          {contactsOf(props.conversations).map((handle) => (
            <option key={handle} value={handle}>
              {handle}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${id}-conversation`}>{t('archive_filter_conversation')}</label>
        <select
          id={`${id}-conversation`}
          data-veil="archive-filter-conversation"
          value={value.conversation}
          onChange={(e) => set({ conversation: e.currentTarget.value })}
        >
          <option value="">{t('archive_filter_any')}</option>
          {props.conversations.map((c) => (
            <option key={c.id} value={c.id}>
              {`${c.site} · ${c.name}`}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${id}-from`}>{t('archive_filter_from')}</label>
        <input
          id={`${id}-from`}
          type="date"
          data-veil="archive-filter-from"
          value={value.from}
          onChange={(e) => set({ from: e.currentTarget.value })}
        />
      </div>
      <div class="field">
        <label for={`${id}-to`}>{t('archive_filter_to')}</label>
        <input
          id={`${id}-to`}
          type="date"
          data-veil="archive-filter-to"
          value={value.to}
          onChange={(e) => set({ to: e.currentTarget.value })}
        />
      </div>
    </fieldset>
  );
}
