// The node:http fast path for lookups answers exactly as the Hono route does (status, body,
// headers, limits, metrics); anything unusual falls through to Hono. Binds 127.0.0.1 only.
import { type Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory } from './app';
import { makeIdentity, publishBody, signedRequest } from './client-signing';
import { createNodeListener } from './node-listener';
import { type OpenedStore, TestClock, openTestSqlite, testSigner } from './testing';

describe('node:http listener', () => {
  let opened: OpenedStore;
  let server: Server;
  let base: string;
  const clock = new TestClock(Date.now());

  beforeAll(async () => {
    opened = await openTestSqlite();
    const directory = createDirectory({
      store: opened.store,
      clock: clock.fn,
      signer: testSigner(),
      log: () => {},
      limits: { rates: { notFoundPerIp: { burst: 3, perMinute: 1 } } },
    });
    server = createServer(createNodeListener(directory));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const alice = makeIdentity('alice');
    const req = signedRequest('PUT', 'alice', JSON.stringify(publishBody(alice)), alice);
    const res = await fetch(base + req.path, {
      method: 'PUT',
      headers: req.headers,
      body: req.body,
    });
    expect(res.status).toBe(201);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await opened.cleanup();
  });

  const headersOf = (res: Response) =>
    Object.fromEntries(
      [
        'content-type',
        'content-security-policy',
        'x-content-type-options',
        'cache-control',
        'referrer-policy',
      ].map((h) => [h, res.headers.get(h)]),
    );

  it('answers a lookup like the Hono route does, and serves the cached answer again', async () => {
    const fast = await fetch(`${base}/v1/identities/alice`);
    const viaHono = await fetch(`${base}/v1/identities/alic%65`); // not canonical: goes through Hono
    expect(fast.status).toBe(200);
    expect(viaHono.status).toBe(200);
    expect(headersOf(fast)).toEqual(headersOf(viaHono));
    const body = await fast.text();
    expect(body).toBe(await viaHono.text());
    expect(await (await fetch(`${base}/v1/identities/alice`)).text()).toBe(body);
    const bob = makeIdentity('bob');
    const req = signedRequest('PUT', 'bob', JSON.stringify(publishBody(bob)), bob);
    await fetch(base + req.path, { method: 'PUT', headers: req.headers, body: req.body });
    const after = JSON.parse(await (await fetch(`${base}/v1/identities/alice`)).text());
    expect(after.head.treeSize).toBe(2); // a new log size refreshes the cached answer
  });

  it('sends odd spellings through Hono: traversal, encoded bytes, queries', async () => {
    for (const [path, status] of [
      ['/v1/identities/%2e%2e', 404],
      ['/v1/identities/a%00b', 400],
      ['/v1/identities/ALICE', 400],
      ['/v1/identities/alice?x=1', 200],
    ] as const) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
    }
  });
  it('limits unknown-handle lookups on both paths and counts them in the metrics', async () => {
    const a = await fetch(`${base}/v1/identities/nobody`);
    expect(a.status).toBe(404);
    expect(headersOf(a)['content-type']).toMatch(/^application\/json/);
    expect((await a.json()).error.code).toBe('not-found');
    await fetch(`${base}/v1/identities/nob%6fdy`);
    await fetch(`${base}/v1/identities/nobody`);
    const limited = await fetch(`${base}/v1/identities/nobody`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /veil_http_requests_total\{route="\/v1\/identities\/:handle",method="GET",status="200"\} [3-9]/,
    );
    expect(metrics).toContain(
      'veil_http_requests_total{route="/v1/identities/:handle",method="GET",status="429"} 1',
    );
  });
});
