// The key directory's HTTP app, built from its dependencies (`buildApp({ store, clock })`) so
// tests drive it in-process. Handles untrusted input: every failure is a 4xx JSON error with a
// stable code, 5xx bodies say nothing internal, and nothing logs keys or request bodies.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  NONCE_PATTERN,
  SIGNATURE_HEADERS,
  base64UrlDecode,
  base64UrlEncode,
  canonicalRequest,
  identityPath,
  isValidHandle,
  signedPrekeyMessage,
} from '../extension/protocol/directory-request';
import { bytesEqual } from '../extension/protocol/bytes';
import {
  deviceListMessage,
  deviceListToJson,
  type SignedDeviceList,
} from '../extension/protocol/device-list';
import { kemPrekeyMessage, kemPrekeyToJson } from '../extension/protocol/kem-prekey';
import { directoryKeyFingerprint } from '../extension/protocol/transparency';
import { keyFingerprint, safetyNumberHalf } from './fingerprint';
import { RequestError, badRequest } from './errors';
import { registerLinkRoutes } from './link-routes';
import { buildProof, buildProofs, consistencyPlan, inclusionPlan, rangeCover } from './log';
import { Metrics } from './metrics';
import { PAGE_CSP, type PageIdentity, renderPage } from './page';
import { type Rate, RateLimiter } from './rate-limit';
import {
  type PrekeyFields,
  parseDeviceListBody,
  parseDevicePrekeysBody,
  parsePublishBody,
  parseSyncBody,
} from './schema';
import { type DirectorySigner, checkpointText, createSigner, generateDirectoryKey } from './signer';
import type {
  DirectoryStore,
  IdentityRecord,
  LoggedEntry,
  StoredTreeHead,
  WriteContext,
} from './store';

export interface Rates {
  writesPerIp: Rate;
  writesPerHandle: Rate;
  bundlesPerIp: Rate;
  /**
   * Bundle fetches of one handle by one requester (IP): never per handle alone, or one client
   * could use up a handle's budget and lock everyone else out of starting a session with it.
   */
  bundlesPerRequester: Rate;
  /** Lookups that find nothing (handle enumeration). */
  notFoundPerIp: Rate;
  /**
   * Link relay requests (/v1/links/…) per IP, reads and writes alike. Both browsers of a link
   * often share an IP and each polls (docs/devices.md, "Linking"): 60 a minute lets both poll
   * every 3 seconds.
   */
  linksPerIp: Rate;
}

export interface Limits {
  maxBodyBytes: number;
  maxOneTimePrekeysPerRequest: number;
  maxStoredOneTimePrekeys: number;
  /** One-time KEM prekeys in one publish (the last-resort one is not counted). */
  maxKemPrekeysPerRequest: number;
  /** One-time KEM prekeys stored per handle. */
  maxStoredKemPrekeys: number;
  /** Accepted distance between a request's timestamp and the directory's clock. */
  clockSkewSeconds: number;
  maxLogEntriesPerRequest: number;
  /** Entries per `GET /v1/identities/{handle}/history` answer; more follow with `?after=`. */
  maxHistoryEntriesPerRequest: number;
  /** Decoded bytes of a sync blob (its body may be larger by base64url's third). */
  maxSyncBytes: number;
  /** null turns rate limiting off (benchmarks). */
  rates: Rates | null;
}

export const DEFAULT_LIMITS: Limits = {
  // 50 one-time KEM prekeys, a last-resort one and 200 X25519 ones are ~101 KB of JSON.
  maxBodyBytes: 256 * 1024,
  maxOneTimePrekeysPerRequest: 200,
  maxStoredOneTimePrekeys: 1000,
  maxKemPrekeysPerRequest: 50,
  maxStoredKemPrekeys: 200,
  clockSkewSeconds: 300,
  maxLogEntriesPerRequest: 1000,
  maxHistoryEntriesPerRequest: 256,
  maxSyncBytes: 256 * 1024,
  rates: {
    writesPerIp: { burst: 20, perMinute: 30 },
    writesPerHandle: { burst: 10, perMinute: 10 },
    bundlesPerIp: { burst: 30, perMinute: 60 },
    bundlesPerRequester: { burst: 10, perMinute: 10 },
    notFoundPerIp: { burst: 60, perMinute: 120 },
    linksPerIp: { burst: 60, perMinute: 60 },
  },
};

export type LimitOptions = Partial<Omit<Limits, 'rates'>> & { rates?: Partial<Rates> | null };

export interface AppOptions {
  store: DirectoryStore;
  /** Milliseconds since the epoch. */
  clock: () => number;
  /** The tree-head key; by default loaded from (or generated into) the store. */
  signer?: DirectorySigner;
  /** Checkpoint origin when the signer comes from the store (default `localhost/veil-directory`). */
  origin?: string;
  limits?: LimitOptions;
  /** Who is asking, for per-IP limits (default: the socket's remote address). */
  clientIp?: (c: Context) => string;
  /** Where operational errors go (default console.error). Receives no keys or bodies. */
  log?: (line: string) => void;
}

export const DEFAULT_ORIGIN = 'localhost/veil-directory';

/** Headers on every answer (the lookup page sets its own CSP). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Cache-Control': 'no-store',
  // CORS (added for the extension's background, which calls from a chrome-extension:// or
  // moz-extension:// origin and needs no host permission this way): every answer is public
  // and writes are authenticated by Ed25519 signatures, never by cookies or origin, so any
  // origin may read. Preflights for PUT/DELETE are answered by the cors() middleware below.
  'Access-Control-Allow-Origin': '*',
};

/** A finished JSON answer, for the node:http fast path (node-listener.ts) and the Hono route. */
export interface JsonAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface Directory {
  app: Hono;
  /** `GET /v1/identities/{handle}` for a handle that already matches the handle syntax. */
  lookupIdentity(handle: string, ip: string): Promise<JsonAnswer>;
  /** Records a request answered outside Hono in the metrics. */
  observe(route: string, method: string, status: number, seconds: number): void;
}

/** Lookup answers kept per handle; each is valid only while the log has the same size. */
const LOOKUP_CACHE_ENTRIES = 10_000;

function resolveLimits(options: LimitOptions | undefined): Limits {
  const { rates, ...rest } = options ?? {};
  return {
    ...DEFAULT_LIMITS,
    ...rest,
    rates: rates === null ? null : { ...DEFAULT_LIMITS.rates!, ...rates },
  };
}

function defaultClientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Ed25519 verification with Node's native implementation; false for any malformed input. */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function headJson(head: StoredTreeHead, signer: DirectorySigner) {
  return {
    origin: signer.origin,
    treeSize: head.treeSize,
    rootHash: base64UrlEncode(head.rootHash),
    timestamp: head.timestamp,
    signature: base64UrlEncode(head.signature),
  };
}

/**
 * An entry as the log routes list it: v1 with its handle (logged before handle labels), v2 with
 * its label and never the handle, or a redacted v1 entry of a deleted handle (its leaf hash
 * only; in a handle's history also its sequence, so the history has no gap).
 */
function entryJson(e: LoggedEntry, withRedactedSequence = false) {
  if ('redacted' in e)
    return {
      index: e.index,
      redacted: true as const,
      leafHash: base64UrlEncode(e.leafHash),
      ...(withRedactedSequence ? { sequence: e.sequence } : {}),
    };
  return {
    index: e.index,
    ...(e.label ? { version: 2, label: base64UrlEncode(e.label) } : { handle: e.handle }),
    identityKey: base64UrlEncode(e.identityKey),
    action: e.action,
    sequence: e.sequence,
    timestamp: e.timestamp,
  };
}

export function buildApp(options: AppOptions): Hono {
  return createDirectory(options).app;
}

export function createDirectory(options: AppOptions): Directory {
  const { store, clock } = options;
  const limits = resolveLimits(options.limits);
  const log = options.log ?? ((line: string) => console.error(line));
  const clientIp = options.clientIp ?? defaultClientIp;
  const metrics = new Metrics();
  const rates = limits.rates;
  const limiters = rates && {
    writesPerIp: new RateLimiter(rates.writesPerIp),
    writesPerHandle: new RateLimiter(rates.writesPerHandle),
    bundlesPerIp: new RateLimiter(rates.bundlesPerIp),
    bundlesPerRequester: new RateLimiter(rates.bundlesPerRequester),
    notFoundPerIp: new RateLimiter(rates.notFoundPerIp),
    linksPerIp: new RateLimiter(rates.linksPerIp),
  };

  let ready: Promise<DirectorySigner> | undefined;
  // The VRF key (handle labels) as the head answer shows it, vouched for by the log key.
  let vrfKeyJson: { vrfKey: string; vrfKeySignature: string } | undefined;
  const init = (): Promise<DirectorySigner> =>
    (ready ??= (async () => {
      const signer =
        options.signer ??
        createSigner(
          await store.loadOrCreateDirectoryKey(generateDirectoryKey, clock()),
          options.origin ?? DEFAULT_ORIGIN,
        );
      await store.ensureHead(clock(), signer.signHead);
      const vrfKey = await store.vrfPublicKey();
      vrfKeyJson = {
        vrfKey: base64UrlEncode(vrfKey),
        vrfKeySignature: base64UrlEncode(signer.signVrfKey(vrfKey)),
      };
      return signer;
    })().catch((e: unknown) => {
      ready = undefined;
      throw e;
    }));

  function limit(limiter: RateLimiter | undefined, key: string, what: string): void {
    if (!limiter) return;
    const wait = limiter.take(key, clock());
    if (wait > 0)
      throw new RequestError(429, 'rate-limited', `too many ${what}; retry later`, {
        'Retry-After': String(wait),
      });
  }

  function checkNotFoundBudget(ip: string): void {
    const wait = limiters?.notFoundPerIp.peek(ip, clock()) ?? 0;
    if (wait > 0)
      throw new RequestError(
        429,
        'rate-limited',
        'too many lookups of unknown handles; retry later',
        {
          'Retry-After': String(wait),
        },
      );
  }

  function notFound(ip: string, what: string): RequestError {
    limiters?.notFoundPerIp.take(ip, clock());
    return new RequestError(404, 'not-found', `${what} not found`);
  }

  function handleParam(c: Context): string {
    const handle = c.req.param('handle');
    if (!isValidHandle(handle))
      throw badRequest('bad-handle', 'handle must match ^[a-z0-9][a-z0-9._-]{0,63}$');
    return handle;
  }

  async function readBody(c: Context, max = limits.maxBodyBytes): Promise<Uint8Array> {
    const tooLarge = () =>
      new RequestError(413, 'payload-too-large', `body larger than ${max} bytes`);
    const declared = c.req.header('content-length');
    if (declared !== undefined && (!/^[0-9]{1,15}$/.test(declared) || Number(declared) > max))
      throw tooLarge();
    const stream = c.req.raw.body;
    if (!stream) return new Uint8Array(0);
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks);
  }

  interface Auth {
    timestamp: number;
    nonce: string;
    signature: Uint8Array;
    newKeySignature?: Uint8Array;
  }

  /**
   * The handle's identity if `auth` signs this request (method, path under the handle, body)
   * with its current key: 404 without one, 401 'bad-signature' otherwise.
   */
  async function ownerOf(
    c: Context,
    handle: string,
    auth: Auth,
    method: string,
    under: string,
    body: Uint8Array,
  ) {
    const current = await store.getIdentity(handle);
    if (!current) throw notFound(clientIp(c), 'identity');
    const message = canonicalRequest({
      method,
      path: identityPath(handle) + under,
      timestamp: auth.timestamp,
      nonce: auth.nonce,
      body,
    });
    if (!verifyEd25519(current.identityKey, message, auth.signature))
      throw new RequestError(
        401,
        'bad-signature',
        'request must be signed by the current identity key',
      );
    return current;
  }

  function readAuth(c: Context): Auth {
    const ts = c.req.header(SIGNATURE_HEADERS.timestamp);
    const nonce = c.req.header(SIGNATURE_HEADERS.nonce);
    const sig = c.req.header(SIGNATURE_HEADERS.signature);
    const newSig = c.req.header(SIGNATURE_HEADERS.newKeySignature);
    if (ts === undefined || nonce === undefined || sig === undefined)
      throw new RequestError(
        401,
        'missing-signature',
        `signed request needs ${SIGNATURE_HEADERS.timestamp}, ${SIGNATURE_HEADERS.nonce} and ${SIGNATURE_HEADERS.signature}`,
      );
    if (!DECIMAL.test(ts))
      throw badRequest('bad-timestamp', `${SIGNATURE_HEADERS.timestamp} must be Unix seconds`);
    if (!NONCE_PATTERN.test(nonce))
      throw badRequest(
        'bad-nonce',
        `${SIGNATURE_HEADERS.nonce} must be 16-64 base64url characters`,
      );
    const timestamp = Number(ts);
    if (Math.abs(timestamp - clock() / 1000) > limits.clockSkewSeconds)
      throw new RequestError(
        401,
        'stale-request',
        'request timestamp is outside the accepted window',
      );
    const decodeSig = (value: string, name: string) => {
      try {
        const s = base64UrlDecode(value);
        if (s.length === 64) return s;
      } catch {
        // fall through to the error below
      }
      throw new RequestError(401, 'bad-signature', `${name} must be a base64url Ed25519 signature`);
    };
    return {
      timestamp,
      nonce,
      signature: decodeSig(sig, SIGNATURE_HEADERS.signature),
      newKeySignature:
        newSig === undefined ? undefined : decodeSig(newSig, SIGNATURE_HEADERS.newKeySignature),
    };
  }

  function writeContext(auth: Auth, signer: DirectorySigner): WriteContext {
    return {
      now: clock(),
      nonce: auth.nonce,
      nonceExpiresAt: (auth.timestamp + limits.clockSkewSeconds + 1) * 1000,
      signHead: signer.signHead,
    };
  }

  async function proofFor(index: number): Promise<{ head: StoredTreeHead; proof: Uint8Array[] }> {
    const head = await store.latestHead();
    if (!head || head.treeSize <= index) throw new Error('log head is behind the entry');
    const { proof } = await buildProof(store, inclusionPlan(index, head.treeSize));
    return { head, proof };
  }

  /**
   * The handle's VRF proof, and whether the entry at `index` is a v2 (labelled) one: answers
   * that prove an entry of a handle carry both, so the client checks label = VRF(handle).
   */
  async function labelFor(handle: string, index: number) {
    const [{ proof }, entry] = await Promise.all([
      store.handleLabel(handle),
      store.getLogEntries(index, 1).then((e) => e[0]),
    ]);
    const labelled = entry !== undefined && !('redacted' in entry) && entry.label !== undefined;
    return { vrfProof: base64UrlEncode(proof), labelled };
  }

  async function identityJson(
    identity: IdentityRecord,
    head: StoredTreeHead,
    proof: Uint8Array[],
    signer: DirectorySigner,
  ) {
    const { vrfProof, labelled } = await labelFor(identity.handle, identity.logIndex);
    return {
      handle: identity.handle,
      identityKey: base64UrlEncode(identity.identityKey),
      fingerprint: identity.fingerprint,
      safetyNumberHalf: identity.safetyNumberHalf,
      logIndex: identity.logIndex,
      logEntry: {
        action: identity.logAction,
        sequence: identity.sequence,
        timestamp: identity.logTimestamp,
        ...(labelled ? { version: 2 } : {}),
      },
      vrfProof,
      inclusionProof: proof.map(base64UrlEncode),
      head: headJson(head, signer),
    };
  }

  function errorAnswer(err: unknown, route: string): JsonAnswer {
    if (err instanceof RequestError)
      return {
        status: err.status,
        body: JSON.stringify({
          error: { code: err.code, message: err.message, ...err.details },
        }),
        headers: err.headers,
      };
    // Name and code only: messages of database errors can quote values.
    const name = err instanceof Error ? err.name : 'unknown';
    const code = (err as { code?: unknown } | undefined)?.code;
    log(
      `veil-directory: internal error ${name}${typeof code === 'string' ? ` (${code})` : ''} on ${route}`,
    );
    return {
      status: 500,
      body: JSON.stringify({ error: { code: 'internal', message: 'internal error' } }),
      headers: {},
    };
  }

  // The answer for a handle is a function of the log size alone: the identity row only changes
  // in the transaction that appends its log entry (same-key prekey updates do not show here).
  // So an answer is reused while the size is unchanged, read fresh from the store each time.
  const lookupCache = new Map<string, { treeSize: number; body: string }>();

  async function lookupIdentity(handle: string, ip: string): Promise<JsonAnswer> {
    try {
      const json = { 'Content-Type': 'application/json' };
      checkNotFoundBudget(ip);
      const signer = await init();
      const size = await store.treeSize();
      const hit = lookupCache.get(handle);
      if (hit && hit.treeSize === size) return { status: 200, body: hit.body, headers: json };
      const identity = await store.getIdentity(handle);
      if (!identity) throw notFound(ip, 'identity');
      const { head, proof } = await proofFor(identity.logIndex);
      const body = JSON.stringify(await identityJson(identity, head, proof, signer));
      if (head.treeSize === size) {
        // Nothing was appended while we read: the answer is the one for this size.
        if (lookupCache.size >= LOOKUP_CACHE_ENTRIES)
          lookupCache.delete(lookupCache.keys().next().value!);
        lookupCache.set(handle, { treeSize: size, body });
      }
      return { status: 200, body, headers: json };
    } catch (err) {
      return errorAnswer(err, 'GET /v1/identities/:handle');
    }
  }

  /**
   * The signed prekey and every KEM prekey of `fields` must verify under `key` (`keyName` says
   * which key in the error), each KEM prekey with its last-resort flag, which is signed: the
   * directory can neither swap one nor serve a one-time key as reusable. One bad signature
   * refuses the whole write.
   */
  function checkPrekeySignatures(key: Uint8Array, fields: PrekeyFields, keyName: string): void {
    const spk = fields.signedPrekey;
    if (!verifyEd25519(key, signedPrekeyMessage(spk.id, spk.publicKey), spk.signature))
      throw badRequest(
        'bad-prekey-signature',
        `signedPrekey.signature does not verify under ${keyName}`,
      );
    const kem = fields.kemPrekeys;
    if (!kem) return;
    const all = [
      ...(kem.lastResort ? [['lastResort', kem.lastResort] as const] : []),
      ...kem.oneTime.map((k, i) => [`oneTime[${i}]`, k] as const),
    ];
    for (const [at, k] of all)
      if (!verifyEd25519(key, kemPrekeyMessage(k.id, k.lastResort, k.publicKey), k.signature))
        throw badRequest(
          'bad-kem-prekey-signature',
          `kemPrekeys.${at}.signature does not verify under ${keyName}`,
        );
  }

  /** What /prekeys answers: the identity's (the account device's) prekey counts. */
  async function identityPrekeyCounts(identity: IdentityRecord) {
    const kemCounts = await store.countKemPrekeys(identity.handle);
    return {
      handle: identity.handle,
      oneTimePrekeys: await store.countOneTimePrekeys(identity.handle),
      signedPrekeyId: identity.signedPrekey.id,
      kemOneTimePrekeys: kemCounts.oneTime,
      kemLastResortId: kemCounts.lastResortId,
    };
  }

  function deviceIdParam(c: Context): number {
    const raw = c.req.param('id') ?? '';
    const id = DECIMAL.test(raw) ? Number(raw) : 0;
    if (id < 1 || id > 0xffffffff)
      throw badRequest('bad-device-id', 'the device id must be an integer from 1 to 4294967295');
    return id;
  }

  /**
   * The handle's identity and device `deviceId` of its current list, if `auth` signs this request
   * with that device's listed key: 404 without an identity, 403 'device-not-listed' when the list
   * names no such device, 401 'bad-signature' when another key signed (another device's, say).
   */
  async function listedDeviceSigner(
    c: Context,
    handle: string,
    deviceId: number,
    auth: Auth,
    method: string,
    under: string,
    body: Uint8Array,
  ) {
    const identity = await store.getIdentity(handle);
    if (!identity) throw notFound(clientIp(c), 'identity');
    const device = (await store.getDeviceList(handle))?.list.devices.find((d) => d.id === deviceId);
    if (!device)
      throw new RequestError(
        403,
        'device-not-listed',
        "the handle's device list has no device with this id",
      );
    const message = canonicalRequest({
      method,
      path: identityPath(handle) + under,
      timestamp: auth.timestamp,
      nonce: auth.nonce,
      body,
    });
    if (!verifyEd25519(device.key, message, auth.signature))
      throw new RequestError(
        401,
        'bad-signature',
        'request must be signed by the key the device list names for this device',
      );
    await store.noteDeviceSeen(handle, deviceId, clock());
    return { identity, device };
  }

  /**
   * The key that signed a sync request: the handle's account key or a key of its current device
   * list (404 without an identity, 401 'bad-signature' for any other key).
   */
  async function syncSigner(
    c: Context,
    handle: string,
    auth: Auth,
    method: string,
    body: Uint8Array,
  ): Promise<Uint8Array> {
    const identity = await store.getIdentity(handle);
    if (!identity) throw notFound(clientIp(c), 'identity');
    const list = await store.getDeviceList(handle);
    const message = canonicalRequest({
      method,
      path: `${identityPath(handle)}/sync`,
      timestamp: auth.timestamp,
      nonce: auth.nonce,
      body,
    });
    const keys = [identity.identityKey, ...(list?.list.devices.map((d) => d.key) ?? [])];
    const key = keys.find((k) => verifyEd25519(k, message, auth.signature));
    if (!key)
      throw new RequestError(
        401,
        'bad-signature',
        "request must be signed by the account key or a key of the handle's device list",
      );
    // Last seen: the listed device with this key (the account key alone is device 1).
    const device = list
      ? list.list.devices.find((d) => bytesEqual(d.key, key))?.id
      : bytesEqual(key, identity.identityKey)
        ? 1
        : undefined;
    if (device !== undefined) await store.noteDeviceSeen(handle, device, clock());
    return key;
  }

  const app = new Hono();

  app.use('*', async (c, next) => {
    const start = performance.now();
    await next();
    let route = routePath(c, -1);
    if (route === '*' || route === '/*') route = 'unmatched';
    metrics.observe(route, c.req.method, c.res.status, (performance.now() - start) / 1000);
    const h = c.res.headers;
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      if (!h.has(name)) h.set(name, value);
  });

  // Preflights of the extension's signed writes (see SECURITY_HEADERS on why any origin).
  app.use(
    '/v1/*',
    cors({
      origin: '*',
      allowMethods: ['GET', 'PUT', 'DELETE'],
      allowHeaders: ['Content-Type', ...Object.values(SIGNATURE_HEADERS)],
      exposeHeaders: ['Retry-After'],
      maxAge: 600,
    }),
  );

  app.onError((err, c) => {
    const answer = errorAnswer(err, `${c.req.method} ${routePath(c, -1)}`);
    return c.body(answer.body, answer.status as ContentfulStatusCode, {
      ...answer.headers,
      'Content-Type': 'application/json',
    });
  });

  app.notFound((c) => c.json({ error: { code: 'not-found', message: 'no such route' } }, 404));

  app.get('/v1/health', async (c) => {
    try {
      await init();
      const head = await store.latestHead();
      return c.json({ status: 'ok', store: store.kind, treeSize: head?.treeSize ?? 0 });
    } catch {
      return c.json(
        { error: { code: 'unavailable', message: 'the directory cannot reach its store' } },
        503,
      );
    }
  });

  app.get('/metrics', async (c) => {
    const stats = await store.stats().catch(() => undefined);
    return c.text(metrics.render(stats), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
    });
  });

  // The link relay between an account's browsers (link-routes.ts).
  registerLinkRoutes(app, {
    links: store.links,
    clock,
    limit: (c) => limit(limiters?.linksPerIp, clientIp(c), 'link requests'),
    readBody,
    requireJson: (c) => requireJson(c),
    parseJson: (body) => parseJson(body),
  });

  app.get('/', async (c) => {
    const query = c.req.query('handle');
    const signer = await init();
    // On every page, so a person can compare it with the key Veil pinned (Settings).
    const directoryKey = {
      origin: signer.origin,
      fingerprint: directoryKeyFingerprint(signer.origin, signer.publicKey),
    };
    const html = (body: string, status: 200 | 400 | 404) =>
      c.html(body, status, { 'Content-Security-Policy': PAGE_CSP, 'X-Frame-Options': 'DENY' });
    if (query === undefined || query === '') return html(renderPage({ directoryKey }), 200);
    const handle = query.trim().toLowerCase();
    if (!isValidHandle(handle))
      return html(
        renderPage({
          query,
          directoryKey,
          error: 'A handle is 1–64 characters: a–z, 0–9, and . _ - after the first.',
        }),
        400,
      );
    checkNotFoundBudget(clientIp(c));
    const identity = await store.getIdentity(handle);
    if (!identity) {
      limiters?.notFoundPerIp.take(clientIp(c), clock());
      return html(
        renderPage({ query, directoryKey, error: 'No identity is published under this handle.' }),
        404,
      );
    }
    const page: PageIdentity = {
      handle,
      identityKey: base64UrlEncode(identity.identityKey),
      fingerprint: identity.fingerprint,
      safetyNumberHalf: identity.safetyNumberHalf,
      logIndex: identity.logIndex,
    };
    return html(renderPage({ query, directoryKey, identity: page }), 200);
  });

  function requireJson(c: Context): void {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(type))
      throw new RequestError(415, 'unsupported-media-type', 'body must be application/json');
  }

  function parseJson(body: Uint8Array): unknown {
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      throw badRequest('malformed-json', 'body is not valid UTF-8 JSON');
    }
  }

  app.put('/v1/identities/:handle', async (c) => {
    const handle = handleParam(c);
    limit(limiters?.writesPerIp, clientIp(c), 'writes');
    requireJson(c);
    const body = await readBody(c);
    const auth = readAuth(c);
    const json = parseJson(body);
    const pub = parsePublishBody(json, {
      maxOneTimePrekeys: limits.maxOneTimePrekeysPerRequest,
      maxKemPrekeys: limits.maxKemPrekeysPerRequest,
    });
    if (pub.handle !== handle)
      throw badRequest('handle-mismatch', 'body.handle differs from the handle in the path');
    checkPrekeySignatures(pub.identityKey, pub, 'identityKey');
    const spk = pub.signedPrekey;
    const kem = pub.kemPrekeys;
    const signer = await init();
    const message = canonicalRequest({
      method: 'PUT',
      path: identityPath(handle),
      timestamp: auth.timestamp,
      nonce: auth.nonce,
      body,
    });
    const current = await store.getIdentity(handle);
    const bySigner = (key: Uint8Array, sig: Uint8Array | undefined) =>
      sig !== undefined && verifyEd25519(key, message, sig);
    if (!current) {
      if (!bySigner(pub.identityKey, auth.signature))
        throw new RequestError(
          401,
          'bad-signature',
          'a first publish must be signed by the identity key it publishes',
        );
    } else {
      if (!bySigner(current.identityKey, auth.signature)) {
        if (bySigner(pub.identityKey, auth.signature))
          throw new RequestError(
            409,
            'handle-taken',
            'this handle belongs to another identity key',
          );
        throw new RequestError(
          401,
          'bad-signature',
          'request must be signed by the current identity key',
        );
      }
      if (
        !bytesEqual(current.identityKey, pub.identityKey) &&
        !bySigner(pub.identityKey, auth.newKeySignature)
      )
        throw new RequestError(
          401,
          'bad-signature',
          `a key rotation must also be signed by the new key in ${SIGNATURE_HEADERS.newKeySignature}`,
        );
    }
    // Only once the request is known to be the owner's: unsigned requests must not use up the
    // handle's writes (they would block its owner from rotating or deleting the key).
    limit(limiters?.writesPerHandle, handle, 'writes for this handle');
    const sameKey = current !== undefined && bytesEqual(current.identityKey, pub.identityKey);
    const result = await store.publish(
      {
        handle,
        identityKey: pub.identityKey,
        signedPrekey: spk,
        oneTimePrekeys: pub.oneTimePrekeys,
        fingerprint: sameKey ? current.fingerprint : keyFingerprint(pub.identityKey),
        safetyNumberHalf: sameKey
          ? current.safetyNumberHalf
          : safetyNumberHalf(handle, pub.identityKey),
        expectedCurrentKey: current ? current.identityKey : null,
        maxStoredOneTimePrekeys: limits.maxStoredOneTimePrekeys,
        ...(kem ? { kemPrekeys: kem } : {}),
        maxStoredKemPrekeys: limits.maxStoredKemPrekeys,
      },
      writeContext(auth, signer),
    );
    if (!result.ok) {
      switch (result.reason) {
        case 'replay':
          throw new RequestError(401, 'replayed-request', 'this nonce was already used');
        case 'handle-taken':
          throw new RequestError(
            409,
            'handle-taken',
            'this handle belongs to another identity key',
          );
        case 'conflict':
          throw new RequestError(
            409,
            'conflict',
            'the identity changed meanwhile; fetch it and retry',
          );
        case 'too-many-prekeys':
          throw new RequestError(
            409,
            'too-many-prekeys',
            `at most ${limits.maxStoredOneTimePrekeys} one-time prekeys are stored`,
          );
        case 'too-many-kem-prekeys':
          throw new RequestError(
            409,
            'too-many-kem-prekeys',
            `at most ${limits.maxStoredKemPrekeys} one-time KEM prekeys are stored`,
          );
      }
    }
    return c.json(
      {
        handle,
        status: result.status,
        logIndex: result.logIndex,
        sequence: result.sequence,
        oneTimePrekeys: result.oneTimePrekeys,
      },
      result.status === 'created' ? 201 : 200,
    );
  });

  app.delete('/v1/identities/:handle', async (c) => {
    const handle = handleParam(c);
    limit(limiters?.writesPerIp, clientIp(c), 'writes');
    const body = await readBody(c);
    if (body.length !== 0) throw badRequest('unexpected-body', 'DELETE takes no body');
    const auth = readAuth(c);
    const signer = await init();
    const current = await ownerOf(c, handle, auth, 'DELETE', '', body);
    limit(limiters?.writesPerHandle, handle, 'writes for this handle');
    const result = await store.deleteIdentity(
      { handle, expectedCurrentKey: current.identityKey },
      writeContext(auth, signer),
    );
    if (!result.ok) {
      if (result.reason === 'replay')
        throw new RequestError(401, 'replayed-request', 'this nonce was already used');
      if (result.reason === 'not-found') throw notFound(clientIp(c), 'identity');
      throw new RequestError(409, 'conflict', 'the identity changed meanwhile; fetch it and retry');
    }
    // Erasure: no answer naming the handle stays in memory (the store forgot its label).
    lookupCache.delete(handle);
    return c.json({
      handle,
      status: 'deleted',
      logIndex: result.logIndex,
      sequence: result.sequence,
    });
  });

  // A person's device list (docs/devices.md): which device keys speak for the handle, signed by
  // its identity (account) key. The request is signed like any write, by the current key; the
  // list must be signed by that key too, name this handle and be newer than the stored one. It
  // replaces the stored list and is logged as 'devices' (its digest in the entry's 32 bytes).
  app.put('/v1/identities/:handle/devices', async (c) => {
    const handle = handleParam(c);
    limit(limiters?.writesPerIp, clientIp(c), 'writes');
    requireJson(c);
    const body = await readBody(c);
    const auth = readAuth(c);
    const signer = await init();
    const current = await ownerOf(c, handle, auth, 'PUT', '/devices', body);
    limit(limiters?.writesPerHandle, handle, 'writes for this handle');
    const list = parseDeviceListBody(parseJson(body));
    if (list.handle !== handle)
      throw badRequest('handle-mismatch', 'body.handle differs from the handle in the path');
    if (!verifyEd25519(current.identityKey, deviceListMessage(list), list.signature))
      throw badRequest(
        'bad-device-list-signature',
        'the device list is not signed by the current identity key',
      );
    const result = await store.putDeviceList(
      { handle, list, expectedCurrentKey: current.identityKey },
      writeContext(auth, signer),
    );
    if (!result.ok) {
      switch (result.reason) {
        case 'replay':
          throw new RequestError(401, 'replayed-request', 'this nonce was already used');
        case 'not-found':
          throw notFound(clientIp(c), 'identity');
        case 'conflict':
          throw new RequestError(
            409,
            'conflict',
            'the identity changed meanwhile; fetch it and retry',
          );
        case 'stale':
          throw new RequestError(
            409,
            'stale-device-list',
            'the stored device list has this version or a newer one',
          );
      }
    }
    return c.json({
      handle,
      version: list.version,
      logIndex: result.logIndex,
      sequence: result.sequence,
    });
  });

  // The handle's device list with its 'devices' log entry (sequence, timestamp: the leaf is
  // handle, deviceListDigest(list), sequence, timestamp) proven against the current head.
  /** A logged device list with its entry, VRF proof and inclusion proof (GET …/devices, bundles). */
  async function deviceListProof(
    handle: string,
    record: { list: SignedDeviceList; logIndex: number; sequence: number; logTimestamp: number },
    signer: Awaited<ReturnType<typeof init>>,
  ) {
    const { head, proof } = await proofFor(record.logIndex);
    const { vrfProof, labelled } = await labelFor(handle, record.logIndex);
    return {
      deviceList: deviceListToJson(record.list),
      logIndex: record.logIndex,
      sequence: record.sequence,
      timestamp: record.logTimestamp,
      ...(labelled ? { entryVersion: 2 } : {}),
      vrfProof,
      head: headJson(head, signer),
      proof: proof.map(base64UrlEncode),
    };
  }

  app.get('/v1/identities/:handle/devices', async (c) => {
    const handle = handleParam(c);
    checkNotFoundBudget(clientIp(c));
    const signer = await init();
    const record = await store.getDeviceList(handle);
    if (!record) throw notFound(clientIp(c), 'device list');
    return c.json(await deviceListProof(handle, record, signer));
  });

  // A linked device's own prekeys (docs/devices.md): signed by the key the handle's current
  // device list names for that id, not by the account key; the prekeys must be signed by that
  // device key too. Same body as a publish's prekey fields, same top-up rules.
  app.put('/v1/identities/:handle/devices/:id/keys', async (c) => {
    const handle = handleParam(c);
    const deviceId = deviceIdParam(c);
    limit(limiters?.writesPerIp, clientIp(c), 'writes');
    requireJson(c);
    const body = await readBody(c);
    const auth = readAuth(c);
    const signer = await init();
    const { identity, device } = await listedDeviceSigner(
      c,
      handle,
      deviceId,
      auth,
      'PUT',
      `/devices/${deviceId}/keys`,
      body,
    );
    if (bytesEqual(device.key, identity.identityKey))
      throw badRequest(
        'account-device',
        "this device's key is the account key: its prekeys are published with PUT /v1/identities/{handle}",
      );
    limit(limiters?.writesPerHandle, handle, 'writes for this handle');
    const fields = parseDevicePrekeysBody(parseJson(body), {
      maxOneTimePrekeys: limits.maxOneTimePrekeysPerRequest,
      maxKemPrekeys: limits.maxKemPrekeysPerRequest,
    });
    checkPrekeySignatures(device.key, fields, 'the device key');
    const result = await store.putDevicePrekeys(
      {
        handle,
        deviceId,
        deviceKey: device.key,
        signedPrekey: fields.signedPrekey,
        oneTimePrekeys: fields.oneTimePrekeys,
        ...(fields.kemPrekeys ? { kemPrekeys: fields.kemPrekeys } : {}),
        maxStoredOneTimePrekeys: limits.maxStoredOneTimePrekeys,
        maxStoredKemPrekeys: limits.maxStoredKemPrekeys,
      },
      writeContext(auth, signer),
    );
    if (!result.ok) {
      switch (result.reason) {
        case 'replay':
          throw new RequestError(401, 'replayed-request', 'this nonce was already used');
        case 'not-listed':
          throw new RequestError(
            403,
            'device-not-listed',
            'the device list changed meanwhile and no longer names this device',
          );
        case 'too-many-prekeys':
          throw new RequestError(
            409,
            'too-many-prekeys',
            `at most ${limits.maxStoredOneTimePrekeys} one-time prekeys are stored per device`,
          );
        case 'too-many-kem-prekeys':
          throw new RequestError(
            409,
            'too-many-kem-prekeys',
            `at most ${limits.maxStoredKemPrekeys} one-time KEM prekeys are stored per device`,
          );
      }
    }
    return c.json({
      handle,
      deviceId,
      oneTimePrekeys: result.oneTimePrekeys,
      kemOneTimePrekeys: result.kemOneTimePrekeys,
    });
  });

  // One device's bundle: its key, signed prekey, one one-time and one KEM prekey (consumed), and
  // the device list that names it with that list's log entry and inclusion proof, so a client
  // checks the device key against the logged list signed by the account key. The device whose
  // key is the account key is served from the identity's own prekeys (as /bundle).
  app.get('/v1/identities/:handle/devices/:id/bundle', async (c) => {
    const handle = handleParam(c);
    const deviceId = deviceIdParam(c);
    checkNotFoundBudget(clientIp(c));
    limit(limiters?.bundlesPerIp, clientIp(c), 'bundle fetches');
    limit(
      limiters?.bundlesPerRequester,
      `${clientIp(c)} ${handle}`,
      'bundle fetches for this handle',
    );
    const signer = await init();
    const bundle = await store.takeDeviceBundle(handle, deviceId);
    if (!bundle) throw notFound(clientIp(c), 'device bundle');
    const { deviceList, device, signedPrekey: spk, oneTimePrekey, kemPrekey } = bundle;
    return c.json({
      handle,
      deviceId,
      deviceKey: base64UrlEncode(device.key),
      signedPrekey: {
        id: spk.id,
        publicKey: base64UrlEncode(spk.publicKey),
        signature: base64UrlEncode(spk.signature),
      },
      ...(oneTimePrekey
        ? {
            oneTimePrekey: {
              id: oneTimePrekey.id,
              publicKey: base64UrlEncode(oneTimePrekey.publicKey),
            },
          }
        : {}),
      ...(kemPrekey ? { kemPrekey: kemPrekeyToJson(kemPrekey) } : {}),
      ...(await deviceListProof(handle, deviceList, signer)),
    });
  });

  // A device asks how many of its prekeys are left (as /prekeys), signed by its listed key.
  app.get('/v1/identities/:handle/devices/:id/prekeys', async (c) => {
    const handle = handleParam(c);
    const deviceId = deviceIdParam(c);
    limit(limiters?.bundlesPerIp, clientIp(c), 'prekey status requests');
    const auth = readAuth(c);
    const { identity, device } = await listedDeviceSigner(
      c,
      handle,
      deviceId,
      auth,
      'GET',
      `/devices/${deviceId}/prekeys`,
      new Uint8Array(0),
    );
    if (bytesEqual(device.key, identity.identityKey))
      return c.json({ deviceId, ...(await identityPrekeyCounts(identity)) });
    const counts = await store.countDevicePrekeys(handle, deviceId, device.key);
    if (!counts) throw notFound(clientIp(c), 'device prekeys');
    return c.json({
      deviceId,
      handle,
      oneTimePrekeys: counts.oneTimePrekeys,
      signedPrekeyId: counts.signedPrekeyId,
      kemOneTimePrekeys: counts.kem.oneTime,
      kemLastResortId: counts.kem.lastResortId,
    });
  });

  // The sync blob: state one person's devices share, sealed by them (the directory sees
  // ciphertext only). Written by the account key or any listed device, one version at a time.
  app.put('/v1/identities/:handle/sync', async (c) => {
    const handle = handleParam(c);
    limit(limiters?.writesPerIp, clientIp(c), 'writes');
    requireJson(c);
    // base64url carries 3 bytes in 4 characters; 1 KiB for the rest of the JSON.
    const body = await readBody(c, Math.ceil((limits.maxSyncBytes * 4) / 3) + 1024);
    const auth = readAuth(c);
    const signer = await init();
    const signerKey = await syncSigner(c, handle, auth, 'PUT', body);
    limit(limiters?.writesPerHandle, handle, 'writes for this handle');
    const { version, ciphertext } = parseSyncBody(parseJson(body), limits.maxSyncBytes);
    const result = await store.putSyncBlob(
      { handle, version, ciphertext, signerKey },
      writeContext(auth, signer),
    );
    if (!result.ok) {
      switch (result.reason) {
        case 'replay':
          throw new RequestError(401, 'replayed-request', 'this nonce was already used');
        case 'not-found':
          throw notFound(clientIp(c), 'identity');
        case 'not-listed':
          throw new RequestError(
            403,
            'device-not-listed',
            'the device list changed meanwhile and no longer names the signing key',
          );
        case 'stale':
          throw new RequestError(
            409,
            'stale-sync',
            'version must be the stored version + 1 (the stored version is in error.version)',
            {},
            { version: result.storedVersion },
          );
      }
    }
    return c.json({ handle, version });
  });

  app.get('/v1/identities/:handle/sync', async (c) => {
    const handle = handleParam(c);
    limit(limiters?.bundlesPerIp, clientIp(c), 'sync reads');
    const auth = readAuth(c);
    await syncSigner(c, handle, auth, 'GET', new Uint8Array(0));
    const blob = await store.getSyncBlob(handle);
    if (!blob) throw notFound(clientIp(c), 'sync blob');
    return c.json({
      handle,
      version: blob.version,
      ciphertext: base64UrlEncode(blob.ciphertext),
      updatedAt: Math.floor(blob.updatedAt / 1000),
      // When each device last made a signed request (Unix seconds): for the account's own
      // devices only, as this answer is (the request is signed by one of them).
      seen: (await store.devicesSeen(handle)).map((d) => ({
        id: d.deviceId,
        at: Math.floor(d.at / 1000),
      })),
    });
  });

  app.get('/v1/identities/:handle', async (c) => {
    const answer = await lookupIdentity(handleParam(c), clientIp(c));
    return c.body(answer.body, answer.status as ContentfulStatusCode, {
      ...answer.headers,
      'Content-Type': 'application/json',
    });
  });

  // The owner asks how many one-time prekeys (X25519 and KEM) are left and which last-resort KEM
  // prekey is stored (its background refills and rotates them). Signed by the identity key: others need not learn how many sessions began.
  app.get('/v1/identities/:handle/prekeys', async (c) => {
    const handle = handleParam(c);
    limit(limiters?.bundlesPerIp, clientIp(c), 'prekey status requests');
    const auth = readAuth(c);
    const current = await ownerOf(c, handle, auth, 'GET', '/prekeys', new Uint8Array(0));
    return c.json(await identityPrekeyCounts(current));
  });

  app.get('/v1/identities/:handle/bundle', async (c) => {
    const handle = handleParam(c);
    checkNotFoundBudget(clientIp(c));
    limit(limiters?.bundlesPerIp, clientIp(c), 'bundle fetches');
    limit(
      limiters?.bundlesPerRequester,
      `${clientIp(c)} ${handle}`,
      'bundle fetches for this handle',
    );
    const signer = await init();
    const bundle = await store.takeBundle(handle);
    if (!bundle) throw notFound(clientIp(c), 'identity');
    const { identity, oneTimePrekey, kemPrekey } = bundle;
    const { head, proof } = await proofFor(identity.logIndex);
    const spk = identity.signedPrekey;
    return c.json({
      ...(await identityJson(identity, head, proof, signer)),
      signedPrekey: {
        id: spk.id,
        publicKey: base64UrlEncode(spk.publicKey),
        signature: base64UrlEncode(spk.signature),
      },
      ...(oneTimePrekey
        ? {
            oneTimePrekey: {
              id: oneTimePrekey.id,
              publicKey: base64UrlEncode(oneTimePrekey.publicKey),
            },
          }
        : {}),
      ...(kemPrekey ? { kemPrekey: kemPrekeyToJson(kemPrekey) } : {}),
    });
  });

  // Every entry the log holds for a handle, each with its inclusion proof against one head, so a
  // client can see a handle's whole key history (which keys it had, and when they changed).
  app.get('/v1/identities/:handle/history', async (c) => {
    const handle = handleParam(c);
    onlyQueries(c, ['after']);
    const after = queryInt(c, 'after', false) ?? 0;
    checkNotFoundBudget(clientIp(c));
    const signer = await init();
    // The head first: an entry appended after it waits for the next page (its proof would
    // need a newer head).
    const head = await store.latestHead();
    if (!head) throw new Error('no signed head');
    const cap = limits.maxHistoryEntriesPerRequest;
    const found = await store.logEntriesForHandle(handle, after, cap + 1);
    const entries = found.filter((e) => e.index < head.treeSize).slice(0, cap);
    if (entries.length === 0 && !(await store.latestKeyEntry(handle)))
      throw notFound(clientIp(c), 'log entry');
    const proofs = await buildProofs(
      store,
      entries.map((e) => inclusionPlan(e.index, head.treeSize)),
    );
    return c.json({
      handle,
      head: headJson(head, signer),
      vrfProof: base64UrlEncode((await store.handleLabel(handle)).proof),
      entries: entries.map((e, i) => ({
        index: e.index,
        entry: entryJson(e, true),
        inclusionProof: proofs[i]!.map(base64UrlEncode),
      })),
      more: found.length > entries.length,
    });
  });

  app.get('/v1/log/head', async (c) => {
    const signer = await init();
    const head = await store.latestHead();
    if (!head) throw new Error('no signed head');
    return c.json({
      ...headJson(head, signer),
      publicKey: base64UrlEncode(signer.publicKey),
      ...vrfKeyJson,
      checkpoint: checkpointText(head, signer),
    });
  });

  function queryInt(c: Context, name: string, required: boolean): number | undefined {
    const v = c.req.query(name);
    if (v === undefined) {
      if (required) throw badRequest('invalid-query', `${name} is required`);
      return undefined;
    }
    if (!DECIMAL.test(v))
      throw badRequest('invalid-query', `${name} must be a non-negative integer`);
    return Number(v);
  }

  function onlyQueries(c: Context, allowed: readonly string[]): void {
    for (const k of Object.keys(c.req.queries()))
      if (!allowed.includes(k)) throw badRequest('invalid-query', 'unknown query parameter');
  }

  app.get('/v1/log/inclusion', async (c) => {
    onlyQueries(c, ['handle', 'index', 'treeSize']);
    const signer = await init();
    const head = await store.latestHead();
    if (!head) throw new Error('no signed head');
    const handle = c.req.query('handle');
    let entry: LoggedEntry | undefined;
    let vrfProof: string | undefined;
    let treeSize = head.treeSize;
    if (handle !== undefined) {
      if (c.req.query('index') !== undefined)
        throw badRequest('invalid-query', 'give handle or index, not both');
      if (!isValidHandle(handle))
        throw badRequest('bad-handle', 'handle must match ^[a-z0-9][a-z0-9._-]{0,63}$');
      checkNotFoundBudget(clientIp(c));
      entry = await store.latestKeyEntry(handle);
      if (!entry) throw notFound(clientIp(c), 'log entry');
      vrfProof = base64UrlEncode((await store.handleLabel(handle)).proof);
      treeSize = queryInt(c, 'treeSize', false) ?? head.treeSize;
    } else {
      const index = queryInt(c, 'index', true)!;
      treeSize = queryInt(c, 'treeSize', false) ?? head.treeSize;
      if (treeSize > head.treeSize || index >= treeSize)
        throw badRequest(
          'out-of-range',
          'index must be below treeSize, and treeSize at most the current size',
        );
      entry = (await store.getLogEntries(index, 1))[0];
      if (!entry) throw new Error('log entry missing');
    }
    if (treeSize > head.treeSize || entry.index >= treeSize)
      throw badRequest(
        'out-of-range',
        'treeSize must cover the entry and be at most the current size',
      );
    const { proof } = await buildProof(store, inclusionPlan(entry.index, treeSize));
    return c.json({
      index: entry.index,
      treeSize,
      entry: entryJson(entry),
      ...(vrfProof ? { vrfProof } : {}),
      inclusionProof: proof.map(base64UrlEncode),
      head: headJson(head, signer),
    });
  });

  app.get('/v1/log/consistency', async (c) => {
    onlyQueries(c, ['from', 'to']);
    const signer = await init();
    const head = await store.latestHead();
    if (!head) throw new Error('no signed head');
    const from = queryInt(c, 'from', true)!;
    const to = queryInt(c, 'to', false) ?? head.treeSize;
    if (from > to || to > head.treeSize)
      throw badRequest('out-of-range', 'need from <= to <= the current tree size');
    const { proof } = await buildProof(store, consistencyPlan(from, to));
    return c.json({ from, to, proof: proof.map(base64UrlEncode), head: headJson(head, signer) });
  });

  // The hashes of the complete subtrees covering [0, size): a monitor starts from them at a
  // size it trusts and appends the entries after it (extension/protocol/transparency.ts).
  app.get('/v1/log/compact-range', async (c) => {
    onlyQueries(c, ['size']);
    const signer = await init();
    const head = await store.latestHead();
    if (!head) throw new Error('no signed head');
    const size = queryInt(c, 'size', true)!;
    if (size > head.treeSize)
      throw badRequest('out-of-range', 'size must be at most the current tree size');
    const hashes = await store.getLogNodes(rangeCover(0, size));
    return c.json({ size, hashes: hashes.map(base64UrlEncode), head: headJson(head, signer) });
  });

  app.get('/v1/log/entries', async (c) => {
    onlyQueries(c, ['start', 'count']);
    await init();
    const start = queryInt(c, 'start', true)!;
    const count = queryInt(c, 'count', false) ?? 100;
    if (count < 1 || count > limits.maxLogEntriesPerRequest)
      throw badRequest('out-of-range', `count must be 1 to ${limits.maxLogEntriesPerRequest}`);
    const entries = await store.getLogEntries(start, count);
    return c.json({ entries: entries.map((e) => entryJson(e)) });
  });

  return {
    app,
    lookupIdentity,
    observe: (route, method, status, seconds) => metrics.observe(route, method, status, seconds),
  };
}
