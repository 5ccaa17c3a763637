// Finds armored blocks in the host's messages (content script; sees ciphertext only). Each
// message's body text is scanned for armor chunks; a message split over several host messages
// (IRC cuts long lines, other people's lines may come between) is reassembled per author. Only
// the pure armor finder is used here: no crypto, no keys.
import { findArmor, Reassembler, type ArmorChunk } from '../protocol/armor';

export interface ScannedMessage<E> {
  /** The element holding the message body (where the armor text is). */
  body: E;
  /** The body's text as the page shows it. */
  text: string;
  /** The author as the host shows it (untrusted: only keeps authors' part ids apart). */
  author: string;
}

export interface FoundBlock<E> {
  /** The armored text of one whole message (its chunks joined by newlines). */
  armored: string;
  /** The bodies its chunks sit in, in page order (one for a single-chunk message). */
  bodies: E[];
  /** The author its parts were shown under (untrusted, as in ScannedMessage). */
  author: string;
}

/** Parts of unfinished messages kept at once (chat pages interleave a few at most). */
const MAX_PENDING = 256;

/**
 * An armor-looking word: the marker, the kind, then base62. One that no complete chunk was read
 * from is a chunk cut short (a host or attacker dropped its tail). Shorter than this it is taken
 * for prose; a real chunk holds a whole envelope (keys, MAC), far longer.
 */
const CANDIDATE = /VeiL[AB][0-9A-Za-z]*/g;
const MIN_CUT_SHORT_LENGTH = 24;

/** Armor-looking words in `text` outside every found chunk: chunks whose tail is missing. */
function cutShort(text: string, chunks: readonly ArmorChunk[]): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(CANDIDATE)) {
    const at = m.index;
    if (m[0].length < MIN_CUT_SHORT_LENGTH) continue;
    if (chunks.some((c) => at >= c.start && at < c.end)) continue;
    out.push(m[0]);
  }
  return out;
}

/**
 * Turns scanned messages into whole blocks. Keep one finder per conversation: parts wait in it
 * until their message is whole, so a block whose last part arrives later is still found.
 */
export class BlockFinder<E> {
  private reassembler = new Reassembler({ maxPending: MAX_PENDING });
  private readonly sources = new WeakMap<ArmorChunk, { body: E; text: string }>();

  /**
   * Blocks completed by these messages, in the order their last chunk appeared. A chunk cut
   * short is a block of its own (its text as found), so the reader can say it is truncated
   * instead of the page showing nothing.
   */
  scan(messages: Iterable<ScannedMessage<E>>): FoundBlock<E>[] {
    const found: FoundBlock<E>[] = [];
    for (const message of messages) {
      if (!message.text.includes('VeiL')) continue; // the marker, cheap reject for plain text
      const chunks = findArmor(message.text);
      for (const armored of cutShort(message.text, chunks))
        found.push({ armored, bodies: [message.body], author: message.author });
      for (const chunk of chunks) {
        this.sources.set(chunk, { body: message.body, text: message.text });
        let result;
        try {
          result = this.reassembler.collect(chunk, message.author);
        } catch {
          continue; // a malformed or conflicting part: not a block
        }
        // Not decoded here (the background does that, and says when it is malformed).
        if (!result.done) continue;
        const parts = result.chunks.map((c) => this.sources.get(c)!);
        const bodies: E[] = [];
        for (const p of parts) if (!bodies.includes(p.body)) bodies.push(p.body);
        found.push({
          armored: result.chunks.map((c, i) => parts[i]!.text.slice(c.start, c.end)).join('\n'),
          bodies,
          author: message.author,
        });
      }
    }
    return found;
  }

  /** Forgets waiting parts (another conversation was opened). */
  reset(): void {
    this.reassembler = new Reassembler({ maxPending: MAX_PENDING });
  }
}
