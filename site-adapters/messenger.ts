// Messenger in the browser (www.messenger.com/t/<thread>, facebook.com/messages/t/<thread>): a
// closed app, so the selectors follow public code that reads its page, never checked against the
// live site. Pure DOM code in the content script: sees ciphertext only.
//
// Public code followed: brbavar/katex-for-messenger-web (selector.js: `[role="main"]
// [aria-label^="Conversation"]`, the grid `[aria-label^="Messages in conversation"]`, its
// `div[data-scope="messages_table"][role="gridcell"]` cells, the "Thread composer" and its
// `div[role="textbox"][contenteditable="true"]`); a public Messenger reader's selector file
// (`[role="row"]` rows, `[dir="auto"]` text, the visually hidden `h5` naming a run's sender and
// "You sent" on the user's own). Meta's class names are generated atomic CSS (`x1n2onr6`) and
// change with every deploy: only ARIA roles, `data-scope` and `dir` are used here. Where only words
// tell things apart (the user's own messages, the conversation's kind), they are matched in the
// languages public Messenger readers list (see OWN_HEADINGS, CONVERSATION_LABELS).
//
// What Messenger does to text: the compose box is a Lexical editor; a message holds about 20,000
// characters, chunks stay at 4,096; URLs become links, `:)`-style emoticons may become emoji,
// `@name` a mention in groups; no markdown. Armor (base62 letters and digits) passes unchanged.
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

export const messengerSelectors = {
  composeBox: '[role="main"] div[role="textbox"][contenteditable="true"]',
  // No sendButton: until text is in, the button there sends a "like" (a thumbs-up). Enter sends.
  toggleAnchor: '[role="main"] div:has(> div[role="textbox"][contenteditable="true"])',
  messageList: '[role="main"] [role="grid"]',
  // Rows are also dates, "Seen" receipts and typing dots: only those with a message cell count.
  message: '[role="row"]:has([role="gridcell"][data-scope="messages_table"])',
  messageBody: '[role="gridcell"][data-scope="messages_table"] div[dir="auto"]',
  // The visually hidden heading a run of messages starts with (see senderOf).
  messageAuthor: '[role="gridcell"][data-scope="messages_table"] h5',
  /** The open conversation; its label names it in the UI language (see CONVERSATION_LABELS). */
  conversation: '[role="main"][aria-label]',
  marker: '[role="main"] [role="gridcell"][data-scope="messages_table"]',
} as const;

const s = messengerSelectors;

/** `/t/<id>` or `/e2ee/t/<id>`, under `/messages` on facebook.com. */
function threadOf(location: URL): string | null {
  const m = /^(?:\/messages)?\/(e2ee\/)?t\/([\w.-]+)/.exec(location.pathname);
  return m ? `${m[1] ?? ''}${m[2]!}` : null;
}

const base = defineAdapter({
  id: 'messenger',
  name: 'Messenger',
  markup: 'unchecked',
  hosts: ['messenger.com', '*.messenger.com'],
  // facebook.com/messages: only where a conversation is open (the rest of Facebook is not chat).
  marker: s.marker,
  // Messenger takes about 20,000 characters; shorter chunks read better and stay well inside.
  maxMessageLength: 4_096,
  // Messenger rate-limits bursts from one account.
  sendIntervalMs: 1_000,
  selectors: s,
  // The thread id in the URL: a group's is the same for every member; a direct chat's is the
  // other person's id (so it differs between the two, which a direct chat allows).
  conversationId(location) {
    const thread = threadOf(location);
    return thread ? `messenger:${thread}` : null;
  },
  // The conversation's label, e.g. "Conversation titled <group>" or "Conversation with <person>"
  // (in a UI language CONVERSATION_LABELS lacks: no kind or name).
  conversationInfo(_location, doc) {
    const label = doc.querySelector(s.conversation)?.getAttribute('aria-label') ?? '';
    const text = label.replace(/\s+/g, ' ').trim();
    for (const [pattern, kind] of CONVERSATION_LABELS) {
      const name = pattern.exec(text)?.[1]?.trim();
      if (name) return { kind, name };
    }
    return null;
  },
  // Messenger empties its editor once the message is sent.
  confirmClearedMs: 3_000,
});

/** Rows back from a message that may still belong to its sender's run. */
const LOOKBACK = 50;

/**
 * The hidden heading on the user's own messages ("You sent"), which the markup followed here
 * tells apart from a sender's name by its words alone: matched in the major languages public
 * Messenger readers list (English, German, French, Spanish, Italian, Portuguese, Russian). In
 * another UI language the user's own messages read as someone else's, named by that heading.
 */
const OWN_HEADINGS = new Set(
  [
    'You sent',
    'Du hast gesendet',
    'Vous avez envoyé',
    'Enviaste',
    'Hai inviato',
    'Você enviou',
    'Вы отправили',
  ].map((text) => text.toLowerCase()),
);

const isOwnHeading = (heading: string) =>
  OWN_HEADINGS.has(heading.normalize('NFC').replace(/\s+/g, ' ').trim().toLowerCase());

/**
 * The conversation's label and the kind it says, in the languages public Messenger readers list
 * (English, French); the first group catches the name.
 */
const CONVERSATION_LABELS: [RegExp, 'group' | 'direct'][] = [
  [/^Conversation titled (.+)$/, 'group'],
  [/^Conversation with (.+)$/, 'direct'],
  [/^Nom de la conversation\s*:?\s*(.+)$/, 'group'],
  [/^Conversation avec (.+)$/, 'direct'],
];

/** The heading naming this message's sender: its own, else the run's (the nearest earlier). */
function senderOf(message: HTMLElement): string | null {
  let row: Element | null = message;
  for (let i = 0; row && i <= LOOKBACK; i++, row = row.previousElementSibling) {
    if (row !== message && !row.matches(s.message)) continue;
    const name = row.querySelector(s.messageAuthor)?.textContent?.trim();
    if (name) return name;
  }
  return null;
}

export const messenger: SiteAdapter = {
  ...base,
  // The user's own messages are "You sent": no name to give (null, like a site that shows none).
  messageAuthor(message) {
    const sender = senderOf(message);
    return sender && !isOwnHeading(sender) ? sender : null;
  },
  messageIsOwn(message) {
    const sender = senderOf(message);
    return sender === null ? null : isOwnHeading(sender);
  },
};
