// The token of a reader or composer frame (extension page inside a host page): the fragment of
// its URL, set by the content script. The frame acts only through it and never listens to
// window messages from the page around it.
const TOKEN = /^[A-Za-z0-9_-]{22}$/;

/** The frame's token, or null when the URL does not carry a well-formed one. */
export function frameToken(hash: string = location.hash): string | null {
  const token = hash.replace(/^#/, '');
  return TOKEN.test(token) ? token : null;
}
