// The server's Merkle bookkeeping against a naive RFC 9162 tree: appends produce the right
// nodes and roots, proofs built from stored subtrees verify, and proofs need O(log n) reads.
import { describe, expect, it } from 'vitest';
import {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from '../extension/protocol/transparency';
import {
  MerkleFrontier,
  buildProof,
  consistencyPlan,
  foldCover,
  inclusionPlan,
  planNodes,
  rangeCover,
  refKey,
  splitPoint,
} from './log';
import type { NodeRef } from './store';

function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  const k = splitPoint(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** An in-memory node store fed by a frontier, as the real stores are. */
function buildTree(n: number) {
  const nodes = new Map<string, Uint8Array>();
  const leaves: Uint8Array[] = [];
  const roots: Uint8Array[] = [EMPTY_ROOT];
  const frontier = MerkleFrontier.empty();
  for (let i = 0; i < n; i++) {
    const leaf = leafHash(Uint8Array.of(i & 0xff, i >> 8));
    leaves.push(leaf);
    for (const node of frontier.append(leaf)) {
      expect(nodes.has(refKey(node))).toBe(false); // each node is written once
      nodes.set(refKey(node), node.hash);
    }
    roots.push(frontier.root());
  }
  let reads = 0;
  const store = {
    getLogNodes: async (refs: readonly NodeRef[]) =>
      refs.map((r) => {
        reads++;
        const h = nodes.get(refKey(r));
        if (!h) throw new Error(`missing node ${refKey(r)}`);
        return h;
      }),
  };
  return { nodes, leaves, roots, store, reads: () => reads };
}

describe('Merkle log bookkeeping', () => {
  const N = 70;
  const tree = buildTree(N);

  it('frontier roots equal the naive tree hash for every size', () => {
    for (let n = 0; n <= N; n++) expect(tree.roots[n]).toEqual(mth(tree.leaves.slice(0, n)));
    // 2n - popcount(n) complete subtrees exist for n leaves
    const popcount = (x: number) => x.toString(2).replace(/0/g, '').length;
    expect(tree.nodes.size).toBe(2 * N - popcount(N));
  });

  it('a frontier rebuilt from stored nodes continues identically', async () => {
    for (const size of [0, 1, 5, 32, 33, 63]) {
      const cover = rangeCover(0, size);
      const resumed = MerkleFrontier.fromCover(size, await tree.store.getLogNodes(cover));
      for (let i = size; i < N; i++) resumed.append(tree.leaves[i]!);
      expect(resumed.root()).toEqual(tree.roots[N]);
    }
  });

  it('range covers fold to the subtree hash', () => {
    for (let n = 0; n <= N; n++)
      expect(foldCover(rangeCover(0, n).map((r) => tree.nodes.get(refKey(r))!))).toEqual(
        tree.roots[n],
      );
  });

  it('every inclusion and consistency proof built from stored nodes verifies', async () => {
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const { proof } = await buildProof(tree.store, inclusionPlan(i, n));
        verifyInclusion(tree.leaves[i]!, i, n, proof, tree.roots[n]!);
      }
      for (let m = 0; m <= n; m++) {
        const { proof } = await buildProof(tree.store, consistencyPlan(m, n));
        verifyConsistency(m, n, tree.roots[m]!, tree.roots[n]!, proof);
      }
    }
  });

  it('proofs read O(log n) nodes, also at 10^6 and 2^40 leaves', () => {
    for (const n of [1_000_000, 1_000_001, 2 ** 20, 2 ** 40 + 12345]) {
      const log2 = Math.ceil(Math.log2(n));
      for (const i of [0, 1, 777, Math.floor(n / 2), n - 2, n - 1]) {
        expect(planNodes(inclusionPlan(i, n)).length).toBeLessThanOrEqual(2 * log2);
        expect(inclusionPlan(i, n).length).toBeLessThanOrEqual(log2);
      }
      for (const m of [1, 3, 1000, n - 1])
        expect(planNodes(consistencyPlan(m, n)).length).toBeLessThanOrEqual(2 * log2 + 1);
    }
    expect(() => inclusionPlan(5, 5)).toThrow(RangeError);
    expect(() => consistencyPlan(6, 5)).toThrow(RangeError);
  });
});
