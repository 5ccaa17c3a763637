// The link code and the two relayed messages (docs/devices.md, "Linking"): strict parsing with
// typed errors, and that a request or answer made under another code, for another handle, device
// or link, is refused.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from './encoding';
import { isVeilError } from './errors';
import {
  LINK_CODE_PREFIX,
  MAX_LINK_PAYLOAD_LENGTH,
  createLinkCode,
  linkKeys,
  linkReplyKeyPair,
  openLinkAnswer,
  openLinkRequest,
  parseLinkCode,
  sealLinkAnswer,
  sealLinkRequest,
} from './link-code';

const randomBytes = (n: number) => new Uint8Array(nodeRandomBytes(n));
const NOW = 1_800_000_000;
/** 40 characters, as the brief's typical case. */
const URL40 = 'https://directory1.veil-chat.example.org';
const edKey = () => ed25519.getPublicKey(ed25519.utils.randomSecretKey());

function code(overrides: Partial<Parameters<typeof createLinkCode>[0]> = {}) {
  return createLinkCode({
    handle: 'alice',
    accountKey: edKey(),
    directoryUrl: URL40,
    expiresAt: NOW + 600,
    randomBytes,
    ...overrides,
  });
}

function expectCode(fn: () => unknown, code: string, message?: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(isVeilError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    if (message) expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected VeilError ${code}`);
}

const body = (text: string) => fromBase64Url(text.slice(LINK_CODE_PREFIX.length));
const text = (bytes: Uint8Array) => LINK_CODE_PREFIX + toBase64Url(bytes);

describe('link code', () => {
  it('round-trips every field, whitespace around it tolerated', () => {
    const accountKey = edKey();
    const made = code({ accountKey, handle: 'bob.smith-2' });
    const parsed = parseLinkCode(`\n  ${made.code}\t \n`, NOW);
    expect(parsed).toEqual({
      handle: 'bob.smith-2',
      accountKey,
      secret: made.secret,
      expiresAt: NOW + 600,
      directoryUrl: URL40,
    });
    expect(made.secret.length).toBe(16);
  });

  it('is at most 200 characters for a typical handle and a 40-character URL', () => {
    expect(URL40.length).toBe(40);
    const { code: c } = code();
    console.log(`link code length: ${c.length} characters (handle 'alice', 40-character URL)`);
    expect(c.length).toBeLessThanOrEqual(200);
    // The longest handle (64) with the same URL still fits a small QR code.
    const long = code({ handle: 'a'.repeat(64) }).code;
    console.log(`link code length, 64-character handle: ${long.length} characters`);
    expect(long.length).toBeLessThanOrEqual(240);
  });

  it('refuses every truncation and every extension', () => {
    const bytes = body(code().code);
    for (let n = 0; n < bytes.length; n++)
      expectCode(() => parseLinkCode(text(bytes.subarray(0, n)), NOW), 'malformed');
    expectCode(() => parseLinkCode(text(Uint8Array.of(...bytes, 0)), NOW), 'malformed');
  });

  it('refuses or changes meaning on every changed byte, never parsing to the same code', () => {
    const made = code();
    const bytes = body(made.code);
    const original = parseLinkCode(made.code, NOW);
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i]! ^= 0x80;
      let parsed;
      try {
        parsed = parseLinkCode(text(changed), NOW);
      } catch (e) {
        expect(isVeilError(e), String(e)).toBe(true);
        expect(['malformed', 'unknown-version', 'too-old']).toContain((e as { code: string }).code);
        continue;
      }
      // Key, secret and expiry bytes have no redundancy: a change shows in what it parses to
      // (and then the MAC and box keys differ, so nothing relayed under it opens).
      expect(parsed).not.toEqual(original);
    }
  });

  it('refuses another version with unknown-version', () => {
    const bytes = body(code().code);
    for (const v of [0, 2, 255]) {
      bytes[0] = v;
      expectCode(() => parseLinkCode(text(bytes), NOW), 'unknown-version');
    }
  });

  it('refuses an expired code with too-old and says it expired', () => {
    const { code: c } = code({ expiresAt: NOW });
    expectCode(() => parseLinkCode(c, NOW), 'too-old', /expired/);
    expectCode(() => parseLinkCode(c, NOW + 3600), 'too-old', /expired/);
    expect(parseLinkCode(c, NOW - 1).expiresAt).toBe(NOW);
  });

  it.each([
    ['no prefix', 'veil-lnk:AQ'],
    ['empty', 'veil-link:'],
    ['padding', 'veil-link:AQ=='],
    ['standard base64', 'veil-link:AQ+/'],
    ['inner space', 'veil-link:AQ AQ'],
    ['impossible length', 'veil-link:AQAAA'],
    ['non-canonical tail', 'veil-link:AR'],
    ['nothing', ''],
  ])('refuses bad base64 or framing (%s) as malformed', (_name, bad) => {
    expectCode(() => parseLinkCode(bad, NOW), 'malformed');
  });

  it('refuses a non-string as invalid-argument', () => {
    expectCode(() => parseLinkCode(42 as unknown as string, NOW), 'invalid-argument');
  });

  it('refuses a code whose handle or URL is invalid', () => {
    const bytes = body(code().code);
    const upper = bytes.slice();
    upper[2] = 'A'.charCodeAt(0); // 'Alice' is no handle
    expectCode(() => parseLinkCode(text(upper), NOW), 'malformed', /handle/);
    const url = bytes.slice();
    url[url.length - 40] = 'f'.charCodeAt(0); // 'fttps://…'
    expectCode(() => parseLinkCode(text(url), NOW), 'malformed', /URL/);
  });

  it('refuses bad input to createLinkCode as invalid-argument', () => {
    expectCode(() => code({ handle: 'Not A Handle' }), 'invalid-argument');
    expectCode(() => code({ accountKey: new Uint8Array(31) }), 'invalid-argument');
    expectCode(() => code({ directoryUrl: 'ftp://x.example' }), 'invalid-argument');
    expectCode(() => code({ directoryUrl: `https://${'x'.repeat(200)}` }), 'invalid-argument');
    expectCode(() => code({ expiresAt: 2 ** 32 }), 'invalid-argument');
    expectCode(() => code({ expiresAt: 1.5 }), 'invalid-argument');
  });

  it('never puts the secret in an error message', () => {
    const made = code({ expiresAt: NOW });
    const hex = Buffer.from(made.secret).toString('hex');
    try {
      parseLinkCode(made.code, NOW);
    } catch (e) {
      expect((e as Error).message).not.toContain(hex);
      expect((e as Error).message).not.toContain(made.code.slice(10));
    }
  });
});

describe('link keys', () => {
  it('derives a 16-byte id (hex for URLs) and two separate keys, the same on both sides', () => {
    const { secret } = code();
    const a = linkKeys(secret);
    const b = linkKeys(secret.slice());
    expect(a).toEqual(b);
    expect(a.id.length).toBe(16);
    expect(a.idHex).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([a.idHex, toHex(a.macKey), toHex(a.boxKey)]).size).toBe(3);
    expect(linkKeys(code().secret).idHex).not.toBe(a.idHex);
    expectCode(() => linkKeys(new Uint8Array(15)), 'invalid-argument');
  });
});

function toHex(b: Uint8Array) {
  return Buffer.from(b).toString('hex');
}

/** One link from both sides. */
function linkSetup(handle = 'alice') {
  const { secret } = code({ handle });
  const keys = linkKeys(secret);
  const deviceKey = edKey();
  const reply = linkReplyKeyPair(randomBytes);
  const request = sealLinkRequest(keys, { handle, deviceKey, replyKey: reply.publicKey });
  return { keys, deviceKey, reply, request, handle };
}

describe('link request (B → A)', () => {
  it('opens under the same code and handle', () => {
    const { keys, request, deviceKey, reply } = linkSetup();
    expect(openLinkRequest(keys, 'alice', request)).toEqual({
      deviceKey,
      replyKey: reply.publicKey,
    });
  });

  it('is refused when MACed with another secret', () => {
    const { request } = linkSetup();
    expectCode(() => openLinkRequest(linkKeys(code().secret), 'alice', request), 'bad-mac');
  });

  it('is refused for another handle', () => {
    const { keys, request } = linkSetup();
    expectCode(() => openLinkRequest(keys, 'alicf', request), 'bad-mac');
  });

  it('is refused with another device key or reply key', () => {
    const { keys, request } = linkSetup();
    expectCode(() => openLinkRequest(keys, 'alice', { ...request, deviceKey: edKey() }), 'bad-mac');
    expectCode(
      () =>
        openLinkRequest(keys, 'alice', {
          ...request,
          replyKey: linkReplyKeyPair(randomBytes).publicKey,
        }),
      'bad-mac',
    );
    const mac = request.mac.slice();
    mac[0]! ^= 1;
    expectCode(() => openLinkRequest(keys, 'alice', { ...request, mac }), 'bad-mac');
  });

  it('is malformed with wrong lengths', () => {
    const { keys, request } = linkSetup();
    expectCode(
      () => openLinkRequest(keys, 'alice', { ...request, mac: request.mac.subarray(1) }),
      'malformed',
    );
    expectCode(
      () => openLinkRequest(keys, 'alice', { ...request, deviceKey: new Uint8Array(33) }),
      'malformed',
    );
  });
});

describe('link answer (A → B)', () => {
  const payload = new TextEncoder().encode('{"deviceList":"…","syncKey":"…"}');

  function answered() {
    const setup = linkSetup();
    const opened = openLinkRequest(setup.keys, 'alice', setup.request);
    const sealed = sealLinkAnswer(setup.keys, opened, payload, randomBytes);
    const own = { deviceKey: setup.deviceKey, replySecretKey: setup.reply.secretKey };
    return { ...setup, sealed, own };
  }

  it('opens for B with the same code', () => {
    const { keys, sealed, own } = answered();
    expect(openLinkAnswer(keys, own, sealed)).toEqual(payload);
    expect(sealed.length).toBe(1 + 32 + 24 + payload.length + 16);
  });

  it('is refused when opened with another secret', () => {
    const { sealed, own } = answered();
    expectCode(() => openLinkAnswer(linkKeys(code().secret), own, sealed), 'bad-mac');
  });

  it('is refused when moved to another link id (same box key)', () => {
    const { keys, sealed, own } = answered();
    const other = { ...keys, id: linkKeys(code().secret).id };
    expectCode(() => openLinkAnswer(other, own, sealed), 'bad-mac');
  });

  it('is refused by someone who knows the code but not the reply key (a code seen over a shoulder)', () => {
    const { keys, sealed, deviceKey } = answered();
    const thief = { deviceKey, replySecretKey: linkReplyKeyPair(randomBytes).secretKey };
    expectCode(() => openLinkAnswer(keys, thief, sealed), 'bad-mac');
  });

  it("is refused by B when it answers another device's request", () => {
    const { keys, sealed, reply } = answered();
    expectCode(
      () => openLinkAnswer(keys, { deviceKey: edKey(), replySecretKey: reply.secretKey }, sealed),
      'bad-mac',
    );
  });

  it('is refused on any changed byte, cut short, or another version', () => {
    const { keys, sealed, own } = answered();
    for (let i = 1; i < sealed.length; i++) {
      const changed = sealed.slice();
      changed[i]! ^= 1;
      expectCode(() => openLinkAnswer(keys, own, changed), 'bad-mac');
    }
    expectCode(() => openLinkAnswer(keys, own, sealed.subarray(0, 72)), 'malformed');
    const v2 = sealed.slice();
    v2[0] = 2;
    expectCode(() => openLinkAnswer(keys, own, v2), 'unknown-version');
  });

  it('refuses a payload too large for the directory, and a low-order reply key', () => {
    const { keys, request } = linkSetup();
    expectCode(
      () => sealLinkAnswer(keys, request, new Uint8Array(MAX_LINK_PAYLOAD_LENGTH + 1), randomBytes),
      'invalid-argument',
    );
    expect(
      sealLinkAnswer(keys, request, new Uint8Array(MAX_LINK_PAYLOAD_LENGTH), randomBytes).length,
    ).toBe(8192);
    expectCode(
      () =>
        sealLinkAnswer(keys, { ...request, replyKey: new Uint8Array(32) }, payload, randomBytes),
      'invalid-key',
    );
  });
});
