// Encrypting for a conversation from an extension page (background only; the in-page benchmark
// and tests send it from the options page; the composer frame uses composeSend). Sessions are
// started from directory bundles whose keys were checked against the log; a changed key blocks
// sending ('untrusted-identity').
import { ensureDeviceSessions } from '../linked-devices';
import type { ServiceHandlers } from './types';

export const conversationHandlers: ServiceHandlers<'encrypt'> = {
  async encrypt(svc, { context, recipients, plaintext, maxChunkLength }) {
    await svc.lock.dataKey();
    const me = await svc.requireProfile();
    const { directoryUrl } = await svc.settings();
    await Promise.all(
      recipients
        .filter((handle) => handle !== me.handle)
        .map((handle) => svc.ensureSession(handle, directoryUrl)),
    );
    const others = recipients.filter((handle) => handle !== me.handle);
    if (others.length > 0) await ensureDeviceSessions(svc, directoryUrl, others);
    const chunks = await svc.veil.encrypt({ context, recipients }, plaintext, { maxChunkLength });
    return { chunks };
  },
};
