// Test helper: does to armored chunks what chat sites do to text (IRC line splits with nickname
// prefixes, other people's lines, zero-width characters, whitespace rewrites, markdown), as
// fast-check arbitraries so the armor tests can throw every mix at the reader.
import fc from 'fast-check';
import { BASE62_ALPHABET } from './base62';

/** Characters sites insert inside long words; the reader must ignore them. */
export const INVISIBLES = ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD'];

const NICKS = ['alice', 'bob', 'carol_', 'Dave42', 'eve|away', 'mallory'];

/** Words of other people's lines: prose that mentions VeiL, emoji codes, markup, links. */
const PROSE = [
  'hello',
  'the',
  'VeiL',
  'VeiLA',
  'VeiLB',
  'VeiLA?',
  'VeiLB1',
  'VeiLA0',
  '(VeiLB)',
  'veil',
  'VEIL',
  ':)',
  ':smile:',
  '#veil',
  '@bob',
  'example.com',
  'https://example.com/x?y=1',
  '**bold**',
  '_it_',
  '/me',
  '-',
  '>',
  '12:01',
  'ok.',
];

const base62Word = fc
  .string({ unit: fc.constantFrom(...BASE62_ALPHABET), minLength: 1, maxLength: 12 })
  .filter((w) => !w.includes('VeiL'));

/** Another person's line: prose, VeiL look-alikes that are not chunks, and random base62 words. */
export const noiseLine = fc
  .array(fc.oneof(fc.constantFrom(...PROSE), base62Word), { minLength: 1, maxLength: 8 })
  .map((words) => words.join(' '));

export type Prefix = 'none' | 'irc' | 'timestamp' | 'glued';
export type Markdown = 'none' | 'quote' | 'bold' | 'italic' | 'strike' | 'spoiler' | 'code';

export interface ChatPlan {
  /** How many chunks each sent line carries (cycled); a line with several is space-separated. */
  perLine: number[];
  prefix: Prefix;
  markdown: Markdown;
  /** Other people's lines and where they land between ours (cycled). */
  noise: string[];
  noiseSlots: number[];
  /** Zero-width characters inserted anywhere inside a chunk: [position seed, which char]. */
  invisibles: [number, number][];
  /** Whitespace the site inserts inside a chunk's payload: [position seed, ' ' or '\n']. */
  breaks: [number, boolean][];
  newlinesToSpaces: boolean;
  collapseWhitespace: boolean;
  trim: boolean;
}

export const chatPlan: fc.Arbitrary<ChatPlan> = fc.record({
  perLine: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 5 }),
  prefix: fc.constantFrom<Prefix>('none', 'irc', 'timestamp', 'glued'),
  markdown: fc.constantFrom<Markdown>(
    'none',
    'quote',
    'bold',
    'italic',
    'strike',
    'spoiler',
    'code',
  ),
  noise: fc.array(noiseLine, { maxLength: 6 }),
  noiseSlots: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
  invisibles: fc.array(fc.tuple(fc.nat(), fc.nat({ max: INVISIBLES.length - 1 })), {
    maxLength: 8,
  }),
  breaks: fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 3 }),
  newlinesToSpaces: fc.boolean(),
  collapseWhitespace: fc.boolean(),
  trim: fc.boolean(),
});

const cycle = <T>(xs: T[], i: number, fallback: T): T =>
  xs.length === 0 ? fallback : xs[i % xs.length]!;

/**
 * Inserts the site's whitespace into a chunk's payload (never into the header), only where the
 * reader's documented rule allows a rejoin: the rest of the chunk must not contain `VeiL`.
 */
function breakChunk(chunk: string, breaks: [number, boolean][], salt: number): string {
  const header = chunk[4] === 'A' ? 7 : 17;
  if (chunk.length <= header) return chunk;
  const cuts = new Map<number, string>();
  for (const [seed, newline] of breaks) {
    const at = header + ((seed + salt) % (chunk.length - header));
    if (!chunk.slice(at).includes('VeiL')) cuts.set(at, newline ? '\n' : ' ');
  }
  let out = '';
  for (let i = 0; i < chunk.length; i++) out += (cuts.get(i) ?? '') + chunk[i];
  return out;
}

function sprinkle(chunk: string, invisibles: [number, number][], salt: number): string {
  let out = chunk;
  for (const [seed, which] of invisibles) {
    const at = (seed + salt) % (out.length + 1);
    out = out.slice(0, at) + INVISIBLES[which] + out.slice(at);
  }
  return out;
}

function markup(text: string, md: Markdown): string {
  switch (md) {
    case 'none':
      return text;
    case 'quote':
      return '> ' + text;
    case 'bold':
      return `**${text}**`;
    case 'italic':
      return `_${text}_`;
    case 'strike':
      return `~~${text}~~`;
    case 'spoiler':
      return `||${text}||`;
    case 'code':
      return '`' + text + '`';
  }
}

function withPrefix(text: string, prefix: Prefix, line: number): string {
  const nick = NICKS[line % NICKS.length]!;
  switch (prefix) {
    case 'none':
      return text;
    case 'irc':
      return `<${nick}> ${text}`;
    case 'timestamp':
      return `12:${String(line % 60).padStart(2, '0')} ${nick}: ${text}`;
    case 'glued':
      return nick + text; // a nickname element whose textContent touches the message's
  }
}

/** Sends `chunks` (in the given order) through a chat as `plan` says; returns what a reader sees. */
export function throughChat(chunks: string[], plan: ChatPlan): string {
  // Each chunk gets its own salt so invisibles and breaks land at different places in each.
  const sent = chunks.map((c, i) =>
    sprinkle(breakChunk(c, plan.breaks, i * 7919), plan.invisibles, i * 104729),
  );
  const lines: string[] = [];
  for (let at = 0, n = 0; at < sent.length; n++) {
    const take = cycle(plan.perLine, n, 1);
    lines.push(
      withPrefix(markup(sent.slice(at, at + take).join(' '), plan.markdown), plan.prefix, n),
    );
    at += take;
  }
  // Other people's lines land before, between and after ours.
  const slots: string[][] = lines.map(() => []).concat([[]]);
  plan.noise.forEach((line, j) => {
    const slot = cycle(plan.noiseSlots, j, 0) % slots.length;
    slots[slot]!.push(withPrefix(line, j % 2 ? 'irc' : 'timestamp', j + 1));
  });
  const out = slots.flatMap((noise, i) => (i < lines.length ? [...noise, lines[i]!] : noise));

  let text = out.join('\n');
  if (plan.newlinesToSpaces) text = text.replace(/\r?\n/g, ' ');
  // Not \s: it includes U+FEFF, which sites keep as a character.
  if (plan.collapseWhitespace) text = text.replace(/[ \t\r\n]+/g, ' ');
  if (plan.trim) {
    text = text
      .split('\n')
      .map((l) => l.trim())
      .join('\n');
  }
  return text;
}
