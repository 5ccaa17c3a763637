// WhatsApp Web (web.whatsapp.com): a closed app, so the selectors follow public code that reads
// its page, never checked against the live site. Pure DOM code in the content script: sees
// ciphertext only.
//
// Public code followed: steveseguin/social_stream (sources/whatsapp.js: `#main`, its `[data-id]`
// messages, `.selectable-text.copyable-text` bodies, the footer's
// `div[contenteditable="true"][role="textbox"]`); tytsxai/social-copilot
// (packages/browser-extension/src/adapters/whatsapp.ts: the chat's JID inside a message's
// `data-id`, `.message-in` / `.message-out`, `data-pre-plain-text="[time, date] Name: "`).
// whatsapp-web.js and WA-JS drive WhatsApp's own modules rather than its page, so they name no
// message markup. WhatsApp's classes are hashed; `data-id`, `data-pre-plain-text`, the
// `message-in`/`message-out` classes and ARIA roles are what these projects rely on.
//
// What WhatsApp does to text: the compose box is a Lexical editor; a message holds up to 65,536
// characters but long ones fold behind "Read more", so chunks stay at 4,096. `*bold*`, `_italic_`,
// `~strike~` and triple-backtick monospace are formatted, URLs linked, `@name` a mention in
// groups; emoji shortcodes are not expanded. Armor (base62 letters and digits) passes all of that unchanged.
import { defineAdapter } from './define';
import type { SiteAdapter } from './types';

export const whatsappSelectors = {
  composeBox: '#main footer div[contenteditable="true"][role="textbox"]',
  // No sendButton: until text is in, the button there records a voice message. Enter sends.
  // The toggle goes after the editor's wrapper (not inside Lexical's own subtree).
  toggleAnchor: '#main footer div:has(> div[contenteditable="true"][role="textbox"])',
  messageList: '#main [role="application"]',
  // A row holds one message, a date or a system notice; messages carry `data-id`
  // (`<fromMe>_<chat JID>_<id>[_<sender JID>]`) around their `message-in` / `message-out`.
  message: '[role="row"] [data-id]:has(> .message-in, > .message-out)',
  messageBody: '.copyable-text[data-pre-plain-text] .selectable-text',
  // Read from `data-pre-plain-text` (see authorOf).
  messageAuthor: '.copyable-text[data-pre-plain-text]',
  authorAttribute: 'data-pre-plain-text',
  ownMessage: '[data-id^="true_"], :has(> .message-out)',
  chatTitle: '#main header span[dir="auto"]',
} as const;

const s = whatsappSelectors;

/** The chat's JID, from the `data-id` of a message in the open chat's list. */
function chatJid(doc: Document): string | null {
  const id = doc.querySelector(`${s.messageList} [data-id]`)?.getAttribute('data-id') ?? '';
  const m = /^(?:true|false)_([^_@\s]+@(?:g\.us|c\.us|lid|s\.whatsapp\.net))_/.exec(id);
  return m ? m[1]! : null;
}

const base = defineAdapter({
  id: 'whatsapp',
  name: 'WhatsApp',
  markup: 'unchecked',
  hosts: ['web.whatsapp.com'],
  // WhatsApp takes 65,536 characters but folds long messages behind "Read more".
  maxMessageLength: 4_096,
  // WhatsApp flags accounts that send in fast bursts.
  sendIntervalMs: 1_000,
  selectors: s,
  // The URL never names the chat. The JID in the messages' `data-id` does: a group's
  // (`…@g.us`) is the same for every member; a direct chat's is the other person's (so it differs
  // between the two, which a direct chat allows). While the open chat shows no message at all
  // there is no id: null, rather than the header's name (which each member may have saved
  // differently, and which would change the id once the first message arrives).
  conversationId(_location, doc) {
    const jid = chatJid(doc);
    return jid ? `whatsapp:${jid}` : null;
  },
  conversationInfo(_location, doc) {
    const jid = chatJid(doc);
    const name = doc.querySelector(s.chatTitle)?.textContent?.trim();
    const kind = jid ? (jid.endsWith('@g.us') ? 'group' : 'direct') : undefined;
    if (!kind && !name) return null;
    return { ...(kind ? { kind } : {}), ...(name ? { name } : {}) };
  },
  // WhatsApp empties its editor once the message is queued.
  confirmClearedMs: 3_000,
});

/** The name in `[15:28, 23/11/2026] Alice: `: who sent it, as this user's phone shows them. */
function authorOf(prePlainText: string | null): string | null {
  const m = /^\[[^\]]*\]\s*(.*?):\s*$/.exec(prePlainText ?? '');
  return m?.[1]?.trim() || null;
}

export const whatsapp: SiteAdapter = {
  ...base,
  messageAuthor: (message) => authorOf(base.messageAuthor(message)),
};
