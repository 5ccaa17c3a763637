// How the archive cuts text into search terms (background only; pure): runs of letters, digits
// and marks, lowercased; Chinese and Japanese runs (no spaces between words) cut into words with
// Intl.Segmenter where the engine has it, else kept whole. The same cut gives the highlights.

/** One word of a text: its search term and where it is, as [start, end) UTF-16 offsets. */
export interface TermSpan {
  term: string;
  start: number;
  end: number;
}

const WORD = /[\p{L}\p{N}\p{M}_]+/gu;
/** Scripts written without spaces between words (Hangul is spaced: cut like Latin). */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

type WordSegmenter = {
  segment(text: string): Iterable<{ segment: string; index: number; isWordLike?: boolean }>;
};

let segmenter: WordSegmenter | null | undefined;
function wordSegmenter(): WordSegmenter | null {
  if (segmenter === undefined) {
    const Seg = (Intl as { Segmenter?: new (l?: string, o?: object) => WordSegmenter }).Segmenter;
    segmenter = Seg ? new Seg(undefined, { granularity: 'word' }) : null;
  }
  return segmenter;
}

/** A term as stored and asked for: lowercased, Unicode-composed. */
export function normalizeTerm(word: string): string {
  return word.normalize('NFC').toLowerCase();
}

/** Every word of `text` with its offsets. */
export function termSpans(text: string): TermSpan[] {
  const out: TermSpan[] = [];
  for (const m of text.matchAll(WORD)) {
    const run = m[0];
    const at = m.index;
    const seg = UNSPACED.test(run) ? wordSegmenter() : null;
    if (!seg) {
      out.push({ term: normalizeTerm(run), start: at, end: at + run.length });
      continue;
    }
    for (const s of seg.segment(run))
      if (s.isWordLike !== false && /[\p{L}\p{N}]/u.test(s.segment))
        out.push({
          term: normalizeTerm(s.segment),
          start: at + s.index,
          end: at + s.index + s.segment.length,
        });
  }
  return out;
}

/** The terms of `text`, for the index and for queries. */
export function tokenize(text: string): string[] {
  return termSpans(text).map((s) => s.term);
}

/** The [start, end) ranges of `text`'s words that are among `terms`. */
export function highlightRanges(text: string, terms: ReadonlySet<string>): [number, number][] {
  if (terms.size === 0) return [];
  return termSpans(text)
    .filter((s) => terms.has(s.term))
    .map((s): [number, number] => [s.start, s.end]);
}
