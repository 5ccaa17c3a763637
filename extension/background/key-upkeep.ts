// Keys that look after themselves (background only). The directory hands out one one-time
// prekey per session started with us; nothing else puts them back. The log watch (at start and
// hourly, log-schedule.ts) asks the directory how many are left, tops them up below a low-water
// mark, and publishes a new signed prekey once the current one is due (the protocol keeps old
// ones for a grace period, so messages in flight still open). The same for the post-quantum
// ML-KEM-768 prekeys (fewer: each is 1.2 KB at the directory). With none left, a bundle still
// carries the signed prekey and the last-resort KEM prekey: sessions start without the one-time
// parts instead of failing.
import { bytesToHex } from '@noble/hashes/utils.js';
import { deviceListDigest } from '../protocol/device-list';
import { normalizeDirectoryUrl } from './directory-client';
import { BackgroundError } from './errors';
import type { Profile, VeilService } from './veil-service';

/** One-time prekeys we keep on the directory. */
export const PREKEY_TARGET = 50;
/** Below this many, the next upkeep tops them up to PREKEY_TARGET. */
export const PREKEY_LOW_WATER = 25;
/** One-time KEM prekeys we keep there, and the mark below which they are topped up. */
export const KEM_PREKEY_TARGET = 20;
export const KEM_PREKEY_LOW_WATER = 10;

export interface Upkeep {
  /** One-time prekeys uploaded. */
  uploaded: number;
  /** One-time KEM prekeys uploaded. */
  uploadedKem: number;
  /** A new signed prekey was published. */
  rotated: boolean;
}

export interface PrekeyCounts {
  oneTime: number;
  kem: number;
}

const ALL: PrekeyCounts = { oneTime: PREKEY_TARGET, kem: KEM_PREKEY_TARGET };

/** How many one-time prekeys of each kind a publish to `url` should upload now (first: all). */
export async function prekeysWanted(
  svc: VeilService,
  url: string,
  handle: string,
): Promise<PrekeyCounts> {
  const profile = await svc.profile();
  if (profile?.published?.url !== normalizeDirectoryUrl(url)) return ALL;
  try {
    const there = await svc.directory.prekeyStatus(url, svc.veil, handle);
    return {
      oneTime: Math.max(0, PREKEY_TARGET - there.oneTimePrekeys),
      kem: Math.max(0, KEM_PREKEY_TARGET - (there.kemOneTimePrekeys ?? KEM_PREKEY_TARGET)),
    };
  } catch (e) {
    // Deleted there meanwhile: this publish is a first one again.
    if (e instanceof BackgroundError && e.code === 'not-found') return ALL;
    throw e;
  }
}

/** Publishes our identity with `counts` new one-time prekeys, and remembers where it was logged. */
export async function publishKeys(
  svc: VeilService,
  url: string,
  counts: PrekeyCounts,
): Promise<void> {
  const profile = await svc.requireProfile();
  const pub = await svc.veil.publicBundle({
    oneTimePrekeys: counts.oneTime,
    kemPrekeys: counts.kem,
  });
  const logged = await svc.directory.publish(url, svc.veil, pub);
  const at = normalizeDirectoryUrl(url);
  const same = profile.published?.url === at ? profile.published : undefined;
  const published: NonNullable<Profile['published']> = {
    url: at,
    logIndex: logged.logIndex,
    sequence: logged.sequence,
    at: svc.now(),
    deviceLists: same?.deviceLists ?? [],
  };
  const save = (p: NonNullable<Profile['published']>) =>
    svc.store.commit([
      { op: 'put', table: 'state', key: 'profile', value: { ...profile, published: p } },
    ]);
  // This browser is the account's one device (device 1, its key the account key) until linked
  // devices arrive (docs/devices.md): published once per directory, so contacts can fetch it.
  // Its digest is kept first, so a log watch running meanwhile knows the entry as ours.
  if (published.deviceLists!.length === 0) {
    const list = await svc.veil.ownDeviceList();
    await save({ ...published, deviceLists: [bytesToHex(deviceListDigest(list))] });
    try {
      await svc.directory.publishDeviceList(at, svc.veil, list);
    } catch (e) {
      await save(published);
      throw e;
    }
    published.deviceLists = [bytesToHex(deviceListDigest(list))];
  }
  await save(published);
}

/** A linked browser's own prekeys (signed by its device key) to the directory. */
export async function publishDeviceKeys(
  svc: VeilService,
  url: string,
  counts: PrekeyCounts,
): Promise<void> {
  const profile = await svc.requireProfile();
  if (!profile.device) throw new BackgroundError('invalid-argument', 'not a linked device');
  const pub = await svc.veil.publicBundle({
    oneTimePrekeys: counts.oneTime,
    kemPrekeys: counts.kem,
  });
  await svc.directory.publishDeviceKeys(url, profile.handle, profile.device.id, svc.veil, {
    signedPrekey: pub.signedPrekey,
    oneTimePrekeys: pub.oneTimePrekeys,
    kemPrekeys: pub.kemPrekeys,
  });
}

/**
 * One upkeep pass: null when we have not published to the directory in Settings (nothing to
 * look after there). Throws what the directory client throws; the caller reports it.
 */
export async function upkeepKeys(svc: VeilService): Promise<Upkeep | null> {
  const profile = await svc.profile();
  const { directoryUrl } = await svc.settings();
  const device = profile?.device;
  if (
    !device &&
    (!profile?.published || profile.published.url !== normalizeDirectoryUrl(directoryUrl))
  )
    return null;
  // A linked browser looks after its own device's prekeys, under its own key.
  const there = device
    ? await svc.directory.devicePrekeyCounts(directoryUrl, profile!.handle, device.id, svc.veil)
    : await svc.directory.prekeyStatus(directoryUrl, svc.veil, profile!.handle);
  const ours = await svc.veil.signedPrekeyStatus();
  const uploaded =
    there.oneTimePrekeys < PREKEY_LOW_WATER ? PREKEY_TARGET - there.oneTimePrekeys : 0;
  // A directory that says nothing of KEM prekeys cannot store them: none are uploaded.
  const kemThere = there.kemOneTimePrekeys ?? KEM_PREKEY_TARGET;
  const uploadedKem = kemThere < KEM_PREKEY_LOW_WATER ? KEM_PREKEY_TARGET - kemThere : 0;
  // Due, or the directory serves another one than ours (a restore from backup, a lost write),
  // or it holds no last-resort KEM prekey of ours (published before post-quantum setup).
  const rotate =
    ours.due ||
    there.signedPrekeyId !== ours.id ||
    (there.kemOneTimePrekeys !== undefined && there.kemLastResortId === null);
  if (uploaded === 0 && uploadedKem === 0 && !rotate)
    return { uploaded: 0, uploadedKem: 0, rotated: false };
  if (device) await publishDeviceKeys(svc, directoryUrl, { oneTime: uploaded, kem: uploadedKem });
  else await publishKeys(svc, directoryUrl, { oneTime: uploaded, kem: uploadedKem });
  return { uploaded, uploadedKem, rotated: ours.due };
}
