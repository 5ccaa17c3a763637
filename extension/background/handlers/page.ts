// Handlers of the in-page feature (background only). Content scripts are unprivileged: they ask
// whether Veil runs on their page, hand in ciphertext and get opaque tokens and statuses back
// (never plaintext), and register a composer for their own tab. The reader and composer frames
// are extension pages inside the host page: they act only through a token issued to their tab.
// Tab, frame and URL come from the browser-supplied sender (HandlerContext), never the message.
import { bytesToHex } from '@noble/hashes/utils.js';
import { bytesEqual } from '../../protocol/bytes';
import type {
  ComposerView,
  FrameAuth,
  FrameSight,
  PageBlockResult,
  PageConversation,
  ReaderView,
  ToContentMessage,
} from '../../messaging/messages';
import { armor, dearmor } from '../../protocol/armor';
import { isVeilError } from '../../protocol/errors';
import type { PageView } from '../../protocol/placement';
import type { DecryptResult, GossipedHead } from '../../protocol/veil';
import { textLines } from '../../content/frame-height';
import { BackgroundError } from '../errors';
import type { OrderTracker } from '../order-tracker';
import type { ComposerToken, ReaderToken, TokenRecord } from '../page-tokens';
import { envelopeHash, noteCachedPlaintexts, type CachedPlaintext } from '../plaintext-cache';
import { readerView } from '../reader-view';
import type { HandlerContext } from '../router';
import type { StoreOpAny } from '../key-store';
import { SECURITY_PHRASE_KEY } from '../schema';
import type { VeilService } from '../veil-service';
import { ensureDeviceSessions, noteDeviceSeen } from '../linked-devices';
import { noteSyncChange } from '../device-sync';
import { archiveOf, recordOf } from '../archive/archive';
import { siteProfile } from './sites';
import type { ServiceHandlers } from './types';

/** Recipients last used per conversation, in the sealed `secrets` table. */
/** Where a conversation's recipients are remembered: an opaque name, not the page's id. */
const recipientsKey = (svc: VeilService, context: string) => svc.names.of('recipients', context);
const MAX_SUGGESTIONS = 50;
/**
 * Blocks a page's decrypt job holds: another tab waits for at most one such job. The costliest
 * block a page can post before it is refused is a session's first message (X3DH and at most
 * RATCHET_MAX_FIRST_JUMP chain steps, a few ms), so a job of hostile blocks stays in the tens of
 * ms (bench/flood-bench.ts).
 */
const DECRYPT_JOB_BLOCKS = 8;

/** The page's host, from the browser-supplied URL: the site sealed in what is sent there. */
function hostOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '').host || undefined;
  } catch {
    return undefined;
  }
}

/** Whether the user turned Veil on for the page at `url` (Settings → Sites). */
function siteEnabled(enabledSites: readonly string[], url: URL): boolean {
  return enabledSites.includes(url.host) || enabledSites.includes(url.hostname);
}

/**
 * The page must be on a site the user turned Veil on for: its content script would not ask
 * otherwise, but a compromised renderer could.
 */
export async function requireEnabledSite(svc: VeilService, ctx: HandlerContext): Promise<void> {
  let url: URL | undefined;
  try {
    url = new URL(ctx.url ?? '');
  } catch {
    url = undefined;
  }
  if (!url || !siteEnabled((await svc.settings()).enabledSites, url))
    throw new BackgroundError('forbidden', 'Veil is not turned on for this site');
}

function requireTab(ctx: HandlerContext): number {
  if (ctx.tabId === undefined || ctx.tabId < 0)
    throw new BackgroundError('forbidden', 'only a page in a browser tab may send this');
  return ctx.tabId;
}

/** The origin of a browser-supplied URL, if it has one. */
function originOf(url: string | undefined): string | undefined {
  try {
    const origin = new URL(url ?? '').origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** What a reader frame shows for its record (readMessage). */
async function readerAnswer(
  svc: VeilService,
  tabId: number,
  token: string,
  record: ReaderToken,
  reveal: boolean,
  url: string | undefined,
): Promise<ReaderView & { phrase?: string }> {
  // Locked: refused whatever the record, as pageDecrypt is (not only because a cached entry is
  // sealed). The token stays valid: read again once unlocked, it opens.
  await svc.lock.dataKey();
  // Read together: a page's frames ask while its blocks are still being decrypted, and every
  // IndexedDB round trip waits its turn behind that work.
  const [phrase, cached, order] = await Promise.all([
    phraseOf(svc),
    record.hash ? svc.store.get<CachedPlaintext>('plaintexts', record.hash) : undefined,
    record.hash && record.repeat !== true ? orderOf(svc, tabId) : undefined,
  ]);
  if (!record.hash) return { ...record.view, ...phrase };
  if (!cached) return { ...failedView('expired'), ...phrase };
  const repeat = record.repeat === true || order!.isRepeat(tabId, token);
  const page = record.page ?? { context: record.context };
  const view = await readerView(svc.readerDeps(), cached, page, {
    repeat,
    reveal,
    caller: `tab:${tabId}`,
  });
  // Shown to the user: archived (once; warnings only once revealed). A failure to archive must
  // not keep the message from being read.
  if (view.plaintext !== undefined && view.hidden !== true)
    await archiveOf(svc)
      .noteRead(record.hash, cached, view.status, reveal, url)
      .catch(() => undefined);
  return { ...view, ...phrase };
}

/**
 * The record a frame proves itself with: the sender must be our page of that name, inside a
 * page (not a tab of its own) of the tab the token was issued to, still on the origin it was
 * issued for, presenting the token's key, from the document that first used it. Every refusal
 * looks the same to the caller.
 */
async function frameRecord<K extends TokenRecord['kind']>(
  svc: VeilService,
  ctx: HandlerContext,
  auth: FrameAuth,
  kind: K,
): Promise<{ tabId: number; record: Extract<TokenRecord, { kind: K }> }> {
  let path = '';
  try {
    path = new URL(ctx.url ?? '').pathname;
  } catch {
    // no URL: refused below
  }
  const tabId = requireTab(ctx);
  const frameId = ctx.frameId;
  if (path !== `/${kind}.html` || frameId === undefined || frameId === 0)
    throw new BackgroundError('forbidden', `only the ${kind} frame may send this`);
  const doc = ctx.documentId ?? `frame:${frameId}`;
  const record = await svc.pages.redeem(tabId, auth.token, auth.key, doc, kind);
  // Gone (the page reloaded, or its oldest frames were dropped): the page knows its tokens, so
  // saying so tells it nothing.
  if (record === 'unknown') throw new BackgroundError('not-found', 'this frame has expired');
  const here = originOf(ctx.tabUrl);
  if (
    record === 'refused' ||
    (record.origin !== undefined && here !== undefined && here !== record.origin)
  )
    throw new BackgroundError('forbidden', 'this frame was not placed by Veil');
  return { tabId, record };
}

const utf8 = new TextEncoder();
function utf8Length(text: string): number {
  return utf8.encode(text).length;
}

/** The user's security phrase, for a frame that proved it is Veil's. */
async function phraseOf(svc: VeilService): Promise<{ phrase?: string }> {
  const phrase = await svc.store.get<string>('secrets', SECURITY_PHRASE_KEY);
  return phrase === undefined ? {} : { phrase };
}

function failedView(error: string): ReaderView {
  return { status: 'failed', error };
}

/** What a token record may hold of a view: never the plaintext. */
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
 * What the page says of the conversation, as placement is judged on it: the adapter's id and
 * kind, and for a direct conversation its peer as the user chose it (the recipient last used
 * there), never a name the page shows.
 */
async function pageViewOf(svc: VeilService, page: PageConversation): Promise<PageView> {
  const view: PageView = { context: page.context };
  if (page.kind) view.kind = page.kind;
  if (page.kind === 'direct') {
    const remembered = await svc.store.get<string[]>(
      'secrets',
      await recipientsKey(svc, page.context),
    );
    if (remembered?.length === 1) view.peers = remembered;
  }
  return view;
}

/** The stream a message's sequence counts in (ours apart from others'). */
function streamOf(entry: CachedPlaintext): string | undefined {
  return entry.sealed?.seq === undefined ? undefined : entry.sealed.stream;
}

function entryOf(r: DecryptResult, context: string, at: number): CachedPlaintext | undefined {
  if (r.status === 'failed' || r.plaintext === undefined || r.sender === undefined) return;
  const entry: CachedPlaintext = { context, plaintext: r.plaintext, sender: r.sender, at };
  if (r.senderIdentityKey) entry.senderIdentityKey = r.senderIdentityKey;
  if (r.kind) entry.kind = r.kind;
  if (r.sealed) entry.sealed = r.sealed;
  // Ours, written on another of our browsers (the protocol checked it against our own list).
  if (r.fromOwnDevice) entry.own = true;
  return entry;
}

type BlockOutcome = { entry: CachedPlaintext; hash: string } | { failure: ReaderView };

/**
 * Decrypts a page's blocks: cached ones from the plaintext cache (a second decrypt would be a
 * replay), the rest in one protocol batch whose successes are cached. A block the content
 * script saw twice on the page at once is read once (the caller shows the copy as a repeat).
 * Tree heads the messages carry are returned for the split-view check.
 */
async function decryptBlocks(
  svc: VeilService,
  tabId: number,
  page: PageView,
  blocks: readonly { armored: string; repeat?: boolean }[],
): Promise<{ outcomes: BlockOutcome[]; heads: GossipedHead[] }> {
  const outcomes = new Array<BlockOutcome>(blocks.length);
  // By hash: block indexes in page order, and the envelope (handed to the protocol batch on a
  // cache miss, so no block is dearmored twice).
  const pending = new Map<string, { indexes: number[]; envelope: Uint8Array }>();
  // Reading the armor takes turns between tabs too (a page may post megabytes of it).
  for (let at = 0; at < blocks.length; at += DECRYPT_JOB_BLOCKS) {
    await svc.fair.run(tabId, async () => {
      for (let i = at; i < Math.min(blocks.length, at + DECRYPT_JOB_BLOCKS); i++) {
        let envelope: Uint8Array;
        try {
          envelope = dearmor(blocks[i]!.armored);
        } catch (e) {
          outcomes[i] = { failure: failedView(isVeilError(e) ? e.code : 'malformed') };
          continue;
        }
        const hash = envelopeHash(envelope);
        const same = pending.get(hash);
        if (same) same.indexes.push(i);
        else pending.set(hash, { indexes: [i], envelope });
      }
    });
  }

  const misses: { hash: string; indexes: number[]; envelope: Uint8Array }[] = [];
  const groups = [...pending];
  const cached = await svc.store.getMany<CachedPlaintext>(
    'plaintexts',
    groups.map(([hash]) => hash),
  );
  for (const [g, [hash, { indexes, envelope }]] of groups.entries()) {
    const entry = cached[g];
    if (entry) for (const i of indexes) outcomes[i] = { entry, hash };
    else misses.push({ hash, indexes, envelope });
  }

  const heads: GossipedHead[] = [];
  if (misses.length > 0) {
    // In small jobs that take turns with other tabs' (fair-queue.ts): a page cannot hold up
    // another tab's messages by more than one job of its own.
    const results: DecryptResult[] = [];
    for (let at = 0; at < misses.length; at += DECRYPT_JOB_BLOCKS) {
      const envelopes = misses.slice(at, at + DECRYPT_JOB_BLOCKS).map((m) => m.envelope);
      results.push(
        ...(await svc.fair.run(tabId, () => svc.veil.decryptEnvelopes(page, envelopes))),
      );
    }
    const ops: StoreOpAny[] = [];
    const at = svc.now();
    for (const [k, miss] of misses.entries()) {
      const r = results[k]!;
      if (r.treeHead) heads.push(r.treeHead);
      if (r.fromOwnDevice && r.senderIdentityKey) await noteDeviceSeen(svc, r.senderIdentityKey);
      const entry = entryOf(r, page.context, at);
      for (const i of miss.indexes)
        outcomes[i] = entry ? { entry, hash: miss.hash } : { failure: viewOfFailure(r) };
      if (entry) ops.push({ op: 'put', table: 'plaintexts', key: miss.hash, value: entry });
    }
    await svc.store.commit(ops);
    trimCache(svc, ops.length);
  }
  return { outcomes, heads };
}

function viewOfFailure(r: DecryptResult): ReaderView {
  return failedView(r.error ?? 'malformed');
}

/**
 * The tab's order tracker, rebuilt from its reader records when the worker was restarted since
 * they were issued (the verdicts do not depend on the order blocks are noted in).
 */
async function orderOf(svc: VeilService, tabId: number): Promise<OrderTracker> {
  if (!svc.order.knows(tabId))
    for (const [token, record] of await svc.pages.readers(tabId))
      if (record.order)
        svc.order.note(tabId, record.order.view, record.order.stream, {
          pos: record.order.pos,
          seq: record.order.seq,
          token,
        });
  svc.order.touch(tabId);
  return svc.order;
}

/** Tells the content script that blocks it shows became repeats (so it redraws their readers). */
async function sendRepeats(
  svc: VeilService,
  tabId: number,
  tokens: readonly string[],
): Promise<void> {
  for (const token of tokens) {
    const record = await svc.pages.get(tabId, token);
    if (record?.kind !== 'reader') continue;
    // A stronger warning (unknown sender, moved) or a failure stays as it is.
    const s = record.view.status;
    if (s !== 'verified' && s !== 'unverified' && s !== 'key-changed') continue;
    const message: ToContentMessage = { type: 'veil:status', token, status: 'repeat' };
    await svc.tabs(tabId, record.frameId, message).catch(() => undefined);
  }
}

/** Checks contacts' gossiped tree heads against our view of the log, off the page's path. */
function checkHeads(svc: VeilService, heads: readonly GossipedHead[]): void {
  if (heads.length === 0) return;
  void (async () => {
    const { directoryUrl } = await svc.settings();
    for (const head of heads)
      await svc.checkGossipedHead(directoryUrl, head).catch(() => undefined);
  })().catch(() => undefined);
}

/** What the composer's content script sees of its frame now; 'away' if it does not answer. */
async function sightOf(
  svc: VeilService,
  tabId: number,
  frameId: number,
  token: string,
): Promise<FrameSight> {
  const answer = (await svc
    .tabs(tabId, frameId, { type: 'veil:sight', token })
    .catch(() => undefined)) as { sight?: unknown } | undefined;
  const sight = answer?.sight;
  return sight === 'visible' || sight === 'partial' || sight === 'obscured' ? sight : 'away';
}

/** Our latest verified tree head at the directory in use, to seal for split-view checks. */
async function ourHead(svc: VeilService, directoryUrl: string): Promise<GossipedHead | undefined> {
  const state = await svc.directory.state(directoryUrl).catch(() => undefined);
  if (!state) return undefined;
  const { origin, treeSize, rootHash, timestamp, signature } = state.head;
  return { origin, treeSize, rootHash, timestamp, signature };
}

export const pageHandlers: ServiceHandlers<
  | 'pageEnabled'
  | 'pageDecrypt'
  | 'registerComposer'
  | 'frameReloaded'
  | 'readMessage'
  | 'addSender'
  | 'composerInfo'
  | 'composerDraft'
  | 'composerSight'
  | 'composerLayout'
  | 'readerSight'
  | 'composeSend'
> = {
  async pageEnabled(svc, _req, ctx) {
    const tabId = requireTab(ctx);
    let url: URL;
    try {
      url = new URL(ctx.url ?? '');
    } catch {
      return { enabled: false };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { enabled: false };
    // Both reads at once: every page load waits for this answer.
    const [profile, { enabledSites }, taught] = await Promise.all([
      svc.store.get('state', 'profile'),
      svc.settings(),
      // Sealed: none while locked (the page then runs on the built-in adapters).
      siteProfile(svc, url.host).catch(() => undefined),
    ]);
    if (!profile) return { enabled: false };
    // Only the user turns Veil on, per site: an adapter that recognises the page (by its
    // markup, which any page can copy) does not.
    const enabled = siteEnabled(enabledSites, url);
    // A page (re)loaded in this tab: the frames of the one before are gone. Not awaited (the
    // page waits for this answer): tokens for the new page are issued after it all the same.
    if (enabled) {
      svc.order.forgetTab(tabId);
      svc.readWatch.forgetTab(tabId);
      void svc.pages.forgetTab(tabId).catch(() => undefined);
    }
    return enabled && taught ? { enabled, profile: taught } : { enabled };
  },

  async pageDecrypt(svc, req, ctx) {
    const tabId = requireTab(ctx);
    await requireEnabledSite(svc, ctx);
    await svc.lock.dataKey(); // locked: say so instead of failing every block
    // The frames on screen read their messages first (bounded: a frame the page removed never
    // reads).
    if (req.after?.length) await svc.readWatch.wait(tabId, req.after);
    const page = await pageViewOf(svc, req);
    const { outcomes, heads } = await decryptBlocks(svc, tabId, page, req.blocks);
    const tokens = svc.pages.newTokens(outcomes.length);
    const keys = svc.pages.newTokens(outcomes.length);
    const origin = originOf(ctx.url);
    const order = await orderOf(svc, tabId);
    const retro: string[] = [];
    const deps = svc.readerDeps();
    const records: ReaderToken[] = [];
    const views: ReaderView[] = [];
    /** Each block's text length in UTF-8 bytes (its frame's height depends on its bucket). */
    const textLength: (number | undefined)[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const record: ReaderToken = {
        kind: 'reader',
        key: keys[i]!,
        frameId: ctx.frameId ?? 0,
        context: req.context,
        page,
        view: { status: 'failed' },
      };
      if (origin) record.origin = origin;
      if ('failure' in outcome) {
        record.view = outcome.failure;
        views.push(outcome.failure);
        records.push(record);
        textLength.push(undefined);
        continue;
      }
      const { entry, hash } = outcome;
      textLength.push(utf8Length(entry.plaintext));
      const stream = streamOf(entry);
      const { pos, view: listView } = req.blocks[i]!;
      const viewKey = `${listView ?? 0} ${req.context}`;
      // The same envelope shown twice at once: the content script says which is the copy.
      let repeat = req.blocks[i]!.repeat === true;
      if (stream !== undefined && pos !== undefined) {
        const seq = entry.sealed!.seq!;
        const noted = order.note(tabId, viewKey, stream, { pos, seq, token: tokens[i]! });
        repeat = noted.repeat || req.blocks[i]!.repeat === true;
        retro.push(...noted.retro);
        record.order = { view: viewKey, stream, pos, seq };
      }
      const view = await readerView(deps, entry, page, {
        repeat,
        caller: `tab:${tabId}`,
        fingerprint: false,
      });
      if (view.status !== 'unknown-sender' && !entry.own)
        noteSender(svc, req.context, entry.sender);
      record.hash = hash;
      if (repeat) record.repeat = true;
      record.view = withoutPlaintext(view);
      delete record.view.hidden;
      views.push(view);
      records.push(record);
    }
    const issued = await svc.pages.issue(tabId, records, tokens);
    if (retro.length) void sendRepeats(svc, tabId, retro).catch(() => undefined);
    checkHeads(svc, heads);
    return views.map((view, i): PageBlockResult => {
      const result: PageBlockResult = {
        token: issued[i]!,
        key: keys[i]!,
        status: view.status,
        lines: textLines(textLength[i] ?? 0),
      };
      if (view.sender !== undefined) result.sender = view.sender;
      if (view.error !== undefined) result.error = view.error;
      return result;
    });
  },

  async registerComposer(svc, { context, kind, name, maxMessageLength, authors }, ctx) {
    const tabId = requireTab(ctx);
    await requireEnabledSite(svc, ctx);
    const [key] = svc.pages.newTokens(1);
    const record: ComposerToken = {
      kind: 'composer',
      key: key!,
      frameId: ctx.frameId ?? 0,
      context,
      maxMessageLength,
      authors,
    };
    const origin = originOf(ctx.url);
    if (origin) record.origin = origin;
    if (kind) record.conversation = kind;
    if (name) record.name = name;
    const site = hostOf(ctx.url);
    if (site) record.site = site;
    const [token] = await svc.pages.issue(tabId, [record]);
    return { token: token!, key: key! };
  },

  async frameReloaded(svc, { token }, ctx) {
    const tabId = requireTab(ctx);
    await svc.pages.unbind(tabId, token);
    return { ok: true };
  },

  async readMessage(svc, { token, key, reveal }, ctx) {
    const { tabId, record } = await frameRecord(svc, ctx, { token, key }, 'reader');
    try {
      return await readerAnswer(svc, tabId, token, record, reveal === true, ctx.tabUrl);
    } finally {
      svc.readWatch.done(tabId, token);
    }
  },

  async addSender(svc, { token, key }, ctx) {
    const { record } = await frameRecord(svc, ctx, { token, key }, 'reader');
    await svc.lock.dataKey();
    const cached = record.hash
      ? await svc.store.get<CachedPlaintext>('plaintexts', record.hash)
      : undefined;
    const me = await svc.requireProfile();
    if (!cached || cached.own || !cached.senderIdentityKey || cached.sender === me.handle)
      throw new BackgroundError('invalid-argument', 'this message has no sender to add');
    // The key the directory shows now must be the one that sealed this message.
    const { directoryUrl } = await svc.settings();
    const found = await svc.directory.lookup(directoryUrl, cached.sender);
    if (!bytesEqual(found.identityKey, cached.senderIdentityKey))
      throw new BackgroundError(
        'invalid-argument',
        'the directory shows another key for this sender: add them in Settings',
      );
    await svc.veil.addContact(cached.sender, found.identityKey);
    return { ok: true };
  },

  async composerInfo(svc, { token, key }, ctx) {
    const { tabId, record } = await frameRecord(svc, ctx, { token, key }, 'composer');
    const me = await svc.requireProfile();
    const [remembered, contacts, draft, group] = await Promise.all([
      recipientsKey(svc, record.context).then((key) => svc.store.get<string[]>('secrets', key)),
      svc.listContacts(),
      svc.pages.draft(tabId, token),
      record.conversation === 'direct' ? undefined : svc.veil.groupMembers(record.context),
    ]);
    // A group's members as its last member list says (changes others made included), else the
    // recipients last used here. Either way the page only hinted: each shows its trust mark.
    let recipients = remembered ?? [];
    if (group) recipients = group.members.map((m) => m.handle).filter((h) => h !== me.handle);
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
    if (record.conversation) view.kind = record.conversation;
    if (record.name) view.name = record.name;
    if (group) view.groupEpoch = group.epoch;
    if (draft !== undefined) view.draft = draft;
    return { ...view, ...(await phraseOf(svc)) };
  },

  async composerDraft(svc, { token, key, text }, ctx) {
    const { tabId } = await frameRecord(svc, ctx, { token, key }, 'composer');
    // Locked: nothing is kept (locking dropped the drafts; this must not bring one back).
    await svc.lock.dataKey();
    await svc.pages.setDraft(tabId, token, text);
    return { ok: true };
  },

  async composerSight(svc, { token, key }, ctx) {
    const { tabId, record } = await frameRecord(svc, ctx, { token, key }, 'composer');
    return { sight: await sightOf(svc, tabId, record.frameId, token) };
  },

  async composerLayout(svc, { token, key, focusHost, size }, ctx) {
    const { tabId, record } = await frameRecord(svc, ctx, { token, key }, 'composer');
    const layout: ToContentMessage = { type: 'veil:layout', token };
    if (focusHost) layout.focusHost = true;
    if (size) layout.size = size;
    await svc.tabs(tabId, record.frameId, layout).catch(() => undefined);
    return { ok: true };
  },

  async readerSight(svc, { token, key }, ctx) {
    const { tabId, record } = await frameRecord(svc, ctx, { token, key }, 'reader');
    return { sight: await sightOf(svc, tabId, record.frameId, token) };
  },

  async composeSend(svc, { token, key, text, recipients, groupEpoch }, ctx) {
    const { tabId, record } = await frameRecord(svc, ctx, { token, key }, 'composer');
    await svc.lock.dataKey();
    // Redress: a page that covers, fades or moves the composer could have the user type or
    // click into something else than they see. Asked of the content script now, not trusted
    // from the frame (which in Firefox cannot see what the page draws over it).
    const sight = await sightOf(svc, tabId, record.frameId, token);
    if (sight !== 'visible')
      throw new BackgroundError(
        'obscured',
        sight === 'obscured'
          ? 'something on the page covers, fades or distorts the composer'
          : 'the composer is not fully in view',
      );
    const me = await svc.requireProfile();
    const others = recipients.filter((h) => h !== me.handle);
    if (others.length === 0)
      throw new BackgroundError('invalid-argument', 'choose at least one recipient');
    const kind = record.conversation ?? (others.length === 1 ? 'direct' : 'group');
    if (kind === 'direct' && others.length !== 1)
      throw new BackgroundError('invalid-argument', 'a direct conversation has one recipient');
    if (kind === 'group') {
      // Someone took a member out after the composer showed the members: sending to that list
      // would put them back unawares. (Adding or leaving out others is the user's choice.)
      const group = await svc.veil.groupMembers(record.context);
      const shown = groupEpoch ?? 0;
      if (group && others.some((h) => (group.removed[h] ?? 0) > shown))
        throw new BackgroundError(
          'membership-changed',
          'the group changed while you wrote: check the recipients and send again',
        );
    }
    const { directoryUrl } = await svc.settings();
    await Promise.all(others.map((h) => svc.ensureSession(h, directoryUrl)));
    // A message (or a group's sender key) goes to every device of each recipient and our own.
    await ensureDeviceSessions(svc, directoryUrl, others);
    const origin = { site: record.site ?? '', name: record.name ?? '' };
    const treeHead = await ourHead(svc, directoryUrl);
    const sent = await svc.veil.encryptSealed(
      {
        context: record.context,
        recipients: others,
        kind,
        origin,
        ...(treeHead ? { treeHead } : {}),
      },
      text,
    );
    const envelope = sent.envelope;
    const stream = kind === 'direct' ? `own:d:${others[0]}` : `own:g:${bytesToHex(sent.groupId!)}`;
    const own: CachedPlaintext = {
      context: record.context,
      plaintext: text,
      sender: me.handle,
      kind,
      own: true,
      at: svc.now(),
      sealed: {
        kind,
        seq: sent.seq,
        sentAt: sent.sentAt,
        origin,
        stream,
        ...(sent.groupId ? { groupId: sent.groupId } : {}),
      },
    };
    if (kind === 'direct') own.to = others[0]!;
    const digest = envelopeHash(envelope);
    const remember = await recipientsKey(svc, record.context);
    // Cached and archived in one transaction (the cache entry names its archive record).
    await archiveOf(svc).add(recordOf(own, digest, 'sent', ctx.tabUrl, others), (seq) => [
      { op: 'put', table: 'plaintexts', key: digest, value: { ...own, archived: seq } },
      { op: 'put', table: 'secrets', key: remember, value: others },
    ]);
    // The conversation's recipients follow on our other browsers (device-sync.ts).
    if (others.length > 0)
      void noteSyncChange(svc, {
        op: 'setRecipients',
        conversation: record.context,
        handles: others,
      }).catch(() => undefined);
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
