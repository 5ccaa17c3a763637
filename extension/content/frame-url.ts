// The URL of one of Veil's frames for a token (content script). runtime.getURL gives Chrome's
// per-session dynamic URL for `use_dynamic_url` resources, so pages cannot probe a fixed one.
import { browser } from 'wxt/browser';

// WXT types getURL per generated public path; only these two pages are web-accessible.
const runtime = browser.runtime as unknown as { getURL(path: string): string };

export function frameUrl(page: 'reader' | 'composer', token: string): string {
  return `${runtime.getURL(`/${page}.html`)}#${token}`;
}
