// Reader frame heights (pure; the background counts a message's lines, the content script sizes
// the frame). A height depends only on what the page already knows: the block's status (it is
// on the wrapper) and its text's padding bucket (its armor's length shows that). Never on the
// text's layout or the width the page gives the frame: longer text scrolls inside the frame.
import type { BlockStatus } from '../messaging/messages';
import { paddedLength } from '../protocol/padding';

/** The reader's line height (15 px × 1.6), rounded to whole pixels. */
export const LINE_PX = 24;
/** Bucket bytes one line is counted for (about a line of a message column at 15 px). */
export const BYTES_PER_LINE = 64;
/** Lines of text a frame is sized for at most; more scroll inside it. */
export const MAX_TEXT_LINES = 16;
/** Padding, the head line (status, sender, phrase), and where/when it was written. */
const CHROME_PX = 8 + LINE_PX + 20;
/** A warning's explanation and the button that shows the text. */
const WARNING_PX = 2 * LINE_PX + 28;
/** A frame before its block's status is known: the head line and one line. */
export const MIN_FRAME_HEIGHT_PX = 8 + 2 * LINE_PX;

/** Lines a text of `bytes` UTF-8 bytes is given: from its padding bucket only. */
export function textLines(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) return 1;
  return Math.min(MAX_TEXT_LINES, Math.max(1, Math.ceil(paddedLength(bytes) / BYTES_PER_LINE)));
}

/** The frame height for a block of `status` whose text was given `lines` lines. */
export function readerHeight(status: BlockStatus, lines: number): number {
  const n = Number.isSafeInteger(lines) ? Math.min(MAX_TEXT_LINES, Math.max(1, lines)) : 1;
  if (status === 'failed') return 8 + LINE_PX + 2 * LINE_PX;
  const text = n * LINE_PX;
  if (status === 'unknown-sender' || status === 'moved' || status === 'repeat')
    return CHROME_PX + WARNING_PX + text;
  return CHROME_PX + text;
}
