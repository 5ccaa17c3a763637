// Typed errors of the background (runs in the service worker / background script). What crosses
// to a page is only a code and a cause-only message: never key bytes, plaintext or raw exception
// text, which could quote either.
import type { ErrorCode } from '../messaging/messages';
import { isVeilError } from '../protocol/errors';

export class BackgroundError extends Error {
  override readonly name = 'BackgroundError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isBackgroundError(e: unknown, code?: ErrorCode): e is BackgroundError {
  return e instanceof BackgroundError && (code === undefined || e.code === code);
}

/**
 * The `{code, message}` a page may see. VeilError and BackgroundError messages name causes only
 * (by construction); anything else (an IndexedDB DOMException, a TypeError) is reported as
 * 'internal' without its text.
 */
export function toErrorReply(e: unknown): { code: ErrorCode; message: string } {
  if (isBackgroundError(e) || isVeilError(e)) return { code: e.code, message: e.message };
  if (e instanceof DOMException && e.name === 'QuotaExceededError')
    return { code: 'storage-full', message: 'the browser refused to store more data' };
  return { code: 'internal', message: 'internal error' };
}
