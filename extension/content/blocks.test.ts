// Block finding in the content script: single chunks, messages split over several host messages
// with other people's lines between them, parts kept apart per author, and re-scans.
import { describe, expect, it } from 'vitest';
import { armor, dearmor } from '../protocol/armor';
import { BlockFinder, type ScannedMessage } from './blocks';

let seed = 1;
const randomBytes = (n: number) =>
  Uint8Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff);
const envelope = (n: number, fill: number) => new Uint8Array(n).fill(fill);

const msg = (body: string, text: string, author = 'alice'): ScannedMessage<string> => ({
  body,
  text,
  author,
});

describe('BlockFinder', () => {
  it('finds a single-chunk message and leaves plain text alone', () => {
    const [chunk] = armor(envelope(40, 7), { randomBytes });
    const finder = new BlockFinder<string>();
    const found = finder.scan([msg('m1', 'hello there'), msg('m2', `alice: ${chunk!} `)]);
    expect(found).toHaveLength(1);
    expect(found[0]!.bodies).toEqual(['m2']);
    expect(dearmor(found[0]!.armored)).toEqual(envelope(40, 7));
  });

  it('finds a chunk whose payload does not decode: the background reports it malformed', () => {
    const [chunk] = armor(envelope(40, 7), { randomBytes });
    // Same header and length, every payload digit the largest: no block of bytes encodes to it.
    const forged = chunk!.slice(0, 7) + 'z'.repeat(chunk!.length - 7);
    expect(() => dearmor(forged)).toThrow(/out of range/);
    const found = new BlockFinder<string>().scan([msg('m1', `look: ${forged}`)]);
    expect(found.map((f) => f.armored)).toEqual([forged]);
  });

  it('reassembles parts split over messages with other lines between them', () => {
    const parts = armor(envelope(600, 9), { maxChunkLength: 120, randomBytes });
    expect(parts.length).toBeGreaterThan(3);
    const finder = new BlockFinder<string>();
    const messages = parts.flatMap((p, i) => [
      msg(`part${i}`, p),
      msg(`chat${i}`, 'an ordinary line in between', 'carol'),
    ]);
    // Delivered in two scans, the second one finishing the message.
    expect(finder.scan(messages.slice(0, 3))).toEqual([]);
    const found = finder.scan(messages.slice(3));
    expect(found).toHaveLength(1);
    expect(found[0]!.bodies).toEqual(parts.map((_, i) => `part${i}`));
    expect(dearmor(found[0]!.armored)).toEqual(envelope(600, 9));
  });

  it('keeps two authors parts apart even with the same part id', () => {
    const parts = armor(envelope(300, 3), { maxChunkLength: 120, randomBytes });
    const finder = new BlockFinder<string>();
    // Mallory repeats Alice's first part under her own name: it completes nothing of Alice's.
    const found = finder.scan([
      msg('a0', parts[0]!, 'alice'),
      msg('m0', parts[0]!, 'mallory'),
      ...parts.slice(1).map((p, i) => msg(`a${i + 1}`, p, 'alice')),
    ]);
    expect(found).toHaveLength(1);
    expect(found[0]!.bodies).not.toContain('m0');
  });

  it('finds the same block again in a re-rendered page, and forgets parts on reset', () => {
    const [chunk] = armor(envelope(20, 1), { randomBytes });
    const parts = armor(envelope(300, 2), { maxChunkLength: 120, randomBytes });
    const finder = new BlockFinder<string>();
    expect(finder.scan([msg('x', chunk!)])).toHaveLength(1);
    expect(finder.scan([msg('x2', chunk!)])).toHaveLength(1);
    finder.scan([msg('p0', parts[0]!)]);
    finder.reset();
    expect(finder.scan(parts.slice(1).map((p, i) => msg(`p${i + 1}`, p)))).toEqual([]);
  });

  it('survives a chunk wrapped across lines by the host', () => {
    const [chunk] = armor(envelope(80, 5), { randomBytes });
    const wrapped = `${chunk!.slice(0, 50)}\n${chunk!.slice(50)}`;
    const found = new BlockFinder<string>().scan([msg('w', wrapped)]);
    expect(found).toHaveLength(1);
    expect(dearmor(found[0]!.armored)).toEqual(envelope(80, 5));
  });

  it('reports a chunk cut short as a block that dearmor calls truncated; prose stays plain', () => {
    const [chunk] = armor(envelope(120, 6), { randomBytes });
    const half = chunk!.slice(0, Math.floor(chunk!.length / 2));
    const parts = armor(envelope(300, 4), { maxChunkLength: 120, randomBytes });
    const finder = new BlockFinder<string>();
    const found = finder.scan([
      msg('t', `look: ${half}`, 'mallory'),
      msg('p', 'VeiLA is the marker; VeiLB12 too', 'carol'),
      msg('q', parts[0]!.slice(0, 60), 'mallory'),
      ...parts.map((p, i) => msg(`a${i}`, p)),
    ]);
    expect(found.map((f) => f.bodies)).toEqual([['t'], ['q'], parts.map((_, i) => `a${i}`)]);
    expect(found[0]!.armored).toBe(half);
    for (const f of found.slice(0, 2)) expect(() => dearmor(f.armored)).toThrow(/cut short/);
    expect(dearmor(found[2]!.armored)).toEqual(envelope(300, 4));
  });
});
