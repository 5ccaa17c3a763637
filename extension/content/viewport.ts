// How far an element is from what the user sees (content script): the band of the viewport that
// the message list covers. Used to decrypt and scan the messages on screen first.

export interface Band {
  top: number;
  bottom: number;
}

interface Box {
  top: number;
  bottom: number;
  width: number;
  height: number;
}

/** The part of the window the list shows (the whole window height when they do not overlap). */
export function visibleBand(viewportHeight: number, list: Box | null): Band {
  const top = Math.max(0, list?.top ?? 0);
  const bottom = Math.min(viewportHeight, list?.bottom ?? viewportHeight);
  return bottom > top ? { top, bottom } : { top: 0, bottom: viewportHeight };
}

/** Pixels between a box and the band (0 when they overlap); Infinity for one not rendered. */
export function distanceToBand(box: Box, band: Band): number {
  if (box.width === 0 && box.height === 0) return Infinity; // display:none or detached
  if (box.bottom < band.top) return band.top - box.bottom;
  if (box.top > band.bottom) return box.top - band.bottom;
  return 0;
}

/** A measure of distance from the viewport for elements of `list`, read when called. */
export function viewportDistance(list: Element): (el: Element) => number {
  const view = list.ownerDocument.defaultView;
  const band = visibleBand(view?.innerHeight ?? 0, list.getBoundingClientRect());
  return (el) => distanceToBand(el.getBoundingClientRect(), band);
}
