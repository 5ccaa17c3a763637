// Handlers of the in-page feature (background only). Content scripts are unprivileged: they ask
// whether Veil runs on their page, hand in ciphertext and get opaque tokens and statuses back
// (never plaintext), and register a composer for their own tab. The reader and composer frames
// are extension pages inside the host page: they act only through a token issued to their tab.
// Tab, frame and URL come from the browser-supplied sender (HandlerContext), never the message.
import type {
  ComposerView,
  PageBlockResult,
  ReaderView,
  ToContentMessage,
} from '../../messaging/messages';
import { armor, dearmor } from '../../protocol/armor';
import { isVeilError } from '../../protocol/errors';
import type { Contact, DecryptResult } from '../../protocol/veil';
import { quantiseHeight } from '../../content/frame-height';
import { BackgroundError } from '../errors';
import type { ComposerToken, ReaderToken, TokenRecord } from '../page-tokens';
import {
  cachedView,
  envelopeHash,
  noteCachedPlaintexts,
  type CachedPlaintext,
} from '../plaintext-cache';
import type { HandlerContext } from '../router';
import type { StoreOpAny } from '../key-store';
import type { VeilService } from '../veil-service';
import type { ServiceHandlers } from './types';

/** Recipients last used per conversation, in the sealed `secrets` table. */
const recipientsKey = (context: string) => `recipients/${context}`;
const MAX_SUGGESTIONS = 50;

function requireTab(ctx: HandlerContext): number {
  if (ctx.tabId === undefined || ctx.tabId < 0)
    throw new BackgroundError('forbidden', 'only a page in a browser tab may send this');
  return ctx.tabId;
}

/** The frame must be our page of that name (a reader token is no use to another page). */
function requirePage(ctx: HandlerContext, page: 'reader' | 'composer'): number {
  let path = '';
  try {
    path = new URL(ctx.url ?? '').pathname;
  } catch {
    // no URL: refused below
  }
  if (path !== `/${page}.html`)
    throw new BackgroundError('forbidden', `only the ${page} frame may send this`);
  return requireTab(ctx);
}

async function tokenOf<K extends TokenRecord['kind']>(
  svc: VeilService,
  tabId: number,
  token: string,
  kind: K,
): Promise<Extract<TokenRecord, { kind: K }>> {
  const record = await svc.pages.get(tabId, token);
  // Unknown, issued to another tab, or of the other kind: all look the same to the caller.
  if (record?.kind !== kind) throw new BackgroundError('not-found', 'this frame has expired');
  return record as Extract<TokenRecord, { kind: K }>;
}

function failedView(error: string): ReaderView {
  return { status: 'failed', error };
}

function viewOf(r: DecryptResult): ReaderView {
  const view: ReaderView = { status: r.status };
  if (r.sender !== undefined) view.sender = r.sender;
  if (r.plaintext !== undefined) view.plaintext = r.plaintext;
  if (r.kind !== undefined) view.kind = r.kind;
  if (r.error !== undefined) view.error = r.error;
  return view;
}

function withoutPlaintext(view: ReaderView): Omit<ReaderView, 'plaintext'> {
  const { plaintext: _plaintext, ...rest } = view;
  return rest;
}

function noteSender(svc: VeilService, context: string, sender: string | undefined): void {
  if (!sender) return;
  let seen = svc.seenSenders.get(context);
  if (!seen) svc.seenSenders.set(context, (seen = new Set()));
  if (seen.size < MAX_SUGGESTIONS) seen.add(sender);
}

/** Keeps the plaintext cache bounded, off the page's path (a failed pass is retried later). */
function trimCache(svc: VeilService, added: number): void {
  if (added > 0) void noteCachedPlaintexts(svc.store, added).catch(() => undefined);
}

/**
 * Decrypts a page's blocks in order: cached ones from the plaintext cache (a second decrypt
 * would be a replay), the rest in one protocol batch whose successes are cached. Blocks the
 * content script saw twice on the page at once (`repeat`) are reported as replays unread.
 */
async function decryptBlocks(
  svc: VeilService,
  context: string,
  blocks: readonly { armored: string; repeat?: boolean }[],
): Promise<{ views: ReaderView[]; hashes: (string | undefined)[] }> {
  const views: ReaderView[] = new Array<ReaderView>(blocks.length);
  const hashes: (string | undefined)[] = new Array<string | undefined>(blocks.length);
  // By hash: block indexes in page order, and the envelope (handed to the protocol batch on a
  // cache miss, so no block is dearmored twice).
  const pending = new Map<string, { indexes: number[]; envelope: Uint8Array }>();
  for (const [i, block] of blocks.entries()) {
    if (block.repeat) {
      views[i] = failedView('replay');
      continue;
    }
    let envelope: Uint8Array;
    try {
      envelope = dearmor(block.armored);
    } catch (e) {
      views[i] = failedView(isVeilError(e) ? e.code : 'malformed');
      continue;
    }
    const hash = envelopeHash(envelope);
    hashes[i] = hash;
    const same = pending.get(hash);
    if (same) same.indexes.push(i);
    else pending.set(hash, { indexes: [i], envelope });
  }

  const misses: { hash: string; indexes: number[]; envelope: Uint8Array }[] = [];
  const groups = [...pending];
  const cached = await svc.store.getMany<CachedPlaintext>(
    'plaintexts',
    groups.map(([hash]) => hash),
  );
  const contacts = new Map<string, Promise<Contact | undefined>>();
  const contactOf = (handle: string) => {
    let c = contacts.get(handle);
    if (!c) contacts.set(handle, (c = svc.veil.getContact(handle)));
    return c;
  };
  for (const [g, [hash, { indexes, envelope }]] of groups.entries()) {
    const entry = cached[g];
    if (entry && entry.context === context) {
      const view = cachedView(entry, entry.own ? undefined : await contactOf(entry.sender));
      for (const i of indexes) views[i] = view;
    } else misses.push({ hash, indexes, envelope });
  }

  if (misses.length > 0) {
    const results = await svc.veil.decryptEnvelopes(
      context,
      misses.map((m) => m.envelope),
    );
    const ops: StoreOpAny[] = [];
    const at = svc.now();
    for (const [k, miss] of misses.entries()) {
      const r = results[k]!;
      const view = viewOf(r);
      for (const i of miss.indexes) views[i] = view;
      if (r.status === 'failed' || r.plaintext === undefined || r.sender === undefined) continue;
      const entry: CachedPlaintext = { context, plaintext: r.plaintext, sender: r.sender, at };
      if (r.senderIdentityKey) entry.senderIdentityKey = r.senderIdentityKey;
      if (r.kind) entry.kind = r.kind;
      ops.push({ op: 'put', table: 'plaintexts', key: miss.hash, value: entry });
    }
    await svc.store.commit(ops);
    trimCache(svc, ops.length);
  }
  return { views, hashes };
}

export const pageHandlers: ServiceHandlers<
  | 'pageEnabled'
  | 'pageDecrypt'
  | 'registerComposer'
  | 'readMessage'
  | 'frameHeight'
  | 'composerInfo'
  | 'composerDraft'
  | 'composeSend'
> = {
  async pageEnabled(svc, { specific }, ctx) {
    const tabId = requireTab(ctx);
    let url: URL;
    try {
      url = new URL(ctx.url ?? '');
    } catch {
      return { enabled: false };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { enabled: false };
    // Both reads at once: every page load waits for this answer.
    const [profile, { enabledSites }] = await Promise.all([
      svc.store.get('state', 'profile'),
      svc.settings(),
    ]);
    if (!profile) return { enabled: false };
    const enabled =
      specific || enabledSites.includes(url.host) || enabledSites.includes(url.hostname);
    // A page (re)loaded in this tab: the frames of the one before are gone. Not awaited (the
    // page waits for this answer): tokens for the new page are issued after it all the same.
    if (enabled) void svc.pages.forgetTab(tabId).catch(() => undefined);
    return { enabled };
  },

  async pageDecrypt(svc, { context, blocks }, ctx) {
    const tabId = requireTab(ctx);
    await svc.lock.dataKey(); // locked: say so instead of failing every block
    const { views, hashes } = await decryptBlocks(svc, context, blocks);
    const records: ReaderToken[] = views.map((view, i) => {
      noteSender(svc, context, view.own ? undefined : view.sender);
      const record: ReaderToken = {
        kind: 'reader',
        frameId: ctx.frameId ?? 0,
        context,
        view: withoutPlaintext(view),
      };
      if (view.status !== 'failed' && hashes[i]) record.hash = hashes[i];
      return record;
    });
    const tokens = await svc.pages.issue(tabId, records);
    return views.map((view, i): PageBlockResult => {
      const result: PageBlockResult = { token: tokens[i]!, status: view.status };
      if (view.sender !== undefined) result.sender = view.sender;
      if (view.error !== undefined) result.error = view.error;
      return result;
    });
  },

  async registerComposer(svc, { context, maxMessageLength, authors }, ctx) {
    const tabId = requireTab(ctx);
    const record: ComposerToken = {
      kind: 'composer',
      frameId: ctx.frameId ?? 0,
      context,
      maxMessageLength,
      authors,
    };
    const [token] = await svc.pages.issue(tabId, [record]);
    return { token: token! };
  },

  async readMessage(svc, { token }, ctx) {
    const tabId = requirePage(ctx, 'reader');
    const record = await tokenOf(svc, tabId, token, 'reader');
    // Locked: refused whatever the record, as pageDecrypt is (not only because a cached entry is
    // sealed). The token stays valid: read again once unlocked, it opens.
    await svc.lock.dataKey();
    if (!record.hash) return { ...record.view };
    const cached = await svc.store.get<CachedPlaintext>('plaintexts', record.hash);
    if (!cached) return failedView('expired');
    const contact = cached.own ? undefined : await svc.veil.getContact(cached.sender);
    return cachedView(cached, contact);
  },

  async frameHeight(svc, { token, height }, ctx) {
    const tabId = requireTab(ctx);
    const record = await svc.pages.get(tabId, token);
    if (!record) throw new BackgroundError('not-found', 'this frame has expired');
    const message: ToContentMessage = {
      type: 'veil:frameHeight',
      token,
      height: quantiseHeight(height),
    };
    // The page may be gone already; nothing to tell then.
    await svc.tabs(tabId, record.frameId, message).catch(() => undefined);
    return { ok: true };
  },

  async composerInfo(svc, { token }, ctx) {
    const tabId = requirePage(ctx, 'composer');
    const record = await tokenOf(svc, tabId, token, 'composer');
    const me = await svc.requireProfile();
    const [remembered, contacts, draft] = await Promise.all([
      svc.store.get<string[]>('secrets', recipientsKey(record.context)),
      svc.listContacts(),
      svc.pages.draft(tabId, token),
    ]);
    const recipients = remembered ?? [];
    const seen = [...(svc.seenSenders.get(record.context) ?? []), ...record.authors];
    const suggestions = [...new Set(seen)]
      .filter((h) => h !== me.handle && !recipients.includes(h))
      .slice(0, MAX_SUGGESTIONS);
    const view: ComposerView = {
      handle: me.handle,
      recipients,
      suggestions,
      contacts: contacts.map((c) => svc.contactView(c)),
    };
    if (draft !== undefined) view.draft = draft;
    return view;
  },

  async composerDraft(svc, { token, text }, ctx) {
    const tabId = requirePage(ctx, 'composer');
    await tokenOf(svc, tabId, token, 'composer');
    // Locked: nothing is kept (locking dropped the drafts; this must not bring one back).
    await svc.lock.dataKey();
    await svc.pages.setDraft(tabId, token, text);
    return { ok: true };
  },

  async composeSend(svc, { token, text, recipients }, ctx) {
    const tabId = requirePage(ctx, 'composer');
    const record = await tokenOf(svc, tabId, token, 'composer');
    await svc.lock.dataKey();
    const me = await svc.requireProfile();
    const others = recipients.filter((h) => h !== me.handle);
    if (others.length === 0)
      throw new BackgroundError('invalid-argument', 'choose at least one recipient');
    const { directoryUrl } = await svc.settings();
    await Promise.all(others.map((h) => svc.ensureSession(h, directoryUrl)));
    const envelope = await svc.veil.encryptEnvelope(
      { context: record.context, recipients: others },
      text,
    );
    const own: CachedPlaintext = {
      context: record.context,
      plaintext: text,
      sender: me.handle,
      kind: others.length === 1 ? 'direct' : 'group',
      own: true,
      at: svc.now(),
    };
    await svc.store.commit([
      { op: 'put', table: 'plaintexts', key: envelopeHash(envelope), value: own },
      { op: 'put', table: 'secrets', key: recipientsKey(record.context), value: others },
    ]);
    trimCache(svc, 1);
    const chunks = armor(envelope, {
      maxChunkLength: record.maxMessageLength,
      randomBytes: (n) => svc.crypto.randomBytes(n),
    });
    const submit: ToContentMessage = { type: 'veil:submit', token, chunks };
    const answer = (await svc.tabs(tabId, record.frameId, submit).catch(() => undefined)) as
      { ok?: unknown } | undefined;
    if (answer?.ok !== true)
      throw new BackgroundError('internal', 'the page did not take the message');
    // Sent: the draft is done. A failure to clear it must not report the sent message as failed
    // (the user would send it twice).
    await svc.pages.setDraft(tabId, token, '').catch(() => undefined);
    return { chunks: chunks.length };
  },
};
