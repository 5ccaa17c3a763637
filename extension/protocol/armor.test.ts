// Tests for the armor: format and sizes, the reader's rules on text as chat sites mangle it
// (property tests through chat-transforms.test-helper.ts), reassembly limits, tampering, speed.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  armor,
  dearmor,
  findArmor,
  MAX_PARTS,
  Reassembler,
  type ArmorChunk,
  type ReassembleResult,
  dearmorScan,
} from './armor';
import { BASE62_ALPHABET, encodeBase62 } from './base62';
import { isVeilError, VeilError, type VeilErrorCode } from './errors';
import { chatPlan, INVISIBLES, noiseLine, throughChat } from './chat-transforms.test-helper';

/** Byte arrays with lengths spread over the whole range (fast-check's default sizes stay small). */
const bytesUpTo = (max: number, min = 0) =>
  fc.integer({ min, max }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));

/** Deterministic bytes for part ids (xorshift32), so fast-check runs replay exactly. */
function seededRandom(seed: number): (n: number) => Uint8Array {
  let x = seed | 1;
  return (n) =>
    Uint8Array.from({ length: n }, () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 255;
    });
}

const rng = seededRandom(12345);
const bytesOf = (n: number, salt = 0) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 131 + salt * 17 + (i >> 8)) & 255);

function errorCode(f: () => unknown): VeilErrorCode | 'none' {
  try {
    f();
  } catch (e) {
    if (e instanceof VeilError) return e.code;
    throw e;
  }
  return 'none';
}

/** Reassembles every chunk found in text; returns the finished messages. */
function readAll(text: string, r = new Reassembler()): Extract<ReassembleResult, { done: true }>[] {
  const done: Extract<ReassembleResult, { done: true }>[] = [];
  for (const c of findArmor(text)) {
    const res = r.add(c);
    if (res.done) done.push(res);
  }
  return done;
}

const stripInvisibleAndSpace = (s: string) => s.replace(/[\u00AD\u200B-\u200D\u2060\uFEFF\s]/g, '');

describe('armor format', () => {
  it('writes one VeiLA chunk: marker, byte length in two digits, base62', () => {
    const env = bytesOf(100);
    expect(armor(env, { randomBytes: rng })).toEqual(['VeiLA1c' + encodeBase62(env)]);
    expect(armor(new Uint8Array(0), { randomBytes: rng })).toEqual(['VeiLA00']);
  });

  it('meets the size targets: 281 bytes → ≤ 400 chars, 353 bytes → 482', () => {
    const [a281] = armor(bytesOf(281), { randomBytes: rng });
    const [a353] = armor(bytesOf(353), { randomBytes: rng });
    expect(a281!.length).toBe(385);
    expect(a353!.length).toBe(482);
  });

  it('splits into VeiLB parts with id, index, last index and length, each within the limit', () => {
    const env = bytesOf(600);
    const chunks = armor(env, { maxChunkLength: 100, randomBytes: rng });
    const body = encodeBase62(env);
    expect(chunks.length).toBe(Math.ceil(body.length / 83));
    const id = chunks[0]!.slice(5, 11);
    chunks.forEach((c, i) => {
      expect(c.length).toBeLessThanOrEqual(100);
      const part = body.slice(i * 83, (i + 1) * 83);
      const d2 = (v: number) => BASE62_ALPHABET[Math.floor(v / 62)]! + BASE62_ALPHABET[v % 62]!;
      expect(c).toBe('VeiLB' + id + d2(i) + d2(chunks.length - 1) + d2(part.length) + part);
    });
  });

  it('uses a single chunk exactly up to the limit', () => {
    const env = bytesOf(32); // 43 chars + 7
    expect(armor(env, { maxChunkLength: 50, randomBytes: rng })).toHaveLength(1);
    expect(armor(env, { maxChunkLength: 49, randomBytes: rng }).length).toBeGreaterThan(1);
  });

  it('above 3843 bytes uses parts even without a limit', () => {
    const env = bytesOf(4096);
    const chunks = armor(env, { randomBytes: rng });
    expect(chunks.map((c) => c[4])).toEqual(['B', 'B']);
    expect(chunks[0]!.length).toBe(17 + 3843);
    expect(dearmor(chunks.join(' '))).toEqual(env);
    expect(armor(bytesOf(3843), { randomBytes: rng })).toHaveLength(1);
  });

  it('rejects limits below 32 or not integers', () => {
    for (const bad of [31, 0, -5, 40.5, NaN]) {
      expect(errorCode(() => armor(bytesOf(10), { maxChunkLength: bad, randomBytes: rng }))).toBe(
        'invalid-argument',
      );
    }
    expect(armor(bytesOf(10), { maxChunkLength: 32, randomBytes: rng })).toHaveLength(1);
  });

  it('allows 3844 parts and no more', () => {
    // At limit 32 a part carries 15 chars: 3844 × 15 = 57660 chars = 1340 blocks + 29 bytes.
    const most = bytesOf(1340 * 32 + 29, 3);
    const chunks = armor(most, { maxChunkLength: 32, randomBytes: rng });
    expect(chunks).toHaveLength(MAX_PARTS);
    expect(chunks.at(-1)!.slice(11, 15)).toBe('zzzz'); // index 3843, last index 3843
    expect(dearmor(chunks.join('\n'))).toEqual(most);
    expect(
      errorCode(() => armor(bytesOf(1340 * 32 + 30), { maxChunkLength: 32, randomBytes: rng })),
    ).toBe('oversized');
  });

  it('draws part ids uniformly from randomBytes (bytes ≥ 248 are skipped)', () => {
    const fixed = (bytes: number[]) => () =>
      Uint8Array.from({ length: 16 }, (_, i) => bytes[i] ?? 0);
    const chunks = armor(bytesOf(300), {
      maxChunkLength: 64,
      randomBytes: fixed([248, 255, 0, 61, 62, 247, 123, 1]),
    });
    expect(chunks[0]!.slice(5, 11)).toBe('0z0z' + BASE62_ALPHABET[123 % 62] + '1');
    expect(
      errorCode(() =>
        armor(bytesOf(300), {
          maxChunkLength: 64,
          randomBytes: () => new Uint8Array(16).fill(255),
        }),
      ),
    ).toBe('invalid-argument');
    const ids = new Set(
      Array.from({ length: 50 }, () =>
        armor(bytesOf(300), { maxChunkLength: 64, randomBytes: rng })[0]!.slice(5, 11),
      ),
    );
    expect(ids.size).toBe(50);
  });

  it('chunks are base62 only, never start with "/", never exceed the limit', () => {
    fc.assert(
      fc.property(bytesUpTo(4096), fc.integer({ min: 32, max: 500 }), (env, limit) => {
        for (const c of armor(env, { maxChunkLength: limit, randomBytes: rng })) {
          expect(c).toMatch(/^VeiL[AB][0-9A-Za-z]*$/);
          expect(c.startsWith('/')).toBe(false);
          expect(c.length).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('findArmor reading rules', () => {
  const env = bytesOf(281);
  const [single] = armor(env, { randomBytes: rng }) as [string];

  it('finds a chunk after a nickname or timestamp, with its offsets', () => {
    for (const prefix of ['<alice> ', '12:01 alice: ', 'alice', '> **', '']) {
      const text = prefix + single + '** and more';
      const [found, ...rest] = findArmor(text);
      expect(rest).toEqual([]);
      expect(found).toMatchObject({
        kind: 'single',
        start: prefix.length,
        end: prefix.length + single.length,
      });
      expect(dearmor(text)).toEqual(env);
    }
  });

  it('ignores zero-width characters and soft hyphens anywhere, even inside the marker', () => {
    for (const z of INVISIBLES) {
      const text =
        'x ' + 'V' + z + 'eiL' + z + 'A' + single.slice(5, 50) + z + z + single.slice(50) + z;
      const [found] = findArmor(text);
      expect(found).toMatchObject({ kind: 'single', start: 2, end: text.length - 1 });
      expect(dearmor(text)).toEqual(env);
    }
  });

  it('rejoins a payload broken by whitespace, but never takes the next ordinary word', () => {
    const broken = single.slice(0, 120) + '\n' + single.slice(120, 300) + ' ' + single.slice(300);
    expect(dearmor(`<a> ${broken} hello world`)).toEqual(env);
    const [found] = findArmor(`${broken} hello`);
    expect(found!.end).toBe(broken.length);
    // An intact chunk is complete before the space: the following base62 word stays outside.
    const [intact] = findArmor(`${single} abc123`);
    expect(intact!.end).toBe(single.length);
  });

  it('does not rejoin across whitespace in the header or into a word holding VeiL', () => {
    expect(findArmor(single.slice(0, 6) + ' ' + single.slice(6))).toEqual([]);
    const chunks = armor(bytesOf(200), { maxChunkLength: 100, randomBytes: rng });
    // First part loses its tail: it must not swallow the second part's start.
    const text = chunks[0]!.slice(0, -3) + ' ' + chunks.slice(1).join(' ');
    const found = findArmor(text);
    expect(found.map((c) => (c.kind === 'part' ? c.index : -1))).toEqual(
      chunks.slice(1).map((_, i) => i + 1),
    );
    expect(errorCode(() => dearmor(text))).toBe('truncated');
  });

  it('a truncated chunk never takes a following chunk, even one that would fill it exactly', () => {
    const text = single.slice(0, -7) + ' VeiLA00'; // 7 missing, then a 7-char chunk
    expect(findArmor(text)).toEqual([
      { kind: 'single', payload: '', start: text.length - 7, end: text.length },
    ]);
  });

  it('rejoins only across whitespace, not across a nickname or punctuation', () => {
    expect(findArmor(single.slice(0, -3) + '\n \t abc')).toHaveLength(1);
    expect(findArmor(single.slice(0, -3) + '\n<b> abc')).toEqual([]);
    expect(findArmor(single.slice(0, -3) + ', abc')).toEqual([]);
  });

  it('a truncated chunk does not borrow the front of an ordinary word', () => {
    expect(findArmor(single.slice(0, -3) + ' hello')).toEqual([]);
    expect(findArmor(single.slice(0, -3) + ' abc')).toHaveLength(1); // exactly fills: garbage, found
    expect(errorCode(() => dearmor(single.slice(0, -3) + ' hello'))).toBe('truncated');
  });

  it('does not take prose that mentions VeiL for armor', () => {
    const prose =
      'I use VeiL. VeiLA is the single form, VeiLB the chunked one; VeiLA0 (VeiLB12) VeiLAx';
    expect(findArmor(prose)).toEqual([]);
    expect(errorCode(() => dearmor(prose))).toBe('malformed');
    expect(errorCode(() => dearmor('no armor here'))).toBe('malformed');
  });

  it('finds several chunks and ordinary text on one line', () => {
    const a = armor(bytesOf(40, 1), { randomBytes: rng })[0]!;
    const b = armor(bytesOf(41, 2), { randomBytes: rng })[0]!;
    const text = `hi ${a} and ${b}, bye VeiLA`;
    const found = findArmor(text);
    expect(found.map((c) => text.slice(c.start, c.end))).toEqual([a, b]);
    expect(readAll(text).map((d) => d.envelope)).toEqual([bytesOf(40, 1), bytesOf(41, 2)]);
    expect(errorCode(() => dearmor(text))).toBe('malformed'); // two messages
  });

  it('rejects impossible part headers', () => {
    const good = armor(bytesOf(100), { maxChunkLength: 40, randomBytes: rng })[1]!;
    const indexAboveLast = good.slice(0, 11) + 'zz' + good.slice(13);
    const zeroLength = good.slice(0, 15) + '00' + good.slice(17);
    expect(findArmor(indexAboveLast)).toEqual([]);
    expect(findArmor(zeroLength)).toEqual([]);
    expect(errorCode(() => dearmor(zeroLength))).toBe('malformed');
  });
});

describe('armor through a chat', () => {
  it('any envelope, any limit, any chat mangling: found and reassembled to the same bytes', () => {
    fc.assert(
      fc.property(
        bytesUpTo(4096),
        fc.integer({ min: 32, max: 500 }),
        fc.integer(),
        chatPlan,
        fc.boolean(),
        (env, limit, seed, plan, shuffle) => {
          const chunks = armor(env, { maxChunkLength: limit, randomBytes: seededRandom(seed) });
          const order = shuffle ? [...chunks].reverse() : chunks;
          const text = throughChat(order, plan);
          const found = findArmor(text);
          expect(found).toHaveLength(chunks.length);
          for (const c of found) {
            expect(chunks).toContain(stripInvisibleAndSpace(text.slice(c.start, c.end)));
          }
          const done = readAll(text);
          expect(done).toHaveLength(1);
          expect(done[0]!.envelope).toEqual(env);
          expect(dearmor(text)).toEqual(env);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('two people’s multi-part messages interleaved are both reassembled', () => {
    fc.assert(
      fc.property(
        bytesUpTo(1500, 100),
        bytesUpTo(1500, 100),
        fc.integer({ min: 32, max: 300 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        chatPlan,
        (e1, e2, limit, picks, plan) => {
          const a = armor(e1, { maxChunkLength: limit, randomBytes: seededRandom(1) });
          const b = armor(e2, { maxChunkLength: limit, randomBytes: seededRandom(2) });
          const merged: string[] = [];
          for (let i = 0, j = 0, k = 0; i < a.length || j < b.length; k++) {
            const fromA = j >= b.length || (i < a.length && picks[k % picks.length]! % 2 === 0);
            merged.push(fromA ? a[i++]! : b[j++]!);
          }
          const done = readAll(throughChat(merged, plan));
          const hex = (x: Uint8Array) =>
            Array.from(x, (b) => b.toString(16).padStart(2, '0')).join('');
          expect(done.map((d) => hex(d.envelope)).sort()).toEqual([hex(e1), hex(e2)].sort());
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a missing part makes dearmor say truncated', () => {
    fc.assert(
      fc.property(
        bytesUpTo(2000, 30),
        fc.integer({ min: 32, max: 200 }),
        fc.nat(),
        noiseLine,
        (env, limit, drop, noise) => {
          const chunks = armor(env, { maxChunkLength: limit, randomBytes: rng });
          fc.pre(chunks.length > 1);
          chunks.splice(drop % chunks.length, 1);
          expect(errorCode(() => dearmor([noise, ...chunks].join('\n')))).toBe('truncated');
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('tampering', () => {
  const replacement = fc.oneof(
    fc.constantFrom(...BASE62_ALPHABET),
    fc.constantFrom(' ', '\n', '/', '-', ':', '*', '\u00e9', ...INVISIBLES),
  );

  it('any single changed character: a VeilError or different bytes, never the same or a crash', () => {
    fc.assert(
      fc.property(
        bytesUpTo(800),
        fc.option(fc.integer({ min: 32, max: 300 }), { nil: undefined }),
        fc.nat(),
        replacement,
        (env, limit, where, by) => {
          const text = armor(env, { maxChunkLength: limit, randomBytes: rng }).join('\n');
          const at = where % text.length;
          fc.pre(text[at] !== '\n' && text[at] !== by);
          const tampered = text.slice(0, at) + by + text.slice(at + 1);
          let out: Uint8Array;
          try {
            out = dearmor(tampered);
          } catch (e) {
            expect(e).toBeInstanceOf(VeilError);
            // Messages name the cause only, never armor content.
            expect((e as Error).message).not.toMatch(/[0-9A-Za-z]{12}/);
            return;
          }
          expect(out).not.toEqual(env);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('changing any payload digit of a single chunk to another digit changes the bytes or is rejected', () => {
    const env = bytesOf(97, 5);
    const [chunk] = armor(env, { randomBytes: rng }) as [string];
    for (let at = 7; at < chunk.length; at++) {
      for (const by of ['0', 'z', 'M']) {
        if (chunk[at] === by) continue;
        const code = errorCode(() => {
          expect(dearmor(chunk.slice(0, at) + by + chunk.slice(at + 1))).not.toEqual(env);
        });
        expect(['none', 'malformed']).toContain(code);
      }
    }
  });
});

describe('Reassembler', () => {
  const env = bytesOf(700, 9);
  const parts = () => findArmor(armor(env, { maxChunkLength: 100, randomBytes: rng }).join(' '));

  it('reassembles parts in any order and ignores identical duplicates', () => {
    const ps = parts();
    const r = new Reassembler();
    const order = [...ps].reverse();
    order.splice(3, 0, ps[ps.length - 2]!); // a duplicate in the middle
    const results = order.map((p) => r.add(p));
    expect(results.slice(0, -1).every((x) => !x.done)).toBe(true);
    const last = results.at(-1)!;
    expect(last.done && last.envelope).toEqual(env);
    expect(last.done && last.chunks.map((c) => (c.kind === 'part' ? c.index : -1))).toEqual(
      ps.map((_, i) => i),
    );
    expect(r.pendingCount).toBe(0);
    // Forgotten once done: a re-rendered page reassembles it again.
    expect(ps.map((p) => r.add(p)).at(-1)).toMatchObject({ done: true, envelope: env });
  });

  it('rejects a conflicting duplicate or part count with a typed error', () => {
    const ps = parts() as Extract<ArmorChunk, { kind: 'part' }>[];
    const r = new Reassembler();
    r.add(ps[0]!);
    const flipped = ps[0]!.payload.startsWith('0') ? '1' : '0';
    expect(errorCode(() => r.add({ ...ps[0]!, payload: flipped + ps[0]!.payload.slice(1) }))).toBe(
      'conflict',
    );
    expect(errorCode(() => r.add({ ...ps[1]!, total: ps[1]!.total + 1 }))).toBe('conflict');
    // The first version stands and the message still completes.
    let last: ReassembleResult = { done: false };
    for (const p of ps.slice(1)) last = r.add(p);
    expect(last.done && last.envelope).toEqual(env);
  });

  it('keeps authors apart by scope', () => {
    const ps = parts();
    const r = new Reassembler();
    r.add(ps[0]!, 'alice');
    const forged = { ...(ps[0] as Extract<ArmorChunk, { kind: 'part' }>), payload: 'abc' };
    expect(r.add(forged, 'mallory')).toEqual({ done: false });
    let last: ReassembleResult = { done: false };
    for (const p of ps.slice(1)) last = r.add(p, 'alice');
    expect(last.done && last.envelope).toEqual(env);
  });

  it('rejects impossible parts and too many parts', () => {
    const p = parts()[0] as Extract<ArmorChunk, { kind: 'part' }>;
    const r = new Reassembler({ maxParts: 5 });
    expect(errorCode(() => r.add({ ...p, index: p.total }))).toBe('malformed');
    expect(errorCode(() => r.add({ ...p, index: -1 }))).toBe('malformed');
    expect(errorCode(() => r.add({ ...p, total: 0, index: 0 }))).toBe('malformed');
    expect(errorCode(() => r.add({ ...p, payload: 'ab-c' }))).toBe('malformed');
    expect(errorCode(() => r.add({ ...p, payload: '' }))).toBe('malformed');
    expect(errorCode(() => r.add({ ...p, id: 'abc' }))).toBe('malformed');
    expect(errorCode(() => r.add({ ...p, total: 6 }))).toBe('oversized');
    expect(errorCode(() => r.add({ kind: 'single', payload: '4', start: 0, end: 0 }))).toBe(
      'malformed',
    );
    expect(errorCode(() => new Reassembler({ maxParts: MAX_PARTS + 1 }))).toBe('invalid-argument');
    expect(errorCode(() => new Reassembler({ maxPending: 0 }))).toBe('invalid-argument');
  });

  it('drops the oldest pending message beyond maxPending', () => {
    const r = new Reassembler({ maxPending: 2 });
    const msgs = [1, 2, 3].map((salt) =>
      findArmor(armor(bytesOf(200, salt), { maxChunkLength: 100, randomBytes: rng }).join(' ')),
    );
    for (const m of msgs) r.add(m[0]!);
    expect(r.pendingCount).toBe(2);
    // The first was evicted: its remaining parts start over and cannot complete.
    const first = msgs[0]!.slice(1).map((p) => r.add(p));
    expect(first.some((x) => x.done)).toBe(false);
    const third = msgs[2]!.slice(1).map((p) => r.add(p));
    expect(third.at(-1)).toMatchObject({ done: true, envelope: bytesOf(200, 3) });
  });

  it('bounds buffered characters', () => {
    const ps = parts() as Extract<ArmorChunk, { kind: 'part' }>[];
    const r = new Reassembler({ maxBufferedChars: 200 });
    r.add(ps[0]!);
    r.add(ps[1]!);
    expect(errorCode(() => r.add(ps[2]!))).toBe('oversized');
    expect(r.pendingCount).toBe(0);
    const other = findArmor(
      armor(bytesOf(300, 4), { maxChunkLength: 150, randomBytes: rng }).join(' '),
    );
    const small = new Reassembler({ maxBufferedChars: 300 });
    small.add(ps[0]!); // 83 chars, oldest
    small.add(other[0]!); // 133 more
    small.add(other[1]!); // over 300: the oldest message goes
    expect(small.pendingCount).toBe(1);
  });
});

describe('hostile and huge input', () => {
  it('never throws on junk and reassembly fails only with VeilErrors', () => {
    const junk = fc
      .array(
        fc.oneof(
          fc.constantFrom(
            'VeiL',
            'VeiLA',
            'VeiLB',
            'zz',
            '00',
            ' ',
            '\n',
            '\u200B',
            '\u00AD',
            '-',
            'é',
          ),
          fc.string({ unit: fc.constantFrom(...BASE62_ALPHABET), maxLength: 30 }),
        ),
        { maxLength: 60 },
      )
      .map((xs) => xs.join(''));
    fc.assert(
      fc.property(junk, (text) => {
        const r = new Reassembler();
        for (const c of findArmor(text)) {
          try {
            r.add(c);
          } catch (e) {
            expect(isVeilError(e)).toBe(true);
          }
        }
        try {
          dearmor(text);
        } catch (e) {
          expect(isVeilError(e)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  /** Best of three runs (ms): the machine is shared, and a quadratic reader takes seconds. */
  const time = (f: () => unknown) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      f();
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const random = seededRandom(99);

  it('scans 1 MB of random text in under 200 ms', () => {
    const units = new Uint16Array(random(2 << 20).buffer);
    let text = '';
    for (let i = 0; i < units.length; i += 8192) {
      text += String.fromCharCode(...units.subarray(i, i + 8192));
    }
    const ascii = Array.from(random(1 << 20), (b) => String.fromCharCode(32 + (b % 95))).join('');
    for (const t of [text, ascii]) {
      let found: ArmorChunk[] = [];
      expect(time(() => (found = findArmor(t)))).toBeLessThan(200);
      expect(found).toEqual([]);
    }
  });

  it('scans 1 MB built to make a naive reader quadratic in under 200 ms', () => {
    const MB = 1 << 20;
    const cases = [
      ('xVeiLAzz ' + 'a '.repeat(50)).repeat(10000), // many candidates, each could rejoin far
      ('VeiLAzz'.repeat(800) + ' a'.repeat(2600)).repeat(100), // long words of candidates
      'VeiLB'.repeat(MB / 5), // a marker at every fifth character
      ('VeiLA01' + '\u200B').repeat(MB / 8), // many tiny chunks among invisibles
    ];
    for (const c of cases) {
      const text = c.slice(0, MB);
      expect(time(() => findArmor(text))).toBeLessThan(200);
    }
  });
});

describe('caps on what a hostile page makes a reader hold', () => {
  /** Six base62 characters naming part `i`: every header a new id. */
  const idOf = (i: number) => {
    let id = '';
    for (let k = 0; k < 6; k++, i = Math.floor(i / 62)) id = BASE62_ALPHABET[i % 62]! + id;
    return id;
  };
  /** Part headers of new ids, each part 0 of 3844 with one payload character, one per line. */
  const hostileParts = (chars: number) => {
    const lines: string[] = [];
    for (let i = 0, used = 0; used + 19 <= chars; i++, used += 19)
      lines.push(`VeiLB${idOf(i)}00zz01x`);
    return lines.join('\n');
  };
  const MB = 1 << 20;
  const hostile = hostileParts(MB);

  it('dearmor of 1 MB of part headers, each a new id of 3844 parts, fails typed and small', () => {
    expect(findArmor(hostile.slice(0, 200)).map((c) => c.kind === 'part' && c.total)).toEqual(
      Array(10).fill(MAX_PARTS),
    );
    const before = process.memoryUsage().heapUsed;
    const code = errorCode(() => dearmor(hostile));
    const grown = process.memoryUsage().heapUsed - before;
    // A slot array per id (3,844 slots × 55,000 ids) is gigabytes; the scan itself is a few MB.
    expect(grown).toBeLessThan(64 * MB);
    expect(code).toBe('oversized');
  });

  it('a streaming reader holds at most its caps and still finishes the message that follows', () => {
    const r = new Reassembler();
    const env = bytesOf(900, 5);
    const real = armor(env, { maxChunkLength: 100, randomBytes: rng });
    let peakPending = 0;
    let peakParts = 0;
    for (const c of findArmor(hostile)) {
      expect(r.add(c)).toEqual({ done: false });
      peakPending = Math.max(peakPending, r.pendingCount);
      peakParts = Math.max(peakParts, r.heldParts);
    }
    expect(peakPending).toBe(64);
    expect(peakParts).toBe(64);
    const done = readAll(real.join(' '), r);
    expect(done.map((d) => d.envelope)).toEqual([env]);
  });

  it('caps the parts held across messages, oldest message dropped first', () => {
    const r = new Reassembler({ maxHeldParts: 10 });
    const msgs = [1, 2, 3].map((salt) =>
      findArmor(armor(bytesOf(200, salt), { maxChunkLength: 40, randomBytes: rng }).join(' ')),
    );
    for (const p of msgs[0]!.slice(0, 6)) r.add(p);
    for (const p of msgs[1]!.slice(0, 4)) r.add(p);
    expect(r.heldParts).toBe(10);
    r.add(msgs[2]![0]!); // one over: the first message goes
    expect([r.pendingCount, r.heldParts]).toEqual([2, 5]);
    // A message that alone needs more parts than the cap is refused, and nothing of it kept.
    expect(msgs[2]!.length).toBeGreaterThan(10);
    expect(errorCode(() => msgs[2]!.slice(1).forEach((p) => r.add(p)))).toBe('oversized');
    expect(r.heldParts).toBeLessThanOrEqual(10);
    expect(errorCode(() => new Reassembler({ maxHeldParts: 0 }))).toBe('invalid-argument');
  });

  it('holds only the parts that arrived, not a slot for every declared part', () => {
    const r = new Reassembler({ maxPending: 10_000 });
    const before = process.memoryUsage().heapUsed;
    for (const c of findArmor(hostileParts(10_000 * 19))) r.add(c);
    expect(r.pendingCount).toBe(10_000);
    expect(r.heldParts).toBe(10_000);
    // 10,000 × 3,844 slots would be 300 MB; 10,000 parts are a few MB.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(48 * MB);
  });

  it('dearmor still reads one message among a few unfinished ones as before', () => {
    const env = bytesOf(700, 2);
    const parts = armor(env, { maxChunkLength: 100, randomBytes: rng });
    expect(dearmor(parts.join('\n'))).toEqual(env);
    const junk = hostileParts(19 * 5);
    expect(errorCode(() => dearmor(`${junk}\n${parts.join('\n')}`))).toBe('truncated');
    expect(errorCode(() => dearmor(hostileParts(19 * 65)))).toBe('oversized');
    expect(errorCode(() => dearmor(hostileParts(19 * 64)))).toBe('truncated');
  });
});

describe('dearmor shortcut for a lone single chunk', () => {
  const outcome = (f: () => Uint8Array): string => {
    try {
      return `ok ${Array.from(f()).join(',')}`;
    } catch (e) {
      return isVeilError(e) ? `error ${e.code}` : `throw ${String(e)}`;
    }
  };
  const chunkOf = (bytes: Uint8Array) =>
    armor(bytes, { randomBytes: (n) => new Uint8Array(n) })[0]!;

  it('gives what the full reader gives, for chunks and for near-chunks', () => {
    const mutate = fc.oneof(
      fc.constant((t: string) => t),
      fc.constant((t: string) => t.slice(0, -1)),
      fc.constant((t: string) => `${t}x`),
      fc.constant((t: string) => `${t} `),
      fc.constant((t: string) => ` ${t}`),
      fc.constant((t: string) => `${t}\u200b`),
      fc.constant((t: string) => t + t),
      fc.constant((t: string) => t.replace('VeiLA', 'VeiLB')),
      fc.tuple(fc.nat(), fc.constantFrom(...'0Az_ .\u00ad')).map(([at, c]) => (t: string) => {
        const i = at % t.length;
        return t.slice(0, i) + c + t.slice(i + 1);
      }),
      fc.nat().map((at) => (t: string) => t.slice(0, 5) + t.slice(5 + (at % 3))),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), mutate, (bytes, change) => {
        const text = change(chunkOf(bytes));
        expect(outcome(() => dearmor(text))).toBe(outcome(() => dearmorScan(text)));
      }),
      { numRuns: 3000 },
    );
  });

  it('a value overflowing its block falls back to the full reader and its error', () => {
    // 'z' × 43 is above 2^256: not a block of 32 bytes.
    const text = `VeiLA0W${'z'.repeat(43)}`;
    expect(outcome(() => dearmor(text))).toBe(outcome(() => dearmorScan(text)));
    expect(outcome(() => dearmor(text))).toBe('error malformed');
  });
});
