// Telegram Web K (web.telegram.org/k), the client of morethanwords/tweb (master, 2025). Selectors
// follow src/components/chat/bubbles.ts (001922d0: safeRenderMessage, renderMessage),
// src/components/translatableMessage.tsx, src/components/chat/messageRender.ts (3448aa00: the time
// element), src/components/chat/input.ts (71dc5ec8), src/components/chat/topbar.ts (de226d59),
// src/components/peerTitle.ts and src/index.hbs (`#main-columns`). Telegram Web A lives on the same
// host, so the page is told apart by its DOM, not by its host.
// Pure DOM code in the content script: sees ciphertext only.
//
// What Telegram does to text: entities (links, mentions, markdown-like shortcuts in the composer)
// are wrapped in elements without changing the text; a text longer than the server's
// message_length_max (4,096) is split by K into several messages. Others' messages show their
// text in a `translatable-message` span; the user's own hold it directly in the `.message`
// element, followed by the time (which is then part of the body's text). Incoming messages in
// groups name their sender; the user's own messages and messages in direct chats do not.
import { defineAdapter } from './define';

/** The open chat: the active tab among the chats K keeps stacked in the center column. */
const CHAT = '#column-center .chat.tabs-tab.active';

export const telegramKSelectors = {
  // The chat input (K keeps an invisible `input-field-input-fake` copy beside it for measuring).
  composeBox: `${CHAT} .input-message-container .input-message-input[contenteditable="true"]:not(.input-field-input-fake)`,
  // No send button: K's button records a voice message while it thinks the input is empty, so the
  // adapter presses Enter, which only ever sends.
  messageList: `${CHAT} .bubbles .scrollable .bubbles-inner`,
  // Message bubbles (`data-mid`); date and service bubbles are `service`, and a sponsored message
  // is a bubble appended inside another.
  message: '.bubble[data-mid]:not(.service):not(.is-sponsored)',
  messageBody:
    ':scope > .bubble-content-wrapper > .bubble-content > .message > .translatable-message, :scope > .bubble-content-wrapper > .bubble-content > .message:not(:has(> .translatable-message))',
  // The sender's name in groups (`data-peer-id` on the name marks a sender, not a forward).
  messageAuthor:
    ':scope > .bubble-content-wrapper > .bubble-content > .name[data-peer-id] .peer-title',
  ownMessage: '.is-out',
  /** The chat's title in the top bar; its `data-peer-id` is the chat's peer id. */
  chatTitle: `${CHAT} .topbar .chat-info .user-title .peer-title[data-peer-id]`,
  /** Every bubble carries the chat's peer id too. */
  chatBubble: `${CHAT} .bubbles-inner .bubble[data-peer-id]`,
  marker: '#main-columns > #column-center',
} as const;

const s = telegramKSelectors;

/**
 * The open chat's peer id: users are positive, groups and channels negative (K's `-chatId`).
 * The same for every member of a group; a direct chat is named after the other user on each side.
 */
function peerIdOf(location: URL, doc: Document): string | null {
  const fromDom =
    doc.querySelector(s.chatTitle)?.getAttribute('data-peer-id') ??
    doc.querySelector(s.chatBubble)?.getAttribute('data-peer-id');
  if (fromDom && /^-?\d+$/.test(fromDom)) return fromDom;
  // `#-123456` / `#123456` (a chat opened by @username has the username there instead).
  const hash = /^#(-?\d+)(?:_\d+)?$/.exec(location.hash);
  return hash?.[1] ?? null;
}

export const telegramK = defineAdapter({
  id: 'telegram-k',
  name: 'Telegram Web K',
  markup: 'source',
  marker: s.marker,
  // The server's message_length_max (K splits a longer text into several messages).
  maxMessageLength: 4_096,
  // Telegram throttles bursts (FLOOD_WAIT); one message a second stays clear of it.
  sendIntervalMs: 1_000,
  selectors: s,
  conversationId(location, doc) {
    const peer = peerIdOf(location, doc);
    return peer ? `tg:${peer}` : null;
  },
  conversationInfo(location, doc) {
    const peer = peerIdOf(location, doc);
    if (!peer) return null;
    const name = doc.querySelector(s.chatTitle)?.textContent?.trim();
    return { kind: peer.startsWith('-') ? 'group' : 'direct', ...(name ? { name } : {}) };
  },
  // K empties the input once the message is queued (clearing the draft), a moment later.
  confirmClearedMs: 5_000,
});
