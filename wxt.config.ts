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
    // storage: storage.session holds the unlocked data key and the in-page frames' tokens.
    // alarms: the hourly check of the directory's log for our own handle (no warning shown).
    // scripting: the content script is registered per site the user enabled
    // (background/site-scripts.ts); no site gets it otherwise. tabs.sendMessage to our own
    // content script needs no permission ("tabs" would expose every tab's URL and title).
    permissions: ['storage', 'alarms', 'scripting'],
    // Registering a content script for a site needs its host permission. Held for all sites
    // rather than requested per site (optional_host_permissions + permissions.request): the
    // browser's permission prompt cannot be answered by the browser tests, and a release build
    // must not carry a way around it. What a site gets is decided by the registrations alone
    // (README, "Sites").
    host_permissions: ['<all_urls>'],
    // Only the two frame pages may be embedded by web pages, nothing else of the package.
    // Chrome serves them under a per-session dynamic id, so a page cannot probe for Veil by a
    // fixed URL; Firefox already uses a random per-install UUID and has no use_dynamic_url.
    web_accessible_resources: [
      {
        resources: ['reader.html', 'composer.html'],
        matches: ['<all_urls>'],
        ...(browser === 'firefox' ? {} : { use_dynamic_url: true }),
      },
    ],
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
