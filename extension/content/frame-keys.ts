// Hands each frame Veil made its token and key (content script). The page can embed its own copy
// of a frame: the key proves the frame is the one Veil put there. Both go by postMessage to that
// iframe element's document only (target origin: the extension's), after each load the browser
// reports, so the page never sees them. A reader frame is made while its message is still being
// decrypted: its pair is handed once the background issued it, whichever comes last. A second
// load means the page moved or re-rendered the frame: the background first forgets the old
// document, so the new one can bind the token.
import { browser } from 'wxt/browser';
import { sendMessage } from '../messaging/client';
import { FRAME_KEY_MESSAGE, FRAME_WAIT_MESSAGE } from '../messaging/messages';

/** How often "still coming" (FRAME_WAIT_MESSAGE) is said (the frame waits frames/frame-key.ts KEY_WAIT_MS after each). */
export const WAIT_PING_MS = 4_000;

/**
 * The origin Veil's frame documents have. Not the address's: Chrome loads a `use_dynamic_url`
 * resource from a per-session id, but the document gets the extension's own origin. Spelled out:
 * outside the browser's own parser, extension schemes have an opaque ('null') origin.
 */
function frameOrigin(frame: HTMLIFrameElement): string {
  const runtime = browser.runtime as unknown as { id: string; getURL(p: string): string };
  let url: URL;
  try {
    url = new URL(frame.src);
  } catch {
    url = new URL(runtime.getURL('/'));
  }
  if (url.protocol === 'chrome-extension:') return `chrome-extension://${runtime.id}`;
  return `${url.protocol}//${url.host}`;
}

export type Reloaded = (token: string) => Promise<unknown>;

export interface FramePair {
  token: string;
  key: string;
}

const reloadedDefault: Reloaded = (token) => sendMessage({ type: 'frameReloaded', token });

/**
 * Makes `frame` (created by Veil) receive its token and key after every real load, once `pair`
 * has them (a rejected `pair`: never).
 */
export function handKey(
  frame: HTMLIFrameElement,
  pair: FramePair | Promise<FramePair>,
  reloaded: Reloaded = reloadedDefault,
): void {
  // Before any navigation the page could make: the origin of the address Veil set.
  const origin = frameOrigin(frame);
  const issued = Promise.resolve(pair);
  let settled = false;
  void issued.then(
    () => (settled = true),
    () => (settled = true),
  );
  let loads = 0;
  let pinging: ReturnType<typeof setInterval> | undefined;
  frame.addEventListener('load', (event) => {
    // A load event the page dispatched itself is not a load.
    if (!event.isTrusted) return;
    const again = loads++ > 0;
    if (!settled && pinging === undefined) {
      pinging = setInterval(() => {
        if (settled || !frame.isConnected) {
          clearInterval(pinging);
          return;
        }
        frame.contentWindow?.postMessage({ type: FRAME_WAIT_MESSAGE }, origin);
      }, WAIT_PING_MS);
    }
    void issued
      .then(async ({ token, key }) => {
        if (again) await reloaded(token).catch(() => undefined);
        // Whatever document is in the element now gets it only if it is at Veil's origin.
        frame.contentWindow?.postMessage({ type: FRAME_KEY_MESSAGE, token, key }, origin);
      })
      .catch(() => undefined);
  });
}
