// Handlers for our own identity (background only): status, create, publish, and the security
// phrase that extension frames show so a host page cannot fake them. Private keys stay in the
// store; what leaves is the public key, its fingerprint and the phrase (to extension pages only).
import { normalizeDirectoryUrl } from '../directory-client';
import { BackgroundError } from '../errors';
import {
  KEM_PREKEY_TARGET,
  PREKEY_TARGET,
  prekeysWanted,
  publishDeviceKeys,
  publishKeys,
} from '../key-upkeep';
import type { ServiceHandlers } from './types';
import { SECURITY_PHRASE_KEY } from '../schema';

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
    // A linked browser never publishes the account's identity (its key is elsewhere): it tops
    // up its own device's prekeys.
    if (profile.device) {
      await publishDeviceKeys(svc, directoryUrl, {
        oneTime: PREKEY_TARGET,
        kem: KEM_PREKEY_TARGET,
      });
      return (await svc.identityView(profile))!;
    }
    // Published here before: top the one-time prekeys up to the target, not past it.
    await publishKeys(svc, directoryUrl, await prekeysWanted(svc, directoryUrl, profile.handle));
    return (await svc.identityView(await svc.requireProfile()))!;
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
