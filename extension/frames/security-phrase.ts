// The user's security phrase for the frames (extension pages): the host page cannot know it, so
// a frame showing it is Veil's own, not a look-alike drawn by the page.
import { useEffect, useState } from 'preact/hooks';
import { sendMessage } from '../messaging/client';

export function useSecurityPhrase(): string | undefined {
  const [phrase, setPhrase] = useState<string | undefined>();
  useEffect(() => {
    sendMessage({ type: 'getSecurityPhrase' })
      .then((r) => setPhrase(r.phrase))
      .catch(() => undefined);
  }, []);
  return phrase;
}
