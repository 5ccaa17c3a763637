// Node-side helpers shared by the bench runners: options from the environment, paths, and the
// "print one JSON document" convention scripts/bench.mjs reads.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchOptions } from './common';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * BENCH_RUNS=n: measured repetitions (median reported; default 3).
 * BENCH_QUICK=1: a smoke run with small counts (figures not comparable to the targets).
 */
export function optionsFromEnv(): BenchOptions {
  const quick = process.env.BENCH_QUICK === '1';
  const runs = Number(process.env.BENCH_RUNS) || (quick ? 1 : undefined);
  return {
    now: () => performance.now(),
    runs,
    ...(quick
      ? { pingPongMessages: 200, historyMessages: 100, groupMessages: 200, warmupMessages: 20 }
      : {}),
  };
}

export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(process.argv[1]).href;
}

/** Imports a repo module that may not exist yet (other engineers' files); undefined if absent. */
export async function importIfPresent<T>(relPath: string): Promise<T | undefined> {
  const file = resolve(ROOT, relPath);
  if (!existsSync(file)) return undefined;
  return (await import(pathToFileURL(file).href)) as T;
}

export function printResult(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
