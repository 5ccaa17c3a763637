// Turns a failed background call into a sentence a person can act on. The background throws
// Errors with a `code` (messaging/client.ts); unknown codes fall back to its message.
import { t, type MessageKey } from './i18n';

const BY_CODE: Record<string, MessageKey> = {
  'wrong-passphrase': 'error_wrong_passphrase',
  malformed: 'error_malformed',
  truncated: 'error_malformed',
  'unknown-version': 'error_unknown_version',
  'not-found': 'error_not_found',
  'handle-taken': 'error_handle_taken',
  locked: 'error_locked',
  'no-identity': 'error_no_identity',
  'bad-proof': 'error_bad_proof',
  'bad-signature': 'error_bad_proof',
  'untrusted-identity': 'error_untrusted_identity',
  downgrade: 'error_downgrade',
  'invalid-argument': 'error_invalid_argument',
  'rate-limited': 'error_rate_limited',
  'directory-unreachable': 'error_network',
  'directory-error': 'error_directory',
  'insecure-directory': 'directory_url_invalid',
  'identity-exists': 'error_identity_exists',
  'storage-full': 'error_storage_full',
  forbidden: 'error_forbidden',
  'membership-changed': 'error_membership_changed',
  obscured: 'error_obscured',
  'not-published': 'error_not_published',
  'link-expired': 'error_link_expired',
  'device-removed': 'error_device_removed',
};

/** The code the background attached to an error, if any. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A localized explanation of `error`; `overrides` picks a more specific sentence for some codes
 * in one place (e.g. `malformed` while restoring means "not a backup or damaged").
 */
export function errorText(error: unknown, overrides: Record<string, MessageKey> = {}): string {
  const code = errorCode(error);
  const key = code !== undefined ? (overrides[code] ?? BY_CODE[code]) : undefined;
  if (key) return t(key);
  const detail = error instanceof Error && error.message ? error.message : String(error);
  return t('error_generic', detail);
}
