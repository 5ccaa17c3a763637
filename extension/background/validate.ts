// Checks the fields of an incoming message against its declared type (background only). The
// result is a fresh object holding only the known fields, so a handler never sees anything a
// sender slipped in. Any mismatch → BackgroundError('invalid-argument') naming the field.
import { MAX_AFTER } from '../messaging/messages';
import type {
  MessageTable,
  MessageType,
  PageConversation,
  PageHealth,
  PageMessageTable,
} from '../messaging/messages';

type Markup = NonNullable<PageHealth['adapter']>['markup'];
const MARKUPS: readonly Markup[] = ['saved', 'source', 'unchecked', 'taught', 'heuristic'];
import { isValidHandle } from '../protocol/identity';
import { BackgroundError } from './errors';
import { ARCHIVE_VALIDATORS } from './archive/validate';

type Raw = Record<string, unknown>;
type Validator<T extends MessageType> = (raw: Raw) => MessageTable[T]['req'];

const bad = (field: string, what: string) =>
  new BackgroundError('invalid-argument', `${field} ${what}`);

function str(raw: Raw, field: string, max: number, min = 0): string {
  const v = raw[field];
  if (typeof v !== 'string') throw bad(field, 'must be a string');
  if (v.length > max) throw bad(field, `must be at most ${max} characters`);
  if (v.length < min) throw bad(field, `must be at least ${min} characters`);
  return v;
}

function optStr(raw: Raw, field: string, max: number): string | undefined {
  return raw[field] === undefined ? undefined : str(raw, field, max);
}

function bool(raw: Raw, field: string): boolean {
  if (typeof raw[field] !== 'boolean') throw bad(field, 'must be true or false');
  return raw[field] as boolean;
}

/** Handles are compared lowercased and trimmed: what a person types, in canonical form. */
function handle(raw: Raw, field = 'handle'): string {
  const h = str(raw, field, 128).trim().toLowerCase();
  if (!isValidHandle(h))
    throw bad(field, 'must be 1-64 characters of a-z 0-9 . _ - starting with a letter or digit');
  return h;
}

function strList(raw: Raw, field: string, maxItems: number, maxLength: number): string[] {
  const v = raw[field];
  if (!Array.isArray(v)) throw bad(field, 'must be a list of strings');
  if (v.length > maxItems) throw bad(field, `must hold at most ${maxItems} items`);
  for (const item of v)
    if (typeof item !== 'string' || item.length > maxLength)
      throw bad(field, `must hold strings of at most ${maxLength} characters`);
  return [...(v as string[])];
}

function int(raw: Raw, field: string, min: number, max: number): number {
  const v = raw[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw bad(field, `must be a whole number from ${min} to ${max}`);
  return v;
}

function recipientList(raw: Raw): string[] {
  const list = strList(raw, 'recipients', 100, 128).map((h) =>
    handle({ recipient: h }, 'recipient'),
  );
  if (list.length === 0) throw bad('recipients', 'must name at least one person');
  return [...new Set(list)];
}

const none = () => ({});
const PASSPHRASE_MAX = 1024;
const URL_MAX = 2048;
// A backup of a large history in base64url; the protocol bounds what it decodes anyway.
const BACKUP_FILE_MAX = 64 * 1024 * 1024;
/**
 * A conversation id as the page says it. Every reader token stores it, so it is kept short (a
 * page-chosen 2 KB id made each record several KB); real chats' ids are far shorter.
 */
const CONTEXT_MAX = 512;
/** A conversation's shown name, as sealed (plaintext.ts MAX_ORIGIN_PART_BYTES is the byte cap). */
const NAME_MAX = 64;

// ---- in-page messages (content scripts and the reader/composer frames) ----

const TOKEN = /^[A-Za-z0-9_-]{22}$/;
/** Blocks per pageDecrypt batch, and characters per block (a 60 KB text armors to ~100 K). */
export const PAGE_BATCH_MAX = 200;
const BLOCK_MAX = 256 * 1024;
/** Characters of all blocks of one pageDecrypt together (each is dearmored before decrypting). */
export const PAGE_BATCH_CHARS_MAX = 4 * 1024 * 1024;
/** Blocks a page's history progress may count (far above any chat's scrollback). */
const PAGE_HISTORY_MAX = 10_000_000;
/** Characters of a composed message; a draft is held to the same limit. */
const COMPOSE_TEXT_MAX = 60 * 1024;

/** The page's conversation: its id, and the kind and name its adapter says (hints). */
function pageConversation(r: Raw): PageConversation {
  const out: PageConversation = { context: str(r, 'context', CONTEXT_MAX, 1) };
  if (r.kind !== undefined) {
    if (r.kind !== 'direct' && r.kind !== 'group') throw bad('kind', 'must be direct or group');
    out.kind = r.kind;
  }
  const name = optStr(r, 'name', NAME_MAX);
  if (name !== undefined) out.name = name;
  return out;
}

function token(raw: Raw): string {
  const v = raw.token;
  if (typeof v !== 'string' || !TOKEN.test(v)) throw bad('token', 'is not a Veil token');
  return v;
}

/** A frame's token and the key its content script handed it (same form: 128 bits, base64url). */
function frameAuth(raw: Raw): { token: string; key: string } {
  const key = raw.key;
  if (typeof key !== 'string' || !TOKEN.test(key)) throw bad('key', 'is not a Veil frame key');
  return { token: token(raw), key };
}

const PAGE_VALIDATORS: { [T in keyof PageMessageTable]: Validator<T> } = {
  pageEnabled: (r) => ({ adapter: str(r, 'adapter', 64, 1) }),
  pageHealth: (r) => {
    const h = r.health;
    if (typeof h !== 'object' || h === null) throw bad('health', 'must be an object');
    const raw = h as Raw;
    const health: PageHealth = {
      adapter: null,
      composeBox: bool(raw, 'composeBox'),
      messageList: bool(raw, 'messageList'),
    };
    if (raw.adapter !== null) {
      const a = raw.adapter as Raw | undefined;
      if (typeof a !== 'object' || a === null) throw bad('health.adapter', 'must be an object');
      const markup = str(a, 'markup', 16);
      if (!MARKUPS.includes(markup as never)) throw bad('health.adapter.markup', 'is unknown');
      health.adapter = { name: str(a, 'name', NAME_MAX, 1), markup: markup as Markup };
    }
    const missed = optStr(raw, 'missed', NAME_MAX);
    if (missed) health.missed = missed;
    return { health };
  },
  // The profile itself is checked by the handler (parseSiteProfile), with typed errors.
  saveSiteProfile: (r) => ({ token: token(r), profile: r.profile }),
  pageDecrypt: (r) => {
    const blocks = r.blocks;
    if (!Array.isArray(blocks) || blocks.length > PAGE_BATCH_MAX)
      throw bad('blocks', `must be a list of at most ${PAGE_BATCH_MAX} blocks`);
    let chars = 0;
    for (const b of blocks) {
      const armored = (b as Raw | null)?.armored;
      if (typeof armored === 'string') chars += armored.length;
    }
    if (chars > PAGE_BATCH_CHARS_MAX)
      throw bad('blocks', `must hold at most ${PAGE_BATCH_CHARS_MAX} characters in all`);
    const out: PageMessageTable['pageDecrypt']['req'] = {
      ...pageConversation(r),
      blocks: blocks.map((b: unknown) => {
        if (typeof b !== 'object' || b === null) throw bad('blocks', 'must hold objects');
        const block = b as Raw;
        const one: { armored: string; repeat?: boolean; pos?: number; view?: number } = {
          armored: str(block, 'armored', BLOCK_MAX, 1),
        };
        if (block.repeat !== undefined) one.repeat = bool(block, 'repeat');
        if (block.pos !== undefined) one.pos = int(block, 'pos', 0, Number.MAX_SAFE_INTEGER);
        if (block.view !== undefined) one.view = int(block, 'view', 0, Number.MAX_SAFE_INTEGER);
        return one;
      }),
    };
    if (r.after !== undefined) {
      if (!Array.isArray(r.after) || r.after.length > MAX_AFTER)
        throw bad('after', `must be a list of at most ${MAX_AFTER} tokens`);
      out.after = r.after.map((t: unknown) => {
        if (typeof t !== 'string' || !TOKEN.test(t)) throw bad('after', 'must hold Veil tokens');
        return t;
      });
    }
    return out;
  },
  registerComposer: (r) => ({
    ...pageConversation(r),
    maxMessageLength: int(r, 'maxMessageLength', 32, 1_000_000),
    // Host-shown names: hints only, kept if they look like handles.
    authors: strList(r, 'authors', 500, 128)
      .map((a) => a.trim().toLowerCase())
      .filter(isValidHandle),
  }),
  frameReloaded: (r) => ({ token: token(r) }),
  pageHistory: (r) => {
    const total = int(r, 'total', 0, PAGE_HISTORY_MAX);
    return { done: int(r, 'done', 0, total), total };
  },
  readMessage: (r) =>
    r.reveal === undefined ? frameAuth(r) : { ...frameAuth(r), reveal: bool(r, 'reveal') },
  addSender: frameAuth,
  composerInfo: frameAuth,
  composerDraft: (r) => ({ ...frameAuth(r), text: str(r, 'text', COMPOSE_TEXT_MAX) }),
  composerSight: (r) => frameAuth(r),
  composerLayout: (r) => {
    const out: MessageTable['composerLayout']['req'] = frameAuth(r);
    if (r.focusHost !== undefined) out.focusHost = bool(r, 'focusHost');
    if (r.size !== undefined) {
      if (r.size !== 'compact' && r.size !== 'tall') throw bad('size', 'must be compact or tall');
      out.size = r.size;
    }
    return out;
  },
  readerSight: (r) => frameAuth(r),
  composeSend: (r) => {
    const out: PageMessageTable['composeSend']['req'] = {
      ...frameAuth(r),
      text: str(r, 'text', COMPOSE_TEXT_MAX, 1),
      recipients: recipientList(r),
    };
    if (r.groupEpoch !== undefined) out.groupEpoch = int(r, 'groupEpoch', 0, 0xffff_ffff);
    return out;
  },
};

export const VALIDATORS: { [T in MessageType]: Validator<T> } = {
  ping: none,
  status: none,
  createIdentity: (r) => ({ handle: handle(r), directoryUrl: str(r, 'directoryUrl', URL_MAX) }),
  publish: none,
  setSecurityPhrase: (r) => ({ phrase: str(r, 'phrase', 200) }),
  getSecurityPhrase: none,
  lookupContact: (r) => ({ handle: handle(r) }),
  addContact: (r) => ({ handle: handle(r) }),
  listContacts: none,
  verifyView: (r) => ({ handle: handle(r) }),
  compareScannable: (r) => ({ handle: handle(r), scanned: str(r, 'scanned', 1024) }),
  markVerified: (r) => ({ handle: handle(r), verified: bool(r, 'verified') }),
  acknowledgeKeyChange: (r) => ({ handle: handle(r) }),
  removeContact: (r) => ({ handle: handle(r) }),
  listDevices: () => ({}),
  startLink: () => ({}),
  linkStatus: () => ({}),
  confirmLink: (r) => ({ accept: bool(r, 'accept') }),
  joinWithCode: (r) => ({ code: str(r, 'code', 1000, 10).trim() }),
  joinStatus: () => ({}),
  removeDevice: (r) => ({ deviceId: int(r, 'deviceId', 1, 0xffff_ffff) }),
  exportBackup: (r) =>
    r.includeArchive === undefined
      ? { passphrase: str(r, 'passphrase', PASSPHRASE_MAX) }
      : {
          passphrase: str(r, 'passphrase', PASSPHRASE_MAX),
          includeArchive: bool(r, 'includeArchive'),
        },
  importBackup: (r) => ({
    file: str(r, 'file', BACKUP_FILE_MAX),
    passphrase: str(r, 'passphrase', PASSPHRASE_MAX),
  }),
  getSettings: none,
  startPicker: (r) => ({ tabId: int(r, 'tabId', 0, Number.MAX_SAFE_INTEGER) }),
  tabHealth: (r) => ({ tabId: int(r, 'tabId', 0, Number.MAX_SAFE_INTEGER) }),
  listSiteProfiles: none,
  importSiteProfile: (r) => ({ profile: r.profile }),
  deleteSiteProfile: (r) => ({ host: str(r, 'host', 260, 1) }),
  setSettings: (r) => {
    const out: MessageTable['setSettings']['req'] = {};
    const url = optStr(r, 'directoryUrl', URL_MAX);
    if (url !== undefined) out.directoryUrl = url;
    if (r.enabledSites !== undefined) out.enabledSites = strList(r, 'enabledSites', 1000, 253);
    return out;
  },
  setLockPassphrase: (r) => {
    const passphrase = r.passphrase === null ? null : str(r, 'passphrase', PASSPHRASE_MAX);
    const current = optStr(r, 'current', PASSPHRASE_MAX);
    return current === undefined ? { passphrase } : { passphrase, current };
  },
  lock: none,
  unlock: (r) => ({ passphrase: str(r, 'passphrase', PASSPHRASE_MAX) }),
  deleteEverything: (r) => (r.force === undefined ? {} : { force: bool(r, 'force') }),
  encrypt: (r) => {
    const out: MessageTable['encrypt']['req'] = {
      context: str(r, 'context', CONTEXT_MAX, 1),
      recipients: recipientList(r),
      plaintext: str(r, 'plaintext', 256 * 1024),
    };
    if (r.maxChunkLength !== undefined) out.maxChunkLength = int(r, 'maxChunkLength', 1, 1_000_000);
    return out;
  },
  logAlarms: none,
  dismissLogAlarm: (r) => ({ id: str(r, 'id', 512, 1) }),
  checkLog: none,
  directoryKey: none,
  ...ARCHIVE_VALIDATORS,
  ...PAGE_VALIDATORS,
};

/** The request fields of `type`, checked; throws BackgroundError('invalid-argument'). */
export function validateRequest<T extends MessageType>(type: T, raw: Raw): MessageTable[T]['req'] {
  return (VALIDATORS[type] as Validator<T>)(raw);
}
