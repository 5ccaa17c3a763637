// The setting of a test file on the local chat server: the key directory and the chat started
// before its tests, and people (Chromium profiles with Veil enabled for the chat) who join as the
// tests need them; all stopped after them.
import { afterAll, beforeAll } from 'vitest';
import { startLocalChat, type LocalChat } from '../fixtures/local-chat/server';
import { castOf, type ChromiumPerson } from './chromium-person';
import { startDirectory, type DirectoryServer } from './directory-server';

export function localChatCast<P extends ChromiumPerson>(
  extensionDir: string,
  options: Parameters<typeof startLocalChat>[0] | (() => Parameters<typeof startLocalChat>[0]) = {},
) {
  let directory: DirectoryServer | undefined;
  let chat: LocalChat | undefined;
  const cast = castOf<P>(() => ({
    extensionDir,
    directoryUrl: directory!.url,
    site: chat!.host,
  }));
  beforeAll(async () => {
    directory = await startDirectory();
    chat = await startLocalChat(typeof options === 'function' ? options() : options);
  });
  afterAll(async () => {
    await cast.close();
    await chat?.close();
    await directory?.stop();
  });
  return {
    ...cast,
    /** The chat server (once the file's tests started). */
    chat: (): LocalChat => chat!,
    /** The key directory (once the file's tests started). */
    directory: (): DirectoryServer => directory!,
  };
}
