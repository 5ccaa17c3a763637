// The client's compact range (extension/protocol/transparency.ts) against the tree the directory
// builds (log.ts: MerkleFrontier, rangeCover), property-style: for random sizes, starting from
// the directory's cover of [0, m) and appending leaves m…n gives exactly the directory's cover
// and root at n; an omitted, altered, swapped or extra leaf gives another root.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_COMPACT_RANGE,
  compactRange,
  compactRangeAppend,
  compactRangeLength,
  compactRangeRoot,
  leafHash,
} from '../extension/protocol/transparency';
import { MerkleFrontier, rangeCover, refKey } from './log';

/** The directory's bookkeeping for n leaves: every stored node, and the root at each size. */
function directoryTree(n: number, salt: number) {
  const nodes = new Map<string, Uint8Array>();
  const leaves: Uint8Array[] = [];
  const roots: Uint8Array[] = [];
  const frontier = MerkleFrontier.empty();
  roots.push(frontier.root());
  for (let i = 0; i < n; i++) {
    const leaf = leafHash(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, salt & 0xff));
    leaves.push(leaf);
    for (const node of frontier.append(leaf)) nodes.set(refKey(node), node.hash);
    roots.push(frontier.root());
  }
  /** What `GET /v1/log/compact-range?size=` serves. */
  const cover = (size: number) => rangeCover(0, size).map((r) => nodes.get(refKey(r))!);
  return { leaves, roots, cover };
}

const sizes = fc
  .tuple(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 600 }), fc.nat(255))
  .map(([x, y, salt]) => ({ m: Math.min(x, y), n: Math.max(x, y), salt }));

describe('compact range vs the directory tree', () => {
  it('appending leaves m…n to the cover of [0, m) gives the cover and root of [0, n)', () => {
    fc.assert(
      fc.property(sizes, ({ m, n, salt }) => {
        const tree = directoryTree(n, salt);
        const start = compactRange(m, tree.cover(m));
        expect(compactRangeRoot(start)).toEqual(tree.roots[m]);
        const end = compactRangeAppend(start, tree.leaves.slice(m));
        expect(end.size).toBe(n);
        expect(end.hashes).toEqual(tree.cover(n));
        expect(compactRangeRoot(end)).toEqual(tree.roots[n]);
        // One leaf at a time gives the same.
        let step = start;
        for (const leaf of tree.leaves.slice(m)) step = compactRangeAppend(step, [leaf]);
        expect(step.hashes).toEqual(end.hashes);
      }),
      { numRuns: 60 },
    );
  });

  it('needs one hash per set bit of the size, as the directory covers it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (size) => {
        expect(compactRangeLength(size)).toBe(rangeCover(0, size).length);
      }),
    );
    expect(() => compactRange(5, [])).toThrow(expect.objectContaining({ code: 'bad-proof' }));
    expect(() => compactRange(1, [new Uint8Array(31)])).toThrow(
      expect.objectContaining({ code: 'bad-proof' }),
    );
    expect(compactRangeRoot(EMPTY_COMPACT_RANGE)).toEqual(directoryTree(0, 0).roots[0]);
  });

  it('an omitted, altered, swapped or extra leaf gives another root', () => {
    fc.assert(
      fc.property(
        sizes.filter(({ m, n }) => n - m >= 2),
        fc.nat(),
        fc.constantFrom('omit', 'alter', 'swap', 'extra'),
        ({ m, n, salt }, pick, lie) => {
          const tree = directoryTree(n, salt);
          const served = tree.leaves.slice(m);
          const i = pick % (served.length - 1);
          if (lie === 'omit') served.splice(i, 1);
          else if (lie === 'alter') served[i] = leafHash(Uint8Array.of(0xee, i & 0xff, 1, 2));
          else if (lie === 'swap') [served[i], served[i + 1]] = [served[i + 1]!, served[i]!];
          else served.splice(i, 0, leafHash(Uint8Array.of(0xdd, i & 0xff)));
          const root = compactRangeRoot(compactRangeAppend(compactRange(m, tree.cover(m)), served));
          expect(root).not.toEqual(tree.roots[n]);
        },
      ),
      { numRuns: 80 },
    );
  });
});
