// Server side of the transparency log: which stored Merkle nodes a root, an inclusion proof or a
// consistency proof needs, and how appends produce new nodes. The store keeps the hash of every
// complete subtree keyed by (level, index), so any proof is O(log n) node reads in one batch.
import { EMPTY_ROOT, nodeHash } from '../extension/protocol/transparency';
import type { DirectoryStore, NodeRef } from './store';

const pow2 = (level: number) => 2 ** level;

function checkSize(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('tree size out of range');
}

/** Largest power of two strictly below n (n >= 2), as RFC 9162 splits trees. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The complete subtrees covering leaves [start, end), largest first. For the ranges RFC 9162's
 * recursion produces (start aligned to the range's largest power of two) this is the binary
 * decomposition, and MTH(D[start:end]) folds them from the right.
 */
export function rangeCover(start: number, end: number): NodeRef[] {
  const out: NodeRef[] = [];
  let s = start;
  while (s < end) {
    let level = 0;
    while (s % pow2(level + 1) === 0 && s + pow2(level + 1) <= end) level++;
    out.push({ level, index: s / pow2(level) });
    s += pow2(level);
  }
  return out;
}

type Range = [start: number, end: number];

function inclusionRanges(m: number, start: number, n: number, out: Range[]): void {
  if (n <= 1) return;
  const k = splitPoint(n);
  if (m < k) {
    inclusionRanges(m, start, k, out);
    out.push([start + k, start + n]);
  } else {
    inclusionRanges(m - k, start + k, n - k, out);
    out.push([start, start + k]);
  }
}

function consistencyRanges(
  m: number,
  start: number,
  n: number,
  complete: boolean,
  out: Range[],
): void {
  if (m === n) {
    if (!complete) out.push([start, start + n]);
    return;
  }
  const k = splitPoint(n);
  if (m <= k) {
    consistencyRanges(m, start, k, complete, out);
    out.push([start + k, start + n]);
  } else {
    consistencyRanges(m - k, start + k, n - k, false, out);
    out.push([start, start + k]);
  }
}

/** A proof to compute: each element is the fold of the stored nodes covering one range. */
export type ProofPlan = NodeRef[][];

export function inclusionPlan(index: number, treeSize: number): ProofPlan {
  checkSize(treeSize);
  if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize)
    throw new RangeError('index outside the tree');
  const ranges: Range[] = [];
  inclusionRanges(index, 0, treeSize, ranges);
  return ranges.map(([a, b]) => rangeCover(a, b));
}

export function consistencyPlan(oldSize: number, newSize: number): ProofPlan {
  checkSize(oldSize);
  checkSize(newSize);
  if (oldSize > newSize) throw new RangeError('old size larger than new size');
  if (oldSize === 0 || oldSize === newSize) return [];
  const ranges: Range[] = [];
  consistencyRanges(oldSize, 0, newSize, true, ranges);
  return ranges.map(([a, b]) => rangeCover(a, b));
}

export const refKey = (r: NodeRef) => `${r.level}:${r.index}`;

/** Every distinct node a plan reads. */
export function planNodes(plan: ProofPlan): NodeRef[] {
  const seen = new Map<string, NodeRef>();
  for (const cover of plan) for (const r of cover) seen.set(refKey(r), r);
  return [...seen.values()];
}

/** Folds a cover (largest subtree first) into the range's Merkle tree hash. */
export function foldCover(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

/** Reads a plan's nodes from the store (one batch) and computes the proof. */
export async function buildProof(
  store: Pick<DirectoryStore, 'getLogNodes'>,
  plan: ProofPlan,
): Promise<{ proof: Uint8Array[]; nodeReads: number }> {
  const refs = planNodes(plan);
  const hashes = await store.getLogNodes(refs);
  const byKey = new Map(refs.map((r, i) => [refKey(r), hashes[i]!]));
  const proof = plan.map((cover) => foldCover(cover.map((r) => byKey.get(refKey(r))!)));
  return { proof, nodeReads: refs.length };
}

/** Several proofs with one batch read of their nodes (a handle's history: one per entry). */
export async function buildProofs(
  store: Pick<DirectoryStore, 'getLogNodes'>,
  plans: readonly ProofPlan[],
): Promise<Uint8Array[][]> {
  const refs = planNodes(plans.flat());
  const hashes = await store.getLogNodes(refs);
  const byKey = new Map(refs.map((r, i) => [refKey(r), hashes[i]!]));
  return plans.map((plan) =>
    plan.map((cover) => foldCover(cover.map((r) => byKey.get(refKey(r))!))),
  );
}

export async function rootAt(
  store: Pick<DirectoryStore, 'getLogNodes'>,
  treeSize: number,
): Promise<Uint8Array> {
  checkSize(treeSize);
  return foldCover(await store.getLogNodes(rangeCover(0, treeSize)));
}

export interface NewNode extends NodeRef {
  hash: Uint8Array;
}

/**
 * The right edge of the tree: the hashes of the complete subtrees covering [0, size). Appending
 * a leaf merges equal-sized subtrees, which yields exactly the new complete nodes to store.
 */
export class MerkleFrontier {
  private constructor(
    private size_: number,
    private readonly stack: NewNode[],
  ) {}

  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, []);
  }

  /** `hashes` are the stored nodes of `rangeCover(0, size)`, in that order. */
  static fromCover(size: number, hashes: readonly Uint8Array[]): MerkleFrontier {
    const cover = rangeCover(0, size);
    if (cover.length !== hashes.length) throw new RangeError('cover does not match tree size');
    return new MerkleFrontier(
      size,
      cover.map((r, i) => ({ ...r, hash: hashes[i]! })),
    );
  }

  get size(): number {
    return this.size_;
  }

  /** Adds a leaf hash; returns the nodes that became complete (the leaf first). */
  append(leaf: Uint8Array): NewNode[] {
    const created: NewNode[] = [{ level: 0, index: this.size_, hash: leaf }];
    this.stack.push(created[0]!);
    while (this.stack.length >= 2) {
      const right = this.stack[this.stack.length - 1]!;
      const left = this.stack[this.stack.length - 2]!;
      if (left.level !== right.level) break;
      const parent: NewNode = {
        level: left.level + 1,
        index: left.index / 2,
        hash: nodeHash(left.hash, right.hash),
      };
      this.stack.splice(this.stack.length - 2, 2, parent);
      created.push(parent);
    }
    this.size_++;
    return created;
  }

  root(): Uint8Array {
    return foldCover(this.stack.map((n) => n.hash));
  }
}
