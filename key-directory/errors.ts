// The directory's client-facing errors: a status, a stable code and a message that names the
// problem (a field, a header) but never echoes values, keys or bodies.
export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 503,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Further fields of the error object (numbers the client acts on, never request values). */
    readonly details: Record<string, number> = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new RequestError(400, code, message);
