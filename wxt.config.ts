import { defineConfig } from 'wxt';

// WXT builds the Chrome MV3 and Firefox packages from extension/.
export default defineConfig({
  srcDir: 'extension',
  outDir: '.output',
  // Static files (the _locales messages) sit beside the source, not at the repo root.
  publicDir: 'extension/public',
  imports: false,
  webExt: { disabled: true },
  vite: () => ({
    // Vite 8 transforms with Oxc; Preact's automatic JSX runtime.
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: { target: 'es2022' },
  }),
  manifest: ({ browser }) => ({
    name: 'Veil',
    description: 'End-to-end encryption for the chat sites you already use.',
    default_locale: 'en',
    permissions: ['storage'],
    ...(browser === 'firefox'
      ? {
          browser_specific_settings: {
            gecko: {
              id: 'veil@veil.invalid',
              strict_min_version: '140.0',
              data_collection_permissions: { required: ['none'] },
            },
            gecko_android: { strict_min_version: '142.0' },
          },
        }
      : {}),
  }),
});
