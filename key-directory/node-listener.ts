// The directory on node:http. `GET /v1/identities/{handle}` — the hot path, when the handle is
// already in canonical form — is answered straight from the shared lookup (same validation,
// limits, cache and metrics as the Hono route) without building a Fetch Request/Response;
// everything else, including every unusual spelling of that path, goes through the Hono app.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { isValidHandle } from '../extension/protocol/directory-request';
import { type Directory, SECURITY_HEADERS } from './app';

const PREFIX = '/v1/identities/';

export function createNodeListener(
  directory: Directory,
): (req: IncomingMessage, res: ServerResponse) => void {
  const viaHono = getRequestListener(directory.app.fetch);
  return (req, res) => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url.startsWith(PREFIX)) {
      const handle = url.slice(PREFIX.length);
      if (isValidHandle(handle)) {
        void answerLookup(directory, handle, req, res);
        return;
      }
    }
    void viaHono(req, res);
  };
}

const ROUTE = '/v1/identities/:handle';
const BASE_HEADERS = Object.entries({
  ...SECURITY_HEADERS,
  'Content-Type': 'application/json',
}).flat();

async function answerLookup(
  directory: Directory,
  handle: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const start = performance.now();
  const answer = await directory.lookupIdentity(handle, req.socket.remoteAddress ?? 'unknown');
  const headers = [...BASE_HEADERS, 'Content-Length', String(Buffer.byteLength(answer.body))];
  for (const [name, value] of Object.entries(answer.headers))
    if (name.toLowerCase() !== 'content-type') headers.push(name, value);
  res.writeHead(answer.status, headers);
  res.end(answer.body);
  directory.observe(ROUTE, 'GET', answer.status, (performance.now() - start) / 1000);
}
