// The composer frame (extension page `composer.html#<token>`, shown next to a host page's compose
// box): the user picks recipients and types here, at Veil's origin, so the host page sees no key
// or input event of it. Sending hands the text to the background, which encrypts it and has the
// content script submit only the armored chunks. Shows the security phrase so a look-alike drawn
// by the host can be told apart. What is typed is kept as a draft by the background, so the
// frame gets it back when it reloads. Nothing is shown before the background took the key the
// content script handed this frame (frame-key.ts); a frame the page embedded only says so.
// Sending is off while the page covers, fades or moves the frame or it is not all in view
// (sight.ts; the background checks again), and losing the keyboard mid-typing is pointed out.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';
import type { ComposerSize, ComposerView, ContactStatus } from '../messaging/messages';
import { errorCode } from '../ui/errors';
import { Notice } from '../ui/notice';
import { t } from '../ui/i18n';
import { useAction } from '../ui/use-action';
import { DraftSaver } from './draft-saver';
import { FrameLink, NotPlacedByVeil } from './frame-key';
import { watchLock } from './lock-watch';
import { NotPlaced } from './not-placed';
import { SIGHT_DELAY_MS, watchSight, type Sight } from './sight';

const HANDLE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Focus leaving the text box this soon after a keystroke was taken, not given up. */
const MID_TYPING_MS = 1500;
/** Where the browser has no IntersectionObserver v2: ask the content script at most this often. */
const HOST_SIGHT_EVERY_MS = 1000;
/** Longest wait for the page to apply a new frame height before Send is given back. */
const SETTLE_MS = 400;

type Trust = ContactStatus | 'not-contact';

const trustMark = (trust: Trust): string =>
  trust === 'verified'
    ? '✓'
    : trust === 'key-changed'
      ? `! ${t('status_key_changed')}`
      : trust === 'not-contact'
        ? '?'
        : '';

const trustLabel = (trust: Trust): string =>
  trust === 'verified'
    ? t('status_verified')
    : trust === 'key-changed'
      ? t('status_key_changed')
      : trust === 'not-contact'
        ? t('composer_not_contact')
        : t('status_unverified');

/** Resolves on the frame's next resize, or after `ms` (a page may never apply it). */
const nextResize = (ms: number) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      removeEventListener('resize', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    addEventListener('resize', done);
  });

export function ComposerApp({ token }: { token: string | null }) {
  const [info, setInfo] = useState<ComposerView | null>(null);
  const [chosen, setChosen] = useState<string[]>([]);
  const [extra, setExtra] = useState<string[]>([]);
  const [adding, setAdding] = useState('');
  const [text, setText] = useState('');
  const [notPlaced, setNotPlaced] = useState(false);
  const [sight, setSight] = useState<Sight>('pending');
  const [focusLost, setFocusLost] = useState(false);
  const [locked, setLocked] = useState(false);
  const [size, setSize] = useState<ComposerSize>('compact');
  const [settling, setSettling] = useState(false);
  const sizeRef = useRef<ComposerSize>('compact');
  const input = useRef<HTMLTextAreaElement>(null);
  const lastKey = useRef(0);
  const lastHostSight = useRef(0);
  const load = useAction();
  const send = useAction();
  const link = useMemo(() => new FrameLink(token), [token]);
  const drafts = useMemo(
    () =>
      token
        ? new DraftSaver((draft) =>
            link.call((auth) => sendMessage({ type: 'composerDraft', ...auth, text: draft })),
          )
        : null,
    [link],
  );
  const phrase = info?.phrase;

  // Two heights only, changed by the user's own text (grows once it needs room, back to compact
  // only when sent): the page sees the frame's size, so it must not follow the text.
  const resize = (next: ComposerSize) => {
    if (!token || sizeRef.current === next) return;
    sizeRef.current = next;
    setSize(next);
    setSettling(true);
    const resized = nextResize(SETTLE_MS);
    void link
      .call((auth) => sendMessage({ type: 'composerLayout', ...auth, size: next }))
      .catch(() => undefined)
      .then(() => resized)
      // The page's report of what it shows of the frame (sight) follows a resize late.
      .then(() => new Promise((r) => setTimeout(r, 2 * SIGHT_DELAY_MS)))
      .finally(() => setSettling(false));
  };
  const grow = () => resize('tall');

  // A draft given back on reload may need the room too.
  useLayoutEffect(() => {
    const box = input.current;
    if (box && box.scrollHeight > box.clientHeight + 1) grow();
  }, [info !== null && text !== '']);

  const refresh = async () => {
    let view: ComposerView;
    try {
      view = await link.call((auth) => sendMessage({ type: 'composerInfo', ...auth }));
    } catch (e) {
      if (e instanceof NotPlacedByVeil) {
        setNotPlaced(true);
        return;
      }
      throw e;
    }
    setInfo(view);
    setChosen(view.kind === 'direct' ? view.recipients.slice(0, 1) : view.recipients);
    const draft = view.draft;
    // Text typed before this answer came is newer than the kept draft.
    if (draft) setText((typed) => typed || draft);
  };

  useEffect(() => {
    void load.run(refresh);
  }, [link]);

  useEffect(() => watchSight(document.documentElement, setSight), []);

  // Locking takes what was typed off the screen (the background dropped the draft); unlocking
  // loads the composer again.
  useEffect(
    () =>
      watchLock((nowLocked) => {
        setLocked(nowLocked);
        if (nowLocked) {
          drafts?.cancel();
          setText('');
          setInfo(null);
        } else void load.run(refresh);
      }),
    [link, drafts],
  );

  /** Firefox: what the content script sees of this frame, at most once a second. */
  const askHost = () => {
    if (!token || Date.now() - lastHostSight.current < HOST_SIGHT_EVERY_MS) return;
    lastHostSight.current = Date.now();
    link
      .call((auth) => sendMessage({ type: 'composerSight', ...auth }))
      .then(({ sight: seen }) => setSight(seen === 'visible' ? 'unsupported' : seen))
      .catch(() => undefined);
  };

  useEffect(() => {
    if (!drafts) return;
    // Best effort: a frame being removed from the page may not get this last message out.
    const flush = () => void drafts.flush();
    addEventListener('pagehide', flush);
    return () => {
      removeEventListener('pagehide', flush);
      flush();
    };
  }, [drafts]);

  const candidates = [
    ...new Set([
      ...chosen,
      ...(info?.suggestions ?? []),
      ...(info?.contacts.map((c) => c.handle) ?? []),
      ...extra,
    ]),
  ].filter((h) => h !== info?.handle);

  // A direct conversation has one recipient: picking one replaces the other.
  const direct = info?.kind === 'direct';
  const toggle = (handle: string, on: boolean) =>
    setChosen((list) =>
      on ? (direct ? [handle] : [...new Set([...list, handle])]) : list.filter((h) => h !== handle),
    );
  // What the page suggested is shown with what the user's own pins say of it.
  const trustOf = (handle: string): ContactStatus | 'not-contact' =>
    info?.contacts.find((c) => c.handle === handle)?.status ?? 'not-contact';

  const add = () => {
    const handle = adding.trim().toLowerCase();
    if (!HANDLE.test(handle)) return;
    setExtra((list) => [...new Set([...list, handle])]);
    toggle(handle, true);
    setAdding('');
  };

  const blocked = sight === 'obscured' || sight === 'partial' || sight === 'away';
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!token || !text.trim()) return;
    if (blocked || sight === 'pending') {
      send.setNotice({
        kind: 'error',
        text: t(sight === 'obscured' ? 'composer_obscured' : 'composer_partial'),
      });
      return;
    }
    if (chosen.length === 0) {
      send.setNotice({ kind: 'error', text: t('composer_no_recipients') });
      return;
    }
    const sent = await send.run(
      async () => {
        // The latest draft first: kept if sending fails, and not saved after a send cleared it.
        await drafts?.flush();
        try {
          return await link.call((auth) =>
            sendMessage(
              info?.groupEpoch === undefined
                ? { type: 'composeSend', ...auth, text, recipients: chosen }
                : {
                    type: 'composeSend',
                    ...auth,
                    text,
                    recipients: chosen,
                    groupEpoch: info.groupEpoch,
                  },
            ),
          );
        } catch (e) {
          // Someone changed the group meanwhile: show its members as they are now.
          if (errorCode(e) === 'membership-changed') await refresh();
          throw e;
        }
      },
      { success: t('composer_sent') },
    );
    if (sent) {
      drafts?.cancel();
      setText('');
      resize('compact');
    }
  };

  if (notPlaced) return <NotPlaced />;
  if (locked)
    return (
      <div class="composer" data-veil="locked">
        <p class="composer-alert">{t('error_locked')}</p>
      </div>
    );
  // Nothing to pick from or type into before the background answered: a choice made earlier
  // would be overwritten by the recipients it sends.
  if (!info)
    return (
      <div class="composer" aria-busy="true">
        <Notice notice={load.notice} />
      </div>
    );
  return (
    <form
      class={`composer composer-${size}`}
      aria-label={t('composer_title')}
      data-veil-size={size}
      data-veil-settling={settling ? 'true' : undefined}
      onSubmit={submit}
      onKeyDownCapture={() => sight === 'unsupported' && askHost()}
      onFocusCapture={() => sight === 'unsupported' && askHost()}
    >
      <div class="composer-head">
        {phrase && (
          <span class="composer-phrase" data-veil="security-phrase" title={t('reader_phrase_hint')}>
            {phrase}
          </span>
        )}
        <fieldset class="composer-recipients" data-veil="recipients">
          <legend>{t('composer_recipients')}</legend>
          {candidates.map((handle) => {
            const trust = trustOf(handle);
            return (
              <label
                class={`chip composer-recipient trust-${trust}`}
                key={handle}
                data-veil-trust={trust}
                title={trustLabel(trust)}
              >
                <input
                  type="checkbox"
                  value={handle}
                  checked={chosen.includes(handle)}
                  onChange={(e) => toggle(handle, (e.target as HTMLInputElement).checked)}
                />{' '}
                {handle} <span class="composer-trust">{trustMark(trust)}</span>
              </label>
            );
          })}
        </fieldset>
        <input
          class="composer-add"
          data-veil="recipient-input"
          aria-label={t('composer_add_label')}
          placeholder={t('composer_add_label')}
          value={adding}
          onInput={(e) => setAdding((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <button type="button" class="button quiet" data-veil="recipient-add" onClick={add}>
          {t('composer_add')}
        </button>
      </div>
      <div class="composer-body">
        <textarea
          ref={input}
          class="composer-input"
          data-veil="compose-input"
          aria-label={t('composer_input_label')}
          placeholder={t('composer_input_label')}
          value={text}
          onInput={(e) => {
            const box = e.target as HTMLTextAreaElement;
            const value = box.value;
            // Measured in the input event itself, so Send is held before anything can click it.
            if (box.scrollHeight > box.clientHeight + 1) grow();
            lastKey.current = Date.now();
            setFocusLost(false);
            setText(value);
            drafts?.changed(value);
          }}
          onBlur={() => {
            // The keyboard left Veil's frame mid-word: most likely the page took it. Whether the
            // frame lost focus is known only after the blur (hasFocus is still true during it).
            if (Date.now() - lastKey.current >= MID_TYPING_MS) return;
            setTimeout(() => {
              if (!document.hasFocus()) setFocusLost(true);
            }, 0);
          }}
          onKeyDown={(e) => {
            // Enter sends, Shift+Enter is a new line (and Enter while an IME composes is its own).
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey) void submit(e);
            // Esc gives the keyboard back to the host's own box.
            if (e.key === 'Escape') {
              lastKey.current = 0;
              void link
                .call((auth) => sendMessage({ type: 'composerLayout', ...auth, focusHost: true }))
                .catch(() => undefined);
            }
          }}
        />
        <button
          type="submit"
          class="button primary composer-send"
          data-veil="compose-send"
          aria-disabled={send.busy || !token || blocked || settling ? 'true' : undefined}
          onClick={(e) => {
            // The frame is changing size: where the pointer was is no longer where Send is.
            if (settling) e.preventDefault();
          }}
        >
          {t('composer_send')}
        </button>
      </div>
      <div class="composer-status">
        {focusLost && (
          <p class="composer-alert" role="alert" data-veil="focus-lost">
            {t('composer_focus_lost')}
          </p>
        )}
        {blocked && (
          <p class="composer-alert" role="status" data-veil="obscured" data-veil-sight={sight}>
            {t(sight === 'obscured' ? 'composer_obscured' : 'composer_partial')}
          </p>
        )}
        <Notice notice={send.notice ?? load.notice} />
      </div>
    </form>
  );
}
