// Site profiles: what the user taught Veil about a site ("Teach Veil this site": they pointed at
// the message box and at one message), as CSS selectors and a length limit, and the adapter
// made from one. Pure data and DOM code: stored sealed by the background, exported and imported
// as a small JSON file, used by the content script before any built-in adapter.
import { defineAdapter } from './define';
import { generic } from './generic';
import type { SiteAdapter } from './types';

export interface SiteProfile {
  /** File format version. */
  veilSiteProfile: 1;
  /** The site it was taught on (host name, with a port if not the default). */
  host: string;
  selectors: {
    /** In the document: the box messages are typed in. */
    composeBox: string;
    /** In the document: the container of the open conversation's messages. */
    messageList: string;
    /** In the list: every message element. */
    message: string;
    /** In a message: the element holding its text (else the message itself). */
    messageBody?: string;
    /** In a message: the element naming its author. */
    messageAuthor?: string;
  };
  /** Longest text the site sends as one message. */
  maxMessageLength: number;
}

/** A profile that does not hold up, with the field that failed. */
export class SiteProfileError extends Error {
  constructor(
    readonly field: string,
    what: string,
  ) {
    super(`site profile: ${field} ${what}`);
    this.name = 'SiteProfileError';
  }
}

const SELECTOR_MAX = 600;
/** A host name, with a port if not the default (what Settings → Sites holds). */
export const HOST_NAME =
  /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/;
/** Chunks of armor need at least 32 characters (armor.ts MIN_CHUNK_LENGTH). */
const MIN_LENGTH = 32;
const MAX_LENGTH = 65_536;
/** The limit a profile gets when the user does not say (a common cap of web chats). */
export const DEFAULT_PROFILE_LENGTH = 2_000;

function selector(raw: Record<string, unknown>, field: string, required: boolean) {
  const value = raw[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > SELECTOR_MAX)
    throw new SiteProfileError(
      `selectors.${field}`,
      `must be a selector of 1–${SELECTOR_MAX} characters`,
    );
  // A selector only: no markup (`<`) and no style rules (braces).
  if (/[<{}]/.test(value))
    throw new SiteProfileError(`selectors.${field}`, 'holds characters a selector does not');
  return value.trim();
}

/** The profile in `raw` (parsed JSON), checked field by field; throws SiteProfileError. */
export function parseSiteProfile(raw: unknown): SiteProfile {
  if (typeof raw !== 'object' || raw === null)
    throw new SiteProfileError('profile', 'is not an object');
  const r = raw as Record<string, unknown>;
  if (r.veilSiteProfile !== 1) throw new SiteProfileError('veilSiteProfile', 'must be 1');
  const host = typeof r.host === 'string' ? r.host.trim().toLowerCase() : '';
  if (!HOST_NAME.test(host) || host.length > 253)
    throw new SiteProfileError('host', 'is not a host name');
  const s = r.selectors;
  if (typeof s !== 'object' || s === null) throw new SiteProfileError('selectors', 'is missing');
  const sel = s as Record<string, unknown>;
  const length = r.maxMessageLength ?? DEFAULT_PROFILE_LENGTH;
  if (
    typeof length !== 'number' ||
    !Number.isInteger(length) ||
    length < MIN_LENGTH ||
    length > MAX_LENGTH
  )
    throw new SiteProfileError(
      'maxMessageLength',
      `must be a whole number from ${MIN_LENGTH} to ${MAX_LENGTH}`,
    );
  const selectors: SiteProfile['selectors'] = {
    composeBox: selector(sel, 'composeBox', true)!,
    messageList: selector(sel, 'messageList', true)!,
    message: selector(sel, 'message', true)!,
  };
  const body = selector(sel, 'messageBody', false);
  if (body) selectors.messageBody = body;
  const author = selector(sel, 'messageAuthor', false);
  if (author) selectors.messageAuthor = author;
  return { veilSiteProfile: 1, host, selectors, maxMessageLength: length };
}

/**
 * The adapter a profile describes. It names conversations as the generic adapter does (so a
 * site taught on one side and guessed on the other still agrees), and is used on the profile's
 * host only.
 */
export function adapterFromProfile(profile: SiteProfile): SiteAdapter {
  return onHostOnly(
    profile,
    defineAdapter({
      id: generic.id,
      name: `Taught: ${profile.host}`,
      markup: 'taught',
      maxMessageLength: profile.maxMessageLength,
      sendIntervalMs: generic.sendIntervalMs,
      selectors: profile.selectors,
      conversationId: (location, doc) => generic.conversationId(location, doc),
      conversationInfo: (location, doc) => generic.conversationInfo?.(location, doc) ?? null,
      confirmClearedMs: 3_000,
    }),
  );
}

function onHostOnly(profile: SiteProfile, taught: SiteAdapter): SiteAdapter {
  const matchesHost = (location: URL) => location.host === profile.host;
  return {
    ...taught,
    matches: (location) => matchesHost(location),
    // A selector that no longer parses (or never did) finds nothing rather than throwing.
    composeBox: (doc) => safely(() => taught.composeBox(doc)),
    messageList: (doc) => safely(() => taught.messageList(doc)),
    messages: (list) => safely(() => taught.messages(list)) ?? [],
  };
}

function safely<T>(find: () => T): T | null {
  try {
    return find();
  } catch {
    return null;
  }
}
