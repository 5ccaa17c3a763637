// The few localized strings the content script shows in the host page (progress, frame
// titles), straight from browser.i18n: the bundled message table stays out of the content script.
import { browser } from 'wxt/browser';

type PageTextKey = 'page_progress' | 'page_locked' | 'page_reader_title' | 'page_composer_title';

const FALLBACK: Record<PageTextKey, string> = {
  page_progress: 'Decrypting $1 of $2…',
  page_locked: 'Veil is locked: unlock it to read encrypted messages.',
  page_reader_title: 'Encrypted message (Veil)',
  page_composer_title: 'Veil composer',
};

export function pageText(key: PageTextKey, substitutions: string[] = []): string {
  let text = '';
  try {
    text = (browser.i18n as unknown as { getMessage(k: string, s?: string[]): string }).getMessage(
      key,
      substitutions,
    );
  } catch {
    // no runtime (unit tests): the English fallback below
  }
  return (
    text || FALLBACK[key].replace(/\$(\d)/g, (_, i: string) => substitutions[Number(i) - 1] ?? '')
  );
}
