// Handlers that encrypt and decrypt for a conversation (background only; the callers are the
// extension-origin composer and reader frames). Sessions are started from directory bundles
// whose keys were checked against the log; a changed key blocks sending ('untrusted-identity').
import type { DecryptView } from '../../messaging/messages';
import type { ServiceHandlers } from './types';

export const conversationHandlers: ServiceHandlers<'encrypt' | 'decrypt'> = {
  async encrypt(svc, { context, recipients, plaintext, maxChunkLength }) {
    await svc.lock.dataKey();
    const me = await svc.requireProfile();
    const { directoryUrl } = await svc.settings();
    await Promise.all(
      recipients
        .filter((handle) => handle !== me.handle)
        .map((handle) => svc.ensureSession(handle, directoryUrl)),
    );
    const chunks = await svc.veil.encrypt({ context, recipients }, plaintext, { maxChunkLength });
    return { chunks };
  },

  async decrypt(svc, { context, armored }) {
    // Veil.decrypt reports every failure as a status; a locked store must say 'locked' instead.
    await svc.lock.dataKey();
    const r = await svc.veil.decrypt(context, armored);
    const view: DecryptView = { status: r.status };
    if (r.sender !== undefined) view.sender = r.sender;
    if (r.plaintext !== undefined) view.plaintext = r.plaintext;
    if (r.kind !== undefined) view.kind = r.kind;
    if (r.error !== undefined) view.error = r.error;
    return view;
  },
};
