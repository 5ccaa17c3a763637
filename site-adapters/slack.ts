// Slack in the browser (app.slack.com/client/<team>/<channel>): a closed app, so the selectors
// follow public code that reads its page, never checked against the live site. Pure DOM code in
// the content script: sees ciphertext only.
//
// Public code followed: steveseguin/social_stream (sources/slack.js: the list
// `#message-list [data-qa="slack_kit_list"]`, its `[data-qa="virtual-list-item"]` rows,
// `[data-qa="message-text"]`, and walking back to the row that names a grouped message's sender);
// tytsxai/social-copilot (packages/browser-extension/src/adapters/slack.ts: `message_container`,
// `message_sender_name`, the `/client/<team>/<channel>` path, D… ids for direct messages);
// public userscripts for `.p-message_pane_input`, its `.ql-editor` and
// `[data-qa="texty_send_button"]`. Slack marks its markup with `data-qa` attributes for its own
// tests; they outlive its class names.
//
// What Slack does to text: its compose box ("texty") is built on Quill; a message may hold 40,000
// characters, but long ones are collapsed behind "Show more" and pasted long text may be offered
// as a snippet, so chunks stay at 4,000. `*bold*`, `_italic_`, `~strike~`, `` ` `` and `>` are
// formatted, `:name:` becomes an emoji, `@name` / `#channel` mentions, URLs links; a leading `/`
// is a command. Armor (base62 letters and digits) passes all of that unchanged.
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

export const slackSelectors = {
  // The channel's composer (a thread's, in the side pane, is `.p-threads_flexpane`'s).
  composeBox:
    '.p-message_pane_input .ql-editor[contenteditable="true"], .p-message_pane_input [contenteditable="true"][role="textbox"]',
  sendButton: '.p-message_pane_input [data-qa="texty_send_button"]',
  toggleAnchor: '.p-message_pane_input [data-qa="texty_send_button"]',
  messageList: '#message-list [data-qa="slack_kit_list"]',
  // Rows are also day dividers and "new messages" lines: only those holding a message count.
  message: '[data-qa="virtual-list-item"]:has([data-qa="message_container"])',
  messageBody: '[data-qa="message-text"]',
  // The first message of a run by one person names them; the rest do not (see earlierAuthor).
  messageAuthor: '[data-qa="message_sender_name"]',
  channelName: '.p-view_header [data-qa="channel_name"], .p-view_header__channel_title',
} as const;

const s = slackSelectors;

/** `/client/<team>/<channel>`: C… channels, G… private or group chats, D… direct messages. */
function channelOf(location: URL): { team: string; channel: string } | null {
  const m = /^\/client\/([A-Z0-9]+)\/([CDG][A-Z0-9]+)/.exec(location.pathname);
  return m ? { team: m[1]!, channel: m[2]! } : null;
}

const base = defineAdapter({
  id: 'slack',
  name: 'Slack',
  markup: 'unchecked',
  hosts: ['app.slack.com'],
  // Slack takes 40,000 characters but collapses or snippets long messages.
  maxMessageLength: 4_000,
  // Slack throttles posting to about one message per second in a channel.
  sendIntervalMs: 1_100,
  selectors: s,
  // The same for every member: the workspace's and the channel's id (a DM's D… id is shared by
  // its two people).
  conversationId(location) {
    const at = channelOf(location);
    return at ? `slack:${at.team}/${at.channel}` : null;
  },
  conversationInfo(location, doc) {
    const at = channelOf(location);
    if (!at) return null;
    const name = doc.querySelector(s.channelName)?.textContent?.trim();
    const kind = at.channel.startsWith('D') ? 'direct' : 'group';
    return { kind, ...(name ? { name } : {}) };
  },
  // Slack empties its composer once the message is posted.
  confirmClearedMs: 3_000,
});

/** Rows back from a message that may still belong to its sender's run. */
const LOOKBACK = 50;

/**
 * The sender of a message Slack shows under the previous one's name: the nearest earlier row
 * that names one (a day divider always starts a new run, so the walk never crosses into another
 * sender's run; rows scrolled out of the virtual list are gone, and then it finds none).
 */
function earlierAuthor(message: HTMLElement): string | null {
  let row = message.previousElementSibling;
  for (let i = 0; row && i < LOOKBACK; i++, row = row.previousElementSibling) {
    const name = row.querySelector(s.messageAuthor)?.textContent?.trim();
    if (name) return name;
  }
  return null;
}

export const slack: SiteAdapter = {
  ...base,
  messageAuthor: (message) => base.messageAuthor(message) ?? earlierAuthor(message),
};
