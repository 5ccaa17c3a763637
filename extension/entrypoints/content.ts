// The content script: runs in every page but stays dormant unless the background says Veil is
// on for it (content/main.ts). Unprivileged: it sees ciphertext, DOM positions and tokens only.
import { defineContentScript } from 'wxt/utils/define-content-script';
import { adapterFor } from '../../site-adapters/registry';
import { startVeil } from '../content/main';

export default defineContentScript({
  matches: ['<all_urls>'],
  runAt: 'document_idle',
  allFrames: false,
  main: (ctx) => startVeil(ctx, adapterFor),
});
