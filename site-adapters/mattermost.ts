// Mattermost (self-hosted, or *.cloud.mattermost.com), the web app of mattermost/mattermost
// (webapp/channels, v10-era master with the scheduled-post send button, 2024–2025). Selectors follow
// components/post/post_component.tsx (5c97b454), components/post/user_profile.tsx,
// components/user_profile/user_profile.tsx (828e44d7), components/post_view/post_list_virtualized,
// components/advanced_text_editor/advanced_text_editor.tsx (c9f88d09) + send_button/send_button.tsx,
// components/textbox/textbox.tsx, components/channel_header (the title) and src/root.html.
// Pure DOM code in the content script: sees ciphertext only.
//
// What Mattermost does to text: markdown (base62 armor stays plain text), links and @mentions are
// wrapped in elements without changing the text; a post longer than the server's MaxPostSize is
// refused in the composer ("Your message is too long"). Consecutive posts of one user hide their
// header by CSS only, so every post still names its author.
import { defineAdapter } from './define';

export const mattermostSelectors = {
  // The center channel's textarea (a thread's reply box is `#reply_textbox`, outside this form).
  composeBox: 'form#create_post textarea#post_textbox',
  // Enabled once the draft is not empty (React re-renders it on the textarea's input event).
  sendButton: 'form#create_post .SendMessageButton',
  // The split send button (send + schedule); older versions lack it and the toggle goes by the box.
  toggleAnchor: 'form#create_post .splitSendButton',
  // The center post list only (the RHS thread and search results have lists of their own).
  messageList: '#postListContent',
  // Center posts (`post_<id>`; RHS posts are `rhsPost_<id>`); system and /me posts are
  // `post--system`.
  message: '.post[id^="post_"]:not(.post--system)',
  messageBody: '.post__body .post-message__text',
  // The name button (display name, nickname or username, per the teammate-name setting).
  messageAuthor: '.post__header .col__name .user-popover',
  ownMessage: '.current--user',
  /** The open channel's title in the channel header. */
  channelTitle: '#channelHeaderTitle',
  marker: 'meta[name="application-name"][content="Mattermost"]',
} as const;

const s = mattermostSelectors;

type Route =
  | { kind: 'group'; team: string; channel: string }
  | { kind: 'direct'; user: string }
  | { kind: 'groupMessage'; name: string };

/**
 * The open conversation from the path: `/<team>/channels/<name>` (a channel, its name unique in
 * the team), `/<team>/messages/@<user>` (a direct message, named after the other user on each
 * side) or `/<team>/messages/<name>` (a group message). The server may live under a subpath.
 */
function routeOf(location: URL): Route | null {
  const parts = location.pathname.split('/').filter(Boolean);
  for (let i = parts.length - 2; i >= 1; i--) {
    const kind = parts[i];
    const name = parts[i + 1];
    if (!name || (kind !== 'channels' && kind !== 'messages')) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      return null;
    }
    if (kind === 'channels') return { kind: 'group', team: parts[i - 1]!, channel: decoded };
    return decoded.startsWith('@')
      ? { kind: 'direct', user: decoded.slice(1) }
      : { kind: 'groupMessage', name: decoded };
  }
  return null;
}

export const mattermost = defineAdapter({
  id: 'mattermost',
  name: 'Mattermost',
  markup: 'source',
  hosts: ['*.cloud.mattermost.com'],
  marker: s.marker,
  // The server's MaxPostSize: 16,383 characters since Mattermost 5.0 (the webapp falls back to
  // 4,000 only when the server does not report it).
  maxMessageLength: 16_383,
  // The server's rate limiter is off by default (10 requests/s when enabled).
  sendIntervalMs: 250,
  selectors: s,
  conversationId(location) {
    const route = routeOf(location);
    if (!route) return null;
    const host = location.host.toLowerCase();
    // Direct and group messages belong to no team: the same one opens under every team's path.
    if (route.kind === 'group') return `mm:${host}/${route.team}/${route.channel}`;
    if (route.kind === 'direct') return `mm:${host}/messages/@${route.user}`;
    return `mm:${host}/messages/${route.name}`;
  },
  conversationInfo(location, doc) {
    const route = routeOf(location);
    if (!route) return null;
    const name = doc.querySelector(s.channelTitle)?.textContent?.trim();
    return { kind: route.kind === 'direct' ? 'direct' : 'group', ...(name ? { name } : {}) };
  },
  confirmClearedMs: 3_000,
});
