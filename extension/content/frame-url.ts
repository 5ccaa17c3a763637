// The URL of one of Veil's frames for a token (content script). runtime.getURL gives Chrome's
// per-session dynamic URL for `use_dynamic_url` resources, so pages cannot probe a fixed one.
import { browser } from 'wxt/browser';

// WXT types getURL per generated public path; only these two pages are web-accessible.
const runtime = browser.runtime as unknown as { getURL(path: string): string };

/** A composer's address carries its token; a reader's none (it gets it by postMessage). */
export function frameUrl(page: 'reader' | 'composer', token?: string): string {
  const url = runtime.getURL(`/${page}.html`);
  return token === undefined ? url : `${url}#${token}`;
}
