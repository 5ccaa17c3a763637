// Who sent a runtime message, from what the browser says (`runtime.MessageSender`), never from
// the message itself. Background only. An extension page is a document at this extension's own
// origin: the options page and popup, or (kind 'frame') a reader/composer page, which a web page
// may embed and so gets only the frame messages; a content script runs in a host page's frame
// and is unprivileged; anything else is refused outright.
import type { SenderKind } from '../messaging/messages';

/** The fields of `runtime.MessageSender` we look at (the browser sets them; pages cannot). */
export interface MessageSenderLike {
  id?: string;
  url?: string;
  origin?: string;
  /** The tab holding the sending document (content scripts, and extension frames in a page). */
  tab?: { id?: number; url?: string };
  frameId?: number;
  /** Chromium: the sending document, unique per load (Firefox has no such field). */
  documentId?: string;
}

/** The extension pages a web page may embed (web_accessible_resources in wxt.config.ts). */
const FRAME_PAGES = new Set(['/reader.html', '/composer.html']);

export interface RuntimeLike {
  id: string;
  getURL(path: string): string;
}

/**
 * 'extension-page' iff the sender is this extension and its document URL is under our own
 * origin (and, where the browser reports it, so is its origin: a sandboxed or opaque frame is
 * not an extension page), 'frame' if that page is the reader or composer; 'content-script' for
 * any other sender of this extension; null for other extensions or missing data.
 */
export function classifySender(
  sender: MessageSenderLike | undefined,
  runtime: RuntimeLike,
): SenderKind | null {
  if (!sender || typeof sender.id !== 'string' || sender.id !== runtime.id) return null;
  const base = runtime.getURL('/');
  const ownOrigin = base.replace(/\/$/, '');
  const fromOwnDocument = typeof sender.url === 'string' && sender.url.startsWith(base);
  const originOk = sender.origin === undefined || sender.origin === ownOrigin;
  if (!fromOwnDocument || !originOk) return 'content-script';
  return FRAME_PAGES.has(new URL(sender.url!).pathname) ? 'frame' : 'extension-page';
}
