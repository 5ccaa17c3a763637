// Whether the user sees this frame as Veil drew it, watched from inside the frame (frames only).
// Chromium's IntersectionObserver v2 (trackVisibility) reports a frame not visible under any
// ancestor opacity, filter, non-translate transform or element drawn over it, across the page's
// origin, which a frame cannot otherwise see. Firefox has no v2: there the composer asks its
// content script (content/frame-sight.ts), which the background also asks before every send.
import type { FrameSight } from '../messaging/messages';

/** 'pending' until the first report; 'unsupported' where the browser has no v2. */
export type Sight = FrameSight | 'pending' | 'unsupported';

/** The smallest delay trackVisibility accepts: reports come at most this often. */
export const SIGHT_DELAY_MS = 100;
/** Above this share of the frame in the viewport it counts as all in view (sub-pixel edges). */
export const WHOLE_RATIO = 0.99;

export interface SightEntry {
  isIntersecting: boolean;
  intersectionRatio: number;
  isVisible?: boolean;
}

/**
 * v2 calls a frame not visible when anything lies where it would be, including where it is only
 * clipped (a message list's scroller with the compose box below it). So only a frame all in
 * view counts as covered; one partly out of view is 'partial': the composer does not send
 * from it, a reader still shows its text (README, "Redress", says what that leaves).
 */
export function sightOf(entry: SightEntry): Sight {
  if (typeof entry.isVisible !== 'boolean') return 'unsupported';
  if (!entry.isIntersecting) return 'away';
  const whole = entry.intersectionRatio >= WHOLE_RATIO;
  if (!entry.isVisible) return whole ? 'obscured' : 'partial';
  return whole ? 'visible' : 'partial';
}

export function sightSupported(): boolean {
  return (
    typeof IntersectionObserverEntry !== 'undefined' &&
    'isVisible' in IntersectionObserverEntry.prototype
  );
}

/** Calls `changed` with each new sight of `target`; returns the function that stops it. */
export function watchSight(target: Element, changed: (sight: Sight) => void): () => void {
  if (!sightSupported()) {
    changed('unsupported');
    return () => undefined;
  }
  const observer = new IntersectionObserver(
    (entries) => {
      const last = entries.at(-1);
      if (last) changed(sightOf(last));
    },
    // trackVisibility and delay are v2 options the DOM typings do not list yet.
    {
      threshold: [0, WHOLE_RATIO, 1],
      trackVisibility: true,
      delay: SIGHT_DELAY_MS,
    } as IntersectionObserverInit,
  );
  observer.observe(target);
  return () => observer.disconnect();
}

/** How often a frame without v2 asks its content script what the page shows of it. */
export const HOST_SIGHT_EVERY_MS = 1000;

/**
 * Where the browser has no v2 (Firefox): asks `ask` (the content script, through the
 * background) what the page shows of this frame, every HOST_SIGHT_EVERY_MS while the frame is
 * in the viewport (v1 tells that much) and at once when the pointer or focus comes to it.
 * Returns the function that stops it.
 */
export function pollHostSight(
  target: Element,
  ask: () => Promise<Sight>,
  changed: (sight: Sight) => void,
  every = HOST_SIGHT_EVERY_MS,
): () => void {
  let inView = true;
  let asking = false;
  const check = () => {
    if (!inView || asking) return;
    asking = true;
    ask()
      .then(changed, () => undefined)
      .finally(() => (asking = false));
  };
  const observer =
    typeof IntersectionObserver === 'undefined'
      ? undefined
      : new IntersectionObserver((entries) => {
          const last = entries.at(-1);
          if (!last) return;
          inView = last.isIntersecting;
          if (inView) check();
        });
  observer?.observe(target);
  const timer = setInterval(check, every);
  const doc = target.ownerDocument;
  doc.addEventListener('pointerenter', check, true);
  doc.addEventListener('focusin', check, true);
  check();
  return () => {
    clearInterval(timer);
    observer?.disconnect();
    doc.removeEventListener('pointerenter', check, true);
    doc.removeEventListener('focusin', check, true);
  };
}
