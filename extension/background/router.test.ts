// The message router's permission checks (uBlock/Bitwarden style: trust the browser-supplied
// sender, never the message): content scripts are refused every privileged message before any
// handler runs; malformed messages get 'invalid-argument'; errors never leak exception text.
import { fakeBrowser } from 'wxt/testing';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ALLOWED_SENDERS, type MessageType } from '../messaging/messages';
import { VeilError } from '../protocol/errors';
import { BackgroundError } from './errors';
import { createRouter, type HandlerTable } from './router';
import { classifySender } from './sender';
import { contentScriptSender, extensionPageSender, frameSender } from './testing';

const TYPES = Object.keys(ALLOWED_SENDERS) as MessageType[];
/** What an unprivileged content script may send: ping and the in-page messages. */
const CONTENT_SCRIPT_ONLY = [
  'pageEnabled',
  'pageHealth',
  'saveSiteProfile',
  'pageDecrypt',
  'registerComposer',
  'frameReloaded',
  'pageHistory',
] as const;
/** What a reader or composer frame (which any page can embed) may send: nothing else. */
const FRAME_MESSAGES = [
  'readMessage',
  'addSender',
  'composerInfo',
  'composerDraft',
  'composerSight',
  'composerLayout',
  'readerSight',
  'composeSend',
] as const;
/** The options page's and popup's. */
const PRIVILEGED = TYPES.filter(
  (t) => !ALLOWED_SENDERS[t].includes('content-script' as never) && !isFrameMessage(t),
);
function isFrameMessage(t: MessageType): boolean {
  return (FRAME_MESSAGES as readonly string[]).includes(t);
}
const TOKEN = 'AAAAAAAAAAAAAAAAAAAAAA';
const KEY = 'BBBBBBBBBBBBBBBBBBBBBB';

/** A well-formed request of each type, so only the sender decides the outcome. */
const VALID: { [T in MessageType]: Record<string, unknown> } = {
  ping: {},
  status: {},
  createIdentity: { handle: 'alice', directoryUrl: 'https://dir.example' },
  publish: {},
  setSecurityPhrase: { phrase: 'blue heron' },
  getSecurityPhrase: {},
  lookupContact: { handle: 'bob' },
  addContact: { handle: 'bob' },
  listContacts: {},
  verifyView: { handle: 'bob' },
  compareScannable: { handle: 'bob', scanned: 'AAAA' },
  markVerified: { handle: 'bob', verified: true },
  acknowledgeKeyChange: { handle: 'bob' },
  removeContact: { handle: 'bob' },
  exportBackup: { passphrase: 'correct horse battery' },
  importBackup: { file: 'AAAA', passphrase: 'correct horse battery' },
  getSettings: {},
  setSettings: { enabledSites: ['chat.example'] },
  setLockPassphrase: { passphrase: 'correct horse battery' },
  lock: {},
  unlock: { passphrase: 'correct horse battery' },
  deleteEverything: { force: true },
  encrypt: { context: 'site:chat.example/room', recipients: ['bob'], plaintext: 'hi' },
  logAlarms: {},
  dismissLogAlarm: { id: 'entry:https://dir.example:3' },
  checkLog: {},
  directoryKey: {},
  listDevices: {},
  startLink: {},
  linkStatus: {},
  confirmLink: { accept: true },
  joinWithCode: { code: 'veil-link:AAAAAAAAAAAA' },
  joinStatus: {},
  removeDevice: { deviceId: 2 },
  archiveSearch: { words: 'lunch', contact: 'bob' },
  archiveOverview: {},
  setRetention: { retention: { keep: 'days', days: 30 } },
  archiveDelete: { all: true },
  archiveExport: { conversation: '0'.repeat(32), format: 'text' },
  openArchived: { id: '000000000001' },
  tasks: {},
  cancelTask: { id: '0'.repeat(16) },
  pageEnabled: { adapter: 'generic' },
  pageHealth: { health: { adapter: null, composeBox: false, messageList: false } },
  saveSiteProfile: { token: TOKEN, profile: {} },
  startPicker: { tabId: 3 },
  tabHealth: { tabId: 3 },
  listSiteProfiles: {},
  importSiteProfile: { profile: {} },
  deleteSiteProfile: { host: 'chat.example' },
  pageDecrypt: { context: 'generic:room', blocks: [{ armored: 'VeiLA00' }] },
  registerComposer: { context: 'generic:room', maxMessageLength: 350, authors: ['bob'] },
  frameReloaded: { token: TOKEN },
  pageHistory: { done: 1, total: 60 },
  readMessage: { token: TOKEN, key: KEY },
  addSender: { token: TOKEN, key: KEY },
  composerInfo: { token: TOKEN, key: KEY },
  composerDraft: { token: TOKEN, key: KEY, text: 'half a thought' },
  composerSight: { token: TOKEN, key: KEY },
  composerLayout: { token: TOKEN, key: KEY, focusHost: true },
  readerSight: { token: TOKEN, key: KEY },
  composeSend: { token: TOKEN, key: KEY, text: 'hi', recipients: ['bob'] },
};

function spyTable() {
  const calls: { type: MessageType; req: unknown }[] = [];
  const table = Object.fromEntries(
    TYPES.map((type) => [
      type,
      vi.fn(async (req: unknown) => {
        calls.push({ type, req });
        return type === 'ping' ? { ok: true, version: '1.2.3' } : { handled: type };
      }),
    ]),
  ) as unknown as HandlerTable;
  return { table, calls };
}

describe('classifySender', () => {
  beforeEach(() => fakeBrowser.reset());
  const rt = () => fakeBrowser.runtime;
  const id = () => fakeBrowser.runtime.id;

  it('calls a document at our own origin an extension page', () => {
    expect(classifySender(extensionPageSender('/popup.html'), rt())).toBe('extension-page');
    expect(
      classifySender({ ...extensionPageSender(), origin: `chrome-extension://${id()}` }, rt()),
    ).toBe('extension-page');
  });

  it('calls our reader and composer pages frames, wherever they are', () => {
    expect(classifySender(frameSender('reader', 3), rt())).toBe('frame');
    expect(classifySender(frameSender('composer', 3), rt())).toBe('frame');
    // Opened in a tab of their own (a page can navigate to them): still only a frame.
    expect(classifySender(extensionPageSender('/reader.html'), rt())).toBe('frame');
    expect(classifySender(extensionPageSender('/options.html'), rt())).toBe('extension-page');
  });

  it('calls anything else of ours a content script', () => {
    expect(classifySender(contentScriptSender(), rt())).toBe('content-script');
    // Look-alike URLs: another host that merely starts with our id, a path that names us.
    for (const url of [
      `chrome-extension://${id()}.evil.example/options.html`,
      `chrome-extension://${id()}evil/options.html`,
      `https://chat.example/chrome-extension://${id()}/options.html`,
      'about:blank',
      '',
    ])
      expect(classifySender({ id: id(), url }, rt())).toBe('content-script');
    expect(classifySender({ id: id() }, rt())).toBe('content-script');
    // Our URL but an opaque or foreign origin (sandboxed frame): not an extension page.
    expect(classifySender({ ...extensionPageSender(), origin: 'null' }, rt())).toBe(
      'content-script',
    );
  });

  it('refuses other extensions and missing senders', () => {
    expect(classifySender({ ...extensionPageSender(), id: 'other-extension' }, rt())).toBeNull();
    expect(classifySender({ url: extensionPageSender().url }, rt())).toBeNull();
    expect(classifySender(undefined, rt())).toBeNull();
  });
});

describe('router', () => {
  beforeEach(() => fakeBrowser.reset());

  it('lists a permission for every message type; content scripts get ping and page messages', () => {
    expect(TYPES.filter((t) => !PRIVILEGED.includes(t)).sort()).toEqual(
      ['ping', ...CONTENT_SCRIPT_ONLY, ...FRAME_MESSAGES].sort(),
    );
    for (const t of CONTENT_SCRIPT_ONLY) expect(ALLOWED_SENDERS[t]).toEqual(['content-script']);
    expect(Object.keys(VALID).sort()).toEqual([...TYPES].sort());
    for (const t of FRAME_MESSAGES) expect(ALLOWED_SENDERS[t]).toEqual(['frame']);
    for (const t of TYPES.filter((t) => !isFrameMessage(t)))
      expect(ALLOWED_SENDERS[t]).not.toContain('frame');
  });

  it.each(FRAME_MESSAGES)(
    'passes %s from a reader or composer frame only, never from the options page or a content script',
    async (type) => {
      const { table, calls } = spyTable();
      const route = createRouter(table, fakeBrowser.runtime);
      expect(await route({ type, ...VALID[type] }, frameSender('reader', 2))).toEqual({
        ok: true,
        value: { handled: type },
      });
      for (const sender of [extensionPageSender(), contentScriptSender()])
        expect(await route({ type, ...VALID[type] }, sender)).toMatchObject({
          ok: false,
          error: { code: 'forbidden' },
        });
      expect(calls.map((c) => c.type)).toEqual([type]);
    },
  );

  it.each(PRIVILEGED)('refuses %s from a frame a page may have embedded', async (type) => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    for (const page of ['reader', 'composer'] as const)
      expect(await route({ type, ...VALID[type] }, frameSender(page, 2))).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
    expect(calls).toEqual([]);
  });

  it.each(CONTENT_SCRIPT_ONLY)(
    'passes %s from a content script and refuses it from an extension page',
    async (type) => {
      const { table, calls } = spyTable();
      const route = createRouter(table, fakeBrowser.runtime);
      expect(await route({ type, ...VALID[type] }, contentScriptSender())).toEqual({
        ok: true,
        value: { handled: type },
      });
      expect(await route({ type, ...VALID[type] }, extensionPageSender())).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      });
      expect(calls.map((c) => c.type)).toEqual([type]);
    },
  );

  it('hands handlers the tab, frame and URL the browser reports, not what the message says', async () => {
    let seen: unknown;
    const { table } = spyTable();
    const route = createRouter(
      {
        ...table,
        pageEnabled: async (_req, ctx) => {
          seen = ctx;
          return { enabled: true };
        },
      },
      fakeBrowser.runtime,
    );
    await route(
      { type: 'pageEnabled', adapter: 'generic', tabId: 99, frameId: 7 },
      { ...contentScriptSender('https://chat.example/r'), tab: { id: 4 }, frameId: 0 },
    );
    expect(seen).toEqual({
      sender: 'content-script',
      tabId: 4,
      frameId: 0,
      url: 'https://chat.example/r',
    });
  });

  it.each(PRIVILEGED)('refuses %s from a content script before any handler runs', async (type) => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    const reply = await route({ type, ...VALID[type] }, contentScriptSender());
    expect(reply).toEqual({ ok: false, error: { code: 'forbidden', message: expect.any(String) } });
    expect(calls).toEqual([]);
  });

  it.each(PRIVILEGED)('passes %s from an extension page to its handler', async (type) => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    const reply = await route({ type, ...VALID[type] }, extensionPageSender());
    expect(reply).toEqual({ ok: true, value: { handled: type } });
    expect(calls.map((c) => c.type)).toEqual([type]);
  });

  it('refuses a content script even when the message claims to come from a page', async () => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    const reply = await route(
      {
        type: 'exportBackup',
        passphrase: 'correct horse battery',
        sender: 'extension-page',
        url: extensionPageSender().url,
        id: fakeBrowser.runtime.id,
      },
      contentScriptSender(),
    );
    expect(reply).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(calls).toEqual([]);
  });

  it('refuses everything from another extension, even ping', async () => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    for (const type of TYPES) {
      const reply = await route({ type, ...VALID[type] }, { id: 'someone-else', url: 'x' });
      expect(reply).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expect(calls).toEqual([]);
  });

  it('answers ping from both kinds with the raw {ok, version}', async () => {
    const { table } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    for (const sender of [extensionPageSender(), contentScriptSender()])
      expect(await route({ type: 'ping' }, sender)).toEqual({ ok: true, version: '1.2.3' });
  });

  it.each([
    ['not an object', 'ping'],
    ['null', null],
    ['an array', [{ type: 'ping' }]],
    ['no type', {}],
    ['an unknown type', { type: 'exportPrivateKey' }],
    ['a prototype key as type', { type: 'constructor' }],
    // Removed: it decrypted past the plaintext cache (pages use pageDecrypt and readMessage).
    ['the removed decrypt message', { type: 'decrypt', context: 'c', armored: 'VeiLA00' }],
    ['a non-string type', { type: 7 }],
    ['a missing field', { type: 'addContact' }],
    ['a wrong field type', { type: 'markVerified', handle: 'bob', verified: 'yes' }],
    ['a bad handle', { type: 'addContact', handle: '../etc' }],
    ['an oversized field', { type: 'unlock', passphrase: 'x'.repeat(5000) }],
    ['a non-list', { type: 'setSettings', enabledSites: 'chat.example' }],
    ['no recipients', { type: 'encrypt', context: 'c', recipients: [], plaintext: 'x' }],
    ['a malformed token', { type: 'readMessage', token: '../../etc', key: KEY }],
    ['a missing frame key', { type: 'readMessage', token: TOKEN }],
    ['a malformed frame key', { type: 'composerInfo', token: TOKEN, key: 'short' }],
    [
      'an oversized draft',
      { type: 'composerDraft', token: TOKEN, key: KEY, text: 'x'.repeat(60 * 1024 + 1) },
    ],
    [
      'a composer without recipients',
      { type: 'composeSend', token: TOKEN, key: KEY, text: 'x', recipients: [] },
    ],
    [
      // Only the two fixed heights exist: a size the page could learn anything from is refused.
      'a composer size other than compact or tall',
      { type: 'composerLayout', token: TOKEN, key: KEY, size: '1200px' },
    ],
    [
      'a bad chunk length',
      { type: 'encrypt', context: 'c', recipients: ['b'], plaintext: 'x', maxChunkLength: -1 },
    ],
  ])('answers invalid-argument for %s', async (_what, message) => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    const type = (message as { type?: unknown } | null)?.type;
    const sender =
      typeof type === 'string' && isFrameMessage(type as MessageType)
        ? frameSender('composer', 2)
        : extensionPageSender();
    const reply = await route(message, sender);
    expect(reply).toMatchObject({ ok: false, error: { code: 'invalid-argument' } });
    expect(calls).toEqual([]);
  });

  it('hands a handler only the declared fields, canonicalised', async () => {
    const { table, calls } = spyTable();
    const route = createRouter(table, fakeBrowser.runtime);
    await route({ type: 'addContact', handle: ' Bob ', isAdmin: true }, extensionPageSender());
    expect(calls).toEqual([{ type: 'addContact', req: { handle: 'bob' } }]);
  });

  it('passes typed error codes through and hides anything else', async () => {
    const { table } = spyTable();
    const onError = vi.fn();
    const route = createRouter(
      {
        ...table,
        unlock: async () => {
          throw new VeilError('wrong-passphrase', 'the passphrase does not unlock Veil');
        },
        status: async () => {
          throw new BackgroundError('locked', 'Veil is locked');
        },
        listContacts: async () => {
          throw new Error('key 0x4f2a… plaintext "meet at noon"');
        },
      },
      fakeBrowser.runtime,
      onError,
    );
    const page = extensionPageSender();
    expect(await route({ type: 'unlock', passphrase: 'nope nope' }, page)).toEqual({
      ok: false,
      error: { code: 'wrong-passphrase', message: 'the passphrase does not unlock Veil' },
    });
    expect(await route({ type: 'status' }, page)).toMatchObject({
      ok: false,
      error: { code: 'locked' },
    });
    const hidden = await route({ type: 'listContacts' }, page);
    expect(hidden).toEqual({ ok: false, error: { code: 'internal', message: 'internal error' } });
    expect(JSON.stringify(hidden)).not.toContain('noon');
    expect(onError).toHaveBeenCalledWith('Error', 'listContacts');
  });
});
