import { defineConfig } from 'vitest/config';
import { WxtVitest } from 'wxt/testing';

// Two projects: fast Node unit tests, and browser/real-server tests that run one file at a time.
export default defineConfig({
  // Vite 8 transforms with Oxc (its `esbuild` option is ignored once Vitest sets `oxc`).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    projects: [
      {
        extends: true,
        // WXT's fake `browser` (wxt/browser → fakeBrowser) for unit tests of extension code.
        plugins: [WxtVitest()],
        test: {
          name: 'unit',
          include: [
            'extension/**/*.test.{ts,tsx}',
            'key-directory/**/*.test.{ts,tsx}',
            'site-adapters/**/*.test.{ts,tsx}',
            'tests/unit/**/*.test.{ts,tsx}',
          ],
          environment: 'node',
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.{ts,tsx}'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['tests/e2e/global-setup.ts'],
        },
      },
    ],
  },
});
