// RFC 9162 / RFC 6962 Merkle proofs and C2SP checkpoints: published vectors, a naive reference
// tree checked for every (index, size) and (old, new) pair of small trees, and the attacks the
// log exists for (a directory that swaps a key, forks its log or rolls back).
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode, base64UrlDecode, base64UrlEncode } from './directory-request';
import { isVeilError } from './errors';
import {
  EMPTY_ROOT,
  type LogEntry,
  type SignedTreeHead,
  checkpointKeyId,
  decodeLogEntry,
  encodeLogEntry,
  formatCheckpoint,
  keyStanding,
  leafHash,
  nodeHash,
  parseCheckpoint,
  rootFromInclusionProof,
  signTreeHead,
  verifyConsistency,
  verifyHeadUpdate,
  verifyInclusion,
  verifyKeyLookup,
  verifySignedTreeHead,
} from './transparency';

// --- a naive reference implementation, straight from RFC 9162 §2.1 ---------------------------

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0]!;
  const k = largestPowerOfTwoBelow(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function refPath(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m < k
    ? [...refPath(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...refPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

function refSubproof(m: number, leaves: Uint8Array[], complete: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [mth(leaves)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k
    ? [...refSubproof(m, leaves.slice(0, k), complete), mth(leaves.slice(k))]
    : [...refSubproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

function refConsistency(m: number, leaves: Uint8Array[]): Uint8Array[] {
  return m === 0 || m === leaves.length ? [] : refSubproof(m, leaves, true);
}

const rejects = (f: () => void, code = 'bad-proof') => {
  try {
    f();
  } catch (e) {
    if (isVeilError(e) && e.code === code) return true;
    throw e;
  }
  return false;
};

// --- published vectors (RFC 6962 test data, as shipped by certificate-transparency) ----------

const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => leafHash(hexToBytes(h)));
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION = [
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];
const CT_CONSISTENCY = [
  {
    first: 2,
    second: 8,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    first: 2,
    second: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

describe('RFC 6962 / RFC 9162 vectors', () => {
  it('empty tree, leaf and node hashes', () => {
    expect(bytesToHex(EMPTY_ROOT)).toBe(CT_ROOTS[0]);
    expect(bytesToHex(leafHash(new Uint8Array(0)))).toBe(CT_ROOTS[1]);
    expect(bytesToHex(nodeHash(CT_LEAVES[0]!, CT_LEAVES[1]!))).toBe(CT_ROOTS[2]);
  });

  it('reference roots for sizes 0..8', () => {
    for (let n = 0; n <= 8; n++) expect(bytesToHex(mth(CT_LEAVES.slice(0, n)))).toBe(CT_ROOTS[n]);
  });

  it('published inclusion proofs', () => {
    for (const v of CT_INCLUSION) {
      const proof = v.proof.map(hexToBytes);
      expect(refPath(v.index, CT_LEAVES.slice(0, v.size)).map(bytesToHex)).toEqual(v.proof);
      verifyInclusion(CT_LEAVES[v.index]!, v.index, v.size, proof, hexToBytes(CT_ROOTS[v.size]!));
    }
  });

  it('published consistency proofs', () => {
    for (const v of CT_CONSISTENCY) {
      const proof = v.proof.map(hexToBytes);
      expect(refConsistency(v.first, CT_LEAVES.slice(0, v.second)).map(bytesToHex)).toEqual(
        v.proof,
      );
      const [a, b] = [hexToBytes(CT_ROOTS[v.first]!), hexToBytes(CT_ROOTS[v.second]!)];
      verifyConsistency(v.first, v.second, a, b, proof);
    }
  });
});

describe('every proof of small trees (naive reference tree)', () => {
  const N = 40;
  const leaves = Array.from({ length: N }, (_, i) => leafHash(Uint8Array.of(i, i >> 8, 0x5a)));
  const roots = Array.from({ length: N + 1 }, (_, n) => mth(leaves.slice(0, n)));

  it('inclusion: every (index, size) verifies; any change is caught', () => {
    let checked = 0;
    for (let n = 1; n <= N; n++) {
      const tree = leaves.slice(0, n);
      for (let i = 0; i < n; i++) {
        const proof = refPath(i, tree);
        verifyInclusion(leaves[i]!, i, n, proof, roots[n]!);
        checked++;
        // wrong leaf, wrong index, wrong size, wrong root, flipped / truncated / extended proof
        expect(rejects(() => verifyInclusion(leaves[(i + 1) % N]!, i, n, proof, roots[n]!))).toBe(
          true,
        );
        if (n > 1) {
          expect(rejects(() => verifyInclusion(leaves[i]!, (i + 1) % n, n, proof, roots[n]!))).toBe(
            true,
          );
          const flipped = proof.map((p) => p.slice());
          flipped[flipped.length - 1]![0]! ^= 1;
          expect(rejects(() => verifyInclusion(leaves[i]!, i, n, flipped, roots[n]!))).toBe(true);
          expect(rejects(() => verifyInclusion(leaves[i]!, i, n, proof.slice(1), roots[n]!))).toBe(
            true,
          );
        }
        expect(
          rejects(() => verifyInclusion(leaves[i]!, i, n + 1, proof, roots[n + 1] ?? EMPTY_ROOT)),
        ).toBe(true);
        expect(
          rejects(() => verifyInclusion(leaves[i]!, i, n, [...proof, leaves[0]!], roots[n]!)),
        ).toBe(true);
      }
    }
    expect(checked).toBe((N * (N + 1)) / 2);
  });

  it('consistency: every (old, new) pair verifies; any change is caught', () => {
    let checked = 0;
    for (let n = 0; n <= N; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = refConsistency(m, leaves.slice(0, n));
        verifyConsistency(m, n, roots[m]!, roots[n]!, proof);
        checked++;
        if (m > 0 && m < n) {
          const flipped = proof.map((p) => p.slice());
          flipped[0]![5]! ^= 0x80;
          expect(rejects(() => verifyConsistency(m, n, roots[m]!, roots[n]!, flipped))).toBe(true);
          expect(
            rejects(() => verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(0, -1))),
          ).toBe(true);
          expect(
            rejects(() => verifyConsistency(m, n, roots[m]!, roots[n]!, [...proof, roots[1]!])),
          ).toBe(true);
          // a root the old tree never had (a fork of the old history)
          expect(rejects(() => verifyConsistency(m, n, roots[m - 1]!, roots[n]!, proof))).toBe(
            true,
          );
          expect(rejects(() => verifyConsistency(m, n, roots[m]!, roots[n - 1]!, proof))).toBe(
            true,
          );
          expect(rejects(() => verifyConsistency(n, m, roots[n]!, roots[m]!, proof))).toBe(true);
        }
      }
    }
    expect(checked).toBe(((N + 1) * (N + 2)) / 2);
    // Degenerate cases: equal sizes need equal roots and an empty proof; size 0 needs nothing.
    expect(rejects(() => verifyConsistency(4, 4, roots[4]!, roots[5]!, []))).toBe(true);
    expect(rejects(() => verifyConsistency(4, 4, roots[4]!, roots[4]!, [roots[1]!]))).toBe(true);
    expect(rejects(() => verifyConsistency(0, 8, roots[1]!, roots[8]!, []))).toBe(true);
    expect(rejects(() => verifyConsistency(3, 8, roots[3]!, roots[8]!, []))).toBe(true);
  });

  it('rejects malformed inputs with a typed error, never a crash', () => {
    const proof = refPath(3, leaves.slice(0, 8));
    expect(rejects(() => verifyInclusion(leaves[3]!, 3, 8, proof, new Uint8Array(31)))).toBe(true);
    expect(rejects(() => verifyInclusion(leaves[3]!, -1, 8, proof, roots[8]!))).toBe(true);
    expect(rejects(() => verifyInclusion(leaves[3]!, 8, 8, proof, roots[8]!))).toBe(true);
    expect(rejects(() => verifyInclusion(leaves[3]!, 0.5, 8, proof, roots[8]!))).toBe(true);
    expect(
      rejects(() => rootFromInclusionProof(leaves[3]!, 3, 8, Array(65).fill(leaves[0]!))),
    ).toBe(true);
    expect(rejects(() => verifyConsistency(2, 8, roots[2]!, roots[8]!, [new Uint8Array(33)]))).toBe(
      true,
    );
  });

  it('handles sizes beyond 2^32 without 32-bit overflow', () => {
    // A tree of 2^33 + 5 leaves: the path of its last leaf is short and has a known shape.
    const size = 2 ** 33 + 5;
    const index = size - 1;
    // Its path: the 4-leaf subtree [2^33, 2^33 + 4), then the left 2^33-leaf subtree.
    const siblings = [leaves[0]!, leaves[1]!];
    const expected = nodeHash(siblings[1]!, nodeHash(siblings[0]!, leaves[5]!));
    expect(bytesToHex(rootFromInclusionProof(leaves[5]!, index, size, siblings))).toBe(
      bytesToHex(expected),
    );
  });
});

// --- entries, heads and checkpoints ------------------------------------------------------------

const directorySecret = ed25519.utils.randomSecretKey();
const trust = { origin: 'veil.test/directory', publicKey: ed25519.getPublicKey(directorySecret) };

function entry(
  handle: string,
  identityKey: Uint8Array,
  sequence = 1,
  action: LogEntry['action'] = 'publish',
): LogEntry {
  return { handle, identityKey, action, sequence, timestamp: 1_700_000_000 + sequence };
}

describe('log entries', () => {
  it('round-trip and are canonical', () => {
    const e = entry(
      'alice.b-c_d',
      ed25519.getPublicKey(ed25519.utils.randomSecretKey()),
      3,
      'rotate',
    );
    const data = encodeLogEntry(e);
    expect(decodeLogEntry(data)).toEqual(e);
    expect(() => decodeLogEntry(data.subarray(1))).toThrow();
    expect(() => decodeLogEntry(Uint8Array.of(...data, 0))).toThrow();
    expect(() => encodeLogEntry({ ...e, handle: '../x' })).toThrow();
    expect(() => encodeLogEntry({ ...e, sequence: 0 })).toThrow();
    expect(bytesToHex(leafHash(data))).not.toBe(
      bytesToHex(leafHash(encodeLogEntry({ ...e, action: 'publish' }))),
    );
  });

  it('record device lists (action 4) with the list digest, which never counts as a key', () => {
    const key = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    const digest = sha256(Uint8Array.of(1, 2, 3));
    const devices = entry('alice', digest, 2, 'devices');
    const data = encodeLogEntry(devices);
    expect(data[8]).toBe(4);
    expect(decodeLogEntry(data)).toEqual(devices);
    const unknown = data.slice();
    unknown[8] = 5;
    expect(() => decodeLogEntry(unknown)).toThrow();
    // A later device list leaves the published key current; its digest is no key of the handle.
    const history = [entry('alice', key, 1, 'publish'), devices];
    expect(keyStanding(history, key)).toBe('current');
    expect(keyStanding(history, digest)).toBe('never');
  });
});

describe('signed tree heads (C2SP checkpoint + tlog-cosignature/v1)', () => {
  const root = hexToBytes(CT_ROOTS[8]!);
  const head = signTreeHead(
    { origin: trust.origin, treeSize: 8, rootHash: root, timestamp: 1_700_000_123 },
    directorySecret,
  );

  it('verify, and reject any change', () => {
    verifySignedTreeHead(head, trust);
    const other = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
    expect(
      rejects(() => verifySignedTreeHead({ ...head, treeSize: 9 }, trust), 'bad-signature'),
    ).toBe(true);
    expect(
      rejects(
        () => verifySignedTreeHead({ ...head, timestamp: head.timestamp + 1 }, trust),
        'bad-signature',
      ),
    ).toBe(true);
    expect(
      rejects(
        () => verifySignedTreeHead({ ...head, rootHash: EMPTY_ROOT }, trust),
        'bad-signature',
      ),
    ).toBe(true);
    expect(
      rejects(() => verifySignedTreeHead(head, { ...trust, publicKey: other }), 'bad-signature'),
    ).toBe(true);
    expect(
      rejects(
        () => verifySignedTreeHead({ ...head, origin: 'evil.example/log' }, trust),
        'bad-signature',
      ),
    ).toBe(true);
  });

  it('format as a signed note that parses back, ignoring witness lines', () => {
    const text = formatCheckpoint(head, trust.publicKey);
    const lines = text.split('\n');
    expect(lines.slice(0, 4)).toEqual([trust.origin, '8', base64Encode(root), '']);
    expect(lines[4]!.startsWith(`\u2014 ${trust.origin} `)).toBe(true);
    const sig = base64Decode(lines[4]!.split(' ')[2]!);
    expect(sig.length).toBe(4 + 8 + 64);
    expect(bytesToHex(sig.subarray(0, 4))).toBe(
      bytesToHex(checkpointKeyId(trust.origin, trust.publicKey)),
    );
    const witnessed = `${text}\u2014 witness.example/w1 ${base64Encode(new Uint8Array(76))}\n`;
    expect(parseCheckpoint(witnessed, trust)).toEqual(head);
    expect(
      rejects(() => parseCheckpoint(text.replace('\n8\n', '\n9\n'), trust), 'bad-signature'),
    ).toBe(true);
    expect(rejects(() => parseCheckpoint('nonsense', trust), 'malformed')).toBe(true);
    expect(
      rejects(
        () => parseCheckpoint(text, { ...trust, origin: 'other.example/x' }),
        'bad-signature',
      ),
    ).toBe(true);
  });

  it('base64 codecs are strict', () => {
    const b = Uint8Array.from({ length: 33 }, (_, i) => i * 7);
    for (let n = 0; n < b.length; n++) {
      expect(base64UrlDecode(base64UrlEncode(b.subarray(0, n)))).toEqual(b.subarray(0, n));
      expect(base64Decode(base64Encode(b.subarray(0, n)))).toEqual(b.subarray(0, n));
    }
    expect(() => base64UrlDecode('AB=')).toThrow();
    expect(() => base64UrlDecode('AB+/')).toThrow();
    expect(() => base64UrlDecode('AR')).toThrow(); // non-canonical trailing bits
    expect(() => base64Decode('AAA')).toThrow();
  });
});

// --- a directory that swaps a key is caught ---------------------------------------------------

/** A toy directory: a list of entries, the naive tree, and its signing key. */
class ToyDirectory {
  readonly entries: LogEntry[] = [];
  constructor(private readonly secret: Uint8Array) {}
  append(e: LogEntry): number {
    this.entries.push(e);
    return this.entries.length - 1;
  }
  leaves(size = this.entries.length): Uint8Array[] {
    return this.entries.slice(0, size).map((e) => leafHash(encodeLogEntry(e)));
  }
  head(size = this.entries.length): SignedTreeHead {
    return signTreeHead(
      {
        origin: trust.origin,
        treeSize: size,
        rootHash: mth(this.leaves(size)),
        timestamp: 1_700_000_000 + size,
      },
      this.secret,
    );
  }
  lookup(index: number, served = this.entries[index]!) {
    return {
      entry: served,
      index,
      inclusionProof: refPath(index, this.leaves()),
      head: this.head(),
    };
  }
  consistency(from: number, to = this.entries.length): Uint8Array[] {
    return refConsistency(from, this.leaves(to));
  }
}

describe('a directory that swaps a key is caught', () => {
  const key = () => ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const aliceKey = key();
  const malloryKey = key();

  function honest(): ToyDirectory {
    const d = new ToyDirectory(directorySecret);
    d.append(entry('bob', key()));
    d.append(entry('alice', aliceKey));
    d.append(entry('carol', key()));
    return d;
  }

  it('the honest answer verifies', () => {
    const d = honest();
    verifyKeyLookup(d.lookup(1), trust);
    expect(verifyHeadUpdate(undefined, d.head(), [], trust)).toEqual(d.head());
  });

  it('serving another key without a log entry fails inclusion', () => {
    const d = honest();
    const swapped = d.lookup(1, { ...d.entries[1]!, identityKey: malloryKey });
    expect(rejects(() => verifyKeyLookup(swapped, trust))).toBe(true);
    // Pointing at another leaf does not help either.
    for (const index of [0, 2])
      expect(
        rejects(() => verifyKeyLookup({ ...d.lookup(index), entry: swapped.entry }, trust)),
      ).toBe(true);
  });

  it('a forked log verifies alone but not against the head the client remembers', () => {
    const real = honest();
    const remembered = verifyHeadUpdate(undefined, real.head(), [], trust);
    const fork = new ToyDirectory(directorySecret);
    fork.append(real.entries[0]!);
    fork.append(entry('alice', malloryKey));
    fork.append(real.entries[2]!);
    fork.append(entry('dave', key())); // the fork grows past the remembered size
    const lookup = fork.lookup(1);
    verifyKeyLookup(lookup, trust); // signed and included: only the remembered head exposes it
    expect(
      rejects(() => verifyHeadUpdate(remembered, lookup.head, fork.consistency(3), trust)),
    ).toBe(true);
    expect(
      rejects(() => verifyHeadUpdate(remembered, lookup.head, real.consistency(3), trust)),
    ).toBe(true);
    expect(rejects(() => verifyHeadUpdate(remembered, lookup.head, [], trust))).toBe(true);
    // A same-size fork: two signed roots for one size.
    expect(rejects(() => verifyHeadUpdate(remembered, fork.head(3), [], trust))).toBe(true);
  });

  it('a logged swap verifies but is visible to the handle owner monitoring the log', () => {
    const d = honest();
    const remembered = d.head();
    const index = d.append(entry('alice', malloryKey, 2, 'rotate'));
    const lookup = d.lookup(index);
    verifyKeyLookup(lookup, trust);
    verifyHeadUpdate(remembered, lookup.head, d.consistency(remembered.treeSize), trust);
    const mine = new Set([bytesToHex(aliceKey)]);
    const foreign = d.entries.filter(
      (e) => e.handle === 'alice' && !mine.has(bytesToHex(e.identityKey)),
    );
    expect(foreign.map((e) => e.sequence)).toEqual([2]);
  });

  it('rolling a client back to a rotated-away key is refused', () => {
    const d = honest();
    d.append(entry('alice', key(), 2, 'rotate'));
    verifyKeyLookup(d.lookup(3), trust, 1);
    expect(rejects(() => verifyKeyLookup(d.lookup(1), trust, 2))).toBe(true);
  });

  it('a head signed by another key is refused', () => {
    const d = new ToyDirectory(ed25519.utils.randomSecretKey());
    d.append(entry('alice', malloryKey));
    expect(rejects(() => verifyKeyLookup(d.lookup(0), trust), 'bad-signature')).toBe(true);
  });
});
