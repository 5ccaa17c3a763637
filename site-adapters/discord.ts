// Discord in the browser (discord.com/channels/…): a closed app, so the selectors follow public
// code that reads its page, never checked against the live site. Pure DOM code in the content
// script: sees ciphertext only.
//
// Public code followed: Vendicated/Vencord (src/plugins/messageLogger/index.tsx finds a message
// as `chat-messages-<channel>-<message>`, src/plugins/quickReply/index.ts its text as
// `message-content-<message>`, src/plugins/reviewDB/components/ReviewsView.tsx drives Discord's
// Slate editor); steveseguin/social_stream (sources/discord.js: `[data-list-id="chat-messages"]`,
// `#message-username-<id>` and walking back to the message that names a grouped message's author,
// `slateTextArea`); public userscripts for `section[aria-label="User area"]`, `[role="textbox"]
// [data-slate-editor="true"]` and a grouped message's `aria-labelledby` naming the first
// message's `message-username-<id>`. Class names are hashed per build (`messageContent_c19a55`),
// so only their prefix is matched.
//
// What Discord does to text: its compose box is a Slate editor; a message holds at most 2,000
// characters (4,000 with Nitro), longer text is refused or offered as a file; markdown (`*`, `_`,
// `` ` ``, `~~`, `||`, `>`) is rendered, `:name:` becomes an emoji, `@name` / `#channel` become
// mentions and URLs links. Armor (base62 letters and digits) passes all of that unchanged.
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

/** `[class^="x_"], [class*=" x_"]`: a hashed Discord class by its stable prefix. */
const cls = (prefix: string) => `[class^="${prefix}_"], [class*=" ${prefix}_"]`;
/** The same, each selector scoped under `scope`. */
const under = (scope: string, prefix: string) =>
  `${scope} [class^="${prefix}_"], ${scope} [class*=" ${prefix}_"]`;

export const discordSelectors = {
  // The channel's Slate editor (the thread side panel has its own, outside <main>).
  composeBox: 'main form [role="textbox"][data-slate-editor="true"]',
  // The buttons right of the text (gift, GIF, stickers, emoji): the toggle goes after them.
  toggleAnchor: under('main form', 'buttons'),
  messageList: 'main ol[data-list-id="chat-messages"]',
  message: 'li[id^="chat-messages-"]',
  // A reply's preview of the message it answers carries that message's `message-content-<id>`.
  messageBody: '[id^="message-content-"]:not([id^="message-reply-context-"] *)',
  // The first message of a group names its author; the others do not (see groupAuthor).
  messageAuthor: under('[id^="message-username-"] >', 'username'),
  selfName: under('section[aria-label="User area"]', 'panelTitleContainer'),
  channelHeader: 'section[aria-label="Channel header"] h1',
  article: '[role="article"][aria-labelledby]',
} as const;

const s = discordSelectors;

/** `/channels/<guild or @me>/<channel>`: the ids every member's URL shows for that channel. */
function channelOf(location: URL): { guild: string; channel: string } | null {
  const m = /^\/channels\/(@me|\d+)\/(\d+)/.exec(location.pathname);
  return m ? { guild: m[1]!, channel: m[2]! } : null;
}

const base = defineAdapter({
  id: 'discord',
  name: 'Discord',
  markup: 'unchecked',
  hosts: ['discord.com', '*.discord.com'],
  // Discord refuses a longer message (Nitro's 4,000 is not everyone's).
  maxMessageLength: 2_000,
  // Discord allows about 5 messages per 5 seconds in a channel; slower keeps clear of the limit.
  sendIntervalMs: 1_100,
  selectors: s,
  // The same for every member: the guild's and the channel's id (`@me` for direct and group
  // DMs, whose channel id both sides share).
  conversationId(location) {
    const at = channelOf(location);
    return at ? `discord:${at.guild}/${at.channel}` : null;
  },
  conversationInfo(location, doc) {
    const at = channelOf(location);
    if (!at) return null;
    const title = doc.querySelector(s.channelHeader)?.textContent?.trim();
    if (at.guild !== '@me') return { kind: 'group', ...(title ? { name: `#${title}` } : {}) };
    // The DM list labels its entries "alice (direct message)" / "Lab (group message)".
    const entry = doc.querySelector(`a[href="/channels/@me/${at.channel}"][aria-label]`);
    const label = entry?.getAttribute('aria-label') ?? '';
    const kind = /group message/i.test(label)
      ? 'group'
      : /direct message/i.test(label)
        ? 'direct'
        : undefined;
    return { ...(kind ? { kind } : {}), ...(title ? { name: title } : {}) };
  },
  // Discord empties its editor once the message went out.
  confirmClearedMs: 3_000,
});

/**
 * The author of a grouped message, which shows no name: Discord labels every message by the
 * `message-username-<id>` of its group's first message (`aria-labelledby`), so read that one.
 */
function groupAuthor(message: HTMLElement): string | null {
  const labelled = message.querySelector(s.article)?.getAttribute('aria-labelledby') ?? '';
  const ref = labelled.split(/\s+/).find((id) => id.startsWith('message-username-'));
  const header = ref ? message.ownerDocument.getElementById(ref) : null;
  const name = header?.querySelector(cls('username')) ?? header;
  return name?.textContent?.trim() || null;
}

export const discord: SiteAdapter = {
  ...base,
  messageAuthor: (message) => base.messageAuthor(message) ?? groupAuthor(message),
};
