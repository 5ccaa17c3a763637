// Microsoft Teams in the browser (teams.microsoft.com "v2", teams.live.com, teams.cloud.microsoft):
// a closed app, so the selectors follow public code that reads its page, never checked against
// the live site. Pure DOM code in the content script: sees ciphertext only.
//
// Public code followed: steveseguin/social_stream (sources/teams.js: `#chat-pane-list`,
// `[data-tid="message-author-name"]` and walking back to the message that names a grouped
// message's author, `[id^="content-"]` bodies, `.fui-ChatMyMessage` for the user's own, the
// `[role="textbox"]` compose box); microsoft/fluentui-contrib (packages/react-chat: the
// `fui-ChatMessage` / `fui-ChatMyMessage` class names of the Fluent chat components Teams is
// built with); public automation scripts for `[data-tid="ckeditor"]`,
// `button[data-tid="newMessageCommands-send"]` and a chat's id in the selected chat list entry's
// `data-fui-tree-item-value` (`…Conversation|19:…@thread.v2`). Teams marks its markup with
// `data-tid` attributes for its own tests.
//
// What Teams does to text: the compose box is a CKEditor 5 editor; a message holds about 28 KB
// of HTML, chunks stay at 4,096 characters. CKEditor's autoformat (`*bold*`, `` `code` ``, `- `
// lists) may apply while typing; URLs become links, `@name` a mention, `(emoji)` shortcodes and
// `:)` emoticons may become emoji. Armor (base62 letters and digits) passes unchanged.
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

/** A message, someone else's or the user's own (Fluent UI's chat components). */
const MESSAGE = '.fui-ChatMessage, .fui-ChatMyMessage';

export const teamsSelectors = {
  // The chat's editor, not one opened to edit a sent message (those sit in the message list).
  composeBox:
    '[data-tid="ckeditor"][contenteditable="true"]:not(#chat-pane-list *), [data-tid="ckeditor"] [contenteditable="true"]:not(#chat-pane-list *)',
  sendButton: 'button[data-tid="newMessageCommands-send"]:not(#chat-pane-list *)',
  toggleAnchor: 'button[data-tid="newMessageCommands-send"]:not(#chat-pane-list *)',
  messageList: '#chat-pane-list',
  message: MESSAGE,
  messageBody: '[data-tid="chat-pane-message"] [id^="content-"]',
  // The first message of a run names its author; the rest, and the user's own, do not.
  messageAuthor: '[data-tid="message-author-name"]',
  ownMessage: '.fui-ChatMyMessage',
  /** One row of the list: a message, a date, a system line ("Alice added Carol"). */
  row: '[data-tid="chat-pane-item"]',
  /** The chat list entry of the open chat. */
  openChat: '[role="treeitem"][aria-selected="true"][data-fui-tree-item-value]',
  chatTitle: '[id^="title-chat-list-item_"]',
} as const;

const s = teamsSelectors;

/** A Teams thread id: `19:…@thread.v2` (group chats), `@thread.tacv2` (channels), `@unq.gbl.spaces` (1:1). */
const THREAD = /19:[^\s/|?#&]+@(?:thread\.(?:v2|tacv2|skype)|unq\.gbl\.spaces)/;

/** The open chat's thread id: from the selected chat list entry, else from the URL (Teams 1). */
function threadOf(location: URL, doc: Document): string | null {
  const value = doc.querySelector(s.openChat)?.getAttribute('data-fui-tree-item-value') ?? '';
  const fromList = THREAD.exec(value.split('/').pop() ?? '');
  if (fromList) return fromList[0];
  let href = location.href;
  try {
    href = decodeURIComponent(href);
  } catch {
    // a malformed escape: search the URL as it is
  }
  return THREAD.exec(href)?.[0] ?? null;
}

const base = defineAdapter({
  id: 'teams',
  name: 'Microsoft Teams',
  markup: 'unchecked',
  hosts: ['teams.microsoft.com', 'teams.live.com', 'teams.cloud.microsoft'],
  // Teams takes about 28 KB of message HTML; chunks well inside it.
  maxMessageLength: 4_096,
  // Teams throttles bursts of posts to a chat.
  sendIntervalMs: 1_000,
  selectors: s,
  // The thread id every member's Teams uses for the chat (1:1 chats included).
  conversationId(location, doc) {
    const thread = threadOf(location, doc);
    return thread ? `teams:${thread}` : null;
  },
  conversationInfo(location, doc) {
    const thread = threadOf(location, doc);
    const name = doc.querySelector(s.openChat)?.querySelector(s.chatTitle)?.textContent?.trim();
    const kind = thread ? (thread.endsWith('@unq.gbl.spaces') ? 'direct' : 'group') : undefined;
    if (!kind && !name) return null;
    return { ...(kind ? { kind } : {}), ...(name ? { name } : {}) };
  },
  // Teams empties its editor once the message is posted.
  confirmClearedMs: 3_000,
});

/** Rows back from a message that may still belong to its author's run. */
const LOOKBACK = 50;

/**
 * The author of a message Teams shows under the previous one's name: the nearest earlier
 * message that names one, unless the user's own message comes first (which ends the run).
 */
function earlierAuthor(message: HTMLElement): string | null {
  if (message.matches(s.ownMessage)) return null;
  let row = (message.closest(s.row) ?? message).previousElementSibling;
  for (let i = 0; row && i < LOOKBACK; i++, row = row.previousElementSibling) {
    const earlier = row.matches(MESSAGE) ? row : row.querySelector(MESSAGE);
    if (!earlier) continue;
    if (earlier.matches(s.ownMessage)) return null;
    const name = earlier.querySelector(s.messageAuthor)?.textContent?.trim();
    if (name) return name;
  }
  return null;
}

export const teams: SiteAdapter = {
  ...base,
  messageAuthor: (message) => base.messageAuthor(message) ?? earlierAuthor(message),
};
