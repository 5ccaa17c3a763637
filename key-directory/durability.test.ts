// Durability: the real server process on a temp SQLite file is SIGKILLed in the middle of a burst
// of publishes, then restarted. Every identity must be whole (all its prekeys) or absent, every
// acknowledged one present, and the log must verify: all inclusion proofs, and consistency with
// a head seen before the crash.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  base64UrlDecode,
  decodeConsistencyProof,
  decodeIdentityLookup,
  decodeTreeHead,
} from '../extension/protocol/directory-request';
import {
  type DirectoryTrust,
  encodeLogEntry,
  leafHash,
  verifyHeadUpdate,
  verifyInclusion,
  verifyKeyLookup,
} from '../extension/protocol/transparency';
import { type KeyDirectoryProcess, startKeyDirectory } from '../tests/server-process';
import { makeIdentity, publishBody, signedRequest, type TestIdentity } from './client-signing';
import { buildProof, inclusionPlan } from './log';
import type { StoredLogEntry } from './store';
import { SqliteStore } from './store-sqlite';

const ORIGIN = 'veil.test/durability';
const PREKEYS = 20;
const servers = new Set<KeyDirectoryProcess>();

async function startServer(file: string): Promise<KeyDirectoryProcess> {
  const server = await startKeyDirectory({
    env: { VEIL_DB: file, VEIL_RATE_LIMITS: 'off', VEIL_LOG_ORIGIN: ORIGIN, DATABASE_URL: '' },
    timeout: 20_000,
  });
  servers.add(server);
  return server;
}

async function publish(url: string, id: TestIdentity): Promise<number> {
  const req = signedRequest('PUT', id.handle, JSON.stringify(publishBody(id, PREKEYS)), id);
  const res = await fetch(url + req.path, { method: 'PUT', headers: req.headers, body: req.body });
  await res.arrayBuffer();
  return res.status;
}

afterAll(async () => {
  for (const server of servers) await server.stop('SIGKILL');
});

describe('durability', () => {
  it('survives SIGKILL mid-burst: no half-written identity, the log verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'veil-durability-'));
    const file = join(dir, 'directory.sqlite');
    try {
      let server = await startServer(file);
      let url = server.url;
      const headJson = await (await fetch(`${url}/v1/log/head`)).json();
      const trust: DirectoryTrust = {
        origin: headJson.origin,
        publicKey: base64UrlDecode(headJson.publicKey),
        vrfKey: base64UrlDecode(headJson.vrfKey),
      };
      expect(trust.origin).toBe(ORIGIN);

      const early = Array.from({ length: 3 }, (_, i) => makeIdentity(`early${i}`));
      for (const id of early) expect(await publish(url, id)).toBe(201);
      const before = decodeTreeHead(await (await fetch(`${url}/v1/log/head`)).json());

      // The burst: 6 clients in parallel, 80 identities; SIGKILL after 12 acknowledgements.
      const burst = Array.from({ length: 80 }, (_, i) => makeIdentity(`burst${i}`));
      const acknowledged: TestIdentity[] = [];
      let next = 0;
      let killed: Promise<void> | undefined;
      const worker = async () => {
        while (next < burst.length && !killed) {
          const id = burst[next++]!;
          const status = await publish(url, id).catch(() => 0);
          if (status === 201) acknowledged.push(id);
          if (acknowledged.length >= 12 && !killed) killed = server.stop('SIGKILL');
        }
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      await killed;
      expect(server.child.signalCode).toBe('SIGKILL');
      expect(acknowledged.length).toBeGreaterThanOrEqual(12);
      expect(acknowledged.length).toBeLessThan(burst.length);

      server = await startServer(file);
      url = server.url;
      expect((await (await fetch(`${url}/v1/health`)).json()).status).toBe('ok');
      const head = decodeTreeHead(await (await fetch(`${url}/v1/log/head`)).json());
      const proof = decodeConsistencyProof(
        await (
          await fetch(`${url}/v1/log/consistency?from=${before.treeSize}&to=${head.treeSize}`)
        ).json(),
      );
      verifyHeadUpdate(before, head, proof, trust);
      for (const id of [...early, ...acknowledged]) {
        const res = await fetch(`${url}/v1/identities/${id.handle}`);
        expect(res.status, id.handle).toBe(200);
        const found = decodeIdentityLookup(await res.json(), id.handle);
        expect(found.identityKey).toEqual(id.publicKey);
        verifyKeyLookup(found.lookup, trust);
      }
      // The server still takes writes after the crash.
      expect(await publish(url, makeIdentity('after-crash'))).toBe(201);
      await server.stop();

      // Straight from the file: each identity is whole, each entry is proven, nothing dangles.
      const store = new SqliteStore({ file });
      try {
        const finalHead = (await store.latestHead())!;
        const entries = await store.getLogEntries(0, finalHead.treeSize + 1);
        expect(entries.length).toBe(finalHead.treeSize);
        // Entries carry labels: map every handle that may have been written to its label.
        const byLabel = new Map<string, string>();
        for (const id of [...early, ...burst, makeIdentity('after-crash')])
          byLabel.set(bytesToHex((await store.handleLabel(id.handle)).label), id.handle);
        const handles = new Set(
          entries.map((e) => byLabel.get(bytesToHex((e as StoredLogEntry).label!))),
        );
        expect(handles.size).toBe(entries.length); // one publish each, no duplicates
        for (const e of entries) {
          const handle = byLabel.get(bytesToHex((e as StoredLogEntry).label!))!;
          expect(handle).toBeDefined();
          const identity = await store.getIdentity(handle);
          expect(identity, handle).toBeDefined();
          expect(identity!.logIndex).toBe(e.index);
          expect(await store.countOneTimePrekeys(handle), handle).toBe(PREKEYS);
        }
        for (const e of entries) {
          const { proof: p } = await buildProof(store, inclusionPlan(e.index, finalHead.treeSize));
          verifyInclusion(
            leafHash(encodeLogEntry(e as StoredLogEntry & { label: Uint8Array })),
            e.index,
            finalHead.treeSize,
            p,
            finalHead.rootHash,
          );
        }
        const stats = await store.stats();
        expect(stats.identities).toBe(entries.length);
        expect(stats.oneTimePrekeys).toBe(entries.length * PREKEYS);
        for (const id of burst) {
          const identity = await store.getIdentity(id.handle);
          if (identity) expect(await store.countOneTimePrekeys(id.handle)).toBe(PREKEYS);
        }
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
