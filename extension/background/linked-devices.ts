// One person, several browsers (background only; docs/devices.md). The browser holding the
// account key shows a short-lived code; a new browser pasting it asks to join through the
// directory's link relay, which sees only a random id, the new device key and ciphertext. The
// account's browser links it (a new signed device list, published and logged), answers with the
// list and the contacts (verification marks included) sealed under a key from the code, and the
// new browser joins with the list checked under the account key it got from the code. Before a
// message goes out, each recipient's and our own device lists are refreshed and a session is
// started with every listed device that has none.
import { bytesToHex } from '@noble/hashes/utils.js';
import type { DeviceView, DevicesView, LinkState } from '../messaging/messages';
import {
  deviceListDigest,
  deviceListFromJson,
  deviceListToJson,
  type SignedDeviceList,
} from '../protocol/device-list';
import { fromBase64Url, toBase64Url } from '../protocol/encoding';
import { VeilError } from '../protocol/errors';
import {
  createLinkCode,
  linkKeys,
  linkReplyKeyPair,
  openLinkAnswer,
  openLinkRequest,
  parseLinkCode,
  sealLinkAnswer,
  sealLinkRequest,
} from '../protocol/link-code';
import { bytesEqual } from '../protocol/bytes';
import { deviceTrust } from '../protocol/linked-devices';
import type { TrustStatus } from '../protocol/placement';
import { normalizeDirectoryUrl } from './directory-client';
import { adoptSyncKey, ensureSyncKey, rotateSyncKey, syncFloor } from './device-sync';
import { BackgroundError } from './errors';
import { KEM_PREKEY_TARGET, PREKEY_TARGET, publishDeviceKeys } from './key-upkeep';
import type { Profile, VeilService } from './veil-service';

/** A link code is good this long (and for one browser). */
export const LINK_CODE_TTL_MS = 10 * 60 * 1000;
/** A device list is fetched again after this long (before sending, and to show a device's message). */
const LIST_FRESH_MS = 60 * 1000;

const HOST_KEY = 'link-host';
const JOIN_KEY = 'link-join';
const SEEN_KEY = 'device-seen';
/** Device id → when the directory last saw it make a signed request (ms; device-sync.ts). */
export const DIRECTORY_SEEN_KEY = 'device-seen-directory';

interface HostState {
  secret: string;
  expiresAt: number;
  /** The request that answered the code, kept until the person confirms or refuses it. */
  request?: { deviceKey: string; replyKey: string };
}

interface JoinState {
  secret: string;
  /** Our one-time X25519 key the answer is sealed to as well (link-code.ts). */
  replySecretKey: string;
  handle: string;
  accountKey: string;
  directoryUrl: string;
  expiresAt: number;
}

/** What the account's browser hands a new one (sealed; JSON inside). */
interface LinkAnswer {
  list: ReturnType<typeof deviceListToJson>;
  contacts: { handle: string; identityKey: string; verified: boolean }[];
  /** The account's sync key (device-sync.ts), base64url: every linked browser holds it. */
  syncKey?: string;
  /** The highest sync blob version the account's browser had seen: the new one's floor. */
  syncVersion?: number;
}

/** When each handle's device list was last fetched, per service (one per browser profile). */
const fetched = new WeakMap<VeilService, Map<string, number>>();

// ---- the account's devices ----

export async function listDevices(svc: VeilService): Promise<DevicesView> {
  const profile = await svc.requireProfile();
  const id = (await svc.veil.getIdentity())!;
  const list = await svc.veil.ownDevices();
  const seen = (await svc.store.get<Record<string, number>>('state', SEEN_KEY)) ?? {};
  const seenThere = (await svc.store.get<Record<string, number>>('meta', DIRECTORY_SEEN_KEY)) ?? {};
  const devices: DeviceView[] = (
    list?.devices ?? [{ id: 1, key: profile.identityKey, addedAt: profile.createdAt / 1000 }]
  ).map((d) => {
    const view: DeviceView = {
      id: d.id,
      fingerprint: svc.half(profile.handle, d.key),
      addedAt: d.addedAt * 1000,
      thisDevice: bytesEqual(d.key, id.deviceKey ?? id.identityKey),
    };
    // The later of a message read here and the directory's last signed request from it.
    const times = [seen[bytesToHex(d.key)], seenThere[d.id]].filter((t) => t !== undefined);
    if (times.length > 0 && !view.thisDevice) view.lastSeen = Math.max(...times);
    return view;
  });
  return {
    devices,
    holdsAccountKey: bytesEqual(id.deviceKey ?? id.identityKey, id.identityKey),
    deviceId: id.deviceId ?? 1,
  };
}

/** A message from one of our other devices was read here: the popup shows when. */
export async function noteDeviceSeen(svc: VeilService, deviceKey: Uint8Array): Promise<void> {
  const seen = (await svc.store.get<Record<string, number>>('state', SEEN_KEY)) ?? {};
  seen[bytesToHex(deviceKey)] = svc.now();
  await svc.store.commit([{ op: 'put', table: 'state', key: SEEN_KEY, value: seen }]);
}

/** Publishes a list of ours, its digest remembered first so our log watch knows it as ours. */
async function publishOwnList(svc: VeilService, list: SignedDeviceList): Promise<void> {
  const profile = await svc.requireProfile();
  const { directoryUrl } = await svc.settings();
  const published = profile.published;
  if (!published || published.url !== normalizeDirectoryUrl(directoryUrl))
    throw new BackgroundError('not-published', 'publish your identity to the directory first');
  const digest = bytesToHex(deviceListDigest(list));
  const next: Profile = {
    ...profile,
    published: { ...published, deviceLists: [...(published.deviceLists ?? []), digest] },
  };
  await svc.store.commit([{ op: 'put', table: 'state', key: 'profile', value: next }]);
  await svc.directory.publishDeviceList(directoryUrl, svc.veil, list);
}

export async function removeDevice(svc: VeilService, deviceId: number): Promise<DevicesView> {
  await svc.lock.dataKey();
  const list = await svc.veil.removeDevice(deviceId);
  await publishOwnList(svc, list);
  // The unlinked browser keeps the old sync key: what syncs from now on goes under a new one.
  await rotateSyncKey(svc);
  return listDevices(svc);
}

// ---- linking: the account's browser ----

export async function startLink(svc: VeilService): Promise<{ code: string; expiresAt: number }> {
  await svc.lock.dataKey();
  const profile = await svc.requireProfile();
  if (!(await listDevices(svc)).holdsAccountKey)
    throw new BackgroundError(
      'invalid-argument',
      'link new browsers from the one holding the account key',
    );
  const { directoryUrl } = await svc.settings();
  if (profile.published?.url !== normalizeDirectoryUrl(directoryUrl))
    throw new BackgroundError('not-published', 'publish your identity to the directory first');
  const expiresAt = svc.now() + LINK_CODE_TTL_MS;
  const { code, secret } = createLinkCode({
    handle: profile.handle,
    accountKey: profile.identityKey,
    directoryUrl: normalizeDirectoryUrl(directoryUrl),
    expiresAt: Math.floor(expiresAt / 1000),
    randomBytes: (n: number) => svc.crypto.randomBytes(n),
  });
  const state: HostState = { secret: toBase64Url(secret), expiresAt };
  await svc.store.commit([{ op: 'put', table: 'state', key: HOST_KEY, value: state }]);
  return { code, expiresAt };
}

/**
 * Whether a browser answered our code: its request is checked under the code's MAC key and
 * kept; the person then compares its device fingerprint with the one the new browser shows
 * (confirmLink), since whoever saw the code could answer it first.
 */
export async function linkStatus(svc: VeilService): Promise<LinkState> {
  const host = await svc.store.get<HostState>('state', HOST_KEY);
  if (!host) return { state: 'none' };
  if (svc.now() > host.expiresAt) {
    await svc.store.commit([{ op: 'delete', table: 'state', key: HOST_KEY }]);
    return { state: 'none' };
  }
  const profile = await svc.requireProfile();
  if (host.request)
    return {
      state: 'confirm',
      fingerprint: svc.half(profile.handle, fromBase64Url(host.request.deviceKey)),
    };
  const { directoryUrl } = await svc.settings();
  const keys = linkKeys(fromBase64Url(host.secret));
  const request = await svc.directory.getLinkRequest(directoryUrl, keys.idHex);
  if (!request) return { state: 'waiting', expiresAt: host.expiresAt };
  const opened = openLinkRequest(keys, profile.handle, request);
  const next: HostState = {
    ...host,
    request: { deviceKey: toBase64Url(opened.deviceKey), replyKey: toBase64Url(opened.replyKey) },
  };
  await svc.store.commit([{ op: 'put', table: 'state', key: HOST_KEY, value: next }]);
  return { state: 'confirm', fingerprint: svc.half(profile.handle, opened.deviceKey) };
}

/**
 * The person compared the fingerprints: links that browser (signs and publishes the list with
 * its key, seals the list and our contacts for it), or refuses it. Either way the code is spent.
 */
export async function confirmLink(svc: VeilService, accept: boolean): Promise<LinkState> {
  await svc.lock.dataKey();
  const host = await svc.store.get<HostState>('state', HOST_KEY);
  const drop = () => svc.store.commit([{ op: 'delete', table: 'state', key: HOST_KEY }]);
  if (!host?.request || svc.now() > host.expiresAt) {
    if (host) await drop();
    throw new BackgroundError('link-expired', 'no browser is waiting to be linked');
  }
  if (!accept) {
    await drop();
    return { state: 'none' };
  }
  const { directoryUrl } = await svc.settings();
  const keys = linkKeys(fromBase64Url(host.secret));
  const opened = {
    deviceKey: fromBase64Url(host.request.deviceKey),
    replyKey: fromBase64Url(host.request.replyKey),
  };
  const list = await svc.veil.linkDevice(opened.deviceKey);
  await publishOwnList(svc, list);
  const contacts = await svc.listContacts();
  const answer: LinkAnswer = {
    list: deviceListToJson(list),
    contacts: contacts
      .filter((c) => !c.pendingKey)
      .map((c) => ({
        handle: c.handle,
        identityKey: toBase64Url(c.identityKey),
        verified: c.verified,
      })),
    syncKey: toBase64Url(await ensureSyncKey(svc)),
    syncVersion: await syncFloor(svc),
  };
  const sealed = sealLinkAnswer(
    keys,
    opened,
    new TextEncoder().encode(JSON.stringify(answer)),
    (n: number) => svc.crypto.randomBytes(n),
  );
  await svc.directory.putLinkAnswer(directoryUrl, keys.idHex, sealed);
  await drop();
  const device = list.devices.find((d) => bytesEqual(d.key, opened.deviceKey))!;
  return { state: 'linked', deviceId: device.id };
}

// ---- linking: the new browser ----

/** A browser without an identity makes its device key and asks, through the relay, to join. */
export async function joinWithCode(svc: VeilService, text: string): Promise<LinkState> {
  if ((await svc.profile()) || (await svc.store.keys('identity')).includes('self'))
    throw new BackgroundError(
      'identity-exists',
      'this browser has an identity: delete it first to link it to another',
    );
  let code: ReturnType<typeof parseLinkCode>;
  try {
    code = parseLinkCode(text, Math.floor(svc.now() / 1000));
  } catch (e) {
    if (e instanceof VeilError)
      throw new BackgroundError('invalid-argument', `link code: ${e.message}`);
    throw e;
  }
  const me = await svc.veil.createIdentity(code.handle);
  const keys = linkKeys(code.secret);
  const reply = linkReplyKeyPair((n) => svc.crypto.randomBytes(n));
  try {
    await svc.directory.putLinkRequest(
      code.directoryUrl,
      keys.idHex,
      sealLinkRequest(keys, {
        handle: code.handle,
        deviceKey: me.deviceKey ?? me.identityKey,
        replyKey: reply.publicKey,
      }),
    );
  } catch (e) {
    // Not joined (the code was used, the directory is away): this browser is as it was, so a
    // new code or "create an identity" still works.
    await forgetIdentity(svc);
    throw e;
  }
  const state: JoinState = {
    secret: toBase64Url(code.secret),
    replySecretKey: toBase64Url(reply.secretKey),
    handle: code.handle,
    accountKey: toBase64Url(code.accountKey),
    directoryUrl: code.directoryUrl,
    expiresAt: code.expiresAt * 1000,
  };
  const settings = { ...(await svc.settings()), directoryUrl: code.directoryUrl };
  await svc.store.commit([
    { op: 'put', table: 'state', key: JOIN_KEY, value: state },
    { op: 'put', table: 'settings', key: 'settings', value: settings },
  ]);
  return {
    state: 'waiting',
    expiresAt: state.expiresAt,
    fingerprint: ownFingerprint(svc, code.handle, me),
  };
}

/**
 * Joins once the account's browser answered: the list must be signed by the account key from
 * the code and name our device key. Imports the contacts it sent, publishes our device's
 * prekeys, and makes the profile (the account key, our device id).
 */
export async function joinStatus(svc: VeilService): Promise<LinkState> {
  const join = await svc.store.get<JoinState>('state', JOIN_KEY);
  if (!join) {
    const profile = await svc.profile();
    return profile?.device
      ? { state: 'joined', handle: profile.handle, deviceId: profile.device.id }
      : { state: 'none' };
  }
  const keys = linkKeys(fromBase64Url(join.secret));
  // Refused, expired, or an answer that does not open or check: this browser goes back to
  // having no identity, so a new code or a fresh start works.
  const giveUp = async (e: BackgroundError): Promise<never> => {
    await forgetIdentity(svc);
    await svc.store.commit([{ op: 'delete', table: 'state', key: JOIN_KEY }]);
    throw e;
  };
  const sealed = await svc.directory.getLinkAnswer(join.directoryUrl, keys.idHex);
  if (!sealed) {
    if (svc.now() > join.expiresAt + LINK_CODE_TTL_MS)
      return giveUp(
        new BackgroundError('link-expired', 'the link code expired: ask for a new one'),
      );
    const me = (await svc.veil.getIdentity())!;
    return {
      state: 'waiting',
      expiresAt: join.expiresAt,
      fingerprint: ownFingerprint(svc, join.handle, me),
    };
  }
  const accountKey = fromBase64Url(join.accountKey);
  let answer: LinkAnswer;
  let me: Awaited<ReturnType<typeof svc.veil.joinAccount>>;
  try {
    const me0 = (await svc.veil.getIdentity())!;
    const opened = openLinkAnswer(
      keys,
      {
        deviceKey: me0.deviceKey ?? me0.identityKey,
        replySecretKey: fromBase64Url(join.replySecretKey),
      },
      sealed,
    );
    answer = JSON.parse(new TextDecoder().decode(opened)) as LinkAnswer;
    me = await svc.veil.joinAccount(deviceListFromJson(answer.list), accountKey);
  } catch (e) {
    if (!(e instanceof VeilError) && !(e instanceof SyntaxError)) throw e;
    return giveUp(new BackgroundError('bad-proof', 'the answer to the link code does not check'));
  }
  for (const c of Array.isArray(answer.contacts) ? answer.contacts : []) {
    try {
      await svc.veil.addContact(c.handle, fromBase64Url(c.identityKey));
      if (c.verified === true) await svc.veil.markVerified(c.handle, true);
    } catch (e) {
      if (!(e instanceof VeilError)) throw e;
    }
  }
  await adoptSyncKey(svc, answer.syncKey, answer.syncVersion);
  const profile: Profile = {
    ...svc.newProfile(join.handle, accountKey),
    device: { id: me.deviceId!, key: me.deviceKey! },
  };
  await svc.store.commit([
    { op: 'put', table: 'state', key: 'profile', value: profile },
    { op: 'delete', table: 'state', key: JOIN_KEY },
  ]);
  await publishDeviceKeys(svc, join.directoryUrl, {
    oneTime: PREKEY_TARGET,
    kem: KEM_PREKEY_TARGET,
  });
  return { state: 'joined', handle: join.handle, deviceId: me.deviceId! };
}

async function forgetIdentity(svc: VeilService): Promise<void> {
  const ops = [];
  for (const table of ['identity', 'signedPrekeys', 'oneTimePrekeys', 'kemPrekeys'] as const)
    for (const key of await svc.store.keys(table)) ops.push({ op: 'delete' as const, table, key });
  await svc.store.commit(ops);
}

/** This browser's device fingerprint, as the account's browser shows it before linking. */
function ownFingerprint(
  svc: VeilService,
  handle: string,
  me: { identityKey: Uint8Array; deviceKey?: Uint8Array },
): string {
  return svc.half(handle, me.deviceKey ?? me.identityKey);
}

// ---- before sending ----

/**
 * Fetches `handle`'s device list (a contact's, or ours) when the last fetch is older than a
 * minute, checked against the log and the account key, and applies it. A directory that cannot
 * be reached or serves nothing usable leaves the last checked list in place (sending must not
 * need the directory); only finding this browser unlinked stops us.
 */
export async function refreshDeviceList(
  svc: VeilService,
  url: string,
  handle: string,
): Promise<void> {
  const profile = await svc.requireProfile();
  const now = svc.now();
  let fetchedAt = fetched.get(svc);
  if (!fetchedAt) fetched.set(svc, (fetchedAt = new Map()));
  const id = `${url} ${handle}`;
  if ((fetchedAt.get(id) ?? -Infinity) > now - LIST_FRESH_MS) return;
  const own = handle === profile.handle;
  const contact = own ? undefined : await svc.veil.getContact(handle);
  const key = own ? profile.identityKey : contact?.identityKey;
  if (!key || contact?.pendingKey) return;
  fetchedAt.set(id, now);
  let list: SignedDeviceList;
  try {
    list = await svc.directory.deviceList(url, handle, key);
  } catch (e) {
    if (e instanceof BackgroundError || e instanceof VeilError) return;
    throw e;
  }
  try {
    if (!own) await svc.veil.setContactDevices(handle, list);
    else if ((await svc.veil.setOwnDevices(list)) === 'removed')
      throw new BackgroundError('device-removed', 'this browser was unlinked from the account');
  } catch (e) {
    // Not newer than ours, or not the pinned key's: keep what we checked before.
    if (!(e instanceof VeilError)) throw e;
  }
}

/** What a contact's checked (and at most a minute old) device list says of a device key. */
export async function contactDeviceTrust(
  svc: VeilService,
  url: string,
  handle: string,
  key: Uint8Array,
): Promise<TrustStatus> {
  await refreshDeviceList(svc, url, handle);
  return deviceTrust(await svc.veil.getContact(handle), key);
}

/**
 * Before a direct message: refreshes the lists of `handles` and ours, and starts a session with
 * every listed device that has none. A device whose bundle cannot be had or does not verify is
 * left out of this message (and named in the answer) rather than holding it up.
 */
export async function ensureDeviceSessions(
  svc: VeilService,
  url: string,
  handles: readonly string[],
): Promise<{ skipped: { handle: string; deviceId: number }[] }> {
  const profile = await svc.requireProfile();
  for (const handle of [...handles, profile.handle]) await refreshDeviceList(svc, url, handle);
  const skipped: { handle: string; deviceId: number }[] = [];
  for (const m of await svc.veil.missingSessions(handles)) {
    const accountKey =
      m.handle === profile.handle
        ? profile.identityKey
        : (await svc.veil.getContact(m.handle))!.identityKey;
    try {
      const { bundle } = await svc.directory.deviceBundle(url, m.handle, m.deviceId, accountKey);
      await svc.veil.startSession(bundle, { deviceId: m.deviceId });
    } catch (e) {
      if (!(e instanceof BackgroundError) && !(e instanceof VeilError)) throw e;
      skipped.push({ handle: m.handle, deviceId: m.deviceId });
    }
  }
  return { skipped };
}

/** Forgets when lists were fetched, so the next send fetches them again. */
export function forgetDeviceLists(svc: VeilService): void {
  fetched.delete(svc);
}
