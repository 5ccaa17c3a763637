// The link relay (docs/devices.md, "Linking"): a new browser (B) leaves its request under the
// link id, the linked browser (A) reads it, checks its MAC and leaves a sealed answer, B takes
// the answer and the entry is gone. The directory can read neither message's secret part nor
// forge one (it never sees the code's secret); knowing the 128-bit id is the only
// authorization. Entries live at most LINK_TTL_MS after the request, and are never served after.
//
//   PUT /v1/links/{id}         { deviceKey, replyKey, mac }  201 | 409 link-exists
//   GET /v1/links/{id}         { deviceKey, replyKey, mac, answered }  200 | 404
//   PUT /v1/links/{id}/answer  { sealed }  201 | 404 | 409 link-answered
//   GET /v1/links/{id}/answer  { sealed }  200 (and the entry is deleted) | 404
import type { Context, Hono } from 'hono';
import { base64UrlDecode, base64UrlEncode } from '../extension/protocol/directory-request';
import { MAX_LINK_ANSWER_LENGTH } from '../extension/protocol/link-code';
import { RequestError, badRequest } from './errors';
import type { LinkStore } from './link-store';

/** How long an entry lives after its request (the code's own expiry is checked by B). */
export const LINK_TTL_MS = 10 * 60_000;
/** Largest JSON body of a link route (an 8 KiB answer is 10,923 base64url characters). */
export const MAX_LINK_BODY_BYTES = 12 * 1024;

const ID_PATTERN = /^[0-9a-f]{32}$/;

export interface LinkRouteDeps {
  links: LinkStore;
  /** Milliseconds since the epoch. */
  clock: () => number;
  /** Spends one of the requester's link requests (throws 429 when none is left). */
  limit: (c: Context) => void;
  readBody: (c: Context, max: number) => Promise<Uint8Array>;
  requireJson: (c: Context) => void;
  parseJson: (body: Uint8Array) => unknown;
}

const invalid = (field: string, what: string) => badRequest('invalid-field', `${field}: ${what}`);

function object(value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('body', 'must be an object');
  for (const k of Object.keys(value))
    if (!keys.includes(k)) throw badRequest('unknown-field', `body.${k}: unknown field`);
  const record = value as Record<string, unknown>;
  for (const k of keys) if (!Object.hasOwn(record, k)) throw invalid(`body.${k}`, 'is required');
  return record;
}

function bytes(record: Record<string, unknown>, key: string, min: number, max: number) {
  const value = record[key];
  const field = `body.${key}`;
  if (typeof value !== 'string' || value.length > Math.ceil((max * 4) / 3))
    throw invalid(field, min === max ? `must be ${max} bytes of base64url` : 'too long');
  let out: Uint8Array;
  try {
    out = base64UrlDecode(value);
  } catch {
    throw invalid(field, 'must be unpadded base64url');
  }
  if (out.length < min || out.length > max)
    throw invalid(
      field,
      min === max ? `must decode to ${max} bytes` : `must decode to ${min}–${max} bytes`,
    );
  return out;
}

export function registerLinkRoutes(app: Hono, deps: LinkRouteDeps): void {
  const { links, clock } = deps;
  const cutoff = () => clock() - LINK_TTL_MS;

  function linkId(c: Context): string {
    const id = c.req.param('id') ?? '';
    if (!ID_PATTERN.test(id))
      throw badRequest('bad-link-id', 'link id must be 32 lowercase hex characters');
    return id;
  }

  async function jsonBody(c: Context): Promise<unknown> {
    deps.requireJson(c);
    return deps.parseJson(await deps.readBody(c, MAX_LINK_BODY_BYTES));
  }

  const notFound = (what: string) => new RequestError(404, 'not-found', `${what} not found`);

  app.put('/v1/links/:id', async (c) => {
    deps.limit(c);
    const id = linkId(c);
    const body = object(await jsonBody(c), ['deviceKey', 'replyKey', 'mac']);
    const request = {
      deviceKey: bytes(body, 'deviceKey', 32, 32),
      replyKey: bytes(body, 'replyKey', 32, 32),
      mac: bytes(body, 'mac', 32, 32),
    };
    const result = await links.putRequest(id, request, clock(), cutoff());
    if (result === 'exists')
      throw new RequestError(409, 'link-exists', 'this link already has a request');
    return c.json({ id, expiresAt: Math.floor((clock() + LINK_TTL_MS) / 1000) }, 201);
  });

  app.get('/v1/links/:id', async (c) => {
    deps.limit(c);
    const id = linkId(c);
    const record = await links.getRequest(id, cutoff());
    if (!record) throw notFound('link request');
    return c.json({
      deviceKey: base64UrlEncode(record.deviceKey),
      replyKey: base64UrlEncode(record.replyKey),
      mac: base64UrlEncode(record.mac),
      answered: record.answered,
    });
  });

  app.put('/v1/links/:id/answer', async (c) => {
    deps.limit(c);
    const id = linkId(c);
    const body = object(await jsonBody(c), ['sealed']);
    const sealed = bytes(body, 'sealed', 1, MAX_LINK_ANSWER_LENGTH);
    const result = await links.putAnswer(id, sealed, cutoff());
    if (result === 'not-found') throw notFound('link request');
    if (result === 'answered')
      throw new RequestError(409, 'link-answered', 'this link was answered already');
    return c.json({ id }, 201);
  });

  app.get('/v1/links/:id/answer', async (c) => {
    deps.limit(c);
    const id = linkId(c);
    const sealed = await links.takeAnswer(id, cutoff());
    if (!sealed) throw notFound('link answer');
    return c.json({ sealed: base64UrlEncode(sealed) });
  });
}
