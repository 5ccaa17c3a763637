// A status line that screen readers announce: the live region is always in the DOM, its text
// changes (an aria-live region added together with its text is often not read).
import type { NoticeState } from './use-action';

export function Notice({ notice }: { notice: NoticeState | null }) {
  return (
    <div class="notice-area" aria-live="polite">
      {notice && (
        <p
          class={`notice notice-${notice.kind}`}
          role={notice.kind === 'error' ? 'alert' : undefined}
          data-veil="notice"
          data-veil-kind={notice.kind}
        >
          {notice.text}
        </p>
      )}
    </div>
  );
}
