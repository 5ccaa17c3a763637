// Localized strings for the extension pages: browser.i18n (the _locales files) first, the bundled
// English messages when no extension runtime is present (unit tests).
import { browser } from 'wxt/browser';
import english from '../public/_locales/en/messages.json';

export type MessageKey = keyof typeof english;

interface LocaleMessage {
  message: string;
  placeholders?: Record<string, { content: string }>;
}

// WXT types getMessage per generated key; this module is where untyped keys become typed ones.
type I18nApi = {
  getMessage(name: string, substitutions?: string[]): string;
  getUILanguage(): string;
};

function fromRuntime(key: string, substitutions: string[]): string {
  try {
    return (browser.i18n as unknown as I18nApi).getMessage(key, substitutions);
  } catch {
    return '';
  }
}

/** The same substitution rules as browser.i18n: named placeholders, then $1…$9, then $$. */
function fromBundle(key: MessageKey, substitutions: string[]): string {
  const entry = english[key] as LocaleMessage;
  const named = entry.message.replace(
    /\$([A-Za-z0-9_@]+)\$/g,
    (whole, name: string) => entry.placeholders?.[name.toLowerCase()]?.content ?? whole,
  );
  return named.replace(/\$(\d|\$)/g, (_, index: string) =>
    index === '$' ? '$' : (substitutions[Number(index) - 1] ?? ''),
  );
}

/** `t('verify_title', handle)`: the localized text for `key` with its placeholders filled. */
export function t(key: MessageKey, substitutions: string | string[] = []): string {
  const list = Array.isArray(substitutions) ? substitutions : [substitutions];
  return fromRuntime(key, list) || fromBundle(key, list);
}

/** The browser's UI language as a BCP 47 tag for `<html lang>` ("en" without a runtime). */
export function uiLanguage(): string {
  try {
    return (browser.i18n as unknown as I18nApi).getUILanguage() || 'en';
  } catch {
    return 'en';
  }
}
