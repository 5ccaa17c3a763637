// The background's one message table (background only): finds the handler for a message's
// type, checks the browser-supplied sender against ALLOWED_SENDERS before anything else, checks
// the fields, and answers an Envelope. Errors carry a code and a cause, never key bytes,
// plaintext or a raw exception's text. `ping` keeps its raw `{ok: true, version}` answer.
import {
  ALLOWED_SENDERS,
  type Envelope,
  type MessageTable,
  type MessageType,
  type SenderKind,
} from '../messaging/messages';
import { toErrorReply } from './errors';
import { classifySender, type MessageSenderLike, type RuntimeLike } from './sender';
import { validateRequest } from './validate';

export interface HandlerContext {
  sender: SenderKind;
  /** From the browser-supplied sender: the tab and frame it runs in, and its document URL. */
  tabId?: number;
  frameId?: number;
  url?: string;
  /** Chromium's id of the sending document (one per load); absent in Firefox. */
  documentId?: string;
  /** The URL of the tab the sender is in (for a frame: the host page's). */
  tabUrl?: string;
}

function handlerContext(kind: SenderKind, sender: MessageSenderLike | undefined): HandlerContext {
  const ctx: HandlerContext = { sender: kind };
  if (typeof sender?.tab?.id === 'number') ctx.tabId = sender.tab.id;
  if (typeof sender?.frameId === 'number') ctx.frameId = sender.frameId;
  if (typeof sender?.url === 'string') ctx.url = sender.url;
  if (typeof sender?.documentId === 'string') ctx.documentId = sender.documentId;
  if (typeof sender?.tab?.url === 'string') ctx.tabUrl = sender.tab.url;
  return ctx;
}

export type Handler<T extends MessageType> = (
  req: MessageTable[T]['req'],
  ctx: HandlerContext,
) => Promise<MessageTable[T]['res']>;

export type HandlerTable = { [T in MessageType]: Handler<T> };

export type RouterReply = Envelope<unknown> | MessageTable['ping']['res'];

const TYPES = new Set(Object.keys(ALLOWED_SENDERS));

function isMessageType(t: unknown): t is MessageType {
  return typeof t === 'string' && TYPES.has(t);
}

const fail = (code: string, message: string): Envelope<never> => ({
  ok: false,
  error: { code, message },
});

/**
 * The function to hang on `runtime.onMessage`: it always resolves (never rejects) with the
 * answer to send back. `onError` sees unexpected exceptions (for the worker's console) by name
 * only.
 */
export function createRouter(
  handlers: HandlerTable,
  runtime: RuntimeLike,
  onError: (name: string, type: MessageType) => void = () => undefined,
): (message: unknown, sender: MessageSenderLike | undefined) => Promise<RouterReply> {
  return async (message, sender) => {
    const kind = classifySender(sender, runtime);
    if (!kind) return fail('forbidden', 'messages from other extensions are refused');
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      return fail('invalid-argument', 'a message is an object with a type');
    const type = (message as { type?: unknown }).type;
    if (!isMessageType(type)) return fail('invalid-argument', 'unknown message type');
    const allowed = ALLOWED_SENDERS[type] as readonly SenderKind[];
    if (!allowed.includes(kind))
      return fail('forbidden', `${type} may not be sent from a ${kind.replace('-', ' ')}`);
    try {
      const req = validateRequest(type, message as Record<string, unknown>);
      const handler = handlers[type] as Handler<MessageType>;
      const value = await handler(req, handlerContext(kind, sender));
      if (type === 'ping') return value as MessageTable['ping']['res'];
      return { ok: true, value };
    } catch (e) {
      const reply = toErrorReply(e);
      if (reply.code === 'internal') onError(e instanceof Error ? e.name : typeof e, type);
      return fail(reply.code, reply.message);
    }
  };
}
