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
