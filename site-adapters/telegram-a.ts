// Telegram Web A (web.telegram.org/a), the client of Ajaxy/telegram-tt (master, 2025). Selectors
// follow src/components/middle/message/Message.tsx (4633bb3a), src/components/middle/
// MessageListContent.tsx (bde4688e), src/components/middle/message/SenderGroupContainer.tsx
// (22467067), src/components/middle/message/MessageMeta.tsx, src/components/common/MessageText.tsx,
// src/components/common/FullNameTitle.tsx, src/config.ts (EDITABLE_INPUT_CSS_SELECTOR,
// DEFAULT_MAX_MESSAGE_LENGTH) and src/util/routing.ts (the chat id in the URL hash). Telegram Web K
// lives on the same host, so the page is told apart by its DOM, not by its host.
// Pure DOM code in the content script: sees ciphertext only.
//
// What Telegram does to text: entities (links, mentions, markdown-like shortcuts in the composer)
// are wrapped in elements without changing the text; the server refuses texts longer than
// message_length_max (4,096). A message's text sits directly in its `text-content` element,
// followed by the time (MessageMeta), which is then part of the body's text. Only the first
// message of a sender's run in a group names the sender, and never the user's own: the others take
// the name from it (see authorOf).
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

/**
 * The open chat's slide of the middle column (A keeps the previous one while animating; the
 * header has slides of its own, without a message list or composer).
 */
const SLIDE = '.messages-layout .Transition_slide-active';

export const telegramASelectors = {
  // config.ts EDITABLE_INPUT_CSS_SELECTOR (the modal caption and story reply inputs have other ids).
  composeBox: `${SLIDE} #editable-message-text`,
  // No send button: A's main button records a voice message while it thinks the input is empty,
  // so the adapter presses Enter, which only ever sends.
  messageList: `${SLIDE} > .MessageList`,
  // Messages; service messages are `ActionMessage` items.
  message: '.Message.message-list-item',
  messageBody: ':scope > .message-content-wrapper .content-inner > .text-content',
  // The sender's name (a forwarded message names the original sender instead: left out).
  messageAuthor:
    ':scope > .message-content-wrapper .content-inner:not(.forwarded-message) > .message-title > .message-title-name',
  ownMessage: '.own',
  /** The first message of a sender's run (Message.tsx `isFirstInGroup`). */
  firstInGroup: '.first-in-group',
  /** Any item of the list: messages, and action messages (joins, pins) between them. */
  listItem: '.message-list-item',
  /** The open chat's name in the middle header. */
  chatTitle: '#MiddleColumn .MiddleHeader .Transition_slide-active .ChatInfo .fullName',
  marker: '#MiddleColumn',
} as const;

const s = telegramASelectors;

/**
 * The open chat from the hash (`#<chat id>[_<thread id>]`): users are positive, basic groups
 * negative, channels and supergroups `-100…`; the same for every member of a group, while a
 * direct chat is named after the other user on each side. A forum topic or comment thread is a
 * conversation of its own.
 */
function chatOf(location: URL): { chat: string; thread?: string } | null {
  const match = /^#(-?\d+)(?:_(\d+))?(?:_[a-z]+)?$/.exec(location.hash);
  if (!match?.[1]) return null;
  return match[2] ? { chat: match[1], thread: match[2] } : { chat: match[1] };
}

const base = defineAdapter({
  id: 'telegram-a',
  name: 'Telegram Web A',
  markup: 'source',
  marker: s.marker,
  // config.ts DEFAULT_MAX_MESSAGE_LENGTH, the server's message_length_max.
  maxMessageLength: 4_096,
  // Telegram throttles bursts (FLOOD_WAIT); one message a second stays clear of it.
  sendIntervalMs: 1_000,
  selectors: s,
  conversationId(location) {
    const open = chatOf(location);
    if (!open) return null;
    return open.thread ? `tg:${open.chat}_${open.thread}` : `tg:${open.chat}`;
  },
  conversationInfo(location, doc) {
    const open = chatOf(location);
    if (!open) return null;
    const name = doc.querySelector(s.chatTitle)?.textContent?.trim();
    return { kind: open.chat.startsWith('-') ? 'group' : 'direct', ...(name ? { name } : {}) };
  },
  confirmClearedMs: 3_000,
});

/** Siblings back from a message that may still belong to its sender's run. */
const LOOKBACK = 50;

/**
 * The sender a message names, else the one the first message of its run names. A run is drawn
 * as one `sender-group-container` (SenderGroupContainer: the avatar, then the messages), so the
 * walk back over siblings stays in it; it stops at the run's first message, and at an action
 * message should a version draw the list flat.
 */
function authorOf(message: HTMLElement): string | null {
  let el: Element | null = message;
  for (let i = 0; el && i <= LOOKBACK; i++, el = el.previousElementSibling) {
    if (el !== message && !el.matches(s.message)) {
      if (el.matches(s.listItem)) return null;
      continue; // the run's avatar
    }
    const name = el.querySelector(s.messageAuthor)?.textContent?.trim();
    if (name) return name;
    if (el.matches(s.firstInGroup)) return null;
  }
  return null;
}

export const telegramA: SiteAdapter = { ...base, messageAuthor: authorOf };
