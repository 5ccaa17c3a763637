// The one interface every chat-site adapter implements. Adapters run in the content script:
// they see the host DOM (ciphertext only) and never touch keys or plaintext.

/** Declarative description of a site; `defineAdapter` turns it into a SiteAdapter. */
export interface SiteAdapter {
  /** Stable id, part of every message's context string (`${id}:${conversationId}`). */
  readonly id: string;
  readonly name: string;
  /**
   * Where its selectors come from: `saved` from the live app (a fixture saved by a test against
   * it), `source` modelled on the app's public source code, `unchecked` modelled on other public
   * code (closed apps) and never checked against the live site: the popup says so; `taught`
   * by the user (a site profile); `heuristic` the generic adapter's guesses.
   */
  readonly markup: 'saved' | 'source' | 'unchecked' | 'taught' | 'heuristic';
  /** Whether this adapter handles the page (URL and/or a DOM marker). */
  matches(location: URL, doc: Document): boolean;
  /** Longest text the site sends as one message (IRC cuts lines at ~350 bytes). */
  readonly maxMessageLength: number;
  /** Pause between submitted lines so the site or server does not throttle or drop them. */
  readonly sendIntervalMs: number;
  /** The host's compose box (textarea or contenteditable), if present. */
  composeBox(doc: Document): HTMLElement | null;
  /** Element next to which Veil's toggle is placed. */
  toggleAnchor(doc: Document): HTMLElement | null;
  /** Container whose subtree holds the conversation's messages (observed for changes). */
  messageList(doc: Document): HTMLElement | null;
  /**
   * Drops what the adapter remembers of the page's message list, so the next `messageList` looks
   * again: armor appeared outside the list it gave (an adapter that guesses may have guessed a
   * sidebar before the conversation had messages).
   */
  forgetList?(doc: Document): void;
  /** Message elements currently rendered, in display order. */
  messages(list: HTMLElement): HTMLElement[];
  /**
   * The message element (one `messages(list)` returns) that holds `node`, or null when `node`
   * is in none: between messages, outside the list, or above the message level. Lets Veil look
   * only at the messages a change in the page touched instead of every message again.
   */
  messageOf(list: HTMLElement, node: Node): HTMLElement | null;
  /** The element whose textContent is the message body (where armor appears). */
  messageBody(message: HTMLElement): HTMLElement | null;
  /** The author as the host shows it (untrusted: only a hint for recipients / reassembly). */
  messageAuthor(message: HTMLElement): string | null;
  /**
   * The open conversation's id (e.g. `net/#channel`), or null when none is open. A group's
   * messages are bound to it, so it must be equal on every member's page; a direct
   * conversation's messages are bound to the two people instead, so there it may differ.
   */
  conversationId(location: URL, doc: Document): string | null;
  /**
   * What the page says the open conversation is: direct (two people) or a group, and the name
   * it shows for it (sealed in messages written here and shown to their readers). Hints only:
   * a block the page shows where the kind differs reads as `moved`.
   */
  conversationInfo?(location: URL, doc: Document): ConversationInfo | null;
  /** Puts `text` in the host's composer and sends it the way the site's framework accepts. */
  submit(doc: Document, text: string): Promise<void>;
  /**
   * The user's own name as the host shows it (e.g. the IRC nick), or null when unknown. A hint
   * for telling one's own messages apart and for not suggesting oneself as a recipient.
   */
  selfName?(doc: Document): string | null;
  /**
   * Whether the host marks `message` as sent by this user (null when the site does not say).
   * Senders often see their own long message as one element while others see it split.
   */
  messageIsOwn?(message: HTMLElement): boolean | null;
}

/** See SiteAdapter.conversationInfo. */
export interface ConversationInfo {
  kind?: 'direct' | 'group';
  /** The name the page shows, e.g. `#veil` or the other person's name. */
  name?: string;
}
