// Element Web (the Matrix client; app.element.io or self-hosted). Selectors follow the web client's
// components as of matrix-org/matrix-react-sdk v3.109.0 (commit b67a2303f912, September 2024, the
// last release before that code moved into element-hq/element-web): EventTile.tsx, TextualBody.tsx
// + HtmlUtils.tsx, SenderProfile.tsx + DisambiguatedProfile.tsx, ScrollPanel.tsx,
// MessageComposer.tsx + SendMessageComposer.tsx + BasicMessageComposer.tsx, RoomHeader.tsx,
// UserMenu.tsx, MatrixChat.tsx (the room URL); element-web src/vector/index.html (the page).
// Pure DOM code in the content script: sees ciphertext only.
//
// What Element + Matrix do to text: the composer's text is sent as `body`, and as HTML
// `formatted_body` when its markdown (commonmark) renders to something else than the plain text
// (base62 armor never does). Element itself has no length limit; the server refuses events over
// 65,536 bytes (Matrix spec, "Size limits"), in encrypted rooms after Megolm and base64 (about 4/3).
// A message that follows one of the same sender ("continuation") is drawn without the sender's
// name: its author is the name on the tile its run starts with (see authorOf).
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

export const elementSelectors = {
  // The room's composer (the plain "CIDER" editor; a thread's composer sits in the right panel,
  // outside the room body).
  composeBox:
    '.mx_RoomView_body .mx_MessageComposer .mx_BasicMessageComposer_input[contenteditable="true"]',
  // Drawn only while the composer holds text; else Enter sends.
  sendButton: '.mx_RoomView_body .mx_MessageComposer_sendMessage',
  // The composer's button row (emoji, attachments, send): the toggle goes beside it.
  toggleAnchor: '.mx_RoomView_body .mx_MessageComposer_actions',
  // The room timeline's list (a thread's timeline is another ScrollPanel in the right panel).
  messageList: '.mx_RoomView_body .mx_RoomView_messagePanel .mx_RoomView_MessageList',
  // Event tiles of messages; state events (joins, topic changes) are `mx_EventTile_info` tiles,
  // and date separators / read markers are `li`s of other classes.
  message: 'ol.mx_RoomView_MessageList > li.mx_EventTile:not(.mx_EventTile_info)',
  // The text of m.text / m.notice / m.emote events (a quoted reply sits in the line too, in its
  // own `mx_ReplyChain`, outside the content element).
  messageBody: ':scope > .mx_EventTile_line > .mx_EventTile_content .mx_EventTile_body',
  messageAuthor: ':scope > .mx_DisambiguatedProfile .mx_DisambiguatedProfile_displayName',
  /** A tile drawn without its sender because it continues the previous tile's run. */
  continuation: '.mx_EventTile_continuation',
  /** Any event tile (messages, state events), as MessagePanel draws them in the timeline. */
  tile: 'li.mx_EventTile',
  /** Date and late-event separators (DateSeparator, TimelineSeparator): no run goes past one. */
  separator: '[role="separator"]',
  ownMessage: '[data-self="true"]',
  // The user menu shows the display name only while the space panel is expanded.
  selfName: '.mx_UserMenu .mx_UserMenu_name',
  /** The room header (new room header, the default since 2024) and its name. */
  roomHeader: '.mx_RoomView_body .mx_RoomHeader',
  roomName: '.mx_RoomView_body .mx_RoomHeader .mx_RoomHeader_heading .mx_RoomHeader_truncated',
  /** The member face pile, which the header draws for every room but a direct message. */
  roomMembers: '.mx_RoomView_body .mx_RoomHeader .mx_RoomHeader_members',
  marker: 'section#matrixchat',
} as const;

const s = elementSelectors;

/**
 * The room the URL shows: `#/room/<room id or alias>[/<event id>][?via=…]`. Element puts the
 * room's canonical alias there when it has one (MatrixChat.onRoomViewed), else its id, so every
 * member's URL names the room the same way.
 */
function roomOf(location: URL): string | null {
  const match = /^#\/room\/([^/?]+)/.exec(location.hash);
  if (!match?.[1]) return null;
  let room: string;
  try {
    room = decodeURIComponent(match[1]);
  } catch {
    return null;
  }
  return /^[!#][^:]+:.+$/.test(room) ? room : null;
}

const base = defineAdapter({
  id: 'element',
  name: 'Element',
  markup: 'source',
  hosts: ['app.element.io', 'develop.element.io', 'staging.element.io'],
  marker: s.marker,
  // 65,536-byte events (Matrix spec) minus the event envelope, after Megolm's base64 (x 4/3) in
  // encrypted rooms: 32,000 ASCII characters stay well inside.
  maxMessageLength: 32_000,
  // Synapse's default rc_message allows a burst of 10 messages, then one per 5 s (Element queues
  // and retries refused ones); a pause keeps multi-part messages in order within the burst.
  sendIntervalMs: 500,
  selectors: s,
  conversationId(location) {
    const room = roomOf(location);
    return room ? `matrix:${room}` : null;
  },
  conversationInfo(location, doc) {
    if (!roomOf(location)) return null;
    const name = doc.querySelector(s.roomName)?.textContent?.trim();
    const header = doc.querySelector(s.roomHeader);
    const kind = header ? (doc.querySelector(s.roomMembers) ? 'group' : 'direct') : undefined;
    if (!kind && !name) return null;
    return { ...(kind ? { kind } : {}), ...(name ? { name } : {}) };
  },
  confirmClearedMs: 3_000,
});

/** Rows back from a continuation that may still belong to its sender's run. */
const LOOKBACK = 50;

/**
 * The name a tile shows, else (a continuation) the name on the tile its run starts with.
 * MessagePanel continues a message only onto a message or sticker of the same sender with no
 * separator between (shouldFormContinuation, wantsSeparator), so the rows before a continuation
 * are its run, read markers aside: the walk back stops at a separator, and at a tile that names
 * nobody and continues nothing (a state event).
 */
function authorOf(tile: HTMLElement): string | null {
  let row: Element | null = tile;
  for (let i = 0; row && i <= LOOKBACK; i++, row = row.previousElementSibling) {
    if (row !== tile && !row.matches(s.tile)) {
      if (row.matches(s.separator) || row.querySelector(s.separator)) return null;
      continue; // the read marker, a typing notice
    }
    const name = row.querySelector(s.messageAuthor)?.textContent?.trim();
    if (name) return name;
    if (!row.matches(s.continuation)) return null;
  }
  return null;
}

export const element: SiteAdapter = { ...base, messageAuthor: authorOf };
