// The tiny lookup page at `/`: a form (GET /?handle=…) and, server-rendered, the identity's key
// fingerprint, safety-number half and a QR code as inline SVG. No script, no external resources;
// the CSP allows only this page's own inline style (by hash) and its form.
import { createHash } from 'node:crypto';
import qrcode from 'qrcode-generator';

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}form{display:flex;gap:.5rem}input{flex:1;font:inherit;padding:.4rem}
button{font:inherit;padding:.4rem .9rem}code,.digits{font-family:ui-monospace,monospace}
.digits{font-size:1.2rem;letter-spacing:.05em;word-spacing:.4em}.fp{word-break:break-all}
.qr{width:14rem;height:14rem;margin-top:1rem}.error{color:#a40000}dt{font-weight:600;margin-top:1rem}
footer{margin-top:2rem;border-top:1px solid #ccc;padding-top:.5rem;font-size:.9rem}
`;

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export interface PageIdentity {
  handle: string;
  identityKey: string;
  fingerprint: string;
  safetyNumberHalf: string;
  logIndex: number;
}

export interface PageInput {
  query?: string;
  identity?: PageIdentity;
  error?: string;
  /** The log key (transparency.ts `directoryKeyFingerprint`), to compare with Veil's Settings. */
  directoryKey?: { origin: string; fingerprint: string };
}

/** What the QR code carries: the handle and its identity key, for a scanner to compare. */
export function qrPayload(identity: Pick<PageIdentity, 'handle' | 'identityKey'>): string {
  return `veil:identity:v1:${identity.handle}:${identity.identityKey}`;
}

function qrSvg(text: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  return qr.createSvgTag({ cellSize: 4, margin: 4, scalable: true });
}

export function renderPage(input: PageInput): string {
  const q = escapeHtml(input.query ?? '');
  let result = '';
  if (input.error) result = `<p class="error">${escapeHtml(input.error)}</p>`;
  else if (input.identity) {
    const id = input.identity;
    const digits = id.safetyNumberHalf.replace(/(\d{5})(?=\d)/g, '$1 ');
    result = `
<dl>
  <dt>Handle</dt><dd><code>${escapeHtml(id.handle)}</code></dd>
  <dt>Safety-number half</dt><dd class="digits">${escapeHtml(digits)}</dd>
  <dt>Key fingerprint (SHA-256)</dt><dd class="fp"><code>${escapeHtml(id.fingerprint)}</code></dd>
  <dt>Transparency log entry</dt><dd>#${id.logIndex}</dd>
</dl>
<div class="qr" role="img" aria-label="QR code of the handle and identity key">${qrSvg(qrPayload(id))}</div>
<p>Compare these digits with the safety number Veil shows for this contact: one half of it is this number.</p>`;
  }
  const key = input.directoryKey;
  const footer = key
    ? `<footer><p>This directory's log key (<code>${escapeHtml(key.origin)}</code>): <code data-veil="directory-key">${escapeHtml(key.fingerprint)}</code></p>
<p>Veil shows the key it pinned for this directory under Settings → Key directory. If the two differ, you are not talking to the same directory.</p></footer>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Veil key directory</title><style>${STYLE}</style></head>
<body><h1>Veil key directory</h1>
<form method="get" action="/"><input name="handle" value="${q}" placeholder="handle" aria-label="handle" maxlength="64" autocomplete="off" required><button type="submit">Look up</button></form>
${result}
${footer}
</body></html>`;
}
