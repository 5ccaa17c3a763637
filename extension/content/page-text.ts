// The few localized strings the content script shows in the host page (progress, frame
// titles), straight from browser.i18n: the bundled message table stays out of the content script.
import { browser } from 'wxt/browser';

type PageTextKey =
  | 'page_progress'
  | 'page_locked'
  | 'page_reader_title'
  | 'page_composer_title'
  | 'page_pick_box'
  | 'page_pick_box_again'
  | 'page_pick_message'
  | 'page_pick_message_again'
  | 'page_pick_cancel';

const FALLBACK: Record<PageTextKey, string> = {
  page_progress: 'Decrypting $1 of $2…',
  page_locked: 'Veil is locked: unlock it to read encrypted messages.',
  page_reader_title: 'Encrypted message (Veil)',
  page_composer_title: 'Veil composer',
  page_pick_box: 'Teach Veil this site (1 of 2): click the box where you type messages.',
  page_pick_box_again: 'That is not a text box. Click the box where you type messages.',
  page_pick_message: 'Teach Veil this site (2 of 2): click one message in the conversation.',
  page_pick_message_again: 'Veil cannot tell a message there. Click the text of one message.',
  page_pick_cancel: 'Cancel',
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
