// Whether one of Veil's frames is in full view as Veil drew it, read from the host page's side
// (content script). The background asks this before it sends what the composer holds, in every
// browser, and for Firefox's readers while they are in view; in Chromium the frames also watch
// themselves (frames/sight.ts, IntersectionObserver v2). What this cannot see: an overlay with
// `pointer-events: none` is skipped by elementFromPoint (Chromium's own check sees it; README,
// "Redress").
import type { FrameSight } from '../messaging/messages';

/** Sampling grid over the frame's box: columns × rows, inset from the edges. */
const COLUMNS = 6;
const ROWS = 4;
const INSET_PX = 2;

/**
 * A computed `transform` that only moves or enlarges the element (no shrinking, rotation, skew,
 * flip or 3D): what Chromium's IntersectionObserver v2 also lets pass, as neither can hide it.
 */
export function movesOnly(transform: string): boolean {
  if (transform === 'none' || transform === '') return true;
  const m = /^matrix(3d)?\(([^)]*)\)$/.exec(transform);
  if (!m) return false;
  const v = m[2]!.split(',').map(Number);
  if (!m[1]) {
    const [a = 0, b = 1, c = 1, d = 0] = v;
    return a >= 1 && d >= 1 && b === 0 && c === 0;
  }
  // A 3D matrix that only moves (e.g. translateZ(0), which pages use to get their own layer):
  // the 3×3 part is the identity and there is no perspective.
  if (v.length !== 16) return false;
  const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
  return identity.every((x, i) => v[i] === x) && v[15] === 1;
}

/** Why a style on the frame or an ancestor fades, hides or distorts it; null if none does. */
export function distortion(style: CSSStyleDeclaration): string | null {
  if (Number(style.opacity) < 1) return 'opacity';
  if (style.visibility !== 'visible') return 'visibility';
  if (style.filter && style.filter !== 'none') return 'filter';
  if (style.mixBlendMode && style.mixBlendMode !== 'normal') return 'mix-blend-mode';
  if (style.clipPath && style.clipPath !== 'none') return 'clip-path';
  const mask =
    style.maskImage || (style as unknown as { webkitMaskImage?: string }).webkitMaskImage;
  if (mask && mask !== 'none') return 'mask';
  if (!movesOnly(style.transform)) return 'transform';
  return null;
}

function parentOf(el: Element): Element | null {
  if (el.parentElement) return el.parentElement;
  // A shadow root's host (duck-typed: a document has no host).
  return (el.getRootNode() as { host?: Element }).host ?? null;
}

/** What the user can see of `frame`: all of it, part of it, none of it, or not as drawn. */
export function frameSight(frame: HTMLIFrameElement): FrameSight {
  if (!frame.isConnected) return 'away';
  const doc = frame.ownerDocument;
  const win = doc.defaultView;
  if (!win || doc.visibilityState === 'hidden') return 'away';
  const box = frame.getBoundingClientRect();
  const width = win.innerWidth;
  const height = win.innerHeight;
  if (box.width < 1 || box.height < 1) return 'away';
  if (box.right <= 0 || box.bottom <= 0 || box.left >= width || box.top >= height) return 'away';
  // What of the frame is left once the viewport and every clipping ancestor (a message list
  // that scrolls) cut it: only that part is sampled, and the frame is whole only if none is cut.
  const clip = { left: 0, top: 0, right: width, bottom: height };
  // Past a fixed element, ancestors do not clip (its box is placed against the viewport); nor
  // do the root and body, whose overflow applies to the viewport.
  let escaped = false;
  for (let el: Element | null = frame; el; el = parentOf(el)) {
    const style = win.getComputedStyle(el);
    if (distortion(style)) return 'obscured';
    const root = el === doc.documentElement || el === doc.body;
    if (el !== frame && !escaped && !root && (clips(style.overflowX) || clips(style.overflowY))) {
      const r = el.getBoundingClientRect();
      clip.left = Math.max(clip.left, r.left);
      clip.top = Math.max(clip.top, r.top);
      clip.right = Math.min(clip.right, r.right);
      clip.bottom = Math.min(clip.bottom, r.bottom);
    }
    if (style.position === 'fixed') escaped = true;
  }
  if (box.right <= clip.left || box.bottom <= clip.top) return 'away';
  if (box.left >= clip.right || box.top >= clip.bottom) return 'away';
  // Whatever is drawn over the frame: the top element at each sample must be the frame itself.
  const left = Math.max(box.left, clip.left) + INSET_PX;
  const top = Math.max(box.top, clip.top) + INSET_PX;
  const right = Math.min(box.right, clip.right) - INSET_PX;
  const bottom = Math.min(box.bottom, clip.bottom) - INSET_PX;
  for (let i = 0; i < COLUMNS; i++)
    for (let j = 0; j < ROWS; j++) {
      const x = left + ((right - left) * i) / (COLUMNS - 1);
      const y = top + ((bottom - top) * j) / (ROWS - 1);
      if (topAt(doc, x, y) !== frame) return 'obscured';
    }
  const whole =
    box.left >= clip.left &&
    box.top >= clip.top &&
    box.right <= clip.right &&
    box.bottom <= clip.bottom;
  return whole ? 'visible' : 'partial';
}

function clips(overflow: string | undefined): boolean {
  return (
    overflow === 'hidden' || overflow === 'auto' || overflow === 'scroll' || overflow === 'clip'
  );
}

/** The topmost element at a point, looking into open shadow roots. */
function topAt(doc: Document, x: number, y: number): Element | null {
  let el = doc.elementFromPoint(x, y);
  while (el?.shadowRoot) {
    const inner = el.shadowRoot.elementFromPoint(x, y);
    if (!inner || inner === el) break;
    el = inner;
  }
  return el;
}
