// Google Chat (chat.google.com, and inside Gmail at mail.google.com/chat, which shows it in frames
// served from chat.google.com): a closed app, so the selectors follow public code that reads its
// page, never checked against the live site. Pure DOM code in the content script: sees ciphertext
// only.
//
// Public code followed: a public Google Chat desktop wrapper's injected script ("gslack"; its
// `SEL` table: `[data-is-room-compose-postbar] [role="textbox"][contenteditable]`,
// `[data-emoji-picker-button-id]`, messages `[data-id][data-user-id]`, the author heading
// `span[role="heading"][aria-level="3"][data-member-id]` that reads "You" on the user's own, the
// sidebar's `span[role="listitem"][data-group-id="space/…" | "dm/…"]`, the `/app/chat/<id>`
// URL, `a[aria-label^="Google Account"]`); public userscripts for threads as
// `c-wiz[data-topic-id]`, the open conversation as `c-wiz[data-group-id][data-num-unread-words]`,
// message text in `[jsname="bgckF"]` and the sender's `data-name` / `data-member-id`; public
// scripts that read the Google bar's account link `a[href^="https://accounts.google.com/
// SignOutOptions"]`, labelled with the user's name and address. Google's
// class names are generated; `data-*` and `jsname` attributes are what these rely on, never the
// UI language's words.
//
// What Google Chat does to text: a message holds at most 4,096 characters; `*bold*`, `_italic_`,
// `~strike~` and `` `code` `` are formatted, URLs linked, `@name` a mention, `:name:` an emoji.
// Armor (base62 letters and digits) passes unchanged.
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

export const googleChatSelectors = {
  // The conversation's own composer (a thread's reply box is another textbox, not the postbar).
  composeBox:
    '[data-is-room-compose-postbar] [role="textbox"][contenteditable]:not([contenteditable="false"])',
  // No sendButton: Enter sends. The toggle goes after the composer's emoji button.
  toggleAnchor: '[data-is-room-compose-postbar] [data-emoji-picker-button-id]',
  // The element whose children are the conversation's threads (a DM is one long thread).
  messageList: 'c-wiz[data-group-id][data-num-unread-words] div:has(> c-wiz[data-topic-id])',
  message: '[data-id][data-user-id]',
  messageBody: '[jsname="bgckF"]',
  messageAuthor: '[data-member-id][data-name]',
  authorAttribute: 'data-name',
  /**
   * The author heading: it holds the sender's member element (`data-name`), or on the user's own
   * messages only a word in the UI language ("You", "Du", "Vous").
   */
  heading: 'span[role="heading"][aria-level="3"][data-member-id]',
  /** The open conversation: `data-group-id` is `space/<id>` or `dm/<id>`. */
  openConversation: 'c-wiz[data-group-id][data-num-unread-words]',
  /** The sidebar entry of a conversation (by `data-group-id`) and its shown name. */
  entry: 'span[role="listitem"][data-group-id]',
  entryName: 'span[role="presentation"] > span[role="presentation"]:first-child',
  /**
   * The Google bar's account button (its sign-out link, in any UI language), labelled
   * "<Google Account, in the UI language>: <name> (<address>)".
   */
  account:
    'a[href^="https://accounts.google.com/SignOutOptions"][aria-label], a[aria-label^="Google Account"]',
  marker: '[data-is-room-compose-postbar]',
} as const;

const s = googleChatSelectors;

/** The open conversation's group id (`space/<id>` or `dm/<id>`), from the page or the URL. */
function groupOf(location: URL, doc: Document): { kind?: 'space' | 'dm'; id: string } | null {
  const group = doc.querySelector(s.openConversation)?.getAttribute('data-group-id') ?? '';
  const fromPage = /^(space|dm)\/([\w-]+)$/.exec(group);
  if (fromPage) return { kind: fromPage[1] as 'space' | 'dm', id: fromPage[2]! };
  // `/app/chat/<id>` (chat.google.com), `/room/<id>` and `/dm/<id>` (older), `#chat/space/<id>`
  // and `#chat/dm/<id>` (Gmail).
  const m =
    /\/app\/chat\/([\w-]+)/.exec(location.pathname) ??
    /\/(room|dm)\/([\w-]+)/.exec(location.pathname) ??
    /#chat\/(space|dm)\/([\w-]+)/.exec(location.hash);
  if (!m) return null;
  if (m.length === 2) return { id: m[1]! };
  return { kind: m[1] === 'dm' ? 'dm' : 'space', id: m[2]! };
}

const base = defineAdapter({
  id: 'google-chat',
  name: 'Google Chat',
  markup: 'unchecked',
  // Gmail's own pages are not chat: only Chat's pages, or a frame that shows its composer.
  hosts: ['chat.google.com'],
  marker: s.marker,
  // Google Chat refuses a longer message.
  maxMessageLength: 4_096,
  // Google Chat throttles fast posting to a space.
  sendIntervalMs: 1_000,
  selectors: s,
  // The space's id, which every member's Chat uses (a DM is a space its two people share).
  conversationId(location, doc) {
    const group = groupOf(location, doc);
    return group ? `google-chat:${group.id}` : null;
  },
  conversationInfo(location, doc) {
    const group = groupOf(location, doc);
    if (!group) return null;
    const entry = [...doc.querySelectorAll(s.entry)].find((e) =>
      e.getAttribute('data-group-id')?.endsWith(`/${group.id}`),
    );
    const name = entry?.querySelector(s.entryName)?.textContent?.trim();
    const groupId = group.kind ? `${group.kind}/${group.id}` : entry?.getAttribute('data-group-id');
    const kind = groupId?.startsWith('dm/') ? 'direct' : groupId ? 'group' : undefined;
    if (!kind && !name) return null;
    return { ...(kind ? { kind } : {}), ...(name ? { name } : {}) };
  },
  // Chat empties its composer once the message is posted.
  confirmClearedMs: 3_000,
});

/**
 * `inner` in a message by the same person as `message`: Chat repeats the sender's `data-user-id`
 * on every message but names them only on the first of a run (and says "You" on one's own).
 */
function bySameSender(message: HTMLElement, inner: string): Element | null {
  const own = message.querySelector(inner);
  if (own) return own;
  const user = message.getAttribute('data-user-id') ?? '';
  if (!/^[\w-]+$/.test(user)) return null;
  return message.ownerDocument.querySelector(`${s.message}[data-user-id="${user}"] ${inner}`);
}

export const googleChat: SiteAdapter = {
  ...base,
  messageAuthor: (message) =>
    bySameSender(message, s.messageAuthor)?.getAttribute(s.authorAttribute)?.trim() || null,
  // A heading that names no member is the user's own ("You" in the UI language).
  messageIsOwn(message) {
    const heading = bySameSender(message, s.heading);
    return heading ? !heading.querySelector(s.messageAuthor) : null;
  },
  // "Google Account: Bob Example (bob@example.com)", "Google-Konto: …", "Compte Google : …": the
  // name between the first colon and the address. Chat shows the user's name nowhere else.
  selfName(doc) {
    const label = doc.querySelector(s.account)?.getAttribute('aria-label') ?? '';
    const m = /^[^:：]*[:：]\s*(.*?)\s*(?:\([^()]*\)\s*)?$/.exec(label.replace(/\s+/g, ' ').trim());
    return m?.[1]?.trim() || null;
  },
};
