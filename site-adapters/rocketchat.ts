// Rocket.Chat (self-hosted or cloud workspaces), the web client of RocketChat/Rocket.Chat (develop,
// 7.x: React 18, packages/ui-composer, fuselage `Message`). Selectors follow
// apps/meteor/client/components/message/variants/RoomMessage.tsx (262bf4de),
// components/message/MessageHeader.tsx + variants/room/RoomMessageContent.tsx (ba4cc4dd),
// components/message/MessageContentBody.tsx, views/room/body/RoomBody.tsx (700b3d93) +
// RoomBodyV2.tsx, views/room/composer/messageBox/MessageBox.tsx (034282e1),
// packages/ui-composer/src/MessageComposer/MessageComposerInput.tsx (06932293), apps/meteor/client/
// head.html, and RocketChat/fuselage Message*.tsx (the rcx-message classes).
// Pure DOM code in the content script: sees ciphertext only.
//
// What Rocket.Chat does to text: its message parser renders markdown, emoji shortcodes, mentions
// and links (base62 armor stays plain text); a message longer than Message_MaxAllowedSize (5,000
// by default) is refused, or turned into a text file when Message_AllowConvertLongMessagesToAttachment
// is on (the default). A message that follows one of the same sender within the grouping period is
// drawn without header ("sequential"): its author is the one its run starts with (see authorOf).
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

export const rocketChatSelectors = {
  // The room's composer (a thread's composer sits in the contextual bar, outside the room section).
  composeBox: 'section.messages-container textarea.rc-message-box__textarea.js-input-message',
  // The composer's send action (an icon button; disabled until the textarea has text).
  sendButton: 'section.messages-container button.rcx-button--icon:has(> i.rcx-icon--name-send)',
  // The room's message list (RoomBody: `<ul class="messages-list">` in `section#chat-window-<rid>`).
  messageList: 'section.messages-container ul.messages-list',
  // Regular messages; system messages, thread previews and dividers are other elements.
  message: '.rcx-message[data-qa-type="message"]',
  // The message text (quoted messages are attachments nested deeper in the container).
  messageBody: ':scope > .rcx-message-container > .rcx-message-body[data-qa-type="message-body"]',
  // The display name carries the username, which is unique on the server.
  messageAuthor: ':scope > .rcx-message-container > .rcx-message-header .rcx-message-header__name',
  authorAttribute: 'data-username',
  ownMessage: '[data-own="true"]',
  /**
   * What the message list draws, in order: messages and system messages (`rcx-message`), date
   * and unread dividers (fuselage MessageDivider), thread previews (`data-tmid`). Matched in the
   * whole list, as the virtualized list wraps each item in an element of its own.
   */
  listItem: '.rcx-message, .rcx-message-divider, [data-tmid]',
  /** The "unread messages" divider: drawn before the first unread message, even inside a run. */
  unreadDivider: '.rcx-message-divider--unread',
  /** The open room's section, `id="chat-window-<room id>"`. */
  roomSection: 'section.messages-container[id^="chat-window-"]',
  // head.html links Rocket.Chat's screen-sharing extension; the room section for pages without it.
  marker:
    'link[rel="chrome-webstore-item"][href$="/nocfbnnmjnndkbipkabodnheejiegccf"], section.messages-container[id^="chat-window-"]',
} as const;

const s = rocketChatSelectors;

/** The room type and name in the path: `/channel/<name>`, `/group/<name>`, `/direct/<rid>`. */
function routeOf(location: URL): { type: string; name: string } | null {
  const match = /\/(channel|group|direct)\/([^/]+)/.exec(location.pathname);
  if (!match?.[1] || !match[2]) return null;
  try {
    return { type: match[1], name: decodeURIComponent(match[2]) };
  } catch {
    return null;
  }
}

const base = defineAdapter({
  id: 'rocketchat',
  name: 'Rocket.Chat',
  markup: 'source',
  marker: s.marker,
  // Message_MaxAllowedSize's default; a longer message would become a file attachment.
  maxMessageLength: 5_000,
  // The server limits the sendMessage method to 5 calls per second for users without the
  // send-many-messages permission.
  sendIntervalMs: 300,
  selectors: s,
  conversationId(location, doc) {
    // The room id (a channel's, or a direct chat's: both user ids) is the same for every member.
    const id = doc.querySelector(s.roomSection)?.id.slice('chat-window-'.length);
    return id ? `rc:${location.host.toLowerCase()}/${id}` : null;
  },
  conversationInfo(location) {
    const route = routeOf(location);
    if (!route) return null;
    if (route.type === 'direct') return { kind: 'direct' };
    return { kind: 'group', name: `#${route.name}` };
  },
  confirmClearedMs: 3_000,
});

/** Items back from a sequential message that may still belong to its sender's run. */
const LOOKBACK = 50;

/** The username a message's header shows (sequential messages have no header). */
function usernameIn(message: Element): string | null {
  return message.querySelector(s.messageAuthor)?.getAttribute(s.authorAttribute)?.trim() || null;
}

const isSequential = (message: Element) =>
  message.getAttribute('data-sequential') === 'true' ||
  message.classList.contains('rcx-message--sequential');

/**
 * The username a message shows, else (a sequential message) the one its run starts with.
 * isMessageSequential only continues a regular message of the same user, never across a new day
 * or a system message, so the items before a sequential message are its run; only the unread
 * divider may sit inside one. The walk back stops at anything else.
 */
function authorOf(message: HTMLElement): string | null {
  const own = usernameIn(message);
  if (own || !isSequential(message)) return own;
  const list = message.closest(`${s.messageList}, ${s.roomSection}`) ?? message.parentElement;
  if (!list) return null;
  const items = [...list.querySelectorAll(s.listItem)];
  const at = items.indexOf(message);
  for (let i = at - 1; i >= 0 && i >= at - LOOKBACK; i--) {
    const item = items[i]!;
    if (item.matches(s.unreadDivider)) continue;
    if (!item.matches(s.message)) return null; // a day divider, system message, thread preview
    const name = usernameIn(item);
    if (name) return name;
    if (!isSequential(item)) return null;
  }
  return null;
}

export const rocketChat: SiteAdapter = { ...base, messageAuthor: authorOf };
