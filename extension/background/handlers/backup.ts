// Handlers for backup and restore (background only). A backup is the protocol's sealed file
// (scrypt + XChaCha20-Poly1305) holding the identity, prekeys, contacts and received sender keys
// (never a session or an own sender key: protocol/backup.ts) plus our settings, security phrase,
// published state and directory pins. Restore goes only into a profile without an identity,
// checks everything first and then writes in one transaction: a refusal changes nothing.
import { backupRows, exportBackup, openBackup } from '../../protocol/backup';
import { fromBase64Url, toBase64Url } from '../../protocol/encoding';
import { VeilError } from '../../protocol/errors';
import { isValidHandle } from '../../protocol/identity';
import type { Settings } from '../../messaging/messages';
import type { DirectoryState } from '../directory-client';
import { BackgroundError } from '../errors';
import type { StoreOpAny } from '../key-store';
import type { Profile, VeilService } from '../veil-service';
import { Archive, archiveOf } from '../archive/archive';
import type { NewRecord } from '../archive/records';
import { normalizeSettings } from './settings';
import type { ServiceHandlers } from './types';
import { PROTOCOL_TABLES, SECURITY_PHRASE_KEY } from '../schema';

interface BackupExtra {
  settings?: Settings;
  securityPhrase?: string;
  published?: Profile['published'];
  directories?: DirectoryState[];
  /** The message archive's records (exportBackup with includeArchive; archive/export.ts). */
  archive?: unknown;
}

export const backupHandlers: ServiceHandlers<'exportBackup' | 'importBackup'> = {
  async exportBackup(svc, { passphrase, includeArchive }) {
    const profile = await svc.requireProfile();
    const extra: BackupExtra = {
      settings: await svc.settings(),
      directories: (await svc.store.entries<DirectoryState>('directory')).map(([, v]) => v),
    };
    const phrase = await svc.store.get<string>('secrets', SECURITY_PHRASE_KEY);
    if (phrase !== undefined) extra.securityPhrase = phrase;
    if (profile.published) extra.published = profile.published;
    if (includeArchive) extra.archive = await archiveOf(svc).backupPart();
    const file = await exportBackup(svc.store, passphrase, {
      crypto: svc.crypto,
      now: svc.now(),
      scrypt: svc.backupScrypt,
      extra: extra as Record<string, unknown>,
    });
    const day = new Date(svc.now()).toISOString().slice(0, 10);
    return { file: toBase64Url(file), fileName: `veil-backup-${profile.handle}-${day}.veilbackup` };
  },

  async importBackup(svc, { file, passphrase }) {
    // Before the KDF: there is nothing to decrypt for if the answer is no anyway.
    await refuseOverIdentity(svc);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64Url(file.trim());
    } catch {
      throw new VeilError('malformed', 'not a Veil backup file');
    }
    const contents = await openBackup(bytes, passphrase);
    const identity = contents.tables.identity?.self as
      { handle?: unknown; publicKey?: unknown } | undefined;
    if (
      !identity ||
      !isValidHandle(identity.handle) ||
      !(identity.publicKey instanceof Uint8Array) ||
      identity.publicKey.length !== 32
    )
      throw new VeilError('malformed', 'the backup holds no identity');
    // Again: an identity may have been created while scrypt ran.
    await refuseOverIdentity(svc);
    const extra = (contents.extra ?? {}) as BackupExtra;
    // Checked before anything is written: a malformed archive part refuses the whole restore.
    const archived: NewRecord[] =
      extra.archive === undefined ? [] : Archive.parseBackupPart(extra.archive);
    const ops: StoreOpAny[] = [];
    for (const table of [...PROTOCOL_TABLES, 'secrets', 'directory', 'settings'] as const) {
      for (const key of await svc.store.keys(table)) ops.push({ op: 'delete', table, key });
    }
    // Whatever version made the file, nothing that sends is restored: this device starts new
    // sessions and sender keys, and its contacts see a session reset, not a new key.
    ops.push(...backupRows(contents));
    const profile: Profile = svc.newProfile(identity.handle, identity.publicKey);
    const published = validPublished(extra.published);
    if (published) profile.published = published;
    ops.push({ op: 'put', table: 'state', key: 'profile', value: profile });
    const settings = validSettings(extra.settings);
    if (settings) ops.push({ op: 'put', table: 'settings', key: 'settings', value: settings });
    if (typeof extra.securityPhrase === 'string' && extra.securityPhrase.length <= 200)
      ops.push({
        op: 'put',
        table: 'secrets',
        key: SECURITY_PHRASE_KEY,
        value: extra.securityPhrase,
      });
    for (const d of Array.isArray(extra.directories) ? extra.directories : [])
      if (isDirectoryState(d)) ops.push({ op: 'put', table: 'directory', key: d.url, value: d });
    // One transaction: all of it or (locked, storage error) none of it.
    await svc.store.commit(ops);
    await svc.syncSites();
    // The archive comes back as a task the user sees and can cancel (tasks, cancelTask).
    if (archived.length > 0) archiveOf(svc).importRecords(archived);
    return svc.status();
  },
};

/**
 * Restoring over an identity, even the same one, would put older prekeys and trust state over
 * newer ones and bring back what this profile already sent from: refused, nothing changed.
 */
async function refuseOverIdentity(svc: VeilService): Promise<void> {
  if ((await svc.profile()) || (await svc.store.keys('identity')).includes('self'))
    throw new BackgroundError(
      'identity-exists',
      'this profile has an identity; delete everything before restoring',
    );
}

function validSettings(s: unknown): Settings | undefined {
  try {
    return s && typeof s === 'object' ? normalizeSettings(s as Partial<Settings>) : undefined;
  } catch {
    return undefined;
  }
}

function validPublished(p: unknown): Profile['published'] | undefined {
  const v = p as Profile['published'];
  return v &&
    typeof v.url === 'string' &&
    Number.isSafeInteger(v.logIndex) &&
    Number.isSafeInteger(v.sequence) &&
    typeof v.at === 'number'
    ? {
        url: v.url,
        logIndex: v.logIndex,
        sequence: v.sequence,
        at: v.at,
        ...(Array.isArray(v.deviceLists) &&
        v.deviceLists.every((d) => typeof d === 'string' && /^[0-9a-f]{64}$/.test(d))
          ? { deviceLists: v.deviceLists.slice(0, 64) }
          : {}),
      }
    : undefined;
}

function isDirectoryState(d: unknown): d is DirectoryState {
  const s = d as DirectoryState;
  return (
    !!s &&
    typeof s.url === 'string' &&
    !!s.trust &&
    typeof s.trust.origin === 'string' &&
    s.trust.publicKey instanceof Uint8Array &&
    !!s.head &&
    s.head.rootHash instanceof Uint8Array &&
    s.head.signature instanceof Uint8Array &&
    Number.isSafeInteger(s.head.treeSize) &&
    !!s.sequences &&
    typeof s.sequences === 'object'
  );
}
