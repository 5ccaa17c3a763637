// Frame heights as the host page may learn them (pure; used by the background before it tells
// the content script how tall a reader or composer frame is). Heights are rounded up to whole
// line-height buckets and capped, so the host learns roughly how many lines a message has and
// nothing finer (not the width of words, not the exact text layout).

/** One bucket: the reader's line height (15 px × 1.6) rounded to whole pixels. */
export const HEIGHT_BUCKET_PX = 24;
/** Smallest frame: the status line and one line of text. */
export const MIN_FRAME_HEIGHT_PX = 2 * HEIGHT_BUCKET_PX;
/** Tallest frame; longer messages scroll inside it. */
export const MAX_FRAME_HEIGHT_PX = 40 * HEIGHT_BUCKET_PX;

/** `height` rounded up to a bucket, within [MIN, MAX]; anything not a finite number → MIN. */
export function quantiseHeight(height: number): number {
  if (!Number.isFinite(height) || height <= MIN_FRAME_HEIGHT_PX) return MIN_FRAME_HEIGHT_PX;
  const rounded = Math.ceil(height / HEIGHT_BUCKET_PX) * HEIGHT_BUCKET_PX;
  return Math.min(rounded, MAX_FRAME_HEIGHT_PX);
}
