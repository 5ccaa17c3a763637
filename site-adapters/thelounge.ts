// The Lounge 4.5 (thelounge.chat), the self-hosted web IRC client; runs on any host, so it is
// recognised by its page. Pure DOM code in the content script: sees ciphertext only.
//
// What The Lounge + IRC do to text (measured in tests/e2e/thelounge-adapter.test.ts): the server
// side (irc-framework) cuts a line into 350-byte messages, at whitespace when a word fits (the
// whitespace at the cut is dropped) and inside a word when it does not; the sender's own view
// shows the line uncut, everyone else sees one message element per cut. A newline sends separate
// messages, a leading `/` is a command, and URLs, domains, `#channels` and nicks are wrapped in
// elements without changing the text.
import { defineAdapter } from './define';

export const theLoungeSelectors = {
  composeBox: '#form textarea#input',
  sendButton: '#form #submit',
  // The send button's wrapper: the toggle sits between the textarea and the send button.
  toggleAnchor: '#form #submit-tooltip',
  // Only the open channel's messages are rendered; switching channels re-renders this list.
  messageList: '#chat .chat-view .messages',
  // Plain, /me and notice lines; joins, parts, topics and server replies are not messages.
  message: '.msg[data-type="message"], .msg[data-type="action"], .msg[data-type="notice"]',
  messageBody: ':scope > .content',
  messageAuthor: ':scope > .from .user[data-name]',
  authorAttribute: 'data-name',
  ownMessage: '.self',
  selfName: '#form #nick',
  /** The open window: `data-type` channel | query | lobby | special, `aria-label` its name. */
  openChat: '#chat .chat-view',
  /** The sidebar entry of the open window; its `.network` names the network in its lobby. */
  activeChannel: '#sidebar .channel-list-item.active',
  networkLobby: '.channel-list-item[data-type="lobby"]',
  marker: 'meta[name="application-name"][content="The Lounge"]',
} as const;

const s = theLoungeSelectors;

/**
 * IRC names are case-insensitive. Only A-Z fold (CASEMAPPING=ascii, ngircd's): never merging
 * names a server keeps apart matters more than matching `[` with `{` on rfc1459 networks.
 */
function ircLower(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export const theLounge = defineAdapter({
  id: 'thelounge',
  name: 'The Lounge',
  markup: 'saved',
  marker: s.marker,
  // irc-framework's message_max_length: a longer chunk would be cut inside the word.
  maxMessageLength: 350,
  // ngircd passes a burst of 4 lines, then about 3 lines/s (measured); slower than that keeps
  // a long message flowing without queueing behind the flood limit.
  sendIntervalMs: 400,
  selectors: s,
  conversationId(_location, doc) {
    const open = doc.querySelector(s.openChat);
    const type = open?.getAttribute('data-type');
    const name = open?.getAttribute('aria-label')?.trim();
    const network = doc
      .querySelector(s.activeChannel)
      ?.closest('.network')
      ?.querySelector(s.networkLobby)
      ?.getAttribute('data-name')
      ?.trim();
    if (!name || !network) return null;
    if (type === 'channel') return `irc:${ircLower(network)}/${ircLower(name)}`;
    if (type === 'query') {
      // A private chat is named after the other person on each side: name it by both nicks.
      const self = doc.querySelector(s.selfName)?.textContent?.trim();
      if (!self) return null;
      const pair = [ircLower(self), ircLower(name)].sort();
      return `irc:${ircLower(network)}/query:${pair.join(',')}`;
    }
    return null;
  },
  conversationInfo(_location, doc) {
    const open = doc.querySelector(s.openChat);
    const type = open?.getAttribute('data-type');
    const name = open?.getAttribute('aria-label')?.trim();
    if (type === 'channel') return { kind: 'group', ...(name ? { name } : {}) };
    if (type === 'query') return { kind: 'direct', ...(name ? { name } : {}) };
    return null;
  },
  // `//x` sends `/x`: a line the user did not mean as a command must not become one.
  escapeText: (text) => (text.startsWith('/') ? '/' + text : text),
  confirmClearedMs: 5_000,
});
