// Handlers for the passphrase lock (background only): set, change or remove the passphrase,
// lock and unlock. Each answers the new status.
import { archiveOf } from '../archive/archive';
import type { ServiceHandlers } from './types';

export const lockHandlers: ServiceHandlers<'setLockPassphrase' | 'lock' | 'unlock'> = {
  async setLockPassphrase(svc, { passphrase, current }) {
    const { enabled } = await svc.lock.state();
    if (passphrase === null) await svc.lock.disable(current ?? '');
    else if (!enabled) await svc.lock.enable(passphrase);
    else await svc.lock.change(current ?? '', passphrase);
    return svc.status();
  },

  async lock(svc) {
    await svc.lock.lock();
    // WebCrypto keeps imported private keys as CryptoKeys: drop them with the lock.
    (svc.crypto as { clearKeyCache?: () => void }).clearKeyCache?.();
    svc.names.forget();
    // Composer drafts are plaintext in memory: they go with the lock too.
    await svc.pages.dropDrafts();
    // The archive's index and catalog are plaintext in memory: dropped too.
    archiveOf(svc).forget();
    // Open readers and composers drop their text and say Veil is locked.
    await svc.tellFrames({ type: 'veil:lock', locked: true });
    return svc.status();
  },

  async unlock(svc, { passphrase }) {
    await svc.lock.unlock(passphrase);
    await svc.tellFrames({ type: 'veil:lock', locked: false });
    return svc.status();
  },
};
