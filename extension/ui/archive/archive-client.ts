// Typed archive messages from the popup and the options page (archive-messages.ts): the same
// sendMessage as every other request; this only names the archive's own table.
import type { ArchiveMessageTable } from '../../messaging/archive-messages';
import { sendMessage } from '../../messaging/client';

export type ArchiveRequest<T extends keyof ArchiveMessageTable> = {
  type: T;
} & ArchiveMessageTable[T]['req'];

export function archiveMessage<T extends keyof ArchiveMessageTable>(
  req: ArchiveRequest<T>,
): Promise<ArchiveMessageTable[T]['res']> {
  return sendMessage(req as never) as unknown as Promise<ArchiveMessageTable[T]['res']>;
}
