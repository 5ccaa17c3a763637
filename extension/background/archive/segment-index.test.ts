import { describe, expect, it } from 'vitest';
import { SEGMENT_SIZE, SegmentIndex, type Manifest, type StoredSegment } from './segment-index';

const FLAGS = { own: false, status: 'verified' as const, openable: true };

const all = () => true;

function indexOf(texts: string[], conversation = (i: number) => `c${i % 2}`): SegmentIndex {
  const index = new SegmentIndex();
  texts.forEach((text, i) =>
    index.add({
      seq: i + 1,
      sender: i % 3 === 0 ? 'alice' : 'bob',
      conversation: conversation(i),
      at: 1000 + i,
      text,
      ...FLAGS,
    }),
  );
  return index;
}

/** What persistOps wrote so far, as IndexedDB holds it. */
class Disk {
  readonly values = new Map<string, unknown>();
  write(ops: ReturnType<SegmentIndex['persistOps']>): string[] {
    for (const o of ops) {
      if (o.op === 'put') this.values.set(o.key, o.value);
      else this.values.delete(o.key);
    }
    return ops.map((o) => o.key);
  }
  /** The index a restarted worker loads. */
  load(): SegmentIndex {
    const manifest = this.values.get('manifest') as Manifest;
    return SegmentIndex.fromStored(
      manifest,
      manifest.segments.map((n) => this.values.get(`seg/${n}`) as StoredSegment),
    );
  }
}

describe('segment index', () => {
  it('finds all words (AND), the last one as a prefix, newest first', () => {
    const index = indexOf(['lunch at noon', 'dinner at eight', 'lunch tomorrow?', 'launch day']);
    const seqs = (words: string) =>
      index.search({ words, keep: all, limit: 50 }).matches.map((m) => m.seq);
    expect(seqs('lunch')).toEqual([3, 1]);
    expect(seqs('lunch noon')).toEqual([1]);
    expect(seqs('lun')).toEqual([3, 1]);
    expect(seqs('at ei')).toEqual([2]);
    expect(seqs('nothing')).toEqual([]);
    // A finished word (a space after it) is not a prefix.
    expect(seqs('lun ')).toEqual([]);
    expect(seqs('lunch ')).toEqual([3, 1]);
    // The matched document terms come back for highlighting.
    expect(index.search({ words: 'tomo', keep: all, limit: 5 }).matches[0]!.terms).toEqual([
      'tomorrow',
    ]);
  });

  it('lists newest first for empty words, with filters', () => {
    const index = indexOf(['a', 'b', 'c', 'd', 'e']);
    const r = index.search({ words: '  ', keep: (row) => row.conversation === 'c0', limit: 2 });
    expect(r.matches.map((m) => m.seq)).toEqual([5, 3]);
  });

  it('asks the newest segment first and stops once the limit is reached', () => {
    const texts = Array.from({ length: SEGMENT_SIZE + 10 }, (_, i) => `word${i % 7} common`);
    const index = indexOf(texts);
    expect(index.segmentNumbers()).toEqual([1, 2]);
    const few = index.search({ words: 'common', keep: all, limit: 5 });
    expect(few.matches.map((m) => m.seq)).toEqual([
      SEGMENT_SIZE + 10,
      SEGMENT_SIZE + 9,
      SEGMENT_SIZE + 8,
      SEGMENT_SIZE + 7,
      SEGMENT_SIZE + 6,
    ]);
    expect(few.complete).toBe(false);
    const many = index.search({ words: 'common', keep: all, limit: 200 });
    expect(many.complete).toBe(true);
    expect(many.total).toBe(SEGMENT_SIZE + 10);
  });

  it('persists only the segments that changed, and loads them back as they were', () => {
    const texts = Array.from({ length: SEGMENT_SIZE + 3 }, (_, i) => `m${i} hello`);
    const index = indexOf(texts);
    const disk = new Disk();
    expect(disk.write(index.persistOps()).sort()).toEqual(['manifest', 'seg/1', 'seg/2']);
    index.add({
      seq: SEGMENT_SIZE + 4,
      sender: 'bob',
      conversation: 'c1',
      at: 1,
      text: 'fresh',
      ...FLAGS,
    });
    expect(disk.write(index.persistOps())).toEqual(['seg/2', 'manifest']);
    const back = disk.load();
    expect(back.covered).toBe(SEGMENT_SIZE + 4);
    expect(back.search({ words: 'fresh', keep: all, limit: 5 }).matches.map((m) => m.seq)).toEqual([
      SEGMENT_SIZE + 4,
    ]);
    expect(
      back.search({ words: 'm12 hello', keep: all, limit: 5 }).matches.map((m) => m.seq),
    ).toEqual([13]);
    // Already covered: a replayed record is not added twice.
    back.add({ seq: 5, sender: 'x', conversation: 'c', at: 1, text: 'again', ...FLAGS });
    expect(back.search({ words: 'again', keep: all, limit: 5 }).matches).toEqual([]);
  });

  it('searches the newest segments while older ones are not loaded, and keeps them when persisting', () => {
    const texts = Array.from({ length: SEGMENT_SIZE * 2 + 5 }, (_, i) => `n${i} word`);
    const disk = new Disk();
    disk.write(indexOf(texts).persistOps());
    const manifest = disk.values.get('manifest') as Manifest;
    const newest = disk.values.get('seg/3') as StoredSegment;
    const partial = SegmentIndex.fromStored(manifest, [newest]);
    expect(partial.partial).toBe(true);
    expect(partial.search({ words: 'word', keep: all, limit: 3 }).complete).toBe(false);
    expect(partial.search({ words: 'n7 ', keep: all, limit: 3 }).matches).toEqual([]);
    expect(() => [...partial.rows()]).toThrow();
    partial.add({
      seq: SEGMENT_SIZE * 2 + 6,
      sender: 'a',
      conversation: 'c',
      at: 1,
      text: 'late',
      ...FLAGS,
    });
    expect(disk.write(partial.persistOps([1, 2, 3]))).toEqual(['seg/3', 'manifest']);
    expect((disk.values.get('manifest') as Manifest).segments).toEqual([1, 2, 3]);
    partial.prepend(2, disk.values.get('seg/2') as StoredSegment);
    partial.prepend(1, disk.values.get('seg/1') as StoredSegment);
    expect(partial.partial).toBe(false);
    expect(partial.search({ words: 'n7 ', keep: all, limit: 3 }).matches.map((m) => m.seq)).toEqual(
      [8],
    );
  });

  it('skips segments a filter cannot match, with the same answers', () => {
    const texts = Array.from({ length: SEGMENT_SIZE + 20 }, (_, i) => `hello ${i}`);
    // Conversation "rare" only in the oldest segment's first rows.
    const index = indexOf(texts, (i) => (i < 3 ? 'rare' : 'busy'));
    const keep = (row: { conversation: string }) => row.conversation === 'rare';
    const r = index.search({ words: 'hello', keep, limit: 50, segments: { conversation: 'rare' } });
    expect(r.matches.map((m) => m.seq)).toEqual([3, 2, 1]);
    expect(r.complete).toBe(true);
    const late = index.search({
      words: '',
      keep: all,
      limit: 50,
      segments: { from: 1000 + SEGMENT_SIZE },
    });
    expect(late.matches.every((m) => m.seq > SEGMENT_SIZE)).toBe(true);
    const none = index.search({
      words: 'hello',
      keep: all,
      limit: 5,
      segments: { contact: { sender: 'nobody', conversations: [] } },
    });
    expect(none.matches).toEqual([]);
  });

  it('answers several-word queries exactly as a scan of the words would', () => {
    // A deterministic corpus: words from a small vocabulary, so pairs are common and rare.
    const vocab = [
      'alpha',
      'beta',
      'gamma',
      'delta',
      'epsilon',
      'zeta',
      'eta',
      'theta',
      'iota',
      'kappa',
    ];
    let x = 7;
    const next = () => (x = (x * 1103515245 + 12345) % 2147483648);
    const texts = Array.from({ length: 3000 }, () =>
      Array.from({ length: 2 + (next() % 6) }, () => vocab[next() % vocab.length]).join(' '),
    );
    const index = indexOf(texts);
    for (const words of [
      'alpha beta ',
      'gamma delta epsilon ',
      'kappa io',
      'zeta th',
      'beta beta ',
      'alpha nothing ',
    ]) {
      const got = index.search({ words, keep: all, limit: 5000 }).matches.map((m) => m.seq);
      const ws = words.trim().split(' ');
      const prefix = !words.endsWith(' ');
      const want = texts
        .map((t, i) => ({ t: t.split(' '), seq: i + 1 }))
        .filter(({ t }) =>
          ws.every((w, k) =>
            prefix && k === ws.length - 1 ? t.some((u) => u.startsWith(w)) : t.includes(w),
          ),
        )
        .map(({ seq }) => seq)
        .reverse();
      expect(got, words).toEqual(want);
    }
    const hit = index.search({ words: 'kappa io', keep: all, limit: 1 }).matches[0]!;
    expect(hit.terms).toEqual(expect.arrayContaining(['kappa', 'iota']));
  });

  it('forgets a removed message: its words leave the stored segment', async () => {
    const index = indexOf(['keep this', 'zanzibar secret', 'keep that']);
    index.persistOps();
    expect(await index.remove([2])).toBe(1);
    const ops = index.persistOps([1]);
    const stored = JSON.stringify(ops.map((o) => (o.op === 'put' ? o.value : null)));
    expect(stored).not.toMatch(/zanzibar|secret/);
    expect(index.search({ words: 'zanzibar', keep: all, limit: 5 }).matches).toEqual([]);
    expect(index.search({ words: 'keep', keep: all, limit: 5 }).matches.map((m) => m.seq)).toEqual([
      3, 1,
    ]);
  });
});
