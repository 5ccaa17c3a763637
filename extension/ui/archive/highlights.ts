// Cuts a hit's text into plain and marked pieces from the background's [start, end) ranges
// (pure; the pieces are rendered as text, never as HTML). Ranges are clamped, sorted and
// merged: a bad range from a newer or buggy background marks less, never breaks the text.

export interface TextPiece {
  text: string;
  marked: boolean;
}

export function splitHighlights(text: string, ranges: readonly (readonly number[])[]): TextPiece[] {
  const clean = ranges
    .filter(
      (r) => r.length === 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]) && r[0]! < r[1]!,
    )
    .map(([s, e]) => [Math.max(0, s!), Math.min(text.length, e!)] as const)
    .filter(([s, e]) => s < e)
    .sort((a, b) => a[0] - b[0]);
  const pieces: TextPiece[] = [];
  let at = 0;
  for (const [start, end] of clean) {
    if (end <= at) continue;
    const from = Math.max(start, at);
    if (from > at) pieces.push({ text: text.slice(at, from), marked: false });
    const last = pieces[pieces.length - 1];
    // Touching or overlapping ranges become one mark.
    if (last?.marked && from === at) last.text += text.slice(from, end);
    else pieces.push({ text: text.slice(from, end), marked: true });
    at = end;
  }
  if (at < text.length || pieces.length === 0) pieces.push({ text: text.slice(at), marked: false });
  return pieces;
}
