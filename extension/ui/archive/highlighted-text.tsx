// A hit's text with the matched words in <mark>: every piece is a text node (never HTML), so a
// message that looks like markup stays text.
import { splitHighlights } from './highlights';

export function HighlightedText(props: { text: string; ranges: readonly (readonly number[])[] }) {
  return (
    <>
      {splitHighlights(props.text, props.ranges).map((piece, i) =>
        piece.marked ? (
          <mark key={i} data-veil="archive-highlight">
            {piece.text}
          </mark>
        ) : (
          piece.text
        ),
      )}
    </>
  );
}
