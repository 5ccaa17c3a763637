// Handlers for contacts (background only): directory lookups checked against the log, keys
// pinned on first use, key changes recorded as pending (sending blocked until acknowledged,
// verification reset), safety numbers and QR comparison.
import { fromBase64Url, toBase64Url } from '../../protocol/encoding';
import { VeilError } from '../../protocol/errors';
import { identityDhPublic } from '../../protocol/identity';
import { compareScannable, fingerprints, safetyNumber } from '../../protocol/safety-number';
import type { Contact } from '../../protocol/veil';
import { BackgroundError } from '../errors';
import type { VeilService } from '../veil-service';
import type { ServiceHandlers } from './types';

async function requireContact(svc: VeilService, handle: string): Promise<Contact> {
  const c = await svc.veil.getContact(handle);
  if (!c) throw new BackgroundError('invalid-argument', 'no such contact');
  return c;
}

const party = (handle: string, edKey: Uint8Array) => ({
  id: handle,
  identityKey: identityDhPublic(edKey),
});

export const contactHandlers: ServiceHandlers<
  | 'lookupContact'
  | 'addContact'
  | 'listContacts'
  | 'verifyView'
  | 'compareScannable'
  | 'markVerified'
  | 'acknowledgeKeyChange'
  | 'removeContact'
> = {
  async lookupContact(svc, { handle }) {
    const { directoryUrl } = await svc.settings();
    const found = await svc.directory.lookup(directoryUrl, handle);
    const reply = {
      handle,
      identityKey: toBase64Url(found.identityKey),
      fingerprint: svc.half(handle, found.identityKey),
      logIndex: found.logIndex,
    };
    // A known contact: a different key is recorded now (pending), so the change is loud.
    if (!(await svc.veil.getContact(handle))) return reply;
    const contact = await svc.veil.addContact(handle, found.identityKey);
    return { ...reply, contact: svc.contactView(contact) };
  },

  async addContact(svc, { handle }) {
    const me = await svc.requireProfile();
    if (handle === me.handle)
      throw new BackgroundError('invalid-argument', 'that is your own handle');
    const { directoryUrl } = await svc.settings();
    const found = await svc.directory.lookup(directoryUrl, handle);
    return svc.contactView(await svc.veil.addContact(handle, found.identityKey));
  },

  async listContacts(svc) {
    const contacts = await svc.listContacts();
    return { contacts: contacts.map((c) => svc.contactView(c)) };
  },

  async verifyView(svc, { handle }) {
    const me = await svc.requireProfile();
    const c = await requireContact(svc, handle);
    const { display, scannable } = fingerprints(
      party(me.handle, me.identityKey),
      party(c.handle, c.identityKey),
    );
    const view = {
      contact: svc.contactView(c),
      safetyNumber: display,
      scannable: toBase64Url(scannable),
    };
    if (!c.pendingKey) return view;
    return {
      ...view,
      pendingSafetyNumber: safetyNumber(
        party(me.handle, me.identityKey),
        party(c.handle, c.pendingKey),
      ),
    };
  },

  async compareScannable(svc, { handle, scanned }) {
    const me = await svc.requireProfile();
    const c = await requireContact(svc, handle);
    let theirs: Uint8Array;
    try {
      theirs = fromBase64Url(scanned.trim());
    } catch {
      throw new VeilError('malformed', 'the scanned code is not a Veil safety-number code');
    }
    const { scannable } = fingerprints(
      party(me.handle, me.identityKey),
      party(c.handle, c.identityKey),
    );
    return { match: compareScannable(scannable, theirs) };
  },

  async markVerified(svc, { handle, verified }) {
    await requireContact(svc, handle);
    return svc.contactView(await svc.veil.markVerified(handle, verified));
  },

  async acknowledgeKeyChange(svc, { handle }) {
    await requireContact(svc, handle);
    return svc.contactView(await svc.veil.acknowledgeKeyChange(handle));
  },

  async removeContact(svc, { handle }) {
    const c = await requireContact(svc, handle);
    await svc.store.commit([
      { op: 'delete', table: 'contacts', key: handle },
      ...(c.session ? [{ op: 'delete' as const, table: 'sessions' as const, key: c.session }] : []),
    ]);
    return { ok: true };
  },
};
