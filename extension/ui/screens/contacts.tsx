// Contacts: look a handle up in the directory, add it (its key is pinned on first use), and list
// everyone with their trust status; a changed key is announced at the top until it is reviewed.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { sendMessage } from '../../messaging/client';
import type { ContactView, IdentityView, Reply, StatusReply } from '../../messaging/messages';
import { FingerprintHalf } from '../digits';
import { Button, ScreenTitle, TextField } from '../fields';
import { digitGroups, isValidHandle } from '../format';
import { IdentityCard, PublishPanel } from '../identity';
import { t } from '../i18n';
import { Notice } from '../notice';
import { routeHref } from '../router';
import { StatusBadge } from '../status-badge';
import { useAction } from '../use-action';

type Lookup = Reply<'lookupContact'>;

export function Contacts(props: {
  identity: IdentityView;
  status: StatusReply;
  onChanged(): void;
}) {
  const [contacts, setContacts] = useState<ContactView[] | null>(null);
  const listAction = useAction();
  const { run } = listAction;
  const load = useCallback(async () => {
    const reply = await run(() => sendMessage({ type: 'listContacts' }));
    if (reply) setContacts(reply.contacts);
  }, [run]);
  useEffect(() => void load(), [load]);

  const changed = (contacts ?? []).filter((c) => c.status === 'key-changed');
  return (
    <div class="screen">
      <ScreenTitle>{t('contacts_title')}</ScreenTitle>
      {changed.length > 0 && (
        <div class="alert" role="alert" data-veil="key-change-alert">
          <ul>
            {changed.map((c) => (
              <li key={c.handle}>
                <strong>{t('key_change_banner', c.handle)}</strong>{' '}
                <a href={routeHref({ name: 'verify', handle: c.handle })}>
                  {t('key_change_review')}
                </a>
              </li>
            ))}
          </ul>
        </div>
      )}
      {!props.identity.published && (
        <PublishPanel
          identity={props.identity}
          directoryUrl={props.status.settings.directoryUrl}
          onPublished={props.onChanged}
        />
      )}
      <ContactSearch self={props.identity.handle} onChanged={() => void load()} />
      <section class="panel" aria-labelledby="contact-list-title">
        <h2 id="contact-list-title">{t('contacts_list_title')}</h2>
        <Notice notice={listAction.notice} />
        {contacts === null ? (
          listAction.busy && <p class="muted">{t('loading')}</p>
        ) : contacts.length === 0 ? (
          <p class="muted">{t('contacts_empty')}</p>
        ) : (
          <ul class="contact-list">
            {contacts.map((c) => (
              <ContactRow key={c.handle} contact={c} />
            ))}
          </ul>
        )}
      </section>
      <details class="panel disclosure">
        <summary>{t('contacts_your_identity', props.identity.handle)}</summary>
        <IdentityCard identity={props.identity} />
      </details>
    </div>
  );
}

function ContactRow({ contact }: { contact: ContactView }) {
  const changed = contact.status === 'key-changed';
  return (
    <li
      class={`contact ${changed ? 'contact-changed' : ''}`}
      data-veil="contact"
      data-veil-handle={contact.handle}
      data-veil-status={contact.status}
    >
      <span class="avatar" aria-hidden="true">
        {contact.handle.charAt(0).toUpperCase()}
      </span>
      <span class="contact-main">
        <span class="contact-handle">{contact.handle}</span>
        <span class="contact-fingerprint">{digitGroups(contact.fingerprint).join(' ')}</span>
        {(contact.devices !== undefined || contact.devicesChangedAt !== undefined) && (
          <span class="muted" data-veil="contact-devices">
            {t('contact_devices', String(contact.devices ?? 1))}
            {contact.devicesChangedAt !== undefined &&
              ` · ${t('contact_devices_changed', new Date(contact.devicesChangedAt).toLocaleDateString())}`}
          </span>
        )}
      </span>
      <StatusBadge status={contact.status} />
      <a
        class={`button ${changed ? 'danger' : 'secondary'}`}
        href={routeHref({ name: 'verify', handle: contact.handle })}
        data-veil="open-contact"
        aria-label={t(changed ? 'contact_review_label' : 'contact_verify_label', contact.handle)}
      >
        {t(
          changed
            ? 'key_change_review'
            : contact.status === 'verified'
              ? 'contact_details'
              : 'contact_verify',
        )}
      </a>
    </li>
  );
}

function ContactSearch(props: { self: string; onChanged(): void }) {
  const [query, setQuery] = useState('');
  const [inputError, setInputError] = useState<string | null>(null);
  const [found, setFound] = useState<Lookup | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const lookup = useAction();
  const add = useAction();

  const search = async (event: Event) => {
    event.preventDefault();
    const handle = query.trim().toLowerCase();
    setFound(null);
    add.setNotice(null);
    if (!isValidHandle(handle)) {
      setInputError(t(handle ? 'handle_invalid' : 'handle_empty'));
      return inputRef.current?.focus();
    }
    if (handle === props.self) return setInputError(t('search_self'));
    setInputError(null);
    const reply = await lookup.run(() => sendMessage({ type: 'lookupContact', handle }), {
      errors: { 'not-found': 'search_not_found' },
    });
    if (!reply) return;
    setFound(reply);
    // A lookup of a known contact records a changed key: the list shows it at once.
    if (reply.contact) props.onChanged();
  };

  const addFound = async () => {
    if (!found) return;
    const contact = await add.run(() => sendMessage({ type: 'addContact', handle: found.handle }));
    if (!contact) return;
    add.setNotice({ kind: 'success', text: t('contact_added', contact.handle) });
    setFound(null);
    setQuery('');
    props.onChanged();
  };

  const known = found?.contact;
  return (
    <section class="panel" aria-labelledby="search-title">
      <h2 id="search-title">{t('search_title')}</h2>
      <form class="inline-form" onSubmit={search} role="search" noValidate>
        <TextField
          id="contact-search"
          type="search"
          label={t('search_label')}
          hint={t('search_hint')}
          value={query}
          onInput={setQuery}
          error={inputError}
          hook="contact-search"
          inputRef={inputRef}
          maxLength={64}
        />
        <Button type="submit" hook="contact-search-submit" busy={lookup.busy}>
          {t('search_button')}
        </Button>
      </form>
      <Notice notice={lookup.notice} />
      {found && (
        <div class="lookup-result" data-veil="lookup-result" data-veil-handle={found.handle}>
          <div class="title-row">
            <p class="handle">{found.handle}</p>
            {known && <StatusBadge status={known.status} />}
          </div>
          <p class="eyebrow">{t('lookup_fingerprint_label')}</p>
          <FingerprintHalf digits={found.fingerprint} />
          <p class="hint">
            {!known
              ? t('lookup_add_hint', found.handle)
              : known.status === 'key-changed'
                ? t('lookup_key_differs', found.handle)
                : t('lookup_already_added')}
          </p>
          <div class="actions">
            {known ? (
              <a
                class={`button ${known.status === 'key-changed' ? 'danger' : 'secondary'}`}
                href={routeHref({ name: 'verify', handle: known.handle })}
                data-veil="open-contact"
              >
                {t(known.status === 'key-changed' ? 'key_change_review' : 'contact_verify')}
              </a>
            ) : (
              <Button variant="primary" hook="add-contact" busy={add.busy} onClick={addFound}>
                {t('lookup_add_button', found.handle)}
              </Button>
            )}
          </div>
        </div>
      )}
      <Notice notice={add.notice} />
    </section>
  );
}
