// One async action of a form or button: runs it once at a time and keeps the outcome as a
// notice (shown by <Notice>, announced through an aria-live region).
import { useCallback, useRef, useState } from 'preact/hooks';
import { errorCode, errorText } from './errors';
import type { MessageKey } from './i18n';

export interface NoticeState {
  kind: 'success' | 'error' | 'info';
  text: string;
  /** The background's error code, for screens that offer a way out of a specific failure. */
  code?: string;
}

export interface Action {
  busy: boolean;
  notice: NoticeState | null;
  setNotice(notice: NoticeState | null): void;
  /** Runs `work` unless one is already running; returns its result, or undefined on failure. */
  run<R>(
    work: () => Promise<R>,
    options?: { success?: string; errors?: Record<string, MessageKey> },
  ): Promise<R | undefined>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<NoticeState | null>(null);
  const running = useRef(false);
  const run = useCallback<Action['run']>(async (work, options = {}) => {
    if (running.current) return undefined;
    running.current = true;
    setBusy(true);
    setNotice(null);
    try {
      const result = await work();
      if (options.success) setNotice({ kind: 'success', text: options.success });
      return result;
    } catch (error) {
      setNotice({ kind: 'error', text: errorText(error, options.errors), code: errorCode(error) });
      return undefined;
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);
  return { busy, notice, setNotice, run };
}
