// The WebCrypto provider in real Chromium, the extension's runtime: its own paths there (key
// pairs through SubtleCrypto.getPublicKey, native HKDF) agree with @noble, and the probe that
// picks it passes. Node's WebCrypto, which the unit suite uses, has no getPublicKey.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchChromium, type ChromiumSession } from './harness';

const ROOT = path.resolve(import.meta.dirname, '../..');

// Runs in the page: returns what the test checks, as hex.
const ENTRY = `
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { hkdfSha256 } from './extension/protocol/kdf';
import { createWebCryptoProvider, webCryptoSupported } from './extension/crypto/webcrypto-provider';

globalThis.checkProvider = async () => {
  const p = createWebCryptoProvider();
  const out = { supported: await webCryptoSupported(), getPublicKey: typeof crypto.subtle.getPublicKey === 'function', pairs: [], hkdf: [] };
  for (let i = 0; i < 20; i++) {
    const a = await p.x25519Generate();
    const b = await p.x25519Generate();
    const e = await p.ed25519Generate();
    const msg = p.randomBytes(i);
    out.pairs.push({
      xPublic: bytesToHex(a.publicKey), xExpected: bytesToHex(x25519.getPublicKey(a.privateKey)),
      dh: bytesToHex(await p.x25519(a.privateKey, b.publicKey)),
      dhExpected: bytesToHex(x25519.getSharedSecret(b.privateKey, a.publicKey)),
      edPublic: bytesToHex(e.publicKey), edExpected: bytesToHex(ed25519.getPublicKey(e.privateKey)),
      signatureVerifies: ed25519.verify(await p.ed25519Sign(e.privateKey, msg), msg, e.publicKey),
    });
    const ikm = p.randomBytes(32), salt = p.randomBytes(32), info = p.randomBytes(i);
    out.hkdf.push([bytesToHex(await p.hkdfSha256(ikm, salt, info, 64)), bytesToHex(hkdfSha256(ikm, salt, info, 64))]);
  }
  return out;
};
`;

interface Check {
  supported: boolean;
  getPublicKey: boolean;
  pairs: {
    xPublic: string;
    xExpected: string;
    dh: string;
    dhExpected: string;
    edPublic: string;
    edExpected: string;
    signatureVerifies: boolean;
  }[];
  hkdf: [string, string][];
}

describe.skipIf(!chromiumPath)('WebCrypto provider in Chromium', () => {
  let session: ChromiumSession | undefined;
  let server: http.Server | undefined;

  beforeAll(async () => {
    const bundled = await build({
      stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'js' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const script = bundled.outputFiles[0]!.text;
    server = http.createServer((req, res) => {
      if (req.url === '/check.js')
        res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
      else
        res
          .writeHead(200, { 'Content-Type': 'text/html' })
          .end('<script src="/check.js"></script>');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    session = await launchChromium();
  });

  afterAll(async () => {
    await session?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('makes key pairs, DH, signatures and HKDF that agree with @noble', async () => {
    const page = await session!.browser.newPage();
    try {
      const { port } = server!.address() as AddressInfo;
      await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
      const check = (await page.evaluate(() =>
        (globalThis as unknown as { checkProvider(): Promise<unknown> }).checkProvider(),
      )) as Check;
      expect(check.supported).toBe(true);
      // The key-pair path that only the browser takes.
      expect(check.getPublicKey).toBe(true);
      expect(check.pairs).toHaveLength(20);
      for (const pair of check.pairs) {
        expect(pair.xPublic).toBe(pair.xExpected);
        expect(pair.dh).toBe(pair.dhExpected);
        expect(pair.edPublic).toBe(pair.edExpected);
        expect(pair.signatureVerifies).toBe(true);
      }
      for (const [native, noble] of check.hkdf) expect(native).toBe(noble);
    } finally {
      await page.close();
    }
  });
});
