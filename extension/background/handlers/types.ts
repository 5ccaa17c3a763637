// The shape of a background handler (background only): it gets the worker's one VeilService,
// the checked request fields and who sent it (already allowed by the router).
import type { MessageTable, MessageType } from '../../messaging/messages';
import type { HandlerContext } from '../router';
import type { VeilService } from '../veil-service';

export type ServiceHandler<T extends MessageType> = (
  svc: VeilService,
  req: MessageTable[T]['req'],
  ctx: HandlerContext,
) => Promise<MessageTable[T]['res']>;

export type ServiceHandlers<K extends MessageType> = { [T in K]: ServiceHandler<T> };
