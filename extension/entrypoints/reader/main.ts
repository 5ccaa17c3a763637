// Reader frame entry: one decrypted message inside a host page (extension origin). Plain DOM
// (frames/reader-page.ts): a page loads one of these per visible message.
import { browser } from 'wxt/browser';
import { startReader } from '../../frames/reader-page';
import '../../ui/veil.css';
import '../../frames/frames.css';

try {
  document.documentElement.lang =
    (browser.i18n as unknown as { getUILanguage(): string }).getUILanguage() || 'en';
} catch {
  document.documentElement.lang = 'en';
}
startReader(document.getElementById('app')!);
