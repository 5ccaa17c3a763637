// Where the protocol keeps its state. The caller supplies an implementation (IndexedDB in the
// extension, memory in tests). Values are plain structured-clone-able objects with Uint8Arrays.

/** Every table of the protocol's state, in one list (backups and schemas use it too). */
export const STORE_TABLES = [
  'identity', // the local identity (one record, key 'self')
  'signedPrekeys',
  'oneTimePrekeys',
  'kemPrekeys', // ML-KEM-768 prekeys (one-time and last-resort), by id
  'sessions', // Double Ratchet sessions
  'senderKeys', // group sender-key states (own and others')
  'contacts', // pinned identity keys and verification state
  'meta',
] as const;

export type StoreTable = (typeof STORE_TABLES)[number];

export type StoreOp =
  | { op: 'put'; table: StoreTable; key: string; value: unknown }
  | { op: 'delete'; table: StoreTable; key: string };

export interface ProtocolStore {
  get<T>(table: StoreTable, key: string): Promise<T | undefined>;
  keys(table: StoreTable): Promise<string[]>;
  /** Applies every op or none (one IndexedDB transaction): no half-written session. */
  commit(ops: StoreOp[]): Promise<void>;
}

/** In-memory store for tests and benchmarks. Values are cloned so callers cannot alias state. */
export class MemoryStore implements ProtocolStore {
  private readonly tables = new Map<StoreTable, Map<string, unknown>>();

  async get<T>(table: StoreTable, key: string): Promise<T | undefined> {
    const v = this.tables.get(table)?.get(key);
    return v === undefined ? undefined : (structuredCloneValue(v) as T);
  }

  async keys(table: StoreTable): Promise<string[]> {
    return [...(this.tables.get(table)?.keys() ?? [])];
  }

  async commit(ops: StoreOp[]): Promise<void> {
    const cloned = ops.map((o) =>
      o.op === 'put' ? { ...o, value: structuredCloneValue(o.value) } : o,
    );
    for (const o of cloned) {
      let t = this.tables.get(o.table);
      if (!t) this.tables.set(o.table, (t = new Map()));
      if (o.op === 'put') t.set(o.key, o.value);
      else t.delete(o.key);
    }
  }
}

// Deep copy of plain data (objects, arrays, Uint8Arrays, primitives) without host structuredClone.
// Written for speed as well (every decrypt reads and writes a session record): primitives are
// copied without a call, lists of numbers in one slice, own keys walked without a key array.
function structuredCloneValue(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return v.slice();
  if (Array.isArray(v)) {
    if (isNumberList(v)) return v.slice();
    const n = v.length;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const x: unknown = v[i];
      out[i] = typeof x === 'object' && x !== null ? structuredCloneValue(x) : x;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  const src = v as Record<string, unknown>;
  for (const k in src) {
    if (!Object.hasOwn(src, k)) continue;
    const x = src[k];
    out[k] = typeof x === 'object' && x !== null ? structuredCloneValue(x) : x;
  }
  return out;
}

function isNumberList(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return false;
  return true;
}
