// A compact, self-describing binary codec for plain data (the store's records): null, booleans,
// numbers, strings, Uint8Arrays, arrays and objects. Used for backups; pure.
import { ByteReader, ByteWriter, bytesToUtf8, utf8ToBytes } from './bytes';
import { VeilError } from './errors';

const enum Tag {
  Null = 0,
  False = 1,
  True = 2,
  Number = 3,
  String = 4,
  Bytes = 5,
  Array = 6,
  Object = 7,
  Undefined = 8,
}

const MAX_DEPTH = 32;
const MAX_FIELD = 16 * 1024 * 1024;

export function encodeValue(value: unknown): Uint8Array {
  const w = new ByteWriter();
  write(w, value, 0);
  return w.finish();
}

export function decodeValue(bytes: Uint8Array): unknown {
  const r = new ByteReader(bytes);
  const v = read(r, 0);
  r.end();
  return v;
}

function write(w: ByteWriter, v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new VeilError('invalid-argument', 'value nested too deeply');
  if (v === null) w.u8(Tag.Null);
  else if (v === undefined) w.u8(Tag.Undefined);
  else if (v === false) w.u8(Tag.False);
  else if (v === true) w.u8(Tag.True);
  else if (typeof v === 'number') {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v);
    w.u8(Tag.Number).bytes(b);
  } else if (typeof v === 'string') w.u8(Tag.String).lbytes(utf8ToBytes(v));
  else if (v instanceof Uint8Array) w.u8(Tag.Bytes).lbytes(v);
  else if (Array.isArray(v)) {
    w.u8(Tag.Array).varint(v.length);
    for (const x of v) write(w, x, depth + 1);
  } else if (typeof v === 'object' && isPlainObject(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    w.u8(Tag.Object).varint(entries.length);
    for (const [k, x] of entries) {
      w.lbytes(utf8ToBytes(k));
      write(w, x, depth + 1);
    }
  } else throw new VeilError('invalid-argument', 'value is not plain data');
}

function read(r: ByteReader, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new VeilError('malformed', 'value nested too deeply');
  const tag = r.u8();
  switch (tag) {
    case Tag.Null:
      return null;
    case Tag.Undefined:
      return undefined;
    case Tag.False:
      return false;
    case Tag.True:
      return true;
    case Tag.Number: {
      const b = r.bytes(8);
      return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0);
    }
    case Tag.String:
      return bytesToUtf8(r.lbytes(MAX_FIELD));
    case Tag.Bytes:
      return r.lbytes(MAX_FIELD).slice();
    case Tag.Array: {
      const n = r.varint();
      if (n > r.remaining) throw new VeilError('truncated', 'array longer than input');
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(read(r, depth + 1));
      return out;
    }
    case Tag.Object: {
      const n = r.varint();
      if (n > r.remaining) throw new VeilError('truncated', 'object longer than input');
      const out: Record<string, unknown> = Object.create(null);
      for (let i = 0; i < n; i++) {
        const key = bytesToUtf8(r.lbytes(1024));
        if (key === '__proto__') throw new VeilError('malformed', 'forbidden key');
        out[key] = read(r, depth + 1);
      }
      return { ...out };
    }
    default:
      throw new VeilError('malformed', 'unknown value tag');
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
