// Handlers for our own identity (background only): status, create, publish, and the security
// phrase that extension frames show so a host page cannot fake them. Private keys stay in the
// store; what leaves is the public key, its fingerprint and the phrase (to extension pages only).
import { normalizeDirectoryUrl } from '../directory-client';
import { BackgroundError } from '../errors';
import type { ServiceHandlers } from './types';
import { SECURITY_PHRASE_KEY } from '../schema';

/** How many one-time prekeys each publish uploads. */
export const ONE_TIME_PREKEYS_PER_PUBLISH = 20;

export const identityHandlers: ServiceHandlers<
  'status' | 'createIdentity' | 'publish' | 'setSecurityPhrase' | 'getSecurityPhrase'
> = {
  status: (svc) => svc.status(),

  async createIdentity(svc, { handle, directoryUrl }) {
    const url = normalizeDirectoryUrl(directoryUrl);
    if ((await svc.profile()) || (await svc.store.keys('identity')).includes('self'))
      throw new BackgroundError('identity-exists', 'an identity exists; delete everything first');
    const id = await svc.veil.createIdentity(handle);
    const profile = svc.newProfile(id.handle, id.identityKey);
    const settings = { ...(await svc.settings()), directoryUrl: url };
    await svc.store.commit([
      { op: 'put', table: 'state', key: 'profile', value: profile },
      { op: 'put', table: 'settings', key: 'settings', value: settings },
    ]);
    return (await svc.identityView(profile))!;
  },

  async publish(svc) {
    const profile = await svc.requireProfile();
    const { directoryUrl } = await svc.settings();
    const pub = await svc.veil.publicBundle({ oneTimePrekeys: ONE_TIME_PREKEYS_PER_PUBLISH });
    const logged = await svc.directory.publish(directoryUrl, svc.veil, pub);
    const next = {
      ...profile,
      published: {
        url: directoryUrl,
        logIndex: logged.logIndex,
        sequence: logged.sequence,
        at: svc.now(),
      },
    };
    await svc.store.commit([{ op: 'put', table: 'state', key: 'profile', value: next }]);
    return (await svc.identityView(next))!;
  },

  async setSecurityPhrase(svc, { phrase }) {
    const text = phrase.trim();
    await svc.store.commit([
      text === ''
        ? { op: 'delete', table: 'secrets', key: SECURITY_PHRASE_KEY }
        : { op: 'put', table: 'secrets', key: SECURITY_PHRASE_KEY, value: text },
    ]);
    return { ok: true };
  },

  async getSecurityPhrase(svc) {
    const phrase = await svc.store.get<string>('secrets', SECURITY_PHRASE_KEY);
    return phrase === undefined ? {} : { phrase };
  },
};
