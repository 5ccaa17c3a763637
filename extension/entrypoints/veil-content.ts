// The content script: registered only for the sites the user turned Veil on for
// (background/site-scripts.ts), and there still asks the background before it watches the page
// (content/main.ts). Unprivileged: it sees ciphertext, DOM positions and tokens only.
//
// Built as an unlisted script and registered at run time, not through WXT's
// defineContentScript: WXT's content-script context announces itself to the page on start
// (a window.postMessage and a document event, both named with the extension's id), which would
// let any page tell that Veil is installed.
import { defineUnlistedScript } from 'wxt/utils/define-unlisted-script';
import { adapterFor, siteAdapterFor } from '../../site-adapters/registry';
import { startVeil } from '../content/main';

export default defineUnlistedScript(() => startVeil({ adapterFor, siteAdapterFor }));
