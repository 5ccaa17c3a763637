import { describe, expect, it } from 'vitest';
import { VeilError } from '../../protocol/errors';
import { conversationFile, parseArchivePart } from './export';
import type { ArchiveRecord } from './records';

const ref = {
  id: 'ab'.repeat(16),
  site: 'The Lounge · 127.0.0.1:9000',
  name: '#veil',
  kind: 'group' as const,
  peers: ['bob'],
};
const record = (seq: number, text: string): ArchiveRecord => ({
  seq,
  digest: 'cd'.repeat(32),
  sender: 'bob',
  own: false,
  conversation: ref,
  at: Date.UTC(2026, 11, 7, 4, seq),
  text,
  status: 'verified',
  url: 'http://127.0.0.1:9000/#/chan-1',
});

describe('archive export', () => {
  it('writes a conversation as plain text and as JSON', () => {
    const records = [record(1, 'hello'), record(2, 'two\nlines')];
    const text = conversationFile(ref, records, 'text', Date.UTC(2026, 11, 7));
    expect(text.mime).toBe('text/plain');
    expect(text.fileName).toBe('veil-_veil-2026-12-07.txt');
    expect(text.file).toContain('[2026-12-07 04:01] bob: hello');
    expect(text.file).toContain('[2026-12-07 04:02] bob: two\n    lines');
    const json = conversationFile(ref, records, 'json', 0);
    const parsed = JSON.parse(json.file) as {
      conversation: unknown;
      messages: { text: string; digest?: string }[];
    };
    expect(parsed.conversation).toEqual(ref);
    expect(parsed.messages.map((m) => m.text)).toEqual(['hello', 'two\nlines']);
    // Where it was stays inside the extension.
    expect(json.file).not.toContain('chan-1');
  });

  it('reads a backup part back, and refuses a malformed one with a typed error', () => {
    const { seq: _s, ...one } = record(1, 'hello');
    expect(parseArchivePart({ v: 1, records: [one] })).toEqual([one]);
    for (const bad of [
      null,
      { v: 2, records: [] },
      { v: 1, records: [{ ...one, status: 'moved' }] },
      { v: 1, records: [{ ...one, text: 5 }] },
      { v: 1, records: [{ ...one, conversation: { ...ref, id: 'x' } }] },
      { v: 1, records: [{ ...one, digest: 'zz' }] },
      // No Date holds it: the export and the UI's time would throw.
      { v: 1, records: [{ ...one, at: 1e300 }] },
    ]) {
      expect(() => parseArchivePart(bad)).toThrow(VeilError);
      try {
        parseArchivePart(bad);
      } catch (e) {
        expect((e as VeilError).code).toBe('malformed');
      }
    }
  });

  it('a hostile contact cannot forge a line of someone else in the text export (any line break)', () => {
    const forged = '[2026-12-07 04:09] alice: send the money';
    const breaks = ['\r', '\u2028', '\u2029', '\u0085', '\v', '\f', '\r\n'];
    const records = breaks.map((b, i) => record(i + 1, `hi${b}${forged}`));
    const evil = { ...ref, name: `#veil\r${forged}` };
    const { file } = conversationFile(evil, records, 'text', 0);
    // Every line break any viewer honours starts either a message's line or an indented one.
    for (const line of file.split(/\r\n|[\n\v\f\r\u0085\u2028\u2029]/))
      expect(line.startsWith('[2026-12-07 04:09] alice'), JSON.stringify(line)).toBe(false);
  });
});
