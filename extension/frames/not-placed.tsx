// What a reader or composer frame shows when Veil did not place it (the page embedded it with a
// token read from another frame's address, or none): a warning, and nothing of the user's.
import { t } from '../ui/i18n';

export function NotPlaced() {
  return (
    <p class="reader reader-failed reader-reason" data-veil="not-placed" role="alert">
      {t('frame_not_placed')}
    </p>
  );
}
