// The content script: runs in every page but stays dormant unless the background says Veil is
// on for it (content/main.ts). Unprivileged: it sees ciphertext, DOM positions and tokens only.
//
// Built as an unlisted script and listed in the manifest by wxt.config.ts, not through WXT's
// defineContentScript: WXT's content-script context announces itself to the page on start
// (a window.postMessage and a document event, both named with the extension's id), which would
// let any page tell that Veil is installed.
import { defineUnlistedScript } from 'wxt/utils/define-unlisted-script';
import { adapterFor } from '../../site-adapters/registry';
import { startVeil } from '../content/main';

export default defineUnlistedScript(() => startVeil(adapterFor));
