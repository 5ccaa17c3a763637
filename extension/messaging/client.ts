// Typed messages from extension pages (popup, options, composer/reader frames) to the
// background. Resolves with the reply, or throws a VeilMessageError carrying the background's
// error code (see ErrorCode in messages.ts). Holds no keys: it only carries requests.
import { browser } from 'wxt/browser';
import type { Envelope, ErrorCode, MessageType, Reply, Request } from './messages';

export class VeilMessageError extends Error {
  override readonly name = 'VeilMessageError';
  constructor(
    /** An ErrorCode, or another string if a newer background sent one. */
    readonly code: ErrorCode | (string & {}),
    message: string,
  ) {
    super(message);
  }
}

/** True for a VeilMessageError, optionally with this code. */
export function isMessageError(e: unknown, code?: ErrorCode): e is VeilMessageError {
  return e instanceof VeilMessageError && (code === undefined || e.code === code);
}

type Send = (message: unknown) => Promise<unknown>;

function isEnvelope(v: unknown): v is Envelope<unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  if (e.ok === true) return 'value' in e;
  return (
    e.ok === false && typeof e.error?.code === 'string' && typeof e.error?.message === 'string'
  );
}

// Chrome answers this when the worker is still starting and has no listener yet.
const NO_RECEIVER = /receiving end does not exist|could not establish connection/i;

/** Sends `req` to the background and returns its typed reply. */
export async function sendMessage<T extends MessageType>(
  req: Request<T>,
  send: Send = (m) => browser.runtime.sendMessage(m),
): Promise<Reply<T>> {
  let answer: unknown;
  try {
    answer = await send(req);
  } catch (e) {
    if (!(e instanceof Error) || !NO_RECEIVER.test(e.message))
      throw new VeilMessageError('internal', 'the Veil background did not answer');
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      answer = await send(req);
    } catch {
      throw new VeilMessageError('internal', 'the Veil background did not answer');
    }
  }
  // `ping` keeps its raw `{ok: true, version}` answer.
  if (req.type === 'ping') {
    if ((answer as { ok?: unknown } | undefined)?.ok === true) return answer as Reply<T>;
    throw new VeilMessageError('internal', 'the Veil background did not answer');
  }
  if (!isEnvelope(answer))
    throw new VeilMessageError('internal', 'the Veil background did not answer');
  if (answer.ok) return answer.value as Reply<T>;
  throw new VeilMessageError(answer.error.code, answer.error.message);
}
