// A contact's trust status as a labelled badge (text, not colour alone, carries the meaning).
import type { ContactStatus } from '../messaging/messages';
import { t } from './i18n';

const LABEL = {
  unverified: 'status_unverified',
  verified: 'status_verified',
  'key-changed': 'status_key_changed',
} as const;

export function StatusBadge({ status }: { status: ContactStatus }) {
  return (
    <span class={`badge badge-${status}`} data-veil="contact-status">
      {status === 'verified' ? '✓ ' : status === 'key-changed' ? '! ' : ''}
      {t(LABEL[status])}
    </span>
  );
}
