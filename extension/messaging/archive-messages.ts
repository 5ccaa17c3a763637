// The archive's messages (issue 15, docs/archive.md): search, retention, deletion, export and
// progress. Extension pages only: nothing of the archive ever reaches a host page. The
// background's archive (background/archive/) implements them; the popup and the options page
// call them. Merged into MessageTable (messages.ts).

/** How Veil came to hold a message: we sent it, or it was read with this standing. */
export type ArchiveStatus = 'sent' | 'verified' | 'unverified';

/** A conversation as the message sealed it (never the page's say-so). */
export interface ArchiveConversationRef {
  /** Stable id (hex): the background's key for it, from the sealed site and context. */
  id: string;
  /** The sealed site, e.g. `The Lounge · 127.0.0.1:9000`. */
  site: string;
  /** The sealed conversation name, e.g. `#veil` or a contact's handle. */
  name: string;
  kind: 'direct' | 'group';
  /** Handles in it besides us (direct: the contact). */
  peers: string[];
}

export interface ArchiveHit {
  id: string;
  /** The sender's handle (ours for our own). */
  sender: string;
  own: boolean;
  conversation: ArchiveConversationRef;
  /** When it was sent (sealed time), ms since the epoch. */
  at: number;
  text: string;
  status: ArchiveStatus;
  /** [start, end) UTF-16 ranges of `text` matching the query's words, to mark. */
  highlights: [number, number][];
  /** Veil knows where on its site this message was, so `openArchived` can go there. */
  openable: boolean;
}

export interface ArchiveQuery {
  /**
   * The words typed, all required; the last one matches as a prefix unless a space follows it.
   * Empty (with or without filters) lists newest first.
   */
  words: string;
  /** Only messages from or to this contact's handle. */
  contact?: string;
  /** Only this conversation (ArchiveConversationRef.id). */
  conversation?: string;
  /** Inclusive bounds, ms since the epoch. */
  from?: number;
  to?: number;
  /** Default 50, at most 200. */
  limit?: number;
}

/** Keep forever, or drop what is older than `days` (applied on a schedule). */
export type Retention = { keep: 'forever' } | { keep: 'days'; days: number };

export interface ArchiveConversationView extends ArchiveConversationRef {
  messages: number;
  /** ms of its newest message. */
  newest: number;
  /** Set when this conversation does not follow the global rule. */
  retention?: Retention;
}

export interface ArchiveOverview {
  messages: number;
  /** Sealed bytes at rest: the message records, and the search index. */
  archiveBytes: number;
  indexBytes: number;
  /** The global rule. */
  retention: Retention;
  conversations: ArchiveConversationView[];
}

/** Long work the user sees as a count and a bar, and can cancel. */
export interface TaskProgress {
  id: string;
  kind: 'indexing' | 'backup-import' | 'page-history';
  done: number;
  total: number;
  /** page-history: the tab decrypting a long history. */
  tabId?: number;
}

export interface ArchiveMessageTable {
  archiveSearch: {
    req: ArchiveQuery;
    /**
     * `total`: matches in the segments asked (newest first, until `limit` were found);
     * `complete`: false when older segments were not asked (so `total` is a lower bound).
     */
    res: { hits: ArchiveHit[]; total: number; complete: boolean };
    who: 'extension-page';
  };
  archiveOverview: { req: object; res: ArchiveOverview; who: 'extension-page' };
  /** `conversation` absent: the global rule; `retention: null` on a conversation: follow it. */
  setRetention: {
    req: { conversation?: string; retention: Retention | null };
    res: ArchiveOverview;
    who: 'extension-page';
  };
  /** Deletes from the archive and its index both. */
  archiveDelete: {
    req: { message: string } | { conversation: string } | { all: true };
    res: ArchiveOverview & { deleted: number };
    who: 'extension-page';
  };
  /** A conversation as a file the user saves (plain text or JSON, in the clear: they asked). */
  archiveExport: {
    req: { conversation: string; format: 'text' | 'json' };
    res: { file: string; fileName: string; mime: string };
    who: 'extension-page';
  };
  /** Opens the message's page in a tab and asks its content script to show the message. */
  openArchived: { req: { id: string }; res: { opened: boolean }; who: 'extension-page' };
  tasks: { req: object; res: { tasks: TaskProgress[] }; who: 'extension-page' };
  cancelTask: { req: { id: string }; res: { tasks: TaskProgress[] }; who: 'extension-page' };
}
