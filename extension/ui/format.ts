// Pure formatting and input checks for the extension pages (no browser APIs, unit-tested).

/** Handles as the directory accepts them (DESIGN.md; protocol/identity.ts HANDLE_PATTERN). */
export const HANDLE_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function isValidHandle(handle: string): boolean {
  return HANDLE_PATTERN.test(handle);
}

/** Splits a digit string into groups of `size` ("12345 67890 …" is how people read them aloud). */
export function digitGroups(digits: string, size = 5): string[] {
  return digits.match(new RegExp(`.{1,${size}}`, 'g')) ?? [];
}

/**
 * A directory URL is usable when it is https, or http to this machine only (the background
 * refuses anything else; checking here gives the person a clear message before trying).
 */
export function isUsableDirectoryUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  if (url.protocol !== 'http:') return false;
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

/**
 * A host name for the per-site enable list: what a person types ("Chat.Example.com",
 * "https://chat.example.com/room") reduced to the host, or null when it is not one.
 */
export function normalizeSiteHost(value: string): string | null {
  const text = value.trim().toLowerCase();
  if (!text) return null;
  let host: string;
  try {
    host = new URL(text.includes('://') ? text : `https://${text}`).host;
  } catch {
    return null;
  }
  return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/.test(host)
    ? host
    : null;
}

/** The QR payload of one identity, the same text the key directory's lookup page encodes. */
export function identityQrPayload(handle: string, identityKey: string): string {
  return `veil:identity:v1:${handle}:${identityKey}`;
}
