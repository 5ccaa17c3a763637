// Every message between extension pages / content scripts and the background, with its reply.
// One table, so a handler cannot drift from its callers. Byte fields travel as base64url strings.
import type { VeilErrorCode } from '../protocol/errors';
import type { ArchiveMessageTable } from './archive-messages';
import type { SiteProfile } from '../../site-adapters/profile';
import type { SiteAdapter } from '../../site-adapters/types';

export type { SiteProfile };

/** What Veil finds on a page, as its content script last said (the popup shows it). */
export interface PageHealth {
  /** The adapter Veil runs with there, or null while it finds none. */
  adapter: { name: string; markup: SiteAdapter['markup'] } | null;
  /** Whether it finds the page's compose box and message list now. */
  composeBox: boolean;
  messageList: boolean;
  /** A built-in adapter made for this site whose selectors no longer find its compose box. */
  missed?: string;
}

export type ContactStatus = 'unverified' | 'verified' | 'key-changed';

export interface ContactView {
  handle: string;
  status: ContactStatus;
  /** Base64url Ed25519 identity key (pinned). */
  identityKey: string;
  /** 30-digit safety-number half of the pinned key (what the directory shows). */
  fingerprint: string;
  /** Set when a different key was seen: sending is blocked until acknowledged. */
  pendingFingerprint?: string;
  firstSeen: number;
  /** Browsers their checked device list names (absent: one, or never fetched). */
  devices?: number;
  /** When one of their devices was linked or unlinked (a quiet note; ms). */
  devicesChangedAt?: number;
}

export interface IdentityView {
  handle: string;
  identityKey: string;
  fingerprint: string;
  /** QR payload of our half, for another device to scan (text). */
  published: boolean;
  /** Last directory log index we saw our key at, if published. */
  logIndex?: number;
}

/** One device of our account, as Settings and the popup list it. */
export interface DeviceView {
  id: number;
  /** 30-digit safety-number half of the device's own key: told apart on each browser's screen. */
  fingerprint: string;
  /** Unix milliseconds. */
  addedAt: number;
  /** When a message from it was last read here (ms); absent for this browser and unseen ones. */
  lastSeen?: number;
  thisDevice: boolean;
}

export interface DevicesView {
  devices: DeviceView[];
  /** This browser holds the account key: it links and removes devices. */
  holdsAccountKey: boolean;
  deviceId: number;
}

/** Where linking stands, on either side (docs/devices.md "Linking"). */
export type LinkState =
  | { state: 'none' }
  /** `fingerprint`: on the joining side, its own device's, for the person to compare. */
  | { state: 'waiting'; expiresAt: number; fingerprint?: string }
  /** Host side: a browser answered the code; link it only if it shows this fingerprint. */
  | { state: 'confirm'; fingerprint: string }
  | { state: 'linked'; deviceId: number }
  | { state: 'joined'; handle: string; deviceId: number };

export interface Settings {
  directoryUrl: string;
  /** Host names where Veil runs (per-site enable). */
  enabledSites: string[];
}

export interface StatusReply {
  identity?: IdentityView;
  locked: boolean;
  /** True when a passphrase lock is configured (locked or not). */
  lockEnabled: boolean;
  hasSecurityPhrase: boolean;
  settings: Settings;
}

export interface VerifyView {
  contact: ContactView;
  /** 60 digits, no spaces (format as 12 × 5 in the UI). */
  safetyNumber: string;
  /** Base64url scannable fingerprint (libsignal CombinedFingerprints) for the QR code. */
  scannable: string;
  /** Key changed: the safety number with the new (pending) key, to compare before acknowledging. */
  pendingSafetyNumber?: string;
}

/**
 * What a reader shows. `unknown-sender` (the directory's log does not show the sealing key for
 * the handle), `moved` (the page shows it where another conversation is) and `repeat` (the page
 * shows an old message again) are warnings: the text stays hidden until the user asks.
 */
export type BlockStatus =
  'verified' | 'unverified' | 'key-changed' | 'unknown-sender' | 'moved' | 'repeat' | 'failed';

/** A decrypted block, for display inside an extension-origin frame only. */
export interface DecryptView {
  status: BlockStatus;
  sender?: string;
  plaintext?: string;
  kind?: 'direct' | 'group';
  /** Why it failed (status 'failed'): a protocol error code such as 'replay' or 'bad-mac'. */
  error?: string;
}

/** What the page says about the conversation it shows (adapter hints, never evidence). */
export interface PageConversation {
  context: string;
  kind?: 'direct' | 'group';
  /** The name the page shows for it (sealed in what is written there). */
  name?: string;
}

/**
 * Codes a failed Envelope carries: the protocol's (VeilErrorCode, e.g. 'wrong-passphrase',
 * 'bad-proof', 'bad-mac' for a damaged backup) plus the background's own.
 */
export type ErrorCode =
  | VeilErrorCode
  | 'forbidden' // this sender may not send this message (e.g. a content script asking for keys)
  | 'locked' // the passphrase lock is engaged: unlock first
  | 'not-found' // the directory has no identity under this handle
  | 'handle-taken' // the directory holds this handle for another identity key
  | 'identity-exists' // there is already a (different) identity here: delete everything first
  | 'rate-limited' // the directory asks us to slow down
  | 'directory-unreachable' // network error or timeout talking to the directory
  | 'directory-error' // the directory refused or failed in an unexpected way
  | 'insecure-directory' // directory URL is not https:// (http:// only for localhost)
  | 'storage-full'
  // the group's members changed while the composer was open: look at the recipients again
  | 'membership-changed'
  // the composer is covered, faded, distorted or not fully in view: Veil will not send from it
  | 'obscured'
  // linking and devices: publish the identity first; the link code ran out; this browser was unlinked
  | 'not-published'
  | 'link-expired'
  | 'device-removed'
  // a long task (indexing, a backup's archive import) was cancelled by the user
  | 'cancelled'
  | 'internal';

/** A loud alarm about the directory's log (background/log-alarms.ts), shown until dismissed. */
export type LogAlarmView =
  | {
      id: string;
      kind: 'foreign-entry';
      directoryUrl: string;
      /** Milliseconds since the epoch. */
      raisedAt: number;
      /** 'foreign-key': our handle set to another key; or a rotate or delete we did not do. */
      reason: 'foreign-key' | 'unexpected-rotate' | 'unexpected-delete' | 'unexpected-devices';
      handle: string;
      action: 'publish' | 'rotate' | 'delete' | 'devices';
      index: number;
      sequence: number;
      /** When the directory logged it (milliseconds since the epoch). */
      loggedAt: number;
      /** 30-digit safety-number half of the entry's key: what others were shown for us. */
      fingerprint: string;
    }
  | {
      id: string;
      kind: 'split-view';
      directoryUrl: string;
      raisedAt: number;
      reason: 'same-size' | 'inconsistent' | 'withheld';
      /** Ours first, then the contact's; both signed by the pinned directory key. */
      treeSizes: [number, number];
      /** Base64url root hashes, same order. */
      roots: [string, string];
    };

/** One pass of the own-handle log monitor (background/log-monitor.ts). */
export type LogCheckResult =
  | { status: 'not-published' }
  /** Every entry up to `treeSize` folded to the signed root; `newAlarms` raised by this pass. */
  | { status: 'checked'; treeSize: number; entries: number; newAlarms: number }
  /** The directory could not be asked (unreachable, rate-limited, error): tried again later. */
  | { status: 'unchecked'; code: string }
  /** The directory's answers do not verify (entries omitted or altered, a forked head). */
  | { status: 'refused'; code: string; message: string };

/** The pinned directory key, for comparing with the directory's own page. */
export interface DirectoryKeyView {
  url: string;
  /** Absent until Veil first talks to this directory (it pins the key then). */
  pinned?: { origin: string; fingerprint: string; pinnedAt: number; treeSize: number };
  /** The own-handle monitor of this directory, once it ran. */
  monitor?: { checkedAt?: number; treeSize: number; failure?: { at: number; code: string } };
}

/** Where a sender stands, computed by the background from the browser-supplied sender. */
/**
 * 'frame': our reader or composer page (inside a host page); it acts only through the token and
 * key the content script handed it. 'extension-page': the options page and the popup.
 */
export type SenderKind = 'extension-page' | 'content-script' | 'frame';

/**
 * The message table: `type` → request fields and reply. Handlers get `Omit<Req, 'type'>`.
 * `who` lists the sender kinds allowed to send it; everything else is refused.
 */
export interface MessageTable extends PageMessageTable, ArchiveMessageTable {
  ping: {
    req: object;
    res: { ok: true; version: string };
    who: 'extension-page' | 'content-script';
  };
  status: { req: object; res: StatusReply; who: 'extension-page' };
  createIdentity: {
    req: { handle: string; directoryUrl: string };
    res: IdentityView;
    who: 'extension-page';
  };
  publish: { req: object; res: IdentityView; who: 'extension-page' };
  setSecurityPhrase: { req: { phrase: string }; res: { ok: true }; who: 'extension-page' };
  /** Our security phrase (Settings; frames get it with their view). */
  getSecurityPhrase: { req: object; res: { phrase?: string }; who: 'extension-page' };
  /**
   * Looks a handle up in the directory (inclusion and consistency proofs checked). `contact` is
   * set when the handle is already a contact; a different key is then recorded as pending.
   */
  lookupContact: {
    req: { handle: string };
    res: {
      handle: string;
      identityKey: string;
      fingerprint: string;
      logIndex: number;
      contact?: ContactView;
    };
    who: 'extension-page';
  };
  addContact: { req: { handle: string }; res: ContactView; who: 'extension-page' };
  listContacts: { req: object; res: { contacts: ContactView[] }; who: 'extension-page' };
  verifyView: { req: { handle: string }; res: VerifyView; who: 'extension-page' };
  /** Compares a scanned or pasted QR payload (base64url) with ours for this contact. */
  compareScannable: {
    req: { handle: string; scanned: string };
    res: { match: boolean };
    who: 'extension-page';
  };
  markVerified: {
    req: { handle: string; verified: boolean };
    res: ContactView;
    who: 'extension-page';
  };
  acknowledgeKeyChange: { req: { handle: string }; res: ContactView; who: 'extension-page' };
  removeContact: { req: { handle: string }; res: { ok: true }; who: 'extension-page' };
  /** `includeArchive`: the message archive travels inside the (encrypted) file too. */
  exportBackup: {
    req: { passphrase: string; includeArchive?: boolean };
    res: { file: string; fileName: string };
    who: 'extension-page';
  };
  importBackup: {
    req: { file: string; passphrase: string };
    res: StatusReply;
    who: 'extension-page';
  };
  getSettings: { req: object; res: Settings; who: 'extension-page' };
  /** Starts "Teach Veil this site" in the tab: its content script draws the picker. */
  startPicker: { req: { tabId: number }; res: { ok: true }; who: 'extension-page' };
  /** What Veil finds on the page in the tab (null: no report from an enabled site there). */
  tabHealth: {
    req: { tabId: number };
    res: { health: PageHealth | null; taught: boolean };
    who: 'extension-page';
  };
  listSiteProfiles: { req: object; res: { profiles: SiteProfile[] }; who: 'extension-page' };
  /** Stores a profile from an imported file (checked field by field). */
  importSiteProfile: { req: { profile: unknown }; res: SiteProfile; who: 'extension-page' };
  deleteSiteProfile: { req: { host: string }; res: { ok: true }; who: 'extension-page' };
  setSettings: { req: Partial<Settings>; res: Settings; who: 'extension-page' };
  setLockPassphrase: {
    req: { passphrase: string | null; current?: string };
    res: StatusReply;
    who: 'extension-page';
  };
  lock: { req: object; res: StatusReply; who: 'extension-page' };
  unlock: { req: { passphrase: string }; res: StatusReply; who: 'extension-page' };
  /**
   * Deletes every local record and (signed) the identity from the directory. When the directory
   * cannot be reached (or the lock hides the key) it fails and deletes nothing, unless `force`:
   * then it deletes locally anyway and answers `directoryDeleted: false`.
   */
  deleteEverything: {
    req: { force?: boolean };
    res: { ok: true; directoryDeleted: boolean };
    who: 'extension-page';
  };
  /**
   * Encrypts for a conversation (context as in docs/protocol.md), starting sessions from the
   * directory's bundles where needed. Armored chunks of at most `maxChunkLength` characters.
   * Extension pages only (the in-page benchmark sends from the options page); the composer uses
   * composeSend. No decrypt counterpart: reading goes through pageDecrypt and readMessage, whose
   * plaintext cache keeps a second read of a message from looking like a replay.
   */
  encrypt: {
    req: { context: string; recipients: string[]; plaintext: string; maxChunkLength?: number };
    res: { chunks: string[] };
    who: 'extension-page';
  };
  /** Alarms about the directory's log that the user has not dismissed. */
  logAlarms: { req: object; res: { alarms: LogAlarmView[] }; who: 'extension-page' };
  dismissLogAlarm: { req: { id: string }; res: { alarms: LogAlarmView[] }; who: 'extension-page' };
  /** Runs the own-handle log monitor now (it also runs at start and every hour). */
  checkLog: {
    req: object;
    res: { result: LogCheckResult; alarms: LogAlarmView[] };
    who: 'extension-page';
  };
  /** The directory key pinned for the current directory URL, as a short fingerprint. */
  directoryKey: { req: object; res: DirectoryKeyView; who: 'extension-page' };
  /** Our account's devices (from its signed list), this one marked. */
  listDevices: { req: object; res: DevicesView; who: 'extension-page' };
  /** On the browser holding the account key: a short-lived code for a new browser to paste. */
  startLink: {
    req: object;
    res: { code: string; expiresAt: number };
    who: 'extension-page';
  };
  /** Host side: whether a browser answered the code (call until not waiting). */
  linkStatus: { req: object; res: LinkState; who: 'extension-page' };
  /** Host side: the person compared the fingerprints; link that browser, or refuse it. */
  confirmLink: { req: { accept: boolean }; res: LinkState; who: 'extension-page' };
  /** On a new browser without an identity: join the account whose code was pasted. */
  joinWithCode: { req: { code: string }; res: LinkState; who: 'extension-page' };
  /** Joining side: finishes once the account's browser answered (call until not waiting). */
  joinStatus: { req: object; res: LinkState; who: 'extension-page' };
  /** Unlinks a device (account key holder only): it reads nothing sent afterwards. */
  removeDevice: { req: { deviceId: number }; res: DevicesView; who: 'extension-page' };
}

// ---- In-page messages: content scripts and the reader/composer frames -----------------------
// A content script is unprivileged: it may ask whether it runs here, hand in ciphertext (and get
// opaque tokens and statuses back, never plaintext) and register a composer for its own tab.
// The reader and composer frames are extension pages inside a host page: they act only through
// the random token the background issued to that tab.

/** What the content script learns about one armored block: a status, never the plaintext. */
export interface PageBlockResult {
  /** Names the reader frame of this block (in its URL, so the page can read it: no secret). */
  token: string;
  /**
   * 128-bit secret the content script hands only to the frame it made (postMessage to that
   * frame's document): the token alone opens nothing.
   */
  key: string;
  /** Lines the reader frame is sized for: from the text's padding bucket only (frame-height.ts). */
  lines: number;
  status: DecryptView['status'];
  sender?: string;
  error?: string;
}

/** What a reader frame shows: the decrypt view, plus where, when and by whom, sealed. */
export interface ReaderView extends DecryptView {
  /** Our own message, read from the plaintext cache. */
  own?: boolean;
  /** Where and when the message says it was written (shown; never compared with the page). */
  sealed?: { site?: string; name?: string; sentAt?: number };
  /** The text is withheld until the user asks for it (readMessage with `reveal`). */
  hidden?: true;
  /** The sealing key's safety-number half, shown for an unknown sender. */
  fingerprint?: string;
  /** The sender is a contact (else the reader offers to add them, once the log confirms them). */
  contact?: boolean;
  /** The user's security phrase: a frame that shows it is Veil's (only to a frame Veil made). */
  phrase?: string;
}

/** What a composer frame needs to offer recipients. */
export interface ComposerView {
  /** Our handle. */
  handle: string;
  /** Direct or group, as the page says (a direct conversation has one recipient). */
  kind?: 'direct' | 'group';
  /** The conversation's name as the page shows it (sealed in the message). */
  name?: string;
  /** Recipients pre-selected: the group's members as we know them, else the last ones used. */
  recipients: string[];
  /** The group's membership epoch the recipients come from; composeSend hands it back. */
  groupEpoch?: number;
  /** Authors seen in this conversation (decrypted senders first), not yet recipients. */
  suggestions: string[];
  contacts: ContactView[];
  /** What the user had typed in this composer before the frame reloaded (see composerDraft). */
  draft?: string;
  /** The user's security phrase (only to a frame Veil made). */
  phrase?: string;
}

/** What a frame proves itself with: its token and the key the content script handed it. */
export interface FrameAuth {
  token: string;
  key: string;
}

/** Background → content script (tabs.sendMessage), answered by the content script. */
/** Background → Veil's frames (runtime message to every extension page). */
export type ToFrameMessage = { type: 'veil:lock'; locked: boolean };

/** What the user can see of one of Veil's frames (content/frame-sight.ts, frames/sight.ts). */
/**
 * The composer frame's two heights: compact (about a chat box) and tall, once its text needs
 * more room. Two values only, so the page, which sees the frame's size, learns one bit of a
 * draft's length at most (and the sent armor shows its padded length anyway).
 */
export type ComposerSize = 'compact' | 'tall';

export type FrameSight = 'visible' | 'partial' | 'obscured' | 'away';

/**
 * What the content script posts to a frame it made (window messages, not runtime ones: the
 * frame is in the page): its token and key, and "its message is still being decrypted".
 */
export const FRAME_KEY_MESSAGE = 'veil:frame-key';
export const FRAME_WAIT_MESSAGE = 'veil:frame-wait';
/** Tokens a pageDecrypt `after` names at most. */
export const MAX_AFTER = 64;

export type ToContentMessage =
  | { type: 'veil:submit'; token: string; chunks: string[] }
  /** Is the composer with this token in full view as Veil drew it? Answered `{ sight }`. */
  | { type: 'veil:sight'; token: string }
  /** A block's status changed after it was shown (a later block made it a repeat). */
  | { type: 'veil:status'; token: string; status: BlockStatus }
  /** The user asked (in the popup) to teach Veil this site: draw the picker. */
  | { type: 'veil:pick'; token: string }
  /** The composer with this token asks to give the keyboard to the host's box, or to be resized. */
  | { type: 'veil:layout'; token: string; focusHost?: boolean; size?: ComposerSize }
  /** The user cancelled decrypting this page's long history (a 'page-history' task). */
  | { type: 'veil:cancel-history' }
  /**
   * The user opened an archived message (openArchived): show the block whose envelope has this
   * digest (hex SHA-256 of the dearmored envelope, the plaintext cache's key), if the page has it.
   */
  | { type: 'revealBlock'; digest: string };

export interface PageMessageTable {
  /**
   * Whether Veil runs on the sender's page (the user enabled its site). `adapter`: the one that
   * matched the page when it asked, or `none` yet (a single-page app draws its chats later).
   */
  pageEnabled: {
    req: { adapter: string };
    /** `profile`: what the user taught Veil about this site, if anything. */
    res: { enabled: boolean; profile?: SiteProfile };
    who: 'content-script';
  };
  /** What Veil finds on the page now (sent when it changes). */
  pageHealth: { req: { health: PageHealth }; res: { ok: true }; who: 'content-script' };
  /** The picker's result, with the token of the picker the user started from the popup. */
  saveSiteProfile: {
    req: { token: string; profile: unknown };
    res: SiteProfile;
    who: 'content-script';
  };
  /**
   * Decrypts armored blocks found in the page; one result per block. `pos` is each block's
   * place on the page and `view` the list it was read from (a new random number after a reload
   * or a re-rendered list): together they tell a block shown out of its sealed order.
   */
  pageDecrypt: {
    req: PageConversation & {
      blocks: { armored: string; repeat?: boolean; pos?: number; view?: number }[];
      /**
       * Tokens of reader frames on screen from earlier batches: this one is decrypted once they
       * have read their messages (or after a bound), so their text comes first.
       */
      after?: string[];
    };
    res: PageBlockResult[];
    who: 'content-script';
  };
  /** Registers a composer for the sender's tab and conversation. */
  registerComposer: {
    req: PageConversation & { maxMessageLength: number; authors: string[] };
    res: { token: string; key: string };
    who: 'content-script';
  };
  /**
   * A frame the content script made loaded a new document (the host moved or re-rendered it):
   * the token's bond to the old document is dropped before the key is handed to the new one.
   */
  frameReloaded: { req: { token: string }; res: { ok: true }; who: 'content-script' };
  /**
   * How far a long history on the sender's tab is decrypted, counts only (history-progress.ts):
   * shown as a 'page-history' task; done = total closes it.
   */
  pageHistory: { req: { done: number; total: number }; res: { ok: true }; who: 'content-script' };
  /** The reader frame's block (token-scoped, same tab only); `reveal` shows withheld text. */
  readMessage: {
    req: FrameAuth & { reveal?: boolean };
    res: ReaderView;
    who: 'frame';
  };
  /** Adds the reader's sender as a contact (that sender only, from the directory). */
  addSender: { req: FrameAuth; res: { ok: true }; who: 'frame' };
  composerInfo: { req: FrameAuth; res: ComposerView; who: 'frame' };
  /**
   * The composer's unsent text, kept by the background (memory-only, until locked) so the frame
   * gets it back when the host re-renders and the reinserted frame reloads. Empty text clears it.
   */
  composerDraft: {
    req: FrameAuth & { text: string };
    res: { ok: true };
    who: 'frame';
  };
  /** What the page shows of this composer frame, as its content script sees it now. */
  composerSight: {
    req: FrameAuth;
    res: { sight: FrameSight };
    who: 'frame';
  };
  /** Esc in the composer (`focusHost`): its content script gives the keyboard to the host's box. */
  composerLayout: {
    req: FrameAuth & { focusHost?: boolean; size?: ComposerSize };
    res: { ok: true };
    who: 'frame';
  };
  /** The same for a reader frame (Firefox, which has no IntersectionObserver v2). */
  readerSight: {
    req: FrameAuth;
    res: { sight: FrameSight };
    who: 'frame';
  };
  /**
   * Encrypts and has the content script of the composer's tab submit the chunks, once that
   * content script says the composer is in full view and nothing covers or fades it.
   */
  composeSend: {
    req: FrameAuth & { text: string; recipients: string[]; groupEpoch?: number };
    res: { chunks: number };
    who: 'frame';
  };
}

const PAGE_ALLOWED_SENDERS: {
  [T in keyof PageMessageTable]: readonly PageMessageTable[T]['who'][];
} = {
  pageEnabled: ['content-script'],
  pageHealth: ['content-script'],
  saveSiteProfile: ['content-script'],
  pageDecrypt: ['content-script'],
  registerComposer: ['content-script'],
  frameReloaded: ['content-script'],
  pageHistory: ['content-script'],
  readMessage: ['frame'],
  addSender: ['frame'],
  composerInfo: ['frame'],
  composerDraft: ['frame'],
  composerSight: ['frame'],
  composerLayout: ['frame'],
  readerSight: ['frame'],
  composeSend: ['frame'],
};

export type MessageType = keyof MessageTable;
export type Request<T extends MessageType> = { type: T } & MessageTable[T]['req'];
export type Reply<T extends MessageType> = MessageTable[T]['res'];
export type AnyRequest = { [T in MessageType]: Request<T> }[MessageType];

/** What travels back: a result or a typed error (never a thrown exception across the boundary). */
export type Envelope<T> =
  { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

/** Which sender kinds may send each message (checked by the background before any handler). */
export const ALLOWED_SENDERS: { [T in MessageType]: readonly MessageTable[T]['who'][] } = {
  ping: ['extension-page', 'content-script'],
  status: ['extension-page'],
  createIdentity: ['extension-page'],
  publish: ['extension-page'],
  setSecurityPhrase: ['extension-page'],
  getSecurityPhrase: ['extension-page'],
  lookupContact: ['extension-page'],
  addContact: ['extension-page'],
  listContacts: ['extension-page'],
  verifyView: ['extension-page'],
  compareScannable: ['extension-page'],
  markVerified: ['extension-page'],
  acknowledgeKeyChange: ['extension-page'],
  removeContact: ['extension-page'],
  exportBackup: ['extension-page'],
  importBackup: ['extension-page'],
  getSettings: ['extension-page'],
  startPicker: ['extension-page'],
  tabHealth: ['extension-page'],
  listSiteProfiles: ['extension-page'],
  importSiteProfile: ['extension-page'],
  deleteSiteProfile: ['extension-page'],
  setSettings: ['extension-page'],
  setLockPassphrase: ['extension-page'],
  lock: ['extension-page'],
  unlock: ['extension-page'],
  deleteEverything: ['extension-page'],
  encrypt: ['extension-page'],
  logAlarms: ['extension-page'],
  dismissLogAlarm: ['extension-page'],
  checkLog: ['extension-page'],
  directoryKey: ['extension-page'],
  listDevices: ['extension-page'],
  startLink: ['extension-page'],
  linkStatus: ['extension-page'],
  confirmLink: ['extension-page'],
  joinWithCode: ['extension-page'],
  joinStatus: ['extension-page'],
  removeDevice: ['extension-page'],
  // The archive: extension pages only (nothing of it reaches a page or a frame in one).
  archiveSearch: ['extension-page'],
  archiveOverview: ['extension-page'],
  setRetention: ['extension-page'],
  archiveDelete: ['extension-page'],
  archiveExport: ['extension-page'],
  openArchived: ['extension-page'],
  tasks: ['extension-page'],
  cancelTask: ['extension-page'],
  ...PAGE_ALLOWED_SENDERS,
};
