// Veil's suite in Node, once per crypto provider (WebCrypto, noble). Prints a JSON array of
// LibraryResult. Run alone: `npx tsx bench/veil-node.ts`.
import {
  createWebCryptoProvider,
  webCryptoSupported,
} from '../extension/crypto/webcrypto-provider';
import { nobleProvider } from '../extension/protocol/crypto/noble';
import type { CryptoProvider } from '../extension/protocol/crypto/provider';
import type { LibraryResult } from './common';
import { importIfPresent, isMain, optionsFromEnv, printResult } from './node-env';
import { runVeilSuite, type VeilApi } from './veil-suite';

export const VEIL_API_FILE = 'extension/protocol/veil.ts';
export const WEBCRYPTO_FILE = 'extension/crypto/webcrypto-provider.ts';

/** BENCH_VEIL_API: a stand-in module exporting Veil, for testing this harness only. */
export async function apiOverride(): Promise<VeilApi | undefined> {
  const file = process.env.BENCH_VEIL_API;
  if (!file) return undefined;
  const m = await importIfPresent<{ Veil: VeilApi['Veil'] }>(file);
  const { MemoryStore } = await import('../extension/protocol/store');
  if (!m?.Veil) throw new Error(`BENCH_VEIL_API=${file} exports no Veil`);
  return { Veil: m.Veil, MemoryStore };
}

export async function runVeilNode(): Promise<LibraryResult[]> {
  const opts = optionsFromEnv();
  const api = await apiOverride();
  const columns: {
    id: string;
    label: string;
    load: () => Promise<CryptoProvider | string>;
  }[] = [
    {
      id: 'veil-node-webcrypto',
      label: 'Veil (Node, WebCrypto)',
      load: async () =>
        (await webCryptoSupported())
          ? createWebCryptoProvider()
          : 'this Node’s WebCrypto lacks X25519/Ed25519 (or failed the known-answer probe)',
    },
    { id: 'veil-node-noble', label: 'Veil (Node, noble)', load: async () => nobleProvider },
  ];
  const out: LibraryResult[] = [];
  for (const c of columns) {
    const r: LibraryResult = {
      id: c.id,
      label: c.label,
      runtime: `Node ${process.version}`,
      versions: { node: process.version },
      notes: [],
    };
    out.push(r);
    const crypto = await c.load();
    if (typeof crypto === 'string') {
      r.skipped = crypto;
      continue;
    }
    try {
      console.error(`[bench] ${c.label} (provider ${crypto.name}) …`);
      const s = await runVeilSuite({ ...opts, api, crypto });
      Object.assign(r, {
        pingPong: s.pingPong,
        decryptHistory: s.decryptHistory,
        groupDecrypt: s.groupDecrypt,
        groupDecryptEach: s.groupDecryptEach,
        size: s.size,
        setup: s.setup,
        runs: s.runs,
      });
      r.notes.push(...s.notes, `provider: ${s.provider}`);
      if (api) r.notes.push(`STAND-IN API from BENCH_VEIL_API, not Veil`);
    } catch (e) {
      r.error = e instanceof Error ? e.message : String(e);
      console.error(e);
    }
  }
  return out;
}

if (isMain(import.meta.url)) printResult(await runVeilNode());
